"""The ledger checked against the store's listing (``dangke publish --verify``, and on
its own after an interrupted publish or when index.json is not what we last wrote).

Pure over its inputs except for :meth:`Store.head` calls on objects the listing cannot
vouch for. An object counts as in the store when the listing shows it with the size the
ledger remembers and, where the ledger has one, the same ETag. An object the ledger does
not know (an upload whose answer a crash swallowed) is adopted when the listing has it
with the right size and its bytes are ours: a single-part ETag equal to our MD5, or
``x-amz-meta-sha256`` (a folder: the file's sha256) equal to our sha256.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..catalog import LedgerEntry
from .store import Put, Stat, Store

_MD5 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class VerifyReport:
    """What a check of the ledger against the store found.

    ``listed``: objects in the store; ``known``: ledger entries checked; ``missing``:
    keys the ledger has and the store does not; ``different``: keys whose size or ETag in
    the store differ from the ledger's; ``adopted``: keys found whole in the store that the
    ledger did not know (not uploaded again).
    """

    listed: int
    known: int
    missing: tuple[str, ...]
    different: tuple[str, ...]
    adopted: tuple[str, ...]


def _ours(store: Store, obj: Put, stat: Stat) -> bool:
    if stat.size != obj.size:
        return False
    if _MD5.fullmatch(stat.etag):
        return stat.etag == obj.md5()
    head = store.head(obj.key)
    return head is not None and head.size == obj.size and head.sha256 == obj.sha256


def reconcile(store: Store, ledger: dict[str, LedgerEntry], listing: dict[str, Stat],
              wanted: list[Put]) -> tuple[VerifyReport, list[str], list[tuple[str, str, int, str]]]:
    """Compare the ledger with the listing.

    Returns:
        the report, the keys to forget (missing or different), and the entries to adopt
        ``[(key, sha256, bytes, etag)]`` among ``wanted``.

    Raises:
        StoreError: a HEAD request failed.
    """
    missing, different = [], []
    for key, entry in sorted(ledger.items()):
        stat = listing.get(key)
        if stat is None:
            missing.append(key)
        elif stat.size != entry.bytes or (entry.etag and stat.etag and stat.etag != entry.etag):
            different.append(key)
    gone = set(missing) | set(different)
    adopt = []
    for obj in wanted:
        entry = ledger.get(obj.key)
        if entry is not None and obj.key not in gone and (entry.sha256, entry.bytes) == (obj.sha256, obj.size):
            continue
        stat = listing.get(obj.key)
        if stat is not None and _ours(store, obj, stat):
            adopt.append((obj.key, obj.sha256, obj.size, stat.etag))
    report = VerifyReport(len(listing), len(ledger), tuple(missing), tuple(different),
                          tuple(a[0] for a in adopt))
    return report, sorted(gone), adopt
