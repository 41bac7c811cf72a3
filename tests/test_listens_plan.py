"""The plan's use of play logs (issue 15, ``[plan] use_listens``), checked on the published
manifest JSON by an independent function written here: no lesson a device played fully
comes back while others fit, a carried but unfinished lesson may stay, and between two
lessons alike but for their completion the more completed one is chosen."""

from __future__ import annotations

import json
import shutil

from pipeline import layout
from pipeline.catalog import Catalog
from pipeline.models import Quarter
from playlists.listens import DeviceListening, ListeningForPlan, completion, heard, plan_notes, repeats
from playlists.demand import QuarterRules
from playlists.quarter import plan_quarter
from tests.conftest import run_cli
from tests.test_quarter import COUNTY, device, track

Q = Quarter(2027, 2)
LIBRARY = [track("P1", "party-spirit", 600), track("P2", "party-spirit", 600), track("T1", "theory", 600),
           track("T2", "theory", 600), track("T3", "theory", 600)]
SETTINGS = QuarterRules(rules=COUNTY, max_listening_s=1800, work_limit=5)
FACTS = ListeningForPlan("2027Q1", (DeviceListening("D1", True, frozenset({"P1"})),),
                         (("T1", 2, 4), ("T2", 0, 4), ("T3", 4, 4), ("P2", 1, 1)))


def lessons_of(pl) -> set[str]:
    return {i["lesson_id"] for i in json.loads(layout.manifest(pl))["items"]}


def preference_breaches(pl, played_fully: set[str], completion_of: dict[str, float], library) -> list[str]:
    """From first principles on the manifest: lessons played fully carried again while an
    unheard lesson of the same category and length was left out; and a less completed
    lesson chosen over a more completed one of the same category and length."""
    chosen = lessons_of(pl)
    by_id = {t.lesson_id: t for t in library}
    out = []
    for lid in chosen:
        for other in by_id:
            if other in chosen or (by_id[other].category, by_id[other].duration_s) != \
                    (by_id[lid].category, by_id[lid].duration_s):
                continue
            if lid in played_fully and other not in played_fully:
                out.append(f"{lid} played fully, {other} left out")
            if other not in played_fully and completion_of.get(other, 0) > completion_of.get(lid, 0) and \
                    lid not in played_fully:
                out.append(f"{lid} chosen over the more completed {other}")
    return out


def test_heard_means_played_fully_for_devices_that_reported():
    previous = {"D1": ("T1",), "D2": ("T2",)}
    assert heard(previous, FACTS) == {"D1": ("P1",), "D2": ("T2",)}  # D2 has no log: carried = heard
    assert dict(completion(FACTS)) == {"T1": 0.5, "T2": 0.0, "T3": 1.0}  # P2: too few rated plays
    notes = plan_notes(FACTS, previous, {"T3": "第三講"})
    assert "1 device(s) reported play logs for 2027Q1" in notes[0] and "1 carried but not finished may stay" in notes[0]
    assert "第三講 (100%)" in notes[1]


def test_with_listens_the_plan_avoids_what_was_played_fully_and_prefers_completed_lessons():
    previous = {"D1": ("T1",)}
    devices = [device("D1", dialect="cmn")]
    # gap_s 0: the solver proves the best answer (the default 600 s gap is larger than the
    # preference between two 10-minute lessons)
    use = QuarterRules(rules=COUNTY, max_listening_s=1800, work_limit=5, gap_s=0, completion=completion(FACTS))
    (pl,) = plan_quarter(devices, {"player": LIBRARY}, Q, use, previous=heard(previous, FACTS)).playlists
    assert lessons_of(pl) == {"P2", "T1", "T3"}
    assert preference_breaches(pl, {"P1"}, dict(completion(FACTS)), LIBRARY) == []
    assert repeats(lessons_of(pl), FACTS.device("D1")) == []
    # off (the default): last quarter's T1 is avoided instead; the completion of T2/T3 plays no part
    (off,) = plan_quarter(devices, {"player": LIBRARY}, Q, SETTINGS, previous=previous).playlists
    assert "T1" not in lessons_of(off)


def test_the_plan_command_explains_its_use_of_the_play_logs(publish_template, tmp_path, capsys):
    root = tmp_path / "station"
    shutil.copytree(publish_template, root)
    cfg = root / "dangke.toml"
    text = cfg.read_text(encoding="utf-8").replace("use_listens = false", "use_listens = true")
    cfg.write_text(text, encoding="utf-8")
    from pipeline.listens.store import ensure_schema
    with Catalog(root / "library" / "catalog.sqlite") as cat:
        ensure_schema(cat.db)
        lesson = cat.lessons()[0].lesson_id
        cat.db.execute("INSERT INTO card_readbacks VALUES ('r1','LJ-00004','2027Q1',1,'','2027-03-30','x',"
                       "'scrobbler',3,0,0,0)")
        for n in range(3):
            cat.db.execute("INSERT INTO card_plays VALUES ('LJ-00004',?,'2027Q1',?,'t','L',1,1,NULL,60,'r1')",
                           (f"k{n}", lesson))
    capsys.readouterr()
    run_cli("--config", cfg, "plan", "--quarter", "2027Q2")
    out = capsys.readouterr().out
    assert "note: listening (use_listens): 1 device(s) reported play logs for 2027Q1" in out
    assert "lessons completed more often are preferred" in out
    manifest = root / "build" / "devices" / "2027Q2" / "LJ-00004" / "manifest.json"
    if manifest.is_file() and lesson in {i["lesson_id"] for i in json.loads(manifest.read_text())["items"]}:
        assert "LJ-00004: carries again 1 lesson(s) it played fully" in out  # the library is 3 lessons
