"""Quarterly plans (issue 5): every produced playlist is checked against the rules by an
independent function written here (on the published manifest JSON), not by the
planner's or the solver's own claims."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from collections import Counter

import pytest

from pipeline import layout
from pipeline.models import CategoryRule, Device, Quarter, Track, VillageOrder
from playlists.cardnames import card_path, safe_stem
from playlists.demand import GroupWishes, QuarterRules
from playlists.quarter import plan_quarter
from playlists.report import CardFile, device_diffs, diff, fleet_summary, lesson_ids, reasons

Q = Quarter(2027, 1)
COUNTY = (CategoryRule(frozenset({"theory", "party-spirit"}), 0.7), CategoryRule(frozenset({"party-spirit"}), 0.2))
RATE = 8000  # bytes per second of a 64 kb/s CBR rendition


def track(lid: str, category: str, seconds: float, dialect: str = "cmn", **kw) -> Track:
    return Track(lesson_id=lid, title=kw.pop("title", f"課程 {lid}"), category=category, dialect=dialect,
                 duration_s=seconds, bytes=kw.pop("size", int(seconds * RATE)), sha256=(lid * 64)[:64],
                 key=f"audio/player/{lid}.mp3", **kw)


def device(did: str, dialect: str = "cdo", group: str = "general", mb: float = 1000, village: str = "城關村",
           township: str = "鳳城鎮") -> Device:
    return Device(did, township, village, group, dialect, "player", mb)


# -- the independent checker ---------------------------------------------------------------

def breaches(pl, dev: Device, library: dict[str, Track], s: QuarterRules, heard: set[str] = frozenset()) -> list[str]:
    """Every hard rule, checked on the manifest as published (JSON), from first principles."""
    doc = json.loads(layout.manifest(pl))
    items = doc["items"]
    out = []
    if not items:
        return ["empty playlist"]
    total = sum(i["duration_s"] for i in items)
    by_cat = Counter()
    for i in items:
        by_cat[i["category"]] += i["duration_s"]
    for rule in s.rules:
        if sum(by_cat[c] for c in rule.categories) < rule.min_share * total - 1e-6:
            out.append(f"share {sorted(rule.categories)} below {rule.min_share}")
    if sum(i["bytes"] for i in items) > int(dev.capacity_mb * 1e6 * (1 - s.card_reserve_share)):
        out.append("over capacity")
    if s.max_listening_s and total > s.max_listening_s + 1e-6:
        out.append("over the listening maximum")
    for n, i in enumerate(items, start=1):
        t = library[i["lesson_id"]]
        if i["position"] != n or not i["card_path"].startswith(f"{n:03d}_"):
            out.append(f"position/name of {i['lesson_id']}")
        if i["dialect"] not in (dev.dialect, s.fallback_dialect) or i["dialect"] != t.dialect:
            out.append(f"dialect of {i['lesson_id']}")
        if (t.valid_from and t.valid_from > Q.last_day) or (t.valid_until and t.valid_until < Q.first_day):
            out.append(f"{i['lesson_id']} not valid in {Q}")
        if (i["sha256"], i["bytes"], i["duration_s"]) != (t.sha256, t.bytes, round(t.duration_s, 3)):
            out.append(f"{i['lesson_id']} does not match the library")
    chosen = [library[i["lesson_id"]] for i in items]
    for series in {t.series for t in chosen if t.series}:
        eps = [t.episode for t in chosen if t.series == series]
        if eps != sorted(eps) or len(eps) != len(set(eps)):
            out.append(f"series {series} out of order or doubled: {eps}")
        avail = sorted({t.episode for t in library.values() if t.series == series and t.lesson_id not in heard
                        and t.dialect in (dev.dialect, s.fallback_dialect)
                        and not (t.valid_until and t.valid_until < Q.first_day)
                        and not (t.valid_from and t.valid_from > Q.last_day)})
        fresh = [e for e in eps if e in avail]
        if fresh and fresh != avail[:len(fresh)]:
            out.append(f"series {series}: episodes {fresh} skip one of {avail}")
    return out


def check_all(plan, devices, library_list, s, previous=None):
    library = {t.lesson_id: t for t in library_list}
    by_id = {d.device_id: d for d in devices}
    for pl in plan.playlists:
        heard = set((previous or {}).get(pl.device_id, ()))
        assert breaches(pl, by_id[pl.device_id], library, s, heard) == [], pl.device_id


def ids(plan, did: str) -> list[str]:
    return [i.lesson_id for p in plan.playlists if p.device_id == did for i in p.items]


# -- generated fleets and libraries ---------------------------------------------------------

def random_library(rng: random.Random, n: int) -> list[Track]:
    cats = ["theory"] * 3 + ["party-spirit"] * 3 + ["policy", "skills", "red-culture", "other"]
    out = []
    for k in range(n):
        series = rng.choice(["", "", "", "黨史", "初心"])
        out.append(track(f"L{k:03d}", rng.choice(cats), rng.randint(300, 2400), rng.choice(["cdo", "cdo", "cmn", "nan"]),
                         series=series, episode=k if series else None,
                         valid_until=rng.choice([None, None, dt.date(2026, 12, 31), dt.date(2027, 2, 1)]),
                         valid_from=rng.choice([None, None, dt.date(2027, 4, 1)]),
                         audiences=rng.choice([(), (), ("fisher",), ("elderly",)]),
                         evergreen=rng.random() < 0.1,
                         topics=rng.choice([(), (), ("aquaculture",), ("maritime-safety",)])))
    return out


def random_fleet(rng: random.Random, n: int) -> list[Device]:
    return [device(f"LJ-{k:05d}", rng.choice(["cdo", "cdo", "cmn", "nan"]),
                   rng.choice(["fisher", "elderly", "mobility", "general"]), rng.choice([20, 40, 1000]),
                   village=rng.choice(["城關村", "北茭村", "東坪村"])) for k in range(n)]


SETTINGS = QuarterRules(COUNTY, min_listening_s=4 * 3600, max_listening_s=8 * 3600, own_dialect_min_share=0.5,
                        card_reserve_share=0.04,
                        groups=(GroupWishes("fisher", ("maritime-safety", "aquaculture")),
                                GroupWishes("elderly", prefer_max_s=1200)),
                        must_carry=(("L001", ()),), work_limit=5.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_produced_playlist_meets_every_hard_rule(seed):
    rng = random.Random(seed)
    # a short party-spirit lesson in every dialect makes every device plannable
    lib = random_library(rng, 60) + [track(f"A-{d}", "party-spirit", 300, d) for d in ("cdo", "cmn", "nan")]
    fleet = random_fleet(rng, 80)
    previous = {d.device_id: tuple(rng.sample([t.lesson_id for t in lib], 5)) for d in fleet[::3]}
    orders = [VillageOrder("北茭村", "aquaculture", 1), VillageOrder("東坪村", "L007", 3)]
    plan = plan_quarter(fleet, {"player": lib}, Q, SETTINGS, previous=previous, orders=orders)
    assert not plan.problems and len(plan.playlists) == len(fleet)
    check_all(plan, fleet, lib, SETTINGS, previous)
    assert plan.solves < len(fleet)  # devices with equal requirements share a solve
    # shortfalls are measured on the playlists themselves
    by_id = {p.device_id: p for p in plan.playlists}
    for p in plan.shortfalls:
        if p.kind == "listening-time":
            assert by_id[p.device_id].duration_s < SETTINGS.min_listening_s
    kinds = {(p.device_id, p.kind) for p in plan.shortfalls}
    library = {t.lesson_id: t for t in lib}
    for pl in plan.playlists:
        dev = next(d for d in fleet if d.device_id == pl.device_id)
        got = {i.lesson_id for i in pl.items}
        if pl.duration_s < SETTINGS.min_listening_s:
            assert (pl.device_id, "listening-time") in kinds
        must = library["L001"]
        if must.dialect in (dev.dialect, "cmn") and must.valid_until is None and must.valid_from is None:
            assert "L001" in got or (pl.device_id, "must-carry") in kinds
        if dev.group == "fisher":
            for t in lib:
                if t.topics and t.dialect in (dev.dialect, "cmn") and t.valid_from is None and \
                        t.valid_until is None and t.lesson_id not in previous.get(dev.device_id, ()):
                    assert t.lesson_id in got or (pl.device_id, "group-topic") in kinds


def test_plans_do_not_depend_on_input_order():
    rng = random.Random(5)
    lib, fleet = random_library(rng, 40), random_fleet(rng, 30)
    orders = [VillageOrder("北茭村", "aquaculture", 1, line=2), VillageOrder("東坪村", "L007", 3, line=3)]
    first = plan_quarter(fleet, {"player": lib}, Q, SETTINGS, orders=orders)
    for _ in range(2):
        rng.shuffle(fleet)
        rng.shuffle(lib)
        rng.shuffle(orders)
        assert plan_quarter(fleet, {"player": lib}, Q, SETTINGS, orders=orders) == first


def test_a_process_pool_plans_like_map():
    # the workers build the problems from the requirement keys; the pool's map is lazy
    from pipeline.plan import process_map
    rng = random.Random(8)
    lib, fleet = random_library(rng, 40), random_fleet(rng, 40)
    orders = [VillageOrder("北茭村", "aquaculture", 1, line=2), VillageOrder("東坪村", "L007", 3, line=3)]
    previous = {d.device_id: ("L001", "L002", "L010") for d in fleet[::3]}
    serial = plan_quarter(fleet, {"player": lib}, Q, SETTINGS, previous=previous, orders=orders)
    pooled = plan_quarter(fleet, {"player": lib}, Q, SETTINGS, previous=previous, orders=orders,
                          mapper=process_map(2, threshold=1))
    assert pooled == serial and serial.playlists


# -- impossible rules ----------------------------------------------------------------------

def test_impossible_rule_set_is_explained_and_nothing_breaking_it_is_produced():
    lib = [track("t1", "theory", 3000, "cdo"), track("p1", "party-spirit", 300, "yue"),
           track("s1", "skills", 2100, "cdo")]
    rules = QuarterRules((CategoryRule(frozenset({"theory", "party-spirit"}), 0.7),
                          CategoryRule(frozenset({"party-spirit"}), 0.5)))
    fleet = [device("LJ-01234", "cdo", "fisher"), device("LJ-00002", "yue")]
    plan = plan_quarter(fleet, {"player": lib}, Q, rules)
    # theory 3000 s and no party-spirit: x more with x / (3000 + x) >= 50% -> x = 3000 s
    msgs = {p.device_id: p.message for p in plan.problems}
    assert msgs == {"LJ-01234": "LJ-01234 (fisher, cdo): 50 more minutes of party-spirit lessons in cdo or cmn "
                                "are needed (rule: party-spirit >= 50%)"}
    # the other device is still planned: one party-spirit lesson alone meets both rules
    assert ids(plan, "LJ-00002") == ["p1"]


def test_a_card_too_small_and_a_listening_maximum_too_short_are_explained():
    lib = [track("p1", "party-spirit", 1800), track("t1", "theory", 600)]
    plan = plan_quarter([device("D1", "cmn", mb=10)], {"player": lib}, Q,
                        QuarterRules(COUNTY, card_reserve_share=0.04))
    (p,) = plan.problems
    assert p.message == ("D1 (general, cmn): the smallest selection that meets the county rule needs 14.4 MB but "
                         "the device holds 10 MB (9.6 MB after the 4% kept free); give it a larger card")
    plan = plan_quarter([device("D1", "cmn")], {"player": lib}, Q, QuarterRules(COUNTY, max_listening_s=900))
    (p,) = plan.problems
    assert "lasts 30 min, more than the listening maximum of 15 min" in p.message


def test_no_lessons_at_all_is_explained():
    plan = plan_quarter([device("D1", "hak")], {"player": [track("x", "theory", 60, "cdo")]}, Q,
                        QuarterRules(COUNTY, fallback_dialect="cmn"))
    assert plan.problems[0].message == "D1 (general, hak): no lessons in hak or cmn are valid in 2027Q1"


# -- wishes ---------------------------------------------------------------------------------

BASE = [track(f"p{k}", "party-spirit", 1200) for k in range(4)] + \
       [track(f"t{k}", "theory", 1200) for k in range(4)] + \
       [track("skill-long", "skills", 1500), track("policy-a", "policy", 300)]


def test_must_carry_lessons_are_carried_and_an_impossible_one_is_reported():
    lib = BASE + [track("must", "red-culture", 600), track("huge", "party-spirit", 3000, size=90_000_000)]
    s = QuarterRules(COUNTY, max_listening_s=2 * 3600, must_carry=(("must", ()), ("huge", ("fisher",))))
    fleet = [device("D1", "cmn", mb=60), device("D2", "cmn", "fisher", mb=60)]
    plan = plan_quarter(fleet, {"player": lib}, Q, s)
    check_all(plan, fleet, lib, s)
    assert "must" in ids(plan, "D1") and "must" in ids(plan, "D2")
    (short,) = [p for p in plan.shortfalls if p.kind == "must-carry"]
    assert short.device_id == "D2"
    assert "must-carry lesson huge" in short.message and "larger than the card's 60 MB" in short.message


def test_village_orders_are_honoured_where_the_rules_allow():
    # Own-dialect (cdo) core lessons fill the two hours; the ordered Mandarin skills lessons
    # would not be chosen without an order.
    lib = [dataclasses.replace(t, dialect="cdo") for t in BASE] + \
        [track("tea", "skills", 900, title="茶葉製作技術"), track("abalone", "skills", 900, title="鮑魚養殖")]
    s = QuarterRules(COUNTY, max_listening_s=2 * 3600)
    fleet = [device("D1", "cdo", village="城關村"), device("D2", "cdo", village="北茭村"),
             device("D3", "cdo", village="東坪村", township="丹陽鎮")]
    orders = [VillageOrder("北茭村", "鮑魚養殖", 1, line=2),                  # by title
              VillageOrder("東坪村", "tea", 2, township="丹陽鎮", line=3),     # by id, with township
              VillageOrder("東坪村", "tea", 2, township="別的鎮", line=4),     # another township's 東坪村
              VillageOrder("城關村", "tea", 1, quarter="2027Q2", line=5)]     # another quarter
    plan = plan_quarter(fleet, {"player": lib}, Q, s, orders=orders)
    check_all(plan, fleet, lib, s)
    assert "abalone" in ids(plan, "D2") and "tea" not in ids(plan, "D2")
    assert "tea" in ids(plan, "D3") and "abalone" not in ids(plan, "D3")
    assert not {"tea", "abalone"} & set(ids(plan, "D1"))
    assert any("no device of the fleet is in the village '別的鎮 東坪村'" in n for n in plan.notes)


def test_an_order_the_county_rule_cannot_take_is_reported_with_the_reason():
    lib = [track("p1", "party-spirit", 600), track("t1", "theory", 600), track("big-skill", "skills", 3600)]
    plan = plan_quarter([device("D1", "cmn")], {"player": lib}, Q, QuarterRules(COUNTY),
                        orders=[VillageOrder("城關村", "big-skill", 1, line=2)])
    assert "big-skill" not in ids(plan, "D1")
    (p,) = plan.shortfalls
    assert p.kind == "order" and "the order of 城關村 for 'big-skill' (priority 1) is not honoured" in p.message


def test_validity_dates_bound_the_quarter():
    lib = BASE + [track("expired", "party-spirit", 1200, valid_until=dt.date(2026, 12, 31)),
                  track("later", "party-spirit", 1200, valid_from=dt.date(2027, 4, 1)),
                  track("ends-feb", "party-spirit", 1200, valid_until=dt.date(2027, 2, 15)),
                  track("starts-mar", "party-spirit", 1200, valid_from=dt.date(2027, 3, 20))]
    plan = plan_quarter([device("D1", "cmn")], {"player": lib}, Q, QuarterRules(COUNTY))
    got = set(ids(plan, "D1"))
    assert not {"expired", "later"} & got and {"ends-feb", "starts-mar"} <= got


def test_last_quarters_lessons_are_avoided_unless_evergreen_or_needed():
    lib = BASE + [track("oath", "party-spirit", 600, evergreen=True)]
    s = QuarterRules(COUNTY, max_listening_s=4 * 3600)
    prev = {"D1": ("p0", "p1", "t0", "oath")}
    plan = plan_quarter([device("D1", "cmn")], {"player": lib}, Q, s, previous=prev)
    got = set(ids(plan, "D1"))
    assert "oath" in got and not {"p0", "p1", "t0"} & got
    # when the minimum listening time needs them, repeats come back
    s2 = dataclasses.replace(s, min_listening_s=3 * 3600)
    plan = plan_quarter([device("D1", "cmn")], {"player": lib}, Q, s2, previous=prev)
    assert {"p0", "p1", "t0"} & set(ids(plan, "D1"))
    assert not plan.shortfalls


def test_series_play_in_episode_order_and_continue_where_the_device_left_off():
    series = [track(f"e{k}", "party-spirit", 900, series="黨史", episode=k, title=f"黨史第{k}講") for k in range(1, 7)]
    lib = series + [track("t0", "theory", 900), track("t1", "theory", 900)]
    s = QuarterRules(COUNTY, max_listening_s=3600 * 1.1)
    plan = plan_quarter([device("D1", "cmn"), device("D2", "cmn")], {"player": lib}, Q, s,
                        previous={"D2": ("e1", "e2", "e3")})
    check_all(plan, [device("D1", "cmn"), device("D2", "cmn")], lib, s, {"D2": ("e1", "e2", "e3")})
    d1 = [i for i in ids(plan, "D1") if i.startswith("e")]
    d2 = [i for i in ids(plan, "D2") if i.startswith("e")]
    assert d1 == ["e1", "e2", "e3", "e4"][:len(d1)] and d1
    assert d2 == ["e4", "e5", "e6"][:len(d2)] and d2


def test_own_dialect_first_with_a_minimum_share_and_mandarin_to_fill():
    lib = [track(f"c{k}", "party-spirit", 1200, "cdo") for k in range(2)] + \
          [track(f"m{k}", "theory", 1200, "cmn") for k in range(6)] + [track(f"mp{k}", "party-spirit", 1200) for k in range(4)]
    s = QuarterRules(COUNTY, own_dialect_min_share=0.5, max_listening_s=4 * 3600)
    plan = plan_quarter([device("D1", "cdo")], {"player": lib}, Q, s)
    got = ids(plan, "D1")
    assert {"c0", "c1"} <= set(got)  # all the cdo there is
    assert not plan.shortfalls  # the library has only 40 min of cdo: the share asks no more
    # with a card that fits only two lessons, both are in cdo
    plan = plan_quarter([device("D1", "cdo", mb=20)], {"player": lib}, Q, s)
    assert sorted(ids(plan, "D1")) == ["c0", "c1"]


def test_fishers_get_their_topics_and_the_elderly_shorter_lessons():
    lib = BASE + [track("safety", "skills", 600, topics=("maritime-safety",)),
                  track("seaweed", "skills", 600, topics=("aquaculture",)),
                  track("short-p", "party-spirit", 600), track("short-t", "theory", 600)]
    s = QuarterRules(COUNTY, max_listening_s=2 * 3600,
                     groups=(GroupWishes("fisher", ("maritime-safety", "aquaculture")),
                             GroupWishes("elderly", prefer_max_s=900)))
    fleet = [device("F", "cmn", "fisher"), device("E", "cmn", "elderly"), device("G", "cmn")]
    plan = plan_quarter(fleet, {"player": lib}, Q, s)
    check_all(plan, fleet, lib, s)
    assert {"safety", "seaweed"} <= set(ids(plan, "F"))
    assert not {"safety", "seaweed"} & set(ids(plan, "G"))
    assert {"short-p", "short-t"} <= set(ids(plan, "E"))


# -- diff, summary, names -------------------------------------------------------------------

def test_the_diff_against_last_quarter_keeps_adds_removes_and_counts_bytes():
    lib = BASE
    plan = plan_quarter([device("D1", "cmn")], {"player": lib}, Q, QuarterRules(COUNTY, max_listening_s=3 * 3600))
    pl = plan.playlists[0]
    kept = pl.items[0]
    before = [CardFile(kept.lesson_id, kept.sha256, kept.bytes, "001_x.mp3"), CardFile("gone", "f" * 64, 123, "002_y.mp3")]
    d = diff(pl, before, "2026Q4")
    assert [i.lesson_id for i in d.keep] == [kept.lesson_id]
    assert [i.lesson_id for i in d.add] == [i.lesson_id for i in pl.items[1:]]
    assert [f.lesson_id for f in d.remove] == ["gone"]
    assert d.bytes_to_write == sum(i.bytes for i in pl.items[1:]) and d.bytes_to_free == 123
    rows = fleet_summary([device("D1", "cmn"), device("D9", "hak", township="丹陽鎮")], plan, {"D1": d})
    assert [r.township for r in rows] == ["丹陽鎮", "鳳城鎮", "(all)"]
    total = rows[-1]
    assert (total.devices, total.planned, total.bytes_to_write, total.files_to_remove) == (2, 1, d.bytes_to_write, 1)
    assert abs(total.hours - pl.duration_s / 3600) < 1e-9


def test_device_diffs_equal_the_diff_of_each_device_and_share_equal_ones():
    lib = BASE
    fleet = [device(f"D{k}", "cmn") for k in range(4)]
    plan = plan_quarter(fleet, {"player": lib}, Q, QuarterRules(COUNTY, max_listening_s=3 * 3600))
    kept = plan.playlists[0].items[0]
    old = (CardFile(kept.lesson_id, kept.sha256, kept.bytes, "001_x.mp3"), CardFile("gone", "f" * 64, 123))
    previous = {"D0": old, "D1": old, "D2": (CardFile("other", "e" * 64, 9),)}
    diffs = device_diffs(plan.playlists, previous, "2026Q4")
    for pl in plan.playlists:
        assert diffs[pl.device_id] == diff(pl, previous.get(pl.device_id, ()), "2026Q4")
    assert diffs["D0"].add is diffs["D1"].add  # one diff for equal playlists and equal previous files
    ids = lesson_ids(previous)
    assert ids == {"D0": (kept.lesson_id, "gone"), "D1": (kept.lesson_id, "gone"), "D2": ("other",)}
    assert ids["D0"] is ids["D1"]


def test_problems_group_by_reason():
    lib = [track("t1", "theory", 600, "cdo")]
    plan = plan_quarter([device(f"D{k}", "cdo") for k in range(3)], {"player": lib}, Q, QuarterRules(COUNTY))
    (r,) = reasons(plan.problems)
    assert (r.count, r.first) == (3, "D0 (general, cdo)") and "party-spirit" in r.text


@pytest.mark.parametrize("title", ["Lesson 3: What is tone?", '第4课 "问答" <上>', "复习|总结*", "结尾有点.",
                                   "末尾空格 ", "CON", "第５课：全角冒号？", "汉" * 83, "零寬\u200b空格\ufeff",
                                   "表情😀符號", "𠀀生僻", "黨課[上]"])
def test_card_names_from_bad_titles_are_fat_safe_short_and_keep_readable_chinese(title):
    # corpus case BR-24, device-name side
    name = card_path(12, title, "mp3")
    stem = name[len("012_"):-len(".mp3")]
    assert name.startswith("012_") and name.endswith(".mp3") and len(name) <= 32
    assert not set('"*/:<>?\\|[]') & set(name) and all(ord(c) >= 32 for c in name)
    assert not stem.endswith((" ", ".")) and stem.upper() not in {"CON", "PRN", "AUX", "NUL"}
    assert "\u200b" not in name and "\ufeff" not in name and all(ord(c) <= 0xFFFF for c in name)
    name.encode("gbk")  # a GBK-font player can show every character
    assert safe_stem("第4课 问答") == "第4课 问答" and safe_stem("學習黨的創新理論") == "學習黨的創新理論"
