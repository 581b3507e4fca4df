"""Compression round trips, thresholds, per-thread zstd contexts and the zstd CLI."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import threading
import zlib

import pytest
import zstandard
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otelkit.exporter.compression import Compressor
from otelkit.exporter.encoder import SpanEncoder
from otelkit.receiver import decode_body

from .conftest import realistic_batch

PAYLOAD = SpanEncoder().encode(realistic_batch(64))

DECODERS = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "zstd": lambda b: zstandard.ZstdDecompressor().decompress(b),
}


@pytest.mark.parametrize("name", ["gzip", "deflate", "zstd"])
@pytest.mark.parametrize("data", [PAYLOAD, bytearray(PAYLOAD), memoryview(PAYLOAD)[:5000]])
def test_round_trip(name: str, data: bytes | bytearray | memoryview) -> None:
    body, encoding = Compressor(name).compress(data)
    assert encoding == name
    assert len(body) < len(data)
    assert DECODERS[name](bytes(body)) == bytes(data)
    assert decode_body(bytes(body), name) == bytes(data)


def test_none_passes_the_body_through() -> None:
    body, encoding = Compressor("none").compress(PAYLOAD)
    assert body is PAYLOAD and encoding is None


@pytest.mark.parametrize("name", ["gzip", "deflate", "zstd"])
def test_below_threshold_is_sent_uncompressed(name: str) -> None:
    comp = Compressor(name, min_bytes=1024)
    small = PAYLOAD[:1023]
    assert comp.compress(small) == (small, None)
    assert comp.compress(PAYLOAD[:1024])[1] == name


@pytest.mark.parametrize(
    ("name", "level", "expected"),
    [("zstd", None, 3), ("gzip", None, 6), ("deflate", 0, 6), ("zstd", 19, 19), ("GZIP", 1, 1)],
)
def test_levels(name: str, level: int | None, expected: int) -> None:
    assert Compressor(name, level).level == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "brotli"}, "compression='brotli' is invalid"),
        ({"name": "gzip", "level": 10}, "level 10 is invalid for gzip"),
        ({"name": "zstd", "level": 23}, "level 23 is invalid for zstd"),
        ({"name": "zstd", "min_bytes": -1}, "min_bytes=-1"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Compressor(**kwargs)  # type: ignore[arg-type]


def test_zstd_contexts_are_per_thread_and_reused() -> None:
    comp = Compressor("zstd")
    seen: list[object] = []

    def work() -> None:
        for _ in range(3):
            body, _ = comp.compress(PAYLOAD)
            assert zstandard.ZstdDecompressor().decompress(body) == PAYLOAD
        seen.append(comp._zstd())
        seen.append(comp._zstd())

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen[0] is seen[1] and seen[2] is seen[3]
    assert len({id(c) for c in seen}) == 3


@pytest.mark.skipif(shutil.which("zstd") is None, reason="Debian zstd CLI not installed")
def test_zstd_body_decodes_with_the_debian_cli_and_parses(tmp_path: object) -> None:
    spans = realistic_batch(100)
    body, _ = Compressor("zstd").compress(SpanEncoder().encode(spans))
    out = subprocess.run(["zstd", "-d", "-c", "-q"], input=bytes(body), capture_output=True, check=True, timeout=30)
    parsed = ExportTraceServiceRequest.FromString(out.stdout)
    assert parsed == encode_spans(spans)
