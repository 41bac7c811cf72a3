"""Daily broadcast schedules (pure planning, issue 6), checked by independent functions.

The example station is the shipped ``config/dangke.toml`` with the lessons of
``samples/inbox`` (their ids, categories, series and rendition durations as the demo
ingests and encodes them) and the shipped jingles (5.0 / 4.0 s and 3.5 / 3.5 s).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.models import BroadcastDay, CategoryRule, ChannelSpec, ClockSpec, SlotSpec, Track
from playlists.broadcast import Jingle, PastAiring, ScheduleSettings, clock_for, schedule_channel

ROOT = Path(__file__).resolve().parent.parent
COUNTY = (CategoryRule(frozenset({"theory", "party-spirit"}), 0.7), CategoryRule(frozenset({"party-spirit"}), 0.2))


def lesson(lid: str, category: str, seconds: float, dialect: str = "cmn", **kw) -> Track:
    return Track(lesson_id=lid, title=f"課 {lid}", category=category, dialect=dialect, duration_s=seconds,
                 bytes=int(seconds * 96000), sha256=(lid * 64)[:64], key=f"audio/broadcast/{lid}.wav", **kw)


#: the sample recordings as the demo catalogs them (broadcast-profile durations)
SAMPLES = [
    lesson("dj-2027q1-01", "party-spirit", 812.416875, series="黨性教育專題輔導", episode=1,
           valid_from=dt.date(2026, 12, 1), valid_until=dt.date(2027, 6, 30)),
    lesson("dj-chuxin-01", "party-spirit", 25.007875),
    lesson("dj-lilun-01", "theory", 70.470625),
    lesson("L-2f9fc9c912bb", "policy", 4.281, series="每週政策快報", episode=1, valid_from=dt.date(2026, 11, 23)),
    lesson("L-a50269a834d0", "policy", 13.86, series="每週政策快報", episode=2, valid_from=dt.date(2026, 11, 30)),
    lesson("L-546c59974270", "theory", 14.33),
    lesson("L-9064f09c9d3f", "skills", 5.546688),
    lesson("L-a1bd32dc7849", "party-spirit", 5.546688),
    lesson("L-cd21424477cc", "party-spirit", 4.996813),
    lesson("L-ddf31b5146e0", "skills", 2.168167, dialect="nan"),
    lesson("L-ea2fe5ff8129", "red-culture", 1.615, dialect="nan"),
]
JINGLES = {"county-fm": (5.0, 4.0), "village-speakers": (3.5, 3.5)}


def example_station():
    return load_config(ROOT / "config" / "dangke.toml")


def settings(cfg=None, **kw) -> ScheduleSettings:
    base = dict(rules=COUNTY if cfg is None else cfg.rules, rotation_days=14, filler_min_s=1.0, work_limit=2.0)
    base.update(kw)
    return ScheduleSettings(**base)


def jingles(name: str) -> tuple[Jingle, Jingle]:
    intro, outro = JINGLES[name]
    return (Jingle("片頭 intro", intro, f"audio/x/{name}-intro.wav", "i" * 64),
            Jingle("片尾 outro", outro, f"audio/x/{name}-outro.wav", "o" * 64))


def plan(cfg, name: str, first: dt.date, days: int, tracks=SAMPLES, history=(), **kw):
    intro, outro = jingles(name)
    return schedule_channel(cfg.channels[name], [first + dt.timedelta(days=n) for n in range(days)], tracks,
                            list(history), settings(cfg, **kw), intro, outro)


# -- independent checks ---------------------------------------------------------------------

def slot_problems(day: BroadcastDay, tracks: dict[str, Track], intro: float, outro: float) -> list[str]:
    """Every slot: intro first, outro last, items back to back, whole lessons, a filler
    only for a remainder of at least 1 s, and the items add up to the slot within 1 s
    without ever running over."""
    out = []
    for slot in day.slots:
        length = (slot.end - slot.start).total_seconds()
        items = slot.items
        total = sum(i.duration_s for i in items)
        if total > length + 1e-6 or total < length - 1.0:
            out.append(f"{slot.start}: items {total:.3f} s for a {length:.3f} s slot")
        if not (items and items[0].kind == "jingle" and abs(items[0].duration_s - intro) < 1e-9):
            out.append(f"{slot.start}: no intro first")
        if not (items[-1].kind == "jingle" and abs(items[-1].duration_s - outro) < 1e-9):
            out.append(f"{slot.start}: no outro last")
        t = slot.start
        for i in items:
            if abs((i.start - t).total_seconds()) > 1e-6:
                out.append(f"{i.start}: gap or overlap")
            t = i.start + dt.timedelta(seconds=i.duration_s)
            if i.kind == "lesson":
                whole = math.ceil(tracks[i.lesson_id].duration_s * 1000 - 1e-6) / 1000
                if abs(i.duration_s - whole) > 1e-9:
                    out.append(f"{i.lesson_id}: listed {i.duration_s} s, the lesson lasts {whole} s")
        fillers = [i for i in items if i.kind == "filler"]
        if any(f.duration_s < 1.0 for f in fillers) or len(fillers) > 1:
            out.append(f"{slot.start}: bad filler {fillers}")
        if not fillers and length - total > 1.0:
            out.append(f"{slot.start}: {length - total:.3f} s left unfilled")
    return out


def repeats(days: list[BroadcastDay], rotation: int) -> list[tuple[dt.date, str, dt.date]]:
    """``(day, lesson, the earlier day)`` for every lesson on a channel twice within
    ``rotation`` days."""
    seen: dict[str, dt.date] = {}
    out = []
    for day in sorted(days, key=lambda d: d.date):
        for lid in sorted({i.lesson_id for s in day.slots for i in s.items if i.kind == "lesson"}):
            if lid in seen and (day.date - seen[lid]).days < rotation:
                out.append((day.date, lid, seen[lid]))
            seen[lid] = day.date
    return out


def week_shares(days: list[BroadcastDay]) -> dict[tuple[int, int], tuple[float, float]]:
    """Per ISO week: (theory + party-spirit, party-spirit) shares of the lesson seconds."""
    secs: dict[tuple[int, int], dict[str, float]] = {}
    for day in days:
        week = secs.setdefault(day.date.isocalendar()[:2], {})
        for s in day.slots:
            for i in s.items:
                if i.kind == "lesson":
                    week[i.category] = week.get(i.category, 0.0) + i.duration_s
    out = {}
    for week, by in secs.items():
        total = sum(by.values())
        out[week] = ((by.get("theory", 0) + by.get("party-spirit", 0)) / total, by.get("party-spirit", 0) / total)
    return out


def lessons_of(day: BroadcastDay) -> list[str]:
    return [i.lesson_id for s in day.slots for i in s.items if i.kind == "lesson"]


# -- the example station ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["county-fm", "village-speakers"])
def test_example_station_30_days_exact_slots_reported_repeats_and_the_weekly_rule(name):
    cfg = example_station()
    result = plan(cfg, name, dt.date(2027, 6, 17), 30)
    days = list(result.days)
    assert [d.date for d in days] == [dt.date(2027, 6, 17) + dt.timedelta(days=n) for n in range(30)]
    by_id = {t.lesson_id: t for t in SAMPLES}
    intro, outro = JINGLES[name]
    for day in days:
        assert slot_problems(day, by_id, intro, outro) == [], day.date
        assert all(by_id[lid].dialect in ("cdo", "cmn") for lid in lessons_of(day))
    # the library is far too small for 14 days without repeats: every repeat is reported,
    # except the editors' own choices (pinned lessons, the newest episode of a bound series)
    found = repeats(days, 14)
    assert found
    channel = cfg.channels[name]
    bound = {s.series for s in list(channel.slots) + [s for c in channel.clocks for s in c.slots] if s.series}
    for date, lid, _ in found:
        day = next(d for d in days if d.date == date)
        pinned = {p for s in clock_for(channel, date).slots for p in s.pinned}
        if lid in pinned or by_id[lid].series in bound:
            continue
        assert any("repeated within 14 days" in n and lid in n for n in day.notes), (date, lid)
    # the county rule over every calendar week (partial weeks at both ends included)
    for week, (core, spirit) in week_shares(days).items():
        assert core >= 0.70 - 1e-9 and spirit >= 0.20 - 1e-9, (name, week, core, spirit)
    # special days and Sundays
    clocks = {d.date: d.clock for d in days}
    assert clocks[dt.date(2027, 7, 1)] == "party-founding-day"
    assert all(clocks[d] == "sunday" for d in clocks if d.isoweekday() == 7)
    assert {clocks[d] for d in clocks if d.isoweekday() != 7 and d != dt.date(2027, 7, 1)} == {"daily"}
    july1 = next(d for d in days if d.date == dt.date(2027, 7, 1))
    assert [i.kind for i in july1.slots[0].items[:2]] == ["jingle", "lesson"]
    assert july1.slots[0].items[1].lesson_id == "dj-chuxin-01"
    assert july1.slots[0].title == "七一特別節目"
    # the expired lesson is gone after 30 June
    assert not any("dj-2027q1-01" in lessons_of(d) for d in days if d.date > dt.date(2027, 6, 30))


def test_example_village_slot_bound_to_the_weekly_policy_series_airs_its_newest_episode():
    cfg = example_station()
    days = plan(cfg, "village-speakers", dt.date(2026, 11, 27), 7).days
    for day in days:
        bound = [s for s in day.slots if s.series == "每週政策快報"]
        assert len(bound) == 1
        first = bound[0].items[1]
        newest = "L-a50269a834d0" if day.date >= dt.date(2026, 11, 30) else "L-2f9fc9c912bb"
        assert first.lesson_id == newest, day.date
        if day.date >= dt.date(2026, 11, 30):  # episode 1 is replaced, in every slot
            assert "L-2f9fc9c912bb" not in lessons_of(day)


def test_national_day_pins_its_lesson_on_both_channels():
    cfg = example_station()
    for name in ("county-fm", "village-speakers"):
        (day,) = plan(cfg, name, dt.date(2027, 10, 1), 1).days
        assert day.clock == "national-day" and day.clock_title == "國慶特別節目"
        assert day.slots[0].items[1].lesson_id == "dj-lilun-01"


def test_a_big_library_never_repeats_within_the_rotation_and_fills_slots_tightly():
    cfg = example_station()
    rng = random.Random(6)
    cats = ["theory"] * 4 + ["party-spirit"] * 3 + ["policy", "skills", "red-culture"]
    lib = [lesson(f"B{n:03d}", rng.choice(cats), round(rng.uniform(40, 420), 3), dialect=rng.choice(["cdo", "cmn"]))
           for n in range(160)]
    for name in ("county-fm", "village-speakers"):
        days = list(plan(cfg, name, dt.date(2027, 3, 1), 30, tracks=lib, work_limit=1.0).days)
        by_id = {t.lesson_id: t for t in lib}
        assert repeats(days, 14) == []
        assert not any("repeated" in n for d in days for n in d.notes)
        for week, (core, spirit) in week_shares(days).items():
            assert core >= 0.70 - 1e-9 and spirit >= 0.20 - 1e-9, (name, week)
        leftovers = []
        for day in days:
            assert slot_problems(day, by_id, *JINGLES[name]) == []
            leftovers += [sum(i.duration_s for i in s.items if i.kind == "filler") for s in day.slots]
        assert sum(leftovers) / len(leftovers) < 10.0, leftovers  # the remainder stays small


# -- rotation, series, binding, pinning ------------------------------------------------------

ONE = ChannelSpec("c", "broadcast", (SlotSpec(dt.time(6, 30), 30.0),), filler="bed.flac")


def test_when_the_library_runs_out_the_least_recently_aired_lesson_comes_back():
    lib = [lesson(x, "party-spirit", 25.0) for x in "abc"]
    result = schedule_channel(ONE, [dt.date(2026, 12, d) for d in range(1, 8)], lib, [], settings())
    order = [lessons_of(d) for d in result.days]
    assert all(len(x) == 1 for x in order)
    flat = [x[0] for x in order]
    assert sorted(flat[:3]) == ["a", "b", "c"]
    assert flat[3:] == flat[:3] + flat[:1]  # each time the one aired longest ago
    assert not any("repeated" in n for d in result.days[:3] for n in d.notes)
    assert all(any("repeated within 14 days" in n for n in d.notes) for d in result.days[3:])


def test_recent_airings_before_and_after_the_day_count_for_rotation():
    lib = [lesson(x, "party-spirit", 25.0) for x in "ab"]
    history = [PastAiring(dt.date(2026, 12, 3), "a", category="party-spirit", duration_s=25.0)]
    (day,) = schedule_channel(ONE, [dt.date(2026, 12, 1)], lib, history, settings()).days
    assert lessons_of(day) == ["b"]  # "a" is already on 3 December


def test_series_air_in_episode_order_and_start_over_after_the_last():
    eps = [lesson(f"s{n}", "theory", 20.0, series="黨史十講", episode=n) for n in (3, 1, 4, 2)]
    other = [lesson("x", "party-spirit", 8.0)]
    result = schedule_channel(ONE, [dt.date(2027, 1, d) for d in range(4, 10)], eps + other, [],
                              settings(rotation_days=3, rules=()))
    aired = [[lid for lid in lessons_of(d) if lid.startswith("s")] for d in result.days]
    assert aired == [["s1"], ["s2"], ["s3"], ["s4"], ["s1"], ["s2"]]
    history = [PastAiring(dt.date(2027, 1, 1), "s1"), PastAiring(dt.date(2027, 1, 2), "s2")]
    (day,) = schedule_channel(ONE, [dt.date(2027, 1, 3)], eps, history, settings(rules=())).days
    assert lessons_of(day) == ["s3"]


def test_a_bound_slot_always_airs_the_newest_episode_and_old_ones_never_come_back():
    ch = ChannelSpec("v", "broadcast", (SlotSpec(dt.time(7), 60.0), SlotSpec(dt.time(18, 30), 60.0, series="週報")),
                     filler="bed.flac")
    lib = [lesson("w1", "policy", 20.0, series="週報", episode=1, valid_from=dt.date(2027, 1, 4)),
           lesson("w2", "policy", 22.0, series="週報", episode=2, valid_from=dt.date(2027, 1, 7)),
           lesson("w3", "policy", 21.0, series="週報", episode=3, valid_from=dt.date(2027, 1, 20))] + \
          [lesson(f"p{n}", "party-spirit", 15.0 + n) for n in range(30)]
    days = schedule_channel(ch, [dt.date(2027, 1, d) for d in range(4, 12)], lib, [], settings()).days
    for day in days:
        want = "w1" if day.date < dt.date(2027, 1, 7) else "w2"
        assert day.slots[1].items[0].lesson_id == want, day.date
        assert [i.lesson_id for i in day.slots[0].items if i.kind == "lesson" and i.lesson_id.startswith("w")] == []
        if day.date >= dt.date(2027, 1, 7):
            assert "w1" not in lessons_of(day)
        assert day.slots[1].series == "週報"


def test_pinned_lessons_air_first_in_order_and_problems_are_reported():
    special = ClockSpec("party-day", (SlotSpec(dt.time(6, 30), 120.0, pinned=("p2", "p1", "gone", "late")),),
                        title="七一", dates=("07-01",))
    ch = dataclasses.replace(ONE, clocks=(special,))
    lib = [lesson("p1", "party-spirit", 30.0), lesson("p2", "theory", 40.0),
           lesson("late", "theory", 10.0, valid_from=dt.date(2027, 8, 1)), lesson("z", "party-spirit", 20.0)]
    (day,) = schedule_channel(ch, [dt.date(2027, 7, 1)], lib, [], settings()).days
    assert lessons_of(day)[:2] == ["p2", "p1"]
    assert any("pinned lesson gone is not in the library" in n for n in day.notes)
    assert any("pinned lesson late is not valid" in n for n in day.notes)


def test_clock_variants_date_before_month_day_before_weekday():
    a = ClockSpec("sunday", (SlotSpec(dt.time(7), 60.0),), weekdays=(7,))
    b = ClockSpec("july-1", (SlotSpec(dt.time(8), 60.0),), dates=("07-01",))
    c = ClockSpec("july-1-2029", (SlotSpec(dt.time(9), 60.0),), dates=("2029-07-01",))
    ch = dataclasses.replace(ONE, clocks=(a, b, c))
    assert clock_for(ch, dt.date(2029, 7, 1)).name == "july-1-2029"  # a Sunday
    assert clock_for(ch, dt.date(2029, 7, 8)).name == "sunday"
    assert clock_for(ch, dt.date(2030, 7, 1)).name == "july-1"
    assert clock_for(ch, dt.date(2030, 7, 2)).name == "daily"


def test_jingles_count_in_the_length_of_a_slot():
    lib = [lesson("long", "party-spirit", 21.5), lesson("fits", "party-spirit", 21.0)]
    intro, outro = Jingle("in", 5.0, "k1", "1" * 64), Jingle("out", 4.0, "k2", "2" * 64)
    (day,) = schedule_channel(ONE, [dt.date(2027, 1, 5)], lib, [], settings(), intro, outro).days
    assert [(i.kind, i.lesson_id) for i in day.slots[0].items] == [("jingle", None), ("lesson", "fits"),
                                                                    ("jingle", None)]
    assert sum(i.duration_s for i in day.slots[0].items) == 30.0


def test_a_week_that_starts_with_a_non_compliant_special_day_is_made_up_by_the_rest():
    special = ClockSpec("founding", (SlotSpec(dt.time(6, 30), 120.0, pinned=("song",)),), dates=("2027-06-28",))
    ch = ChannelSpec("c", "broadcast", (SlotSpec(dt.time(6, 30), 120.0),), filler="bed.flac", clocks=(special,))
    lib = [lesson("song", "red-culture", 110.0)] + [lesson(f"t{n}", "theory", 50.0 + n) for n in range(20)] + \
          [lesson(f"p{n}", "party-spirit", 30.0 + n) for n in range(20)] + \
          [lesson(f"k{n}", "skills", 55.0 + n) for n in range(20)]
    days = list(schedule_channel(ch, [dt.date(2027, 6, 28) + dt.timedelta(days=n) for n in range(7)], lib, [],
                                 settings(work_limit=1.0)).days)
    assert lessons_of(days[0])[0] == "song"
    assert any("cannot meet the county rule" in n for n in days[0].notes)
    ((week, (core, spirit)),) = week_shares(days).items()
    assert core >= 0.70 - 1e-9 and spirit >= 0.20 - 1e-9


def test_schedules_do_not_depend_on_input_order():
    cfg = example_station()
    first = plan(cfg, "county-fm", dt.date(2026, 12, 1), 5)
    rng = random.Random(1)
    for _ in range(3):
        shuffled = SAMPLES[:]
        rng.shuffle(shuffled)
        assert plan(cfg, "county-fm", dt.date(2026, 12, 1), 5, tracks=shuffled) == first


# -- configuration --------------------------------------------------------------------------------

def _config(tmp_path: Path, extra: str, schedule: str = "") -> Path:
    text = (ROOT / "config" / "dangke.toml").read_text(encoding="utf-8")
    if schedule:
        text = text.replace("filler_min_s = 1.0 ", schedule + " ")
    path = tmp_path / "dangke.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


@pytest.mark.parametrize("extra, words", [
    ('[[channels.county-fm.slots]]\nstart = "06:40"\nlength_s = 60\n', "overlaps"),
    ('[[channels.county-fm.slots]]\nstart = "23:59"\nlength_s = 120\n', "past midnight"),
    ('[channels.county-fm.clocks.x]\nweekdays = ["funday"]\n[[channels.county-fm.clocks.x.slots]]\n'
     'start = "07:00"\nlength_s = 60\n', "not a weekday"),
    ('[channels.county-fm.clocks.x]\ndates = ["7/1"]\n[[channels.county-fm.clocks.x.slots]]\n'
     'start = "07:00"\nlength_s = 60\n', "MM-DD"),
    ('[channels.county-fm.clocks.x]\ndates = ["07-01"]\n[[channels.county-fm.clocks.x.slots]]\n'
     'start = "07:00"\nlength_s = 60\n', "in both"),
    ('[channels.county-fm.clocks.x]\ntitle = "x"\n[[channels.county-fm.clocks.x.slots]]\n'
     'start = "07:00"\nlength_s = 60\n', "applies to no day"),
    ('[channels.county-fm.clocks.x]\nweekdays = ["sat"]\n[[channels.county-fm.clocks.x.slots]]\n'
     'start = "07:00"\nlength_s = 60\npinned = "dj-1"\n', "pinned must be a list"),
])
def test_bad_clocks_are_rejected_naming_the_problem(tmp_path, extra, words):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "\n" + extra))
    assert words in str(err.value) and "dangke.toml" in str(err.value)


def test_a_gap_larger_than_one_second_is_rejected(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "", schedule="filler_min_s = 2.5"))
    assert "filler_min_s" in str(err.value) and "within 1 s" in str(err.value)


def test_the_example_station_has_its_channels_profiles_jingles_and_clocks():
    cfg = example_station()
    county, village = cfg.channels["county-fm"], cfg.channels["village-speakers"]
    assert (county.profile, village.profile) == ("broadcast", "loudspeaker")
    assert cfg.profiles["loudspeaker"].format == "mp3" and cfg.profiles["loudspeaker"].bitrate_kbps == 128
    for ch in (county, village):
        assert cfg.resolve(ch.intro).is_file() and cfg.resolve(ch.outro).is_file() and cfg.resolve(ch.filler).is_file()
        assert {c.name for c in ch.clocks} == {"sunday", "party-founding-day", "national-day"}
    assert any(s.series == "每週政策快報" for s in village.slots)
    assert cfg.resolve(cfg.feeds.artwork).is_file()
