"""Where the card loader reads the published store: a ``file://`` or ``s3://`` store
through :mod:`pipeline.publish.store` (its ``get()`` only), or the store's public
``base_url`` over HTTP(S) with requests (the one module that uses it), with timeouts."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from . import __version__
from .errors import StoreError


class Source(Protocol):
    """Where the published store is read from."""

    def describe(self) -> str: ...
    def get(self, key: str) -> bytes: ...
    def fetch(self, key: str, dest: Path) -> None:
        """Write the object to ``dest``."""


class StoreSource:
    """A ``file://`` or ``s3://`` store, read with its ``get()``."""

    def __init__(self, store) -> None:
        self.store = store

    def describe(self) -> str:
        return self.store.describe()

    def get(self, key: str) -> bytes:
        return self.store.get(key)

    def fetch(self, key: str, dest: Path) -> None:
        dest.write_bytes(self.store.get(key))


class HttpSource:
    """The store's public URL (``base_url``), read with requests, with timeouts."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        import requests
        self.base = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = (10.0, timeout_s)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"dangke-card/{__version__}"

    def describe(self) -> str:
        return self.base

    def _url(self, key: str) -> str:
        return self.base + quote(key, safe="/")

    def _open(self, key: str, stream: bool):
        import requests
        try:
            r = self.session.get(self._url(key), timeout=self.timeout, stream=stream)
        except requests.RequestException as exc:
            raise StoreError(f"cannot read {self._url(key)}: {exc}", fix="check the network and the URL") from exc
        if r.status_code != 200:
            r.close()
            raise StoreError(f"cannot read {self._url(key)}: HTTP {r.status_code}",
                             fix="check the URL; is the quarter published?")
        return r

    def get(self, key: str) -> bytes:
        with self._open(key, stream=False) as r:
            return r.content

    def fetch(self, key: str, dest: Path) -> None:
        import requests
        with self._open(key, stream=True) as r, open(dest, "wb") as f:
            try:
                for block in r.iter_content(1 << 20):
                    f.write(block)
            except requests.RequestException as exc:
                raise StoreError(f"download of {key} broke off: {exc}", fix="run again to resume") from exc


def open_source(spec: str, root: Path | None = None, store=None) -> Source:
    """A source from ``--from``: ``http(s)://`` (the public base_url), or a store."""
    if spec.startswith(("http://", "https://")):
        return HttpSource(spec)
    if store is not None:
        return StoreSource(store)
    from .publish.targets import open_store
    return StoreSource(open_store(spec, root or Path.cwd()))
