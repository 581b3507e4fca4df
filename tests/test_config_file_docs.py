"""Every configuration file shown in docs/config-file.md checks clean and exports through a
real Rotel collector."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from opentelemetry.trace import StatusCode

from otelkit import cli
from otelkit import pipeline as pl
from otelkit.receiver import OtlpReceiver
from otelkit.testing import Rotel

pytest.importorskip("opentelemetry.configuration")

PAGE = Path(__file__).resolve().parents[1] / "docs" / "config-file.md"
BLOCKS = dict(re.findall(r"```yaml\n# config-file: (\S+)\n(.*?)```", PAGE.read_text(), re.S))


def test_the_page_shows_every_common_setup() -> None:
    assert set(BLOCKS) == {"adaptive", "tail", "rules", "consistent", "composite", "spool"}


@pytest.mark.peers
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_documented_file_reaches_rotel(name: str, tmp_path: Path, rotel: Rotel, sink: OtlpReceiver,
                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(BLOCKS[name])
    # the files take the endpoint from ${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT}, substituted at load
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rotel.http_endpoint)
    monkeypatch.setenv("OTELKIT_SPOOL_DIR", str(tmp_path / "spool"))  # the spool setup's directory
    assert cli.main(["config", "--file", str(path)], environ={}) == 0, capsys.readouterr().err
    with pl.configure(environ={"OTEL_CONFIG_FILE": str(path)}, set_global=False) as p:
        tracer = p.tracer("docs")
        # kept by every setup: the debug override, a payment route, an error status
        with tracer.start_as_current_span("docs", attributes={"otelkit.debug": True,
                                                              "http.route": "/api/payment/1"}) as span:
            span.set_status(StatusCode.ERROR)
    assert sink.wait_for_spans(1, timeout=15), rotel.log()
    (got,) = sink.spans()
    assert got.span.name == "docs"
    if "service.name, value: shop" in BLOCKS[name]:
        assert got.resource["service.name"] == "shop"
