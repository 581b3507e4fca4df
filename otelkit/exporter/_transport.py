"""A small HTTP/1.1 client whose every request is bounded by one deadline, end to end.

The OTLP/HTTP exporter sends through :class:`HttpTransport`. Each request gets an absolute
deadline (``time.monotonic()`` seconds) that connect, TLS handshake, sending the body, the
status line, the headers and the body all share: before every socket operation the socket
timeout is set to the time left, and once none is left the operation is not even started.
A plain socket timeout bounds each ``recv`` alone, so a server trickling its status line or
headers one byte at a time (http.client reads them line by line) kept a request alive
forever; here it fails at its deadline.

Connections are kept alive in a small pool (idle ones that the server closed are dropped
before reuse); a connection whose request failed or timed out is closed, never reused.
Only the standard library is used (``http.client``, ``socket``, ``ssl``), so the exporter
works with every version of ``urllib3`` or without it. Name resolution
(``getaddrinfo``) is the one step the operating system does not let us bound.

Example::

    t = HttpTransport("http://127.0.0.1:4318/v1/traces")
    resp = t.post("/v1/traces", body, {"content-type": "application/x-protobuf"}, time.monotonic() + 10)
"""

from __future__ import annotations

import http.client
import io
import math
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from otelkit._fork import after_fork

__all__ = ["HttpTransport", "Response", "TransportError", "DeadlineExceeded", "MAX_RESPONSE_BYTES"]

MAX_RESPONSE_BYTES = 1024 * 1024
"""Longest response body read; an OTLP answer is a few bytes, a longer one is cut here."""

_READ_CHUNK = 64 * 1024
_MAX_IDLE = 4


class TransportError(Exception):
    """The request got no complete HTTP answer; ``reason`` names why (for ``error.type``)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class DeadlineExceeded(TransportError):
    """The deadline passed before the answer was complete."""

    def __init__(self, detail: str = "deadline reached") -> None:
        super().__init__("timeout", detail)


@dataclass(frozen=True)
class Response:
    """A complete answer: status, headers (lower-case names) and body (cut at the cap)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class _DeadlineSocket:
    """A connected socket whose every operation times out at ``deadline``, not per call."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline = math.inf
        self._readers = 0  # open makefile() readers: like socket.socket, close the fd after the last
        self._closing = False

    def _arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded()
        self.sock.settimeout(left)

    def sendall(self, data: Any) -> None:
        self._arm()
        self.sock.sendall(data)  # since Python 3.5 the timeout bounds the whole sendall

    def recv_into(self, buf: Any) -> int:
        self._arm()
        return self.sock.recv_into(buf)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def fileno(self) -> int:
        return self.sock.fileno()

    def reader_closed(self) -> None:
        self._readers -= 1
        if self._closing and self._readers <= 0:
            self.sock.close()

    def close(self) -> None:
        # http.client closes the connection while its response still reads the body
        # ("Connection: close"); the fd must outlive that, as socket.socket's own makefile does.
        self._closing = True
        if self._readers <= 0:
            self.sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        return self._sock.recv_into(buf)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._sock.reader_closed()


class _Connection(http.client.HTTPConnection):
    """An HTTP(S) connection whose socket is a :class:`_DeadlineSocket`."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None) -> None:
        super().__init__(host, port)
        self._context = context
        self.deadline = math.inf
        self.used = False

    def connect(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("deadline reached before connecting")
        sock = socket.create_connection((self.host, self.port), timeout=left)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._context is not None:
            sock.settimeout(max(0.001, self.deadline - time.monotonic()))
            sock = self._context.wrap_socket(sock, server_hostname=self.host)
        wrapped = _DeadlineSocket(sock)
        wrapped.deadline = self.deadline
        self.sock = wrapped

    def set_deadline(self, deadline: float) -> None:
        self.deadline = deadline
        if isinstance(self.sock, _DeadlineSocket):
            self.sock.deadline = deadline

    def dropped(self) -> bool:
        """An idle connection the server closed (or wrote to unasked) cannot be reused."""
        sock = self.sock
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


class HttpTransport:
    """POST requests to one origin through kept-alive connections, each within its deadline.

    Args:
        url: the endpoint (``http://`` or ``https://``); only its scheme, host and port are used.
        ca_file: CA bundle for HTTPS (default: the system's).
        cert_file / key_file: client certificate and key for mutual TLS.
    """

    def __init__(
        self, url: str, ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._context: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._context = ssl.create_default_context(cafile=ca_file)
            if cert_file:
                self._context.load_cert_chain(cert_file, key_file)
        self._lock = threading.Lock()
        self._idle: list[_Connection] = []
        self._closed = False
        self.connections_made = 0
        after_fork(self._after_fork)

    def _after_fork(self) -> None:
        # A forked child must not talk on its parent's sockets: forget them (the parent keeps them).
        self._lock = threading.Lock()
        self._idle = []

    def post(self, path: str, body: Any, headers: Mapping[str, str], deadline: float) -> Response:
        """Send one POST and read the whole answer before ``deadline``.

        Raises:
            DeadlineExceeded: the deadline passed first (the connection is closed).
            TransportError: no complete answer (refused, reset, malformed, ...).
        """
        conn = self._take()
        reused = conn.used
        try:
            return self._exchange(conn, path, body, headers, deadline)
        except DeadlineExceeded:
            raise
        except TransportError as exc:
            # A kept-alive connection the server closed at the same moment: one fresh try.
            if not reused or exc.reason not in ("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"):
                raise
        return self._exchange(self._new(), path, body, headers, deadline)

    def _exchange(self, conn: _Connection, path: str, body: Any, headers: Mapping[str, str], deadline: float) -> Response:
        conn.set_deadline(deadline)
        keep = False
        resp: http.client.HTTPResponse | None = None
        try:
            conn.request("POST", path, body=body, headers=dict(headers))
            resp = conn.getresponse()
            data, complete = _read_capped(resp)
            keep = complete and not resp.will_close
            conn.used = True
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        except DeadlineExceeded:
            raise
        except TimeoutError as exc:
            raise DeadlineExceeded(str(exc) or "socket timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(type(exc).__name__, str(exc)[:200]) from None
        finally:
            if keep:
                self._give(conn)
            else:
                if resp is not None:
                    resp.close()  # its reader holds the socket open until closed
                conn.close()

    def _take(self) -> _Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.dropped():
                    return conn
                conn.close()
        return self._new()

    def _new(self) -> _Connection:
        with self._lock:
            self.connections_made += 1
        return _Connection(self.host, self.port, self._context)

    def _give(self, conn: _Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < _MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close idle connections; requests in flight close theirs when they end."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _read_capped(resp: http.client.HTTPResponse) -> tuple[bytes, bool]:
    """The body, at most :data:`MAX_RESPONSE_BYTES`; ``complete`` is False when it was cut
    (the connection must then be closed, not reused)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        piece = resp.read(_READ_CHUNK)
        if not piece:
            return b"".join(chunks), True
        chunks.append(piece)
        size += len(piece)
        if size > MAX_RESPONSE_BYTES:
            return b"".join(chunks)[:MAX_RESPONSE_BYTES], False
