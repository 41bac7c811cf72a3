"""Every published JSON document has a typed reader beside its writer in
:mod:`pipeline.layout`; reading a real document and writing it again gives the same
bytes (issue 17 item 2). The documents are those of the publish template station:
ingested, encoded, planned, scheduled and published by the real CLI."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from pipeline import layout
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def published(publish_template, tmp_path_factory):
    root = tmp_path_factory.mktemp("roundtrip") / "station"
    shutil.copytree(publish_template, root)
    # a second quarter, so that diff.json has files kept as well as added
    assert run_cli("--config", root / "dangke.toml", "plan", "--quarter", "2027Q2") == 0
    return root


def _documents(root, pattern):
    found = sorted((root / "public").glob(pattern)) + sorted((root / "build").glob(pattern))
    assert found, pattern
    return found


def test_a_manifest_reads_back_to_the_same_bytes(published):
    for path in _documents(published, "devices/*/*/manifest.json"):
        data = path.read_bytes()
        playlist = layout.read_manifest(data)
        assert playlist.items and playlist.device_id == path.parent.name
        assert layout.manifest(playlist) == data, path


def test_a_schedule_reads_back_to_the_same_bytes(published):
    for path in _documents(published, "broadcast/*/????-??-??.json"):
        data = path.read_bytes()
        day = layout.read_schedule(data)
        assert day.slots and day.date.isoformat() == path.stem
        assert layout.schedule(day) == data, path


def test_a_diff_reads_back_to_the_same_bytes(published):
    paths = _documents(published, "devices/*/*/diff.json")
    kept = 0
    for path in paths:
        data = path.read_bytes()
        d = layout.read_diff(data)
        kept += len(d.keep)
        assert layout.diff(d) == data, path
    assert kept, "the second quarter keeps some files of the first"


def test_the_index_reads_back_to_the_same_bytes(published):
    data = (published / "public" / "index.json").read_bytes()
    index = layout.read_index(data)
    assert index.generation >= 1 and dt.datetime.fromisoformat(index.published_at).tzinfo is not None
    assert any(layout.MANIFEST_KEY.match(k) for k in index.files)
    assert any(layout.SCHEDULE_KEY.match(k) for k in index.files)
    assert layout.index(index.generation, index.published_at, index.files) == data


@pytest.mark.parametrize("reader", [layout.read_manifest, layout.read_schedule, layout.read_diff,
                                    layout.read_index])
@pytest.mark.parametrize("data", [b"", b"[]", b"{}", b'{"files": 3, "items": [{}], "slots": [1]}', b"\xff"])
def test_a_reader_refuses_what_is_not_its_document_with_a_value_error(reader, data):
    with pytest.raises(ValueError, match="not a dangke"):
        reader(data)
