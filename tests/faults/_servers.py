"""Fault-injecting OTLP/HTTP servers on 127.0.0.1 for the fault suite.

:class:`FaultServer` answers each POST as its ``script`` says (a function of the request
number, or a list whose last entry repeats) and records the trace IDs of every request it
*accepted* (a 2xx answer), so tests assert what really arrived. :class:`Blackhole` accepts
connections and never reads or answers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otelkit.receiver import decode_body

DRIP_S = 0.1  # pause between trickled bytes: far below any socket timeout


@dataclass
class Reply:
    """One scripted answer. ``mode``: ``normal``, ``trickle_status`` (the status line, one byte
    per DRIP_S, never finished), ``trickle_headers`` (status line, then header bytes one at a
    time, never finished) or ``endless_body`` (200 with a close-delimited body that never ends)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    mode: str = "normal"


OK = Reply()


class FaultServer:
    def __init__(self, script: list[Reply] | Callable[[int], Reply], port: int = 0) -> None:
        self.script = script
        self.requests = 0
        self.accepted: list[bytes] = []  # trace IDs of spans in requests answered 2xx
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.conns: list[socket.socket] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def reply_for(self, index: int) -> Reply:
        if callable(self.script):
            return self.script(index)
        return self.script[min(index, len(self.script) - 1)]

    def trace_ids(self) -> set[bytes]:
        with self.lock:
            return set(self.accepted)

    def wait_for(self, n_spans: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.accepted) >= n_spans:
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Go away like a killed collector: stop listening and cut every open connection."""
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            conns, self.conns = self.conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fault = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def setup(self) -> None:
                super().setup()
                with fault.lock:
                    fault.conns.append(self.connection)

            def do_POST(self) -> None:  # noqa: N802
                wire = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if fault.stopping.is_set():  # stopped: answer nothing, drop the connection
                    self.close_connection = True
                    return
                with fault.lock:
                    index = fault.requests
                    fault.requests += 1
                reply = fault.reply_for(index)
                try:
                    if reply.mode == "normal":
                        if 200 <= reply.status < 300:
                            raw = decode_body(wire, self.headers.get("Content-Encoding", "identity"))
                            ids = [s.trace_id for rs in ExportTraceServiceRequest.FromString(raw).resource_spans
                                   for ss in rs.scope_spans for s in ss.spans]
                            with fault.lock:
                                fault.accepted.extend(ids)
                        self.send_response(reply.status)
                        for k, v in reply.headers.items():
                            self.send_header(k, v)
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                    elif reply.mode == "trickle_status":
                        self._drip(b"HTTP/1.1 200 OK" + b"X" * 100_000)
                    elif reply.mode == "trickle_headers":
                        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                        self._drip(b"X-Slow: " + b"y" * 100_000)
                    elif reply.mode == "endless_body":
                        self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                        while not fault.stopping.is_set():
                            self.wfile.write(b"z" * 65536)
                        self.close_connection = True
                except OSError:
                    self.close_connection = True

            def _drip(self, data: bytes) -> None:
                for i in range(len(data)):
                    if fault.stopping.is_set():
                        break
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(DRIP_S)
                self.close_connection = True

        return Handler


class Blackhole:
    """Accepts TCP connections on 127.0.0.1 and never reads from or writes to them."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1/traces"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()
