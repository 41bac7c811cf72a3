"""A small HTTP proxy for tests, in front of the S3-compatible server: it keeps a log of
every request (method, path, query, status) and injects faults chosen by a rule — an
S3 ``InternalError`` 500, a ``SlowDown`` 503, a reset connection (RST), a stall
(no answer for ``stall_s`` seconds, then a closed connection), or corruption (one byte of
the body flipped, forwarded with the client's headers).

Only loopback: it listens on 127.0.0.1 and forwards to a server on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit

Rule = Callable[["Request"], "str | None"]


@dataclass(frozen=True)
class Request:
    """One request seen by the proxy; ``status`` 0 when a fault answered it."""

    method: str
    path: str
    query: str
    status: int = 0
    fault: str = ""

    @property
    def is_write(self) -> bool:
        return self.method in ("PUT", "POST", "DELETE")

    @property
    def is_object_upload(self) -> bool:
        """A PutObject, an UploadPart or a CreateMultipartUpload."""
        return (self.method == "PUT" and self.path.count("/") >= 2) or \
            (self.method == "POST" and "uploads" in self.query.split("&"))


_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
}


class FaultProxy:
    """Forward to ``upstream`` (``http://127.0.0.1:PORT``); ``rule(request)`` returns None
    (forward), ``"500"``, ``"503"``, ``"reset"``, ``"stall"`` or ``"corrupt"``."""

    def __init__(self, upstream: str, stall_s: float = 3.0) -> None:
        u = urlsplit(upstream)
        self.upstream = (u.hostname or "127.0.0.1", u.port or 80)
        self.stall_s = stall_s
        self.rule: Rule = lambda _r: None
        self.log: list[Request] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()
                path, _, query = self.path.partition("?")
                seen = Request(self.command, path, query)
                fault = proxy.rule(seen)
                if fault == "corrupt" and body:  # one byte changed on the way, headers as sent
                    body = body[:len(body) // 2] + bytes([body[len(body) // 2] ^ 0x01]) + body[len(body) // 2 + 1:]
                    status = self._forward(body)
                    proxy.record(Request(self.command, path, query, status, fault))
                    return
                if fault:
                    proxy.record(Request(self.command, path, query, 0, fault))
                    self._fault(fault)
                    return
                status = self._forward(body)
                proxy.record(Request(self.command, path, query, status))

            def _fault(self, fault: str) -> None:
                if fault in _ERRORS:
                    status, code, message = _ERRORS[fault]
                    xml = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                           f"<Message>{message}</Message></Error>").encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(xml)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(xml)
                    return
                if fault == "stall":
                    time.sleep(proxy.stall_s)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def _forward(self, body: bytes) -> int:
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("transfer-encoding", "connection")}
                    headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST")
                                 else None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("transfer-encoding", "connection", "content-length", "server",
                                             "date"):
                            self.send_header(k, v)
                    length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                    self.send_header("Content-Length", length or "0")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                    return resp.status
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FaultProxy":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, request: Request) -> None:
        with self.lock:
            self.log.append(request)

    def reset(self) -> None:
        """Clear the log and the fault rule."""
        with self.lock:
            self.log = []
        self.rule = lambda _r: None

    def requests(self, bucket: str) -> list[Request]:
        """The logged requests on one bucket."""
        with self.lock:
            return [r for r in self.log if r.path == f"/{bucket}" or r.path.startswith(f"/{bucket}/")]
