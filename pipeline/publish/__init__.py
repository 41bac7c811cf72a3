"""Publish: push one complete generation to the store, index last, then prune.

A generation is written in four phases, each finished before the next starts: audio
(immutable, content-addressed keys), then device manifests and playlists and broadcast
schedules (the staging tree), then feeds, then ``index.json`` (``generation``,
``published_at`` and every key's sha256 and size). Each object is written atomically, so a
reader who starts from ``index.json`` or a feed finds every object it leads to, whole,
whether the publish in progress finishes or not. Only after the index is up are objects
that no retained generation (``[publish] keep_generations``) refers to deleted.

Incremental: the publish ledger in the catalog remembers, per store, each object's
sha256, size and ETag; an object already there is not sent again. The ledger is checked
against the store's listing with ``verify=True`` (``dangke publish --verify``), and on its
own when the last publish to this store was interrupted, when the ledger is empty, or when
``index.json`` in the store is not the one we last wrote. When nothing changed nothing is
written: no new generation, no new ``index.json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from ..catalog import Catalog, Generation, LedgerEntry
from ..config import Config
from ..errors import StoreError
from ..layout import read_index
from .privacy import check_objects
from .feedset import feed_objects
from .objects import collect_build, index_object, referenced_audio
from .store import Put, Stat, Store
from .targets import open_store
from .upload import LedgerWriter, Progress, ProgressFn, Tally, upload_all
from .verify import VerifyReport, reconcile

MiB = 1024 * 1024
PHASES = ("audio", "documents", "feeds", "index")


@dataclass(frozen=True)
class PublishReport:
    """What a publish did (or, for a dry run, would do).

    ``generation``: the generation written (None: nothing changed); ``uploads`` and
    ``deletes``: ``(key, bytes)``; ``unchanged``: objects of the generation already in the
    store; ``verify``: the check of the ledger against the store, when one ran;
    ``problems``: what went wrong after the generation was complete (pruning).
    """

    store: str
    generation: int | None
    uploads: tuple[tuple[str, int], ...]
    unchanged: int
    dry_run: bool = False
    deletes: tuple[tuple[str, int], ...] = ()
    verify: VerifyReport | None = None
    problems: tuple[str, ...] = ()
    previous: int | None = None

    @property
    def uploaded_bytes(self) -> int:
        return sum(size for _, size in self.uploads)

    @property
    def deleted_bytes(self) -> int:
        return sum(size for _, size in self.deletes)


def store_for(cfg: Config) -> Store:
    """The configured store (``[publish]``)."""
    p = cfg.publish
    options: dict[str, object] = {}
    if p.target.startswith("s3://"):
        options = dict(endpoint_url=p.endpoint_url, region=p.region, addressing_style=p.addressing_style,
                       acl=p.acl, timeout_s=p.timeout_s, checksum=p.checksum, retry_mode=p.retry_mode,
                       max_attempts=p.max_attempts, multipart_threshold=p.multipart_threshold_mb * MiB,
                       multipart_chunk=p.multipart_chunk_mb * MiB, max_pool_connections=max(10, p.jobs + 4))
    return open_store(p.target, cfg.root, **options)


def with_access(cfg: Config, obj: Put) -> Put:
    """``obj`` with the ACL its kind gets (``[publish] acl``; ``devices_acl`` for
    ``devices/``) and, for private device files, a private Cache-Control."""
    p = cfg.publish
    if obj.key.startswith("devices/"):
        acl = p.devices_acl or p.acl
        cache = obj.cache_control.replace("public", "private") if p.devices_acl == "private" else obj.cache_control
        return dataclasses.replace(obj, acl=acl, cache_control=cache)
    return dataclasses.replace(obj, acl=p.acl)


@contextmanager
def _publish_lock(cfg: Config) -> Iterator[None]:
    cfg.library.mkdir(parents=True, exist_ok=True)
    path = cfg.library / ".publish.lock"
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StoreError("another `dangke publish` of this station is running", path=path,
                             fix="wait for it to finish") from exc
        yield
    finally:
        os.close(fd)


def _in_ledger(ledger: dict[str, LedgerEntry], obj: Put) -> bool:
    entry = ledger.get(obj.key)
    return entry is not None and (entry.sha256, entry.bytes) == (obj.sha256, obj.size)


def _index_is_ours(ledger: dict[str, LedgerEntry], stat: Stat | None) -> bool:
    entry = ledger.get("index.json")
    if entry is None or stat is None:
        return entry is None and stat is None
    return stat.size == entry.bytes and (not entry.etag or not stat.etag or stat.etag == entry.etag)


def _store_generation(store: Store, listing: dict[str, Stat]) -> int:
    """The generation number of the store's index.json (0 when there is none or it is not
    ours), so numbers keep rising after an interrupted publish or a lost catalog."""
    if "index.json" not in listing:
        return 0
    try:
        return read_index(store.get("index.json")).generation
    except (ValueError, StoreError):
        return 0


def _check_store(store: Store, catalog: Catalog, sid: str, content: list[Put], verify: bool,
                 dry_run: bool) -> tuple[dict[str, LedgerEntry], VerifyReport | None, int]:
    """The ledger, checked against the store's listing when asked or when it is in doubt,
    and the generation number the store's index.json carries when it was checked."""
    ledger = catalog.store_ledger(sid)
    if not (verify or not ledger or catalog.unfinished_run(sid) is not None
            or not _index_is_ours(ledger, store.head("index.json"))):
        return ledger, None, 0
    listing = store.listing()
    seen = _store_generation(store, listing)
    report, forget, adopt = reconcile(store, ledger, listing, content)
    for key in forget:
        ledger.pop(key, None)
    for key, sha, size, etag in adopt:
        ledger[key] = LedgerEntry(sha, size, etag)
    if not dry_run:
        catalog.forget_uploads(sid, forget)
        catalog.record_uploads(sid, adopt, 0)
    return ledger, report, seen


