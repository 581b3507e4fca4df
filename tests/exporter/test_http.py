"""OtlpHttpSpanExporter against the embedded receiver (every codec) and a scripted fault server."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.pool.buffer import BufferPool
from otelkit.receiver import OtlpReceiver, decode_body
from otelkit.testing import free_port

from .conftest import realistic_batch

SUCCESS, FAILURE = SpanExportResult.SUCCESS, SpanExportResult.FAILURE
# Scheduling slack on a loaded 2-core CI box (a correctness bound, not speed): 0.5 s was once
# exceeded in the full suite. The slow, trickled and backing-off faults below last well past
# timeout + MARGIN_S without the deadline; for refused connections it bounds the retries.
MARGIN_S = 1.5


def exporter(endpoint: str, **kw: Any) -> OtlpHttpSpanExporter:
    kw.setdefault("environ", {"OTELKIT_SELF_METRICS": "false"})
    return OtlpHttpSpanExporter(endpoint=endpoint, **kw)


def assert_all_counted(stats: dict[str, Any], total: int) -> None:
    assert stats["spans_exported"] + stats["spans_failed"] + stats["spans_rejected"] == total


# ---------------------------------------------------------------- real receiver


@pytest.mark.parametrize("compression", ["zstd", "gzip", "deflate", "none"])
@pytest.mark.parametrize("pool", [False, True])
def test_every_codec_reaches_the_receiver_intact(compression: str, pool: bool, sink: OtlpReceiver) -> None:
    spans = realistic_batch(200)
    exp = exporter(sink.endpoint, compression=compression, buffer_pool=BufferPool() if pool else False)
    assert exp.export(spans) == SUCCESS
    assert exp.export(spans[:1]) == SUCCESS  # below 1 KiB: sent as identity
    got = sink.spans()
    assert len(got) == 201
    assert got[0].attributes == dict(spans[0].attributes)
    assert got[0].span.name == spans[0].name
    assert got[0].resource["service.name"] == "checkout"
    expected = {"none": "identity"}.get(compression, compression)
    assert sink.stats()["encodings"].get(expected, 0) >= 1
    assert sink.stats()["encodings"].get("identity", 0) >= 1
    stats = exp.stats()
    assert stats["spans_exported"] == 201 and stats["requests"] == 2 and stats["retries"] == 0
    if compression != "none":
        assert stats["wire_bytes"] < stats["raw_bytes"] * 0.5
    assert stats["export_latency_p99_ms"] >= stats["export_latency_p50_ms"] > 0
    exp.shutdown()


def test_connections_are_kept_alive(sink: OtlpReceiver) -> None:
    exp = exporter(sink.endpoint, compression="zstd")
    for _ in range(5):
        assert exp.export(realistic_batch(20)) == SUCCESS
    assert exp._sender.transport.connections_made == 1
    exp.shutdown()


def test_export_after_shutdown_fails_and_counts(sink: OtlpReceiver) -> None:
    exp = exporter(sink.endpoint)
    exp.shutdown()
    exp.shutdown()
    assert exp.export(realistic_batch(4)) == FAILURE
    assert exp.stats()["spans_failed"] == 4
    assert sink.stats()["requests"] == 0


def test_an_empty_export_after_shutdown_fails_and_counts_nothing(sink: OtlpReceiver) -> None:
    # Settled (issue 12 item 10): like any batch after shutdown, and like the stock exporter.
    exp = exporter(sink.endpoint)
    assert exp.export([]) == SUCCESS  # before shutdown: nothing to do
    exp.shutdown()
    assert exp.export([]) == FAILURE
    stats = exp.stats()
    assert stats["spans_failed"] == stats["spans_exported"] == stats["requests"] == 0
    assert sink.stats()["requests"] == 0


# ---------------------------------------------------------------- fault server


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_s: float = 0.0
    drip_s: float = 0.0  # pause before each body byte (a server trickling its answer)


@dataclass
class FaultServer:
    """Answers POSTs with scripted replies (the last one repeats) and records each request."""

    script: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fault = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                raw = decode_body(body, self.headers.get("Content-Encoding", "identity"))
                n = sum(len(ss.spans) for rs in ExportTraceServiceRequest.FromString(raw).resource_spans
                        for ss in rs.scope_spans)
                index = len(fault.requests)
                fault.requests.append({"t": time.monotonic(), "spans": n, "raw": len(raw), "headers": dict(self.headers)})
                reply = fault.script[min(index, len(fault.script) - 1)]
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.drip_s:
                        for i in range(len(reply.body)):
                            self.wfile.flush()
                            time.sleep(reply.drip_s)
                            self.wfile.write(reply.body[i : i + 1])
                    else:
                        self.wfile.write(reply.body)
                except OSError:
                    pass

        return Handler


@pytest.fixture
def fault_server() -> Iterator[Callable[..., FaultServer]]:
    started: list[FaultServer] = []

    def start(*script: Reply) -> FaultServer:
        fs = FaultServer(list(script))
        fs.server = ThreadingHTTPServer(("127.0.0.1", 0), fs.handler())
        fs.server.daemon_threads = True
        threading.Thread(target=fs.server.serve_forever, daemon=True).start()
        started.append(fs)
        return fs

    yield start
    for fs in started:
        assert fs.server is not None
        fs.server.shutdown()
        fs.server.server_close()


def timed_export(exp: OtlpHttpSpanExporter, spans: list[ReadableSpan]) -> tuple[SpanExportResult, float]:
    t0 = time.monotonic()
    result = exp.export(spans)
    return result, time.monotonic() - t0


def test_429_with_retry_after_waits_then_succeeds(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(429, {"Retry-After": "1"}), Reply(200))
    exp = exporter(fs.endpoint, timeout=5, retry_initial=0.01)
    result, _ = timed_export(exp, realistic_batch(10))
    assert result == SUCCESS
    assert len(fs.requests) == 2
    assert fs.requests[1]["t"] - fs.requests[0]["t"] >= 0.9  # honoured Retry-After, not 10 ms backoff
    assert exp.stats()["retries"] == 1 and exp.stats()["spans_exported"] == 10


def test_retry_after_as_http_date(fault_server: Callable[..., FaultServer]) -> None:
    # HTTP dates have 1 s resolution: "now + 2 s" means a wait of (1, 2] s
    fs = fault_server(Reply(503, {"Retry-After": formatdate(time.time() + 2, usegmt=True)}), Reply(200))
    exp = exporter(fs.endpoint, timeout=8, retry_initial=0.01)
    assert exp.export(realistic_batch(5)) == SUCCESS
    assert len(fs.requests) == 2
    assert fs.requests[1]["t"] - fs.requests[0]["t"] >= 0.9


def test_retry_after_beyond_the_timeout_fails_at_once(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(429, {"Retry-After": "30"}))
    exp = exporter(fs.endpoint, timeout=2)
    result, elapsed = timed_export(exp, realistic_batch(7))
    assert result == FAILURE and len(fs.requests) == 1 and elapsed < 2
    assert exp.stats()["spans_failed"] == 7


@pytest.mark.parametrize("status", [408, 502, 503, 504])
def test_retryable_status_then_200(status: int, fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(status), Reply(status), Reply(200))
    exp = exporter(fs.endpoint, timeout=5, retry_initial=0.01)
    assert exp.export(realistic_batch(10)) == SUCCESS
    assert len(fs.requests) == 3
    stats = exp.stats()
    assert stats["retries"] == 2 and stats["requests"] == 3 and stats["spans_exported"] == 10


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500])
def test_non_retryable_status_fails_without_retry(status: int, fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(status))
    exp = exporter(fs.endpoint, timeout=5, retry_initial=0.01)
    assert exp.export(realistic_batch(10)) == FAILURE
    assert len(fs.requests) == 1 and exp.stats()["spans_failed"] == 10


def test_retries_are_bounded_by_max_retries(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(503))
    exp = exporter(fs.endpoint, timeout=5, retry_initial=0.01, max_retries=2)
    assert exp.export(realistic_batch(3)) == FAILURE
    assert len(fs.requests) == 3 and exp.stats()["retries"] == 2 and exp.stats()["spans_failed"] == 3


def test_slow_response_never_exceeds_the_timeout(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(200, delay_s=6.0))  # past 1.0 + MARGIN_S
    exp = exporter(fs.endpoint, timeout=1.0, retry_initial=0.01)
    result, elapsed = timed_export(exp, realistic_batch(10))
    assert result == FAILURE
    assert elapsed <= 1.0 + MARGIN_S
    assert exp.stats()["spans_failed"] == 10


def test_a_trickled_response_never_exceeds_the_timeout(fault_server: Callable[..., FaultServer]) -> None:
    # 40 bytes, one every 0.2 s: each read is well within a socket timeout, their sum is 8 s.
    fs = fault_server(Reply(200, body=b"\x00" * 40, drip_s=0.2))
    exp = exporter(fs.endpoint, timeout=1.0, retry_initial=0.01)
    result, elapsed = timed_export(exp, realistic_batch(10))
    assert result == FAILURE
    assert elapsed <= 1.0 + MARGIN_S
    assert exp.stats()["spans_failed"] == 10


def test_a_huge_response_body_is_cut_and_the_export_still_counts(fault_server: Callable[..., FaultServer]) -> None:
    from otelkit.exporter._transport import MAX_RESPONSE_BYTES

    fs = fault_server(Reply(200, body=b"\xff" * (3 * MAX_RESPONSE_BYTES)))
    exp = exporter(fs.endpoint, timeout=5)
    assert exp.export(realistic_batch(4)) == SUCCESS  # an unparseable 2xx body is still a success
    assert exp.stats()["spans_exported"] == 4


def test_the_exporter_needs_no_urllib3(sink: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # pyproject allowed urllib3 1.26, whose HTTPResponse has no read1: every export failed
    # (issue 12). The exporter now sends through the standard library only.
    monkeypatch.setitem(sys.modules, "urllib3", None)  # any `import urllib3` raises ImportError
    exp = exporter(sink.endpoint, compression="gzip")
    assert exp.export(realistic_batch(30)) == SUCCESS
    assert sink.wait_for_spans(30, timeout=5)
    exp.shutdown()


def test_backoff_never_passes_the_timeout(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(503))
    exp = exporter(fs.endpoint, timeout=1.0, retry_initial=0.3, max_retries=10)
    result, elapsed = timed_export(exp, realistic_batch(10))
    assert result == FAILURE and elapsed <= 1.0 + MARGIN_S
    assert 2 <= len(fs.requests) <= 3
    assert_all_counted(exp.stats(), 10)


def test_connection_refused_is_retried_within_the_timeout() -> None:
    port = free_port()  # nothing listens: connection refused
    exp = exporter(f"http://127.0.0.1:{port}/v1/traces", timeout=1.0, retry_initial=0.05, max_retries=3)
    result, elapsed = timed_export(exp, realistic_batch(10))
    assert result == FAILURE and elapsed <= 1.0 + MARGIN_S
    stats = exp.stats()
    assert stats["requests"] == 4 and stats["retries"] == 3 and stats["spans_failed"] == 10


def test_shutdown_cuts_backoff_short(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(503, {"Retry-After": "5"}))
    exp = exporter(fs.endpoint, timeout=20)
    threading.Timer(0.3, exp.shutdown).start()
    result, elapsed = timed_export(exp, realistic_batch(6))
    assert result == FAILURE and elapsed < 3
    assert exp.stats()["spans_failed"] == 6


def test_partial_success_counts_rejected_spans(fault_server: Callable[..., FaultServer]) -> None:
    body = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=3, error_message="too old")
    ).SerializeToString()
    fs = fault_server(Reply(200, body=body))
    exp = exporter(fs.endpoint)
    assert exp.export(realistic_batch(10)) == SUCCESS
    stats = exp.stats()
    assert stats["spans_rejected"] == 3 and stats["spans_exported"] == 7 and stats["spans_failed"] == 0


def test_unparseable_success_body_is_still_success(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(200, body=b"\xff\xff not protobuf"))
    exp = exporter(fs.endpoint)
    assert exp.export(realistic_batch(4)) == SUCCESS
    assert exp.stats()["spans_exported"] == 4


@pytest.mark.parametrize("pool", [False, True])
def test_oversized_batch_is_split_not_dropped(pool: bool, fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(200))
    spans = realistic_batch(300)  # ~130 KB encoded
    exp = exporter(fs.endpoint, max_request_bytes=32 * 1024, compression="gzip", buffer_pool=pool)
    assert exp.export(spans) == SUCCESS
    assert sum(r["spans"] for r in fs.requests) == 300
    assert len(fs.requests) >= 4
    assert all(r["raw"] <= 32 * 1024 for r in fs.requests)
    assert exp.stats()["spans_exported"] == 300


def test_a_single_span_over_the_limit_is_sent_alone(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(200))
    big = realistic_batch(1)[0]
    big._attributes = {"blob": "x" * 5000}  # type: ignore[attr-defined]
    exp = exporter(fs.endpoint, max_request_bytes=1024)
    assert exp.export([big, *realistic_batch(2)]) == SUCCESS
    assert [r["spans"] for r in fs.requests] == [1, 1, 1]  # split down to single spans
    assert fs.requests[0]["raw"] > 1024  # the big one went anyway
    assert exp.stats()["spans_exported"] == 3


def test_header_values_are_sent_but_never_logged(
    fault_server: Callable[..., FaultServer], caplog: pytest.LogCaptureFixture
) -> None:
    fs = fault_server(Reply(500))
    exp = exporter(
        fs.endpoint,
        environ={"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "Authorization=Bearer%20s3cr3t,broken-pair"},
    )
    with caplog.at_level("DEBUG"):
        assert exp.export(realistic_batch(2)) == FAILURE
    assert fs.requests[0]["headers"]["authorization"] == "Bearer s3cr3t"
    assert "s3cr3t" not in caplog.text and "broken-pair" not in caplog.text
    assert "dropping 2 spans" in caplog.text


def test_encoding_errors_never_raise_and_are_counted(sink: OtlpReceiver) -> None:
    exp = exporter(sink.endpoint)
    broken = ReadableSpan(name="no-context")  # get_span_context() is None
    assert exp.export([broken]) == FAILURE
    assert exp.stats()["spans_failed"] == 1


def test_a_forked_child_gets_its_own_connections(sink: OtlpReceiver) -> None:
    import os

    exp = exporter(sink.endpoint)
    assert exp.export(realistic_batch(2)) == SUCCESS
    transport = exp._sender.transport
    parent_conns = list(transport._idle)
    assert parent_conns
    pid = os.fork()
    if pid == 0:  # child: none of the parent's sockets, a new connection, exporting still works
        ok = not transport._idle and exp.export(realistic_batch(3)) == SUCCESS
        ok = ok and all(c not in parent_conns for c in transport._idle)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sink.wait_for_spans(5, timeout=5)
    assert transport._idle == parent_conns  # the parent keeps its connections


def test_default_pipeline_exporter_is_this_one_via_its_entry_point() -> None:
    from otelkit.pipeline import build_exporters

    default = build_exporters({})  # OTEL_TRACES_EXPORTER unset: otelkit_otlp
    stock = build_exporters({"OTEL_TRACES_EXPORTER": "otlp"})  # `otlp` keeps meaning the stock one
    assert [type(e).__name__ for e in default] == ["OtlpHttpSpanExporter"]
    assert [type(e).__name__ for e in stock] == ["OTLPSpanExporter"]
    for e in default + stock:
        e.shutdown()


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, ["otelkit_otlp"]),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, ["otelkit_otlp"]),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, ["otlp_proto_grpc"]),  # otelkit_otlp is HTTP only
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, ["otlp_proto_http"]),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_TRACES_EXPORTER": "otelkit_otlp"}, ["otelkit_otlp"]),
    ],
)
def test_default_exporter_respects_a_chosen_protocol(env: dict[str, str], names: list[str]) -> None:
    from otelkit.pipeline import exporter_names

    assert exporter_names(env) == names


def test_concurrent_exports_share_pools_safely(sink: OtlpReceiver) -> None:
    pool = BufferPool()
    exp = exporter(sink.endpoint, compression="zstd", buffer_pool=pool)
    results: list[SpanExportResult] = []

    def work(seed: int) -> None:
        for i in range(5):
            results.append(exp.export(realistic_batch(40, seed=seed * 10 + i)))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [SUCCESS] * 20
    assert sink.wait_for_spans(800, timeout=5)
    assert len({r.span.span_id for r in sink.spans()}) == 800
    assert exp.stats()["spans_exported"] == 800
    assert pool.stats()["hits"] > 0
