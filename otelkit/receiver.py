"""An embedded OTLP/HTTP trace receiver: decodes what arrives and counts it.

Used by ``otelkit demo`` (when no ``--endpoint`` is given) and by the test suite as the
sink behind a real collector. It accepts ``POST /v1/traces`` with
``application/x-protobuf`` bodies in ``identity``, ``gzip``, ``deflate`` or ``zstd``
encoding, parses them with ``opentelemetry-proto`` and answers with an empty
``ExportTraceServiceResponse``. It listens on 127.0.0.1 only.

Example::

    from otelkit.receiver import OtlpReceiver
    with OtlpReceiver() as rx:
        print(rx.endpoint)       # http://127.0.0.1:<port>/v1/traces
        ...                      # export spans to it
        rx.wait_for_spans(10, timeout=5)
        print(rx.stats())
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = ["OtlpReceiver", "ReceivedSpan", "decode_body"]

_MAX_BODY = 64 * 1024 * 1024

MAX_TRACE_IDS = 1_000_000
"""Distinct trace IDs remembered for the ``traces`` count (exact up to this many traces)."""


def decode_body(body: bytes, encoding: str) -> bytes:
    """Undo a ``Content-Encoding`` (identity, gzip, deflate or zstd)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc == "gzip":
        return gzip.decompress(body)
    if enc == "deflate":
        return zlib.decompress(body)
    if enc == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}; allowed: identity, gzip, deflate, zstd")


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it arrived, with its resource and scope attributes flattened."""

    span: Span
    resource: dict[str, Any]
    scope_name: str

    @property
    def attributes(self) -> dict[str, Any]:
        return _attrs(self.span.attributes)


def _any_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in kvs}


def _service_name(kvs: Any) -> str:
    """A resource's ``service.name`` (``""`` when it has none or it is not a string)."""
    for kv in kvs:
        if kv.key == "service.name":
            return str(kv.value.string_value)
    return ""


class OtlpReceiver:
    """A threaded OTLP/HTTP receiver on 127.0.0.1 that keeps (or only counts) what arrives.

    Args:
        port: TCP port, 0 for a free one.
        keep_spans: keep decoded spans for :meth:`spans` (tests); the demo only counts.
        status_hook: optional ``(request_number) -> HTTP status`` to inject failures.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        keep_spans: bool = True,
        status_hook: Callable[[int], int] | None = None,
    ) -> None:
        self._keep = keep_spans
        self._status_hook = status_hook
        self._lock = threading.Condition()
        self._spans: list[ReceivedSpan] = []
        self._counts: dict[str, int] = {
            "requests": 0,
            "spans": 0,
            "traces": 0,
            "wire_bytes": 0,
            "raw_bytes": 0,
            "errors": 0,
        }
        self._encodings: dict[str, int] = {}
        self._services: dict[str, int] = {}
        self._trace_ids: set[bytes] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return self.base_url + "/v1/traces"

    def start(self) -> OtlpReceiver:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="otelkit-receiver", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- results ---------------------------------------------------------------------
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def stats(self) -> dict[str, Any]:
        """Counts: ``requests``, ``spans``, ``traces`` (distinct trace IDs, exact for the first
        :data:`MAX_TRACE_IDS`), ``wire_bytes``, ``raw_bytes`` (decompressed), ``errors``,
        ``encodings`` (requests per content encoding) and ``services`` (spans per resource
        ``service.name``; ``""`` for a resource without one)."""
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            out["encodings"] = dict(self._encodings)
            out["services"] = dict(self._services)
            return out

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` spans arrived or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._counts["spans"] < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    # -- request handling ------------------------------------------------------------
    def _record(self, wire: int, encoding: str, body: bytes) -> int:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received: list[ReceivedSpan] = []
        n = 0
        trace_ids: set[bytes] = set()
        services: dict[str, int] = {}
        for rs in request.resource_spans:
            resource = _attrs(rs.resource.attributes) if self._keep else {}
            service = _service_name(rs.resource.attributes)
            for ss in rs.scope_spans:
                n += len(ss.spans)
                services[service] = services.get(service, 0) + len(ss.spans)
                trace_ids.update(s.trace_id for s in ss.spans)
                if self._keep:
                    received.extend(ReceivedSpan(s, resource, ss.scope.name) for s in ss.spans)
        with self._lock:
            c = self._counts
            c["requests"] += 1
            c["spans"] += n
            new = trace_ids - self._trace_ids
            if len(self._trace_ids) < MAX_TRACE_IDS:
                self._trace_ids |= new
            c["traces"] += len(new)
            c["wire_bytes"] += wire
            c["raw_bytes"] += len(body)
            self._encodings[encoding] = self._encodings.get(encoding, 0) + 1
            for service, count in services.items():
                self._services[service] = self._services.get(service, 0) + count
            self._spans.extend(received)
            number = c["requests"]
            self._lock.notify_all()
        return number

    def _error(self) -> None:
        with self._lock:
            self._counts["errors"] += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _reply(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    receiver._error()
                    self._reply(413)
                    return
                wire = self.rfile.read(length)
                if self.path.split("?")[0] != "/v1/traces":
                    receiver._error()
                    self._reply(404)
                    return
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if ctype != "application/x-protobuf":
                    receiver._error()
                    self._reply(415)
                    return
                encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
                try:
                    body = decode_body(wire, encoding)
                    number = receiver._record(len(wire), encoding, body)
                except Exception:  # noqa: BLE001 - a bad body is the client's error
                    receiver._error()
                    self._reply(400)
                    return
                status = receiver._status_hook(number) if receiver._status_hook else 200
                self._reply(status, ExportTraceServiceResponse().SerializeToString())

        return Handler