def _prune_plan(catalog: Catalog, sid: str, ledger: dict[str, LedgerEntry], keep: int,
                new: int | None, new_keys: set[str]) -> tuple[list[tuple[str, int]], list[int]]:
    """What retention deletes once generation ``new`` (if any) is complete: the ledger's
    keys that none of the newest ``keep`` generations refers to (documents first, audio
    last), and the older generations whose file lists can then be forgotten."""
    numbers = [g.number for g in catalog.store_generations(sid)]
    if new is not None:
        numbers = [new] + [n for n in numbers if n != new]
    retained, dropped = numbers[:keep], numbers[keep:]
    referenced = set(new_keys) | catalog.retained_keys(sid, [n for n in retained if n != new])
    referenced.add("index.json")
    doomed = [k for k in ledger if k not in referenced]
    doomed.sort(key=lambda k: (k.startswith("audio/"), k))
    return [(k, ledger[k].bytes) for k in doomed], dropped


def _unchanged(cfg: Config, catalog: Catalog, sid: str, ledger: dict[str, LedgerEntry], content: list[Put],
               prev: Generation | None) -> set[str] | None:
    """The keys of the last generation when a new one would be the same (same objects,
    feeds rebuilt at its time identical, all of it and its index.json in the store), else
    None."""
    if prev is None:
        return None
    then = feed_objects(cfg, catalog, dt.datetime.fromisoformat(prev.published_at), peek=True)
    if then is None:
        return None
    now = {o.key: (o.sha256, o.size) for o in content + then.objects}
    index = ledger.get("index.json")
    if now != catalog.generation_files(sid, prev.number) or index is None \
            or index.sha256 != prev.index_sha256 or not all(_in_ledger(ledger, o) for o in content + then.objects):
        return None
    return set(now)


