"""The county rule's integer form is built once (``playlists.rules.share_rules``) and
is never weaker than the configured share, on the broadcast and the device path alike.

A share of 0.70005 once gave 7000 basis points on the broadcast path (rounded to the
nearest) but 7001 on the device path (rounded up): a week that is exactly 70.000 %
theory + party-spirit passed the broadcast solver though it breaks the configured rule.
"""

from __future__ import annotations

import datetime as dt

from pipeline.models import CategoryRule, ChannelSpec, Device, Quarter, SlotSpec, Track
from playlists import rules as county
from playlists.broadcast import ScheduleSettings, schedule_channel
from playlists.demand import QuarterRules
from playlists.quarter import plan_quarter

#: theory + party-spirit at least 70.005 %, a share whose basis points are not whole
STRICT = (CategoryRule(frozenset({"theory", "party-spirit"}), 0.70005),)
#: exactly 70 % party-spirit if both are taken: one basis point short of STRICT
LIBRARY = (("p", "party-spirit", 7.0), ("o", "skills", 3.0))


def _tracks(profile: str) -> list[Track]:
    return [Track(lesson_id=lid, title=f"課 {lid}", category=cat, dialect="cmn", duration_s=s,
                  bytes=int(s * 8000), sha256=(lid * 64)[:64], key=f"audio/{profile}/{lid}.mp3")
            for lid, cat, s in LIBRARY]


def _seconds(pairs) -> dict[str, float]:
    return county.seconds_by_category(pairs)


def test_basis_points_round_up_so_the_solver_rule_is_never_weaker():
    assert county.basis_points(0.70005) == 7001
    assert county.basis_points(0.7) == 7000
    assert county.basis_points(0.2) == 2000
    assert [r.basis_points for r in county.share_rules(STRICT)] == [7001]


def test_a_broadcast_week_meets_a_share_with_fractional_basis_points():
    channel = ChannelSpec("c", "broadcast", (SlotSpec(dt.time(6, 30), 30.0),), filler="bed.flac")
    settings = ScheduleSettings(rules=STRICT, rotation_days=14, filler_min_s=1.0, work_limit=2.0)
    (day,) = schedule_channel(channel, [dt.date(2026, 12, 7)], _tracks("broadcast"), [], settings).days
    aired = [(i.category, i.duration_s) for s in day.slots for i in s.items if i.kind == "lesson"]
    assert aired, "the party-spirit lesson alone meets the rule and should air"
    assert county.violations(STRICT, _seconds(aired)) == []


def test_a_device_playlist_meets_a_share_with_fractional_basis_points():
    dev = Device("LJ-00001", "鳳城鎮", "城關村", "general", "cmn", "player", 1000)
    plan = plan_quarter([dev], {"player": _tracks("player")}, Quarter(2027, 1), QuarterRules(STRICT))
    (playlist,) = plan.playlists
    assert playlist.items
    assert county.violations(STRICT, _seconds((i.category, i.duration_s) for i in playlist.items)) == []
