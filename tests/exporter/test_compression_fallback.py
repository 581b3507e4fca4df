"""A receiver refusing a compressed body never costs data: re-send with gzip, then none (issue 13)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter._negotiate import EncodingChooser, fallback_chain
from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.receiver import OtlpReceiver, decode_body
from otelkit.testing import Rotel

from .conftest import realistic_batch

SUCCESS, FAILURE = SpanExportResult.SUCCESS, SpanExportResult.FAILURE


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class PickyReceiver:
    """Answers ``status`` to bodies in a refused encoding (or to every body when
    ``refuse_all``), else decodes and keeps the spans' trace IDs."""

    def __init__(self, refused: set[str], status: int = 400, refuse_all: bool = False) -> None:
        self.refused, self.status, self.refuse_all = refused, status, refuse_all
        self.encodings: list[str] = []
        self.trace_ids: list[bytes] = []
        picky = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                enc = self.headers.get("Content-Encoding", "identity")
                picky.encodings.append(enc)
                status, reply = 200, b""
                if enc in picky.refused or picky.refuse_all:
                    status, reply = picky.status, b"cannot decode the request body"
                else:
                    req = ExportTraceServiceRequest.FromString(decode_body(body, enc))
                    picky.trace_ids += [s.trace_id for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def picky() -> Iterator[Any]:
    started: list[PickyReceiver] = []

    def start(refused: set[str], **kw: Any) -> PickyReceiver:
        started.append(PickyReceiver(refused, **kw))
        return started[-1]

    yield start
    for p in started:
        p.close()


def make(endpoint: str, compression: str, clock: FakeClock, **kw: Any) -> OtlpHttpSpanExporter:
    return OtlpHttpSpanExporter(
        endpoint=endpoint, compression=compression, clock=clock, compression_probe_s=60,
        environ={"OTELKIT_SELF_METRICS": "false"}, retry_initial=0.01, **kw,
    )


def trace_ids(spans: list[Any]) -> list[bytes]:
    return [s.context.trace_id.to_bytes(16, "big") for s in spans]


@pytest.mark.parametrize("status", [400, 415])
def test_a_refused_zstd_batch_is_resent_with_gzip_and_gzip_is_kept(
    status: int, picky: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rx = picky({"zstd"}, status=status)
    clock = FakeClock()
    exp = make(rx.endpoint, "zstd", clock)
    first, second = realistic_batch(100, seed=1), realistic_batch(100, seed=2)
    with caplog.at_level(logging.WARNING, "otelkit.exporter.http"):
        assert exp.export(first) == SUCCESS
        assert exp.export(second) == SUCCESS
    assert rx.encodings == ["zstd", "gzip", "gzip"]  # the second batch went straight to gzip
    assert rx.trace_ids == trace_ids(first) + trace_ids(second)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert rx.endpoint in warnings[0] and "refused zstd" in warnings[0] and "with gzip" in warnings[0]
    stats = exp.stats()
    assert stats["spans_exported"] == 200 and stats["spans_failed"] == 0
    exp.shutdown()


def test_zstd_is_probed_again_after_the_interval_without_a_second_warning(
    picky: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rx = picky({"zstd"})
    clock = FakeClock()
    exp = make(rx.endpoint, "zstd", clock)
    with caplog.at_level(logging.WARNING, "otelkit.exporter.http"):
        assert exp.export(realistic_batch(50, seed=1)) == SUCCESS
        clock.now += 59
        assert exp.export(realistic_batch(50, seed=2)) == SUCCESS
        clock.now += 2  # past the 60 s probe interval
        assert exp.export(realistic_batch(50, seed=3)) == SUCCESS
        rx.refused = set()  # the receiver was upgraded
        clock.now += 61
        assert exp.export(realistic_batch(50, seed=4)) == SUCCESS
        assert exp.export(realistic_batch(50, seed=5)) == SUCCESS
    assert rx.encodings == ["zstd", "gzip", "gzip", "zstd", "gzip", "zstd", "zstd"]
    assert len(rx.trace_ids) == 250
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    exp.shutdown()


def test_a_receiver_refusing_zstd_and_gzip_gets_it_uncompressed(picky: Any) -> None:
    rx = picky({"zstd", "gzip"}, status=415)
    exp = make(rx.endpoint, "zstd", FakeClock())
    assert exp.export(realistic_batch(80)) == SUCCESS
    assert exp.export(realistic_batch(80, seed=3)) == SUCCESS
    assert rx.encodings == ["zstd", "gzip", "identity", "identity"]
    assert len(rx.trace_ids) == 160
    exp.shutdown()


def test_deflate_falls_back_to_gzip(picky: Any) -> None:
    rx = picky({"deflate"})
    exp = make(rx.endpoint, "deflate", FakeClock())
    assert exp.export(realistic_batch(80)) == SUCCESS
    assert rx.encodings == ["deflate", "gzip"]
    exp.shutdown()


def test_a_400_for_every_encoding_is_the_payload_and_keeps_the_codec(
    picky: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rx = picky(set(), refuse_all=True)
    exp = make(rx.endpoint, "zstd", FakeClock())
    with caplog.at_level(logging.WARNING, "otelkit.exporter.http"):
        assert exp.export(realistic_batch(40)) == FAILURE
    assert rx.encodings == ["zstd", "gzip", "identity"]
    assert exp._sender.encodings.current() == "zstd"  # not blamed on the encoding
    assert exp.stats()["spans_failed"] == 40
    assert not any("refused zstd" in r.getMessage() for r in caplog.records)
    assert any("cannot decode the request body" in r.getMessage() for r in caplog.records)  # the body is shown
    exp.shutdown()


def test_an_uncompressed_request_that_gets_400_is_not_resent(picky: Any) -> None:
    rx = picky(set(), refuse_all=True)
    exp = make(rx.endpoint, "zstd", FakeClock())
    assert exp.export(realistic_batch(1)) == FAILURE  # under 1 KiB: sent as identity
    assert rx.encodings == ["identity"]
    exp.shutdown()


@pytest.mark.parametrize(
    ("preferred", "chain"),
    [("zstd", ("zstd", "gzip", "none")), ("deflate", ("deflate", "gzip", "none")),
     ("gzip", ("gzip", "none")), ("none", ("none",))],
)
def test_fallback_chain(preferred: str, chain: tuple[str, ...]) -> None:
    assert fallback_chain(preferred) == chain


def test_chooser_rejects_a_bad_probe_interval() -> None:
    with pytest.raises(ValueError, match="probe_interval_s"):
        EncodingChooser("zstd", "http://x", probe_interval_s=0)
    with pytest.raises(ValueError, match="compression_probe_s"):
        OtlpHttpSpanExporter(endpoint="http://127.0.0.1:1/v1/traces", compression_probe_s=-1)


@pytest.mark.peers
def test_zstd_from_the_environment_reaches_rotel_in_full(
    rotel: Rotel, sink: OtlpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    # The README's setting, against a collector that answers zstd bodies with HTTP 400.
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rotel.http_endpoint, "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd",
           "OTELKIT_SELF_METRICS": "false"}
    exp = OtlpHttpSpanExporter(environ=env)
    batches = [realistic_batch(200, seed=s) for s in range(5)]
    with caplog.at_level(logging.WARNING, "otelkit.exporter.http"):
        for batch in batches:
            assert exp.export(batch) == SUCCESS
    assert sink.wait_for_spans(1000, timeout=20)
    assert sorted(r.span.trace_id for r in sink.spans()) == sorted(t for b in batches for t in trace_ids(b))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "refused zstd" in warnings[0] and "HTTP 400" in warnings[0]
    assert exp.stats()["spans_exported"] == 1000 and exp.stats()["spans_failed"] == 0
    exp.shutdown()
