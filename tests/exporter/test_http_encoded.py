"""OtlpHttpSpanExporter: export_encoded, one bad span never fails its batch, pooled buffers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from otelkit.exporter import http as http_module
from otelkit.exporter._encoded import encode_each
from otelkit.pool.buffer import BufferPool
from otelkit.receiver import OtlpReceiver

from . import test_http
from .conftest import realistic_batch
from .test_http import FAILURE, SUCCESS, FaultServer, Reply, exporter

fault_server = test_http.fault_server  # the scripted HTTP server fixture, shared


class CountingPool(BufferPool):
    def __init__(self) -> None:
        super().__init__()
        self.acquired = self.released = 0

    def acquire(self, size: int) -> bytearray:
        self.acquired += 1
        return super().acquire(size)

    def release(self, buf: bytearray) -> None:
        self.released += 1
        super().release(buf)


def test_export_encoded_delivers_what_export_delivers(sink: OtlpReceiver) -> None:
    spans = realistic_batch(150)
    exp = exporter(sink.endpoint, compression="gzip")
    assert exp.export_encoded(encode_each(spans)[0]) == SUCCESS
    got = sink.spans()
    assert [g.span.name for g in got] == [s.name for s in spans]
    assert got[3].attributes == dict(spans[3].attributes)
    assert exp.stats()["spans_exported"] == 150 and exp.stats()["requests"] == 1
    assert exp.export_encoded([]) == SUCCESS
    exp.shutdown()
    assert exp.export_encoded(encode_each(spans[:2])[0]) == FAILURE
    assert exp.stats()["spans_failed"] == 2


@pytest.mark.parametrize("pool", [False, True])
def test_export_sends_the_stock_request_bytes(pool: bool, fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(200))
    spans = realistic_batch(64)
    exp = exporter(fs.endpoint, compression="none", buffer_pool=CountingPool() if pool else False)
    assert exp.export(spans) == SUCCESS
    assert fs.requests[0]["raw"] == len(encode_spans(spans).SerializeToString())


@pytest.mark.parametrize("pool", [False, True])
def test_export_encoded_splits_at_max_request_bytes(pool: bool, fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(200))
    exp = exporter(fs.endpoint, max_request_bytes=16 * 1024, buffer_pool=CountingPool() if pool else False)
    assert exp.export_encoded(encode_each(realistic_batch(200))[0]) == SUCCESS
    assert sum(r["spans"] for r in fs.requests) == 200 and len(fs.requests) >= 5
    assert all(r["raw"] <= 16 * 1024 for r in fs.requests)
    assert exp.stats()["spans_exported"] == 200


def test_a_lone_surrogate_in_one_span_name_does_not_fail_the_batch(fault_server: Callable[..., FaultServer]) -> None:
    """Issue 12 bug 6: the encoder raised and all 1000 spans were counted failed."""
    fs = fault_server(Reply(200))
    spans = realistic_batch(1000)
    spans[500]._name = "GET /caf\udce9"  # type: ignore[attr-defined] - e.g. a surrogateescape'd path
    exp = exporter(fs.endpoint)
    assert exp.export(spans) == SUCCESS
    stats = exp.stats()
    assert (stats["spans_exported"], stats["spans_failed"]) == (1000, 0)
    assert sum(r["spans"] for r in fs.requests) == 1000


def test_only_spans_that_cannot_be_encoded_are_counted_failed(fault_server: Callable[..., FaultServer]) -> None:
    fs = fault_server(Reply(200))
    spans: list[Any] = realistic_batch(999)
    spans.insert(10, ReadableSpan(name="no-context"))
    exp = exporter(fs.endpoint)
    assert exp.export(spans) == FAILURE  # not every span was exported
    stats = exp.stats()
    assert (stats["spans_exported"], stats["spans_failed"]) == (999, 1)
    assert sum(r["spans"] for r in fs.requests) == 999


def test_a_pooled_buffer_goes_back_when_assembly_raises(
    monkeypatch: pytest.MonkeyPatch, fault_server: Callable[..., FaultServer]
) -> None:
    """Issue 12 item 10: a buffer taken from the pool was lost when writing the request raised."""
    fs = fault_server(Reply(200))

    def boom(parts: Sequence[bytes], buf: bytearray) -> int:
        raise MemoryError("simulated")

    monkeypatch.setattr(http_module, "write_parts", boom)
    pool = CountingPool()
    exp = exporter(fs.endpoint, buffer_pool=pool)
    assert exp.export(realistic_batch(20)) == FAILURE
    assert pool.acquired == pool.released == 1
    assert exp.stats()["spans_failed"] == 20 and not fs.requests
