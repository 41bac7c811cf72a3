"""Publish: push one complete generation to the store, index last.

Order: audio (immutable, content-addressed), then device manifests and playlists and
broadcast schedules (the staging tree), then feeds, then ``index.json``. An object whose
sha256 and size are already in the store (publish ledger, checked against the store's
listing) is not uploaded again. When nothing changed, nothing is written: no new
generation, no new ``index.json``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from ..catalog import Catalog
from ..config import Config
from .objects import collect_build, feed_objects, index_object, referenced_audio
from .store import Put, Store, open_store


@dataclass(frozen=True)
class PublishReport:
    """What a publish did (or, for a dry run, would do)."""

    store: str
    generation: int | None
    uploads: tuple[tuple[str, int], ...]
    unchanged: int
    dry_run: bool = False

    @property
    def uploaded_bytes(self) -> int:
        return sum(size for _, size in self.uploads)


def store_for(cfg: Config) -> Store:
    """The configured store (``[publish]``)."""
    p = cfg.publish
    options = {}
    if p.target.startswith("s3://"):
        options = dict(endpoint_url=p.endpoint_url, region=p.region, addressing_style=p.addressing_style,
                       acl=p.acl, timeout_s=p.timeout_s)
    return open_store(p.target, cfg.root, **options)


def _changed(objs: list[Put], ledger: dict[str, tuple[str, int]], listing: dict[str, int]) -> list[Put]:
    return [o for o in objs if ledger.get(o.key) != (o.sha256, o.size) or listing.get(o.key) != o.size]


def publish(cfg: Config, catalog: Catalog, dry_run: bool = False,
            progress: Callable[[str], None] | None = None) -> PublishReport:
    """Publish everything staged and encoded as one generation.

    Raises:
        StoreError: the store could not be listed or written; what was uploaded before the
            failure is recorded, so the next publish resumes; the previous generation's
            ``index.json`` and feeds are untouched.
        DangkeError: an object refers to audio that is not in the library.
    """
    store = store_for(cfg)
    build = collect_build(cfg)
    audio = referenced_audio(cfg, catalog, build)
    listing = store.listing()
    ledger = catalog.ledger()
    prev = catalog.last_generation()
    content = audio + build
    changed = _changed(content, ledger, listing)
    if prev is not None and not changed:
        then = feed_objects(cfg, catalog, dt.datetime.fromisoformat(prev["published_at"]), peek=True)
        if then is not None and not _changed(then.objects, ledger, listing) and "index.json" in listing:
            return PublishReport(store.describe(), None, (), len(content) + len(then.objects), dry_run)
    number = (prev["number"] + 1) if prev is not None else 1
    when = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    feed_set = feed_objects(cfg, catalog, when)
    assert feed_set is not None
    feeds = feed_set.objects
    index = index_object(number, when, content + feeds)
    todo = changed + _changed(feeds, ledger, listing) + [index]
    if dry_run:
        return PublishReport(store.describe(), number, tuple((o.key, o.size) for o in todo),
                             len(content) + len(feeds) - len(todo) + 1, True)
    for obj in todo:
        if progress:
            progress(obj.key)
        store.put(obj)
        catalog.record_upload(obj.key, obj.sha256, obj.size, number)
    catalog.record_published(feed_set.guids, when.isoformat())
    catalog.add_generation(number, when.isoformat(), len(content) + len(feeds) + 1,
                           sum(o.size for o in content + feeds))
    catalog.log("publish", "info", store.describe(), f"generation {number}: {len(todo)} object(s) uploaded")
    return PublishReport(store.describe(), number, tuple((o.key, o.size) for o in todo),
                         len(content) + len(feeds) + 1 - len(todo))


__all__ = ["publish", "PublishReport", "store_for", "Put", "Store"]
