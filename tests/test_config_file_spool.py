"""The disk spool named in a configuration file: what a dead receiver could not take is
kept on disk and delivered by the next process that starts on the same file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from otelkit import cli
from otelkit import pipeline as pl
from otelkit.receiver import OtlpReceiver
from otelkit.testing import Rotel

pytest.importorskip("opentelemetry.configuration")

FILE = """\
file_format: "1.1"
tracer_provider:
  processors:
    - otelkit_batch:
        exporter:
          otelkit_otlp:
            endpoint: ${{ENDPOINT}}
            compression: gzip
            timeout: 2000
            max_retries: 0
            spool_dir: {spool}
            spool_max_bytes: 10000000
            spool_replay_spans_per_s: 100000
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.peers
def test_spans_a_dead_receiver_refused_arrive_from_the_files_spool(
        tmp_path: Path, rotel: Rotel, sink: OtlpReceiver, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "otel.yaml"
    path.write_text(FILE.format(spool=tmp_path / "spool"))
    monkeypatch.setenv("ENDPOINT", f"http://127.0.0.1:{_closed_port()}/v1/traces")
    assert cli.main(["config", "--file", str(path)], environ={}) == 0
    assert "spool_dir=" in capsys.readouterr().out
    with pl.configure(environ={"OTEL_CONFIG_FILE": str(path)}, set_global=False) as p:
        tracer = p.tracer("spool")
        for i in range(40):
            with tracer.start_as_current_span(f"op-{i}"):
                pass
        assert p.provider.force_flush(10_000)
        (batch,) = p.processors
        exporter = batch.span_exporter  # type: ignore[attr-defined]
        stats = exporter.stats()
        assert stats["spans_spooled"] == 40 and stats["spans_exported"] == 0, stats
    # the next process starts on the same file with the receiver back: it replays the spool
    monkeypatch.setenv("ENDPOINT", rotel.http_endpoint)
    with pl.configure(environ={"OTEL_CONFIG_FILE": str(path)}, set_global=False):
        assert sink.wait_for_spans(40, timeout=30), rotel.log()
    assert sorted(s.span.name for s in sink.spans()) == sorted(f"op-{i}" for i in range(40))
