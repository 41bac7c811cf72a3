"""The publishing page's data: generations, their objects and bytes, and what changed.

The report is published inside a generation, so what it says about publishing must not
change only because that generation went out (else every run would make a new one):

- the generation the report belongs to (``current``) is shown by its number and by what
  it changes in ``audio/``, ``devices/`` and ``broadcast/`` only. Before the publish that
  is predicted from the staging tree and the catalog (the same objects publish will
  send); after it, the same figures come from the catalog's file lists;
- older generations are shown in full (time, objects, bytes, what changed in every area);
- generations that changed nothing but the report itself are left out.

What changed between two generations is worked out from the catalog's per-generation file
lists while both are retained, and kept in ``report_generation_changes`` (the lists of
pruned generations are forgotten).
"""

from __future__ import annotations

import json
from collections import Counter

from ..catalog import Catalog
from ..config import Config

SCHEMA = """
CREATE TABLE IF NOT EXISTS report_generation_changes (
  store TEXT NOT NULL, number INTEGER NOT NULL, summary TEXT NOT NULL, PRIMARY KEY (store, number));
"""
AREAS = ("audio", "devices", "broadcast", "feeds", "images", "reports")
CONTENT = ("audio", "devices", "broadcast")
"""The areas whose changes are known before a publish (feeds are built while publishing)."""


def _area(key: str) -> str:
    top = key.split("/", 1)[0]
    return top if top in AREAS else "other"


def _only(files: dict[str, tuple[str, int]], areas: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    return {k: v for k, v in files.items() if _area(k) in areas}


def changes(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]]) -> dict:
    """``{"added", "changed", "removed": {area: count}, "bytes_added": bytes}`` between two
    ``{key: (sha256, bytes)}`` listings."""
    added = [k for k in after if k not in before]
    changed = [k for k in after if k in before and after[k] != before[k]]
    removed = [k for k in before if k not in after]
    return {"added": dict(sorted(Counter(map(_area, added)).items())),
            "changed": dict(sorted(Counter(map(_area, changed)).items())),
            "removed": dict(sorted(Counter(map(_area, removed)).items())),
            "bytes_added": sum(after[k][1] for k in added + changed)}


def _summary(before: dict, after: dict) -> dict:
    touched = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
    return {"all": changes(before, after), "content": changes(_only(before, CONTENT), _only(after, CONTENT)),
            "report_only": bool(touched) and all(_area(k) == "reports" for k in touched)}


def staged_keys(cfg: Config) -> list[str]:
    """Keys of the staged device plans and broadcast days (not the report's pages), sorted."""
    import os
    build = str(cfg.build)
    out = []
    for top in ("devices", "broadcast"):
        for dirpath, dirs, names in os.walk(os.path.join(build, top)):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = os.path.relpath(dirpath, build).replace(os.sep, "/")
            out.extend(f"{rel}/{n}" for n in names if not n.startswith("."))
    return sorted(out)


def _predicted(cfg: Config, catalog: Catalog) -> dict[str, tuple[str, int]] | None:
    """``{key: (sha256, bytes)}`` of the audio and documents the next publish sends, worked
    out by publish's own functions (:func:`pipeline.publish.objects.collect_build`, derived
    broadcast documents included, and :func:`~pipeline.publish.objects.referenced_keys`);
    None when it could not publish (referenced audio missing)."""
    from ..publish.objects import collect_build, referenced_keys
    build = [o for o in collect_build(cfg) if _area(o.key) in CONTENT]
    out = {o.key: (o.sha256, o.size) for o in build}
    local = {r.key: r for r in catalog.renditions()}
    for key in referenced_keys(cfg, catalog, build):
        r = local.get(key)
        if r is None:
            return None
        out[key] = (r.sha256, r.bytes)
    return out


def generations(cfg: Config, catalog: Catalog, store: str) -> dict:
    """``{"current": {...}, "older": [...]}``: the generation this report belongs to
    (``changes`` in :data:`CONTENT`, None when the next publish could not go ahead; no
    number: the store may hold a higher one than the catalog knows)
    and the older generations, newest first (``number``, ``published_at``, ``objects``,
    ``bytes``, ``changes`` or None when no longer known)."""
    catalog.db.execute(SCHEMA)
    rows = list(reversed(catalog.store_generations(store)))
    known = {r["number"]: json.loads(r["summary"]) for r in catalog.db.execute(
        "SELECT number, summary FROM report_generation_changes WHERE store=?", (store,))}
    listed: list[dict] = []
    previous_files: dict[str, tuple[str, int]] | None = {}
    for row in rows:
        n = row.number
        files = catalog.generation_files(store, n) or None
        summary = known.get(n)
        if summary is None and files is not None and previous_files is not None:
            summary = _summary(previous_files, files)
            catalog.db.execute("INSERT OR REPLACE INTO report_generation_changes (store, number, summary)"
                               " VALUES (?,?,?)", (store, n, json.dumps(summary)))
        previous_files = files
        if summary is not None and summary.get("report_only"):
            continue
        listed.append({"number": n, "published_at": row.published_at, "objects": row.objects,
                       "bytes": row.bytes, "changes": summary["all"] if summary else None,
                       "content": summary["content"] if summary else None, "files": files})
    predicted = _predicted(cfg, catalog)
    last = listed[-1] if listed else None
    if last is not None and last["files"] is not None and predicted == _only(last["files"], CONTENT):
        current = {"changes": last["content"]}
        older = listed[:-1]
    else:
        base = _only(last["files"], CONTENT) if last is not None and last["files"] is not None else {}
        current = {"changes": changes(base, predicted) if predicted is not None else None}
        older = listed
    for g in older:
        g.pop("files", None)
    return {"current": current, "older": list(reversed(older))}
