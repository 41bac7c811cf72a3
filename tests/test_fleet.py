"""The fleet registry, the village orders and the [plan] settings (issue 5): every
problem at once, with line numbers; personal columns never loaded."""

from __future__ import annotations

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.fleet import load_fleet, load_orders
from tests.conftest import make_station


def test_fleet_problems_of_every_kind_are_listed_with_their_lines(tmp_path):
    f = tmp_path / "fleet.csv"
    f.write_text("\ufeffDevice_ID,Township,Village,Group,Dialect,Profile,Capacity_MB,holder_name,phone\n"
                 "LJ-1,鳳城鎮,城關村,fisher,cdo,player,inf,林,138\n"
                 "LJ-2,鳳城鎮,,elderly,cdo,player,nan,陳,139\n"
                 "../LJ-3,鳳城鎮,城關村,general,cdo,player,512,王,140\n"
                 "LJ-4,,城關村,general,cdo,player,3000000,李,141\n"
                 "LJ-5,鳳城鎮,城關村,漁民,福州話,player,512,張,142\n"
                 "LJ-5,鳳城鎮,城關村,general,cdo,player,0,張,143\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_fleet(f, {"player"})
    text = str(err.value)
    for expected in ("line 2: capacity_mb 'inf'", "line 3: empty village", "line 3: capacity_mb 'nan'",
                     "line 4: device_id '../LJ-3' may hold only", "line 5: empty township",
                     "line 5: capacity_mb '3000000'", "line 7: duplicate device_id LJ-5 (first on line 6)",
                     "line 7: capacity_mb '0'"):
        assert expected in text, expected
    assert "line 6:" not in text and "林" not in text and "138" not in text


def test_an_empty_registry_is_an_error(tmp_path):
    f = tmp_path / "fleet.csv"
    f.write_text("device_id,township,village,group,dialect,profile,capacity_mb\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no devices"):
        load_fleet(f, {"player"})


def test_village_orders_are_read_and_checked(tmp_path):
    f = tmp_path / "orders.csv"
    f.write_text("village,topic,priority,township,quarter\n"
                 "北茭村,aquaculture,1,黃岐鎮,\n"
                 "城關村,理論教育,2,,2027q1\n"
                 ",x,1,,\n"
                 "東坪村,,high,,2027Q5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_orders(f)
    text = str(err.value)
    for expected in ("line 4: empty village", "line 5: empty lesson_or_topic", "line 5: priority 'high'",
                     "line 5: quarter '2027Q5'"):
        assert expected in text
    f.write_text("village,lesson_or_topic,priority\n北茭村,鮑魚養殖,3\n", encoding="utf-8")
    (o,) = load_orders(f)
    assert (o.village, o.target, o.priority, o.township, o.quarter, o.line) == ("北茭村", "鮑魚養殖", 3, "", "", 2)


@pytest.mark.parametrize("extra, message", [
    ('[[plan.groups]]\ngroup = "sailor"\n', "unknown group 'sailor'"),
    ('[[plan.groups]]\ngroup = "mobility"\ntopics = ["whaling"]\n', "unknown topic 'whaling'"),
    ('[[plan.must_carry]]\nquarter = "2027-1"\nlessons = ["x"]\n', "is not YYYYQn"),
    ('[[plan.topics]]\nname = "tea"\nkeywords = ["茶"]\ncolour = "green"\n', "unknown key 'colour' in [plan.topics]"),
])
def test_plan_settings_are_validated_naming_the_table(tmp_path, extra, message):
    cfg = make_station(tmp_path / "st")
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert message in str(err.value) and str(cfg) in str(err.value)


def test_the_shipped_plan_settings_load_with_group_codes(tmp_path):
    cfg = load_config(make_station(tmp_path / "st"))
    p = cfg.plan
    assert (p.min_listening_hours, p.max_listening_hours, p.own_dialect_min_share) == (6.0, 30.0, 0.5)
    assert [g.group for g in p.groups] == ["fisher", "elderly"]
    assert {t.name for t in p.topics} == {"maritime-safety", "aquaculture"}
    assert load_orders(cfg.resolve(p.orders))