def publish(cfg: Config, catalog: Catalog, dry_run: bool = False, verify: bool = False,
            progress: ProgressFn | None = None) -> PublishReport:
    """Publish everything staged and encoded as one generation, then prune.

    Args:
        dry_run: compute and return what would be uploaded and deleted; change nothing
            (neither the store nor the catalog).
        verify: check the ledger against the store's listing first; objects missing or
            different in the store are uploaded again.
        progress: called with a :class:`Progress` after each object (calling thread).

    Raises:
        StoreError: the store could not be listed or written (after botocore's retries).
            What was uploaded before the failure is remembered, so the next publish resumes
            without sending it again; the previous generation's ``index.json`` and feeds are
            untouched and every object they lead to is still there.
        DangkeError: an object refers to audio that is not in the library, or carries a
            value of the fleet registry's personal columns (nothing is uploaded then).
    """
    store = store_for(cfg)
    sid = store.describe()
    with _publish_lock(cfg):
        build = [with_access(cfg, o) for o in collect_build(cfg)]
        audio = [with_access(cfg, o) for o in referenced_audio(cfg, catalog, build)]
        content = audio + build
        ledger, checked, seen = _check_store(store, catalog, sid, content, verify, dry_run)
        generations = catalog.store_generations(sid)
        prev = generations[0] if generations else None
        keep = cfg.publish.keep_generations
        same = _unchanged(cfg, catalog, sid, ledger, content, prev)
        if same is not None:
            deletes, dropped = _prune_plan(catalog, sid, ledger, keep, None, same)
            problems = () if dry_run else _prune(store, catalog, sid, deletes, dropped, progress)
            return PublishReport(sid, None, (), len(same) + 1, dry_run, tuple(deletes), checked, problems,
                                 prev.number)
        number = max(prev.number if prev is not None else 0, seen) + 1
        when = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        feed_set = feed_objects(cfg, catalog, when)
        assert feed_set is not None
        # immutable media the feeds refer to (artwork) goes up with the audio, before any feed
        media = [with_access(cfg, o) for o in feed_set.objects if not o.key.startswith("feeds/")]
        feeds = [with_access(cfg, o) for o in feed_set.objects if o.key.startswith("feeds/")]
        objects = content + media + feeds
        index = with_access(cfg, index_object(number, when, objects))
        phases = {"audio": audio + media, "documents": build, "feeds": feeds, "index": [index]}
        todo = {phase: [o for o in objs if not _in_ledger(ledger, o)] for phase, objs in phases.items()}
        todo["index"] = [index]
        uploads = [o for phase in PHASES for o in todo[phase]]
        check_objects(todo["documents"] + todo["feeds"], cfg.registry)
        deletes, dropped = _prune_plan(catalog, sid, ledger, keep, number, {o.key for o in objects})
        deletes = [(k, b) for k, b in deletes if k not in {o.key for o in objects}]
        report = PublishReport(sid, number, tuple((o.key, o.size) for o in uploads),
                               len(objects) + 1 - len(uploads), dry_run, tuple(deletes), checked,
                               previous=prev.number if prev is not None else None)
        if dry_run:
            return report
        _upload_phases(store, catalog, cfg, sid, number, prev, todo, uploads, progress)
        files = [(o.key, o.sha256, o.size) for o in objects]
        catalog.commit_generation(sid, number, when.isoformat(), index.sha256, files)
        catalog.record_published(feed_set.guids, when.isoformat())
        catalog.log("publish", "info", sid, f"generation {number}: {len(uploads)} object(s) uploaded, "
                    f"{report.unchanged} unchanged")
        ledger = catalog.store_ledger(sid)
        deletes = [(k, b) for k, b in deletes if k in ledger]
        problems = _prune(store, catalog, sid, deletes, dropped, progress)
        return dataclasses.replace(report, problems=problems)


def _upload_phases(store: Store, catalog: Catalog, cfg: Config, sid: str, number: int, prev: Generation | None,
                   todo: dict[str, list[Put]], uploads: list[Put], progress: ProgressFn | None) -> None:
    resumed = catalog.unfinished_run(sid) is not None
    catalog.begin_run(sid, number)
    if resumed:
        try:
            store.clean_partials()
        except StoreError as exc:  # housekeeping: the publish goes on
            catalog.log("publish", "warning", sid, f"could not clean up after the interrupted publish: {exc.message}")
    tally = Tally(uploads, progress)
    with LedgerWriter(catalog, sid, number) as ledger:
        for phase in PHASES:
            def done(obj: Put, etag: str, phase: str = phase) -> None:
                ledger.add(obj, etag)
                tally.step(phase, obj)
            try:
                upload_all(store, todo[phase], 1 if phase == "index" else cfg.publish.jobs, done)
            except StoreError as exc:
                ledger.flush()
                still = f"generation {prev.number} is still the published one and whole" if prev is not None \
                    else "nothing was published yet"
                catalog.log("publish", "error", sid, f"generation {number} stopped in {phase}: {exc.message}")
                raise StoreError(
                    f"publish stopped while uploading {phase}: {exc.message}; {still}; "
                    f"{tally.done} of {tally.total} object(s) made it and will not be sent again",
                    path=exc.path, fix=exc.fix or "run `dangke publish` again") from exc


def _prune(store: Store, catalog: Catalog, sid: str, deletes: list[tuple[str, int]], dropped: list[int],
           progress: ProgressFn | None) -> tuple[str, ...]:
    """Delete what retention let go; failures become problems (the generation is complete)."""
    if not deletes and not dropped:
        return ()
    keys = [k for k, _ in deletes]
    try:
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            store.delete_many(batch)
            catalog.forget_uploads(sid, batch)
            if progress:
                progress(Progress("delete", min(i + 1000, len(keys)), len(keys), 0, 0, batch[-1]))
    except StoreError as exc:
        catalog.log("publish", "error", sid, f"pruning stopped: {exc.message}")
        return (f"pruning old generations stopped: {exc} (the new generation is complete; "
                "the next publish prunes again)",)
    catalog.drop_generation_files(sid, dropped)
    if keys:
        catalog.log("publish", "info", sid, f"pruned {len(keys)} object(s) no retained generation refers to")
    return ()


__all__ = ["publish", "PublishReport", "Progress", "VerifyReport", "store_for", "with_access", "Put", "Store"]
