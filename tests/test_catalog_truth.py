"""The catalog is the source of truth for what is planned and scheduled; ``build/`` is
the staging tree written from it (issue 17 item 2, docs/changing.md). A lost or edited
staging tree changes no decision, and a catalog written before it kept plans' files or
schedules adopts the staged documents once."""

from __future__ import annotations

import shutil

import pytest

from pipeline import layout
from pipeline.catalog import Catalog, PlannedFile
from tests.conftest import PUBLISH_DATE, PUBLISH_DAYS, PUBLISH_QUARTER, run_cli


@pytest.fixture
def published(publish_template, tmp_path):
    root = tmp_path / "station"
    shutil.copytree(publish_template, root)
    assert run_cli("--config", root / "dangke.toml", "plan", "--quarter", "2027Q2") == 0
    return root


def test_the_catalog_is_the_source_of_truth_for_what_a_device_carried(published):
    """The next quarter's diff is made from the plan the catalog recorded, not from the
    staged manifest: a staging tree removed (or edited) changes nothing."""
    with Catalog(published / "library" / "catalog.sqlite") as cat:
        device = sorted(p.name for p in (published / "build" / "devices" / PUBLISH_QUARTER).iterdir())[0]
        recorded = cat.planned_files(PUBLISH_QUARTER, device)
    staged = layout.read_manifest((published / "build" / "devices" / PUBLISH_QUARTER / device
                                   / "manifest.json").read_bytes())
    assert recorded == tuple(PlannedFile(i.lesson_id, i.sha256, i.bytes, i.card_path) for i in staged.items)
    before = (published / "build" / "devices" / "2027Q2" / device / "diff.json").read_bytes()
    shutil.rmtree(published / "build" / "devices" / PUBLISH_QUARTER)
    assert run_cli("--config", published / "dangke.toml", "plan", "--quarter", "2027Q2") == 0
    assert (published / "build" / "devices" / "2027Q2" / device / "diff.json").read_bytes() == before


def test_a_plan_recorded_by_lesson_id_only_adopts_its_staged_manifest_once(published):
    """A catalog written before plans kept their files: the staged manifest of that plan
    completes it, and the diff is what it was."""
    root = published
    device = sorted(p.name for p in (root / "build" / "devices" / PUBLISH_QUARTER).iterdir())[0]
    before = (root / "build" / "devices" / "2027Q2" / device / "diff.json").read_bytes()
    with Catalog(root / "library" / "catalog.sqlite") as cat:
        cat.db.execute("UPDATE plans SET files = NULL WHERE quarter = ?", (PUBLISH_QUARTER,))
        assert all(not f.sha256 for f in cat.planned_files(PUBLISH_QUARTER, device))
    assert run_cli("--config", root / "dangke.toml", "plan", "--quarter", "2027Q2") == 0
    assert (root / "build" / "devices" / "2027Q2" / device / "diff.json").read_bytes() == before
    with Catalog(root / "library" / "catalog.sqlite") as cat:
        assert all(f.sha256 for f in cat.planned_files(PUBLISH_QUARTER, device))


def _staged_days(root):
    return {p.relative_to(root / "build").as_posix(): p.read_bytes()
            for p in (root / "build" / "broadcast").glob("*/????-??-??.*")}


def test_a_published_day_lost_from_the_staging_tree_is_staged_again_from_the_catalog(published, capsys):
    before = _staged_days(published)
    assert before
    shutil.rmtree(published / "build" / "broadcast")
    capsys.readouterr()
    assert run_cli("--config", published / "dangke.toml", "schedule", "--date", PUBLISH_DATE,
                   "--days", PUBLISH_DAYS) == 0
    assert f"schedule: {len([k for k in before if k.endswith('.json')])} channel-day(s) kept as published" \
        in capsys.readouterr().out
    assert _staged_days(published) == before
    for key, data in before.items():
        if key.endswith(".json"):
            assert (published / "public" / key).read_bytes() == data, key  # as published


def test_a_day_scheduled_before_the_catalog_kept_schedules_is_adopted_from_the_staging_tree(published, capsys):
    before = _staged_days(published)
    with Catalog(published / "library" / "catalog.sqlite") as cat:
        cat.db.execute("DELETE FROM schedules")
    capsys.readouterr()
    assert run_cli("--config", published / "dangke.toml", "schedule", "--date", PUBLISH_DATE,
                   "--days", PUBLISH_DAYS) == 0
    assert "kept as published" in capsys.readouterr().out
    assert _staged_days(published) == before
    with Catalog(published / "library" / "catalog.sqlite") as cat:
        for key, data in before.items():
            if key.endswith(".json"):
                day = layout.read_schedule(data)
                assert cat.schedule(day.channel, day.date) == day
