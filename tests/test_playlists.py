"""Pure planning: quarterly playlists and daily schedules, checked independently."""

from __future__ import annotations

import datetime as dt
import random

from pipeline.models import CategoryRule, ChannelSpec, Device, Quarter, SlotSpec, Track
from playlists.broadcast import ScheduleSettings, check_day, schedule_day
from playlists.cardnames import card_path, safe_stem
from playlists.demand import QuarterRules
from playlists.quarter import check_playlist, plan_quarter

COUNTY = (CategoryRule(frozenset({"theory", "party-spirit"}), 0.7), CategoryRule(frozenset({"party-spirit"}), 0.2))


def track(lid: str, category: str, seconds: float, dialect: str = "cmn", size: int | None = None) -> Track:
    return Track(lesson_id=lid, title=f"課程 {lid}", category=category, dialect=dialect, duration_s=seconds,
                 bytes=size if size is not None else int(seconds * 8000), sha256=lid * 4,
                 key=f"audio/player/{lid}.mp3")


def device(did: str, dialect: str = "cdo", group: str = "general", mb: float = 100) -> Device:
    return Device(did, "鳳城鎮", "城關村", group, dialect, "player", mb)


LIBRARY = [track("a", "theory", 600), track("b", "party-spirit", 300), track("c", "skills", 400),
           track("d", "policy", 200), track("e", "party-spirit", 500, "cdo"), track("f", "skills", 900, "cdo"),
           track("g", "theory", 100, "nan")]


def test_every_playlist_meets_the_county_rule_capacity_and_dialects():
    devices = [device(f"D{i}", dialect, mb=mb) for i, (dialect, mb) in
               enumerate([("cdo", 100), ("cdo", 2.5), ("cmn", 100), ("nan", 5)])]
    plan = plan_quarter(devices, {"player": LIBRARY}, Quarter(2027, 1), QuarterRules(COUNTY))
    assert not plan.problems
    by_id = {d.device_id: d for d in devices}
    for pl in plan.playlists:
        assert check_playlist(pl, by_id[pl.device_id], QuarterRules(COUNTY)) == []
    cdo = next(p for p in plan.playlists if p.device_id == "D0")
    assert "e" in {i.lesson_id for i in cdo.items}  # own dialect first


def test_impossible_rules_are_explained_and_other_devices_still_planned():
    lib = [track("s1", "skills", 2100, "cdo"), track("t1", "theory", 2400, "cmn"),
           track("y1", "party-spirit", 300, "yue")]
    devices = [device("LJ-01234", "cdo", "fisher"), device("LJ-00009", "yue")]
    plan = plan_quarter(devices, {"player": lib}, Quarter(2027, 1), QuarterRules(COUNTY))
    assert [p.device_id for p in plan.playlists] == ["LJ-00009"]
    (problem,) = plan.problems
    # theory 2400 s alone: party-spirit x with x / (2400 + x) >= 20% -> x = 600 s = 10 min
    assert problem.message == ("LJ-01234 (fisher, cdo): 10 more minutes of party-spirit lessons in cdo or cmn "
                               "are needed (rule: party-spirit >= 20%)")


def test_a_card_too_small_is_explained_with_the_size_needed():
    plan = plan_quarter([device("D1", "cdo", mb=2)], {"player": LIBRARY}, Quarter(2027, 1), QuarterRules(COUNTY))
    (problem,) = plan.problems
    assert "needs 2.4 MB but the device holds 2 MB" in problem.message


def test_plans_do_not_depend_on_input_order():
    devices = [device(f"D{i}", ["cdo", "cmn", "nan"][i % 3], mb=[1, 5, 100][i % 3]) for i in range(12)]
    first = plan_quarter(devices, {"player": LIBRARY}, Quarter(2027, 1), QuarterRules(COUNTY))
    rng = random.Random(3)
    for _ in range(3):
        d2, l2 = devices[:], LIBRARY[:]
        rng.shuffle(d2)
        rng.shuffle(l2)
        assert plan_quarter(d2, {"player": l2}, Quarter(2027, 1), QuarterRules(COUNTY)) == first


def test_validity_dates_exclude_lessons_outside_the_quarter():
    import dataclasses
    expired = dataclasses.replace(track("x", "party-spirit", 5000), valid_until=dt.date(2026, 12, 31))
    plan = plan_quarter([device("D1", "cmn")], {"player": LIBRARY + [expired]}, Quarter(2027, 1),
                        QuarterRules(COUNTY))
    assert "x" not in {i.lesson_id for i in plan.playlists[0].items}


CHANNEL = ChannelSpec("county-fm", "broadcast",
                      (SlotSpec(dt.time(6, 30), 30.0), SlotSpec(dt.time(19, 30), 60.0)), filler="bed.flac")


def test_slots_never_overrun_when_durations_round_up():
    # Bug input: 4.997 s + 25.008 s rounded to 5.0 + 25.0 in deciseconds "fit" a 30 s slot.
    tracks = [track("p", "party-spirit", 4.997), track("q", "party-spirit", 25.008)]
    settings = ScheduleSettings(COUNTY, rotation_days=14, filler_min_s=1.0)
    day = schedule_day(CHANNEL, dt.date(2026, 12, 1), tracks, {}, settings)
    assert check_day(day) == []
    for slot in day.slots:
        assert sum(i.duration_s for i in slot.items) <= (slot.end - slot.start).total_seconds()


def test_a_day_fills_slots_with_fillers_and_keeps_lessons_unique():
    tracks = [track(c, cat, s) for c, cat, s in
              [("a", "theory", 20), ("b", "party-spirit", 25), ("c", "party-spirit", 12), ("d", "theory", 7)]]
    settings = ScheduleSettings(COUNTY, filler_min_s=1.0)
    day = schedule_day(CHANNEL, dt.date(2026, 12, 1), tracks, {}, settings)
    assert check_day(day) == []
    lessons = [i.lesson_id for s in day.slots for i in s.items if i.kind == "lesson"]
    assert len(lessons) == len(set(lessons)) == 4
    assert day.slots[0].start.isoformat() == "2026-12-01T06:30:00+08:00"
    fillers = [i for s in day.slots for i in s.items if i.kind == "filler"]
    assert all(f.lesson_id is None and f.category is None for f in fillers)


def test_recently_aired_lessons_give_way_to_fresh_ones():
    tracks = [track("old", "party-spirit", 25), track("new", "party-spirit", 24)]
    one = ChannelSpec("c", "broadcast", (SlotSpec(dt.time(6, 30), 30.0),))
    day = schedule_day(one, dt.date(2026, 12, 2), tracks, {"old": dt.date(2026, 12, 1)},
                       ScheduleSettings(COUNTY, rotation_days=14))
    assert [i.lesson_id for i in day.slots[0].items if i.kind == "lesson"] == ["new"]


def test_card_paths_are_fat_safe_short_and_numbered():
    assert card_path(1, '第4课 "问答" <上>', "mp3") == "001_第4课 _问答_ _上.mp3"
    assert safe_stem("CON") == "CON_"
    assert safe_stem("結尾有點.") == "結尾有點"
    assert safe_stem("末尾空格 ") == "末尾空格"
    assert len(safe_stem("汉" * 90)) <= 24
    assert safe_stem("\x0b\x1b") == "lesson"
    for bad in '"*/:<>?\\|':
        assert bad not in card_path(7, f"a{bad}b", "mp3")
