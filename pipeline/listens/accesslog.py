"""Access-log lines read with apachelogs (the one module that uses it).

Formats, tried in this order on each line:

- **S3 server access log** (AWS "Amazon S3 server access log format"; Aliyun OSS and
  other S3-compatible stores write the same leading fields): bucket owner, bucket,
  ``[time]``, remote IP, requester, request id, operation (``REST.GET.OBJECT``), key
  (URL-encoded), ``"request line"``, status, error code, bytes sent, object size, total
  time, turn-around time, ``"referer"``, ``"user agent"``, version id, then any of the
  newer trailing fields. The log does not carry the Range header: a 206 answer is known
  only by the bytes sent.
- **combined** with a Range header (``%h %l %u %t "%r" %>s %b "%{Referer}i"
  "%{User-Agent}i" "%{Range}i"``, e.g. nginx ``"$http_range"`` at the end),
- **combined** (Apache/nginx default) and **common** (no user agent).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import apachelogs

S3_HEAD = ('%{owner}e %{bucket}e %t %a %{requester}e %{request_id}e %{operation}e %{key}e "%r" %>s '
           '%{error}e %b %{object_size}e %{total_time}e %{turnaround}e "%{Referer}i" "%{User-Agent}i" %{version}e')
FORMATS = (("s3", S3_HEAD + " %{rest}x"), ("s3", S3_HEAD),
           ("combined-range", apachelogs.COMBINED + ' "%{Range}i"'),
           ("combined", apachelogs.COMBINED), ("common", apachelogs.COMMON))
_PARSERS = tuple((name, apachelogs.LogParser(fmt)) for name, fmt in FORMATS)
_LAST = [0]
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class Request:
    """One logged request: ``time`` timezone-aware; ``path`` the object key or URL path
    (decoded, without the query); ``bytes_sent`` of the body (0 when ``-``);
    ``object_size`` (bytes) when the log says; ``range_start`` the first byte of a
    ``Range: bytes=N-`` request when the log carries the header, else None; ``fmt``
    the format that matched."""

    time: dt.datetime
    ip: str
    user_agent: str
    method: str
    path: str
    status: int
    bytes_sent: int
    object_size: int | None = None
    range_start: int | None = None
    fmt: str = ""


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def parse_line(line: str) -> Request | None:
    """The :class:`Request` of one log line, or None when no known format matches."""
    line = line.rstrip("\r\n")
    first = _LAST[0]  # a log is one format: try the one that matched last first
    for n in (first, *(i for i in range(len(_PARSERS)) if i != first)):
        name, parser = _PARSERS[n]
        try:
            e = parser.parse(line)
        except apachelogs.InvalidEntryError:
            continue
        _LAST[0] = n
        d = e.directives
        method, _, rest = (d.get("%r") or "").partition(" ")
        target = rest.rsplit(" ", 1)[0] if " HTTP/" in rest else rest
        if name == "s3":
            key = d.get("%{key}e")
            path = unquote(key) if key else unquote(urlsplit(target).path)
            ip = d.get("%a") or ""
        else:
            path = unquote(urlsplit(target).path)
            ip = d.get("%h") or ""
        rng = _RANGE.match((d.get("%{Range}i") or "").strip())
        return Request(time=d["%t"], ip=ip, user_agent=d.get("%{User-Agent}i") or "", method=method.upper(),
                       path=path, status=int(d.get("%>s") or 0), bytes_sent=d.get("%b") or 0,
                       object_size=_int(d.get("%{object_size}e")),
                       range_start=int(rng.group(1)) if rng else None, fmt=name)
    return None
