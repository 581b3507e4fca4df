"""Env-only setup reaches a real collector (Rotel) with the service name set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from otelkit import pipeline as pl
from otelkit.receiver import OtlpReceiver
from otelkit.testing import Rotel, scrubbed_env

APP = """
from opentelemetry import trace
tracer = trace.get_tracer("e2e")
for i in range(5):
    with tracer.start_as_current_span("job", attributes={"job.index": i}):
        pass
"""


def _instrument_bin() -> str:
    path = Path(sys.executable).parent / "opentelemetry-instrument"
    return str(path) if path.exists() else shutil.which("opentelemetry-instrument") or "opentelemetry-instrument"


def test_opentelemetry_instrument_with_otelkit_configurator(rotel: Rotel, sink: OtlpReceiver) -> None:
    env = scrubbed_env(
        {
            "OTEL_PYTHON_CONFIGURATOR": "otelkit",
            "OTEL_PYTHON_DISTRO": "otelkit",
            "OTEL_SERVICE_NAME": "x",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rotel.http_endpoint,
        }
    )
    proc = subprocess.run(
        [_instrument_bin(), sys.executable, "-c", APP], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert sink.wait_for_spans(5, timeout=15), rotel.log()
    spans = sink.spans()
    assert sorted(s.attributes["job.index"] for s in spans) == [0, 1, 2, 3, 4]
    assert {s.resource["service.name"] for s in spans} == {"x"}


def test_configure_in_code_reaches_rotel(rotel: Rotel, sink: OtlpReceiver) -> None:
    env = {
        "OTEL_SERVICE_NAME": "in-code",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rotel.http_endpoint,
        "OTEL_TRACES_EXPORTER": "otlp",
    }
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("OTEL_")}
    # the stock OTLP exporter reads os.environ itself; give it only the endpoint
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = rotel.http_endpoint
    try:
        with pl.configure(environ=env, set_global=False) as p:
            tracer = p.tracer("e2e")
            for i in range(3):
                with tracer.start_as_current_span("job", attributes={"job.index": i}):
                    pass
    finally:
        os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
        os.environ.update(saved)
    assert sink.wait_for_spans(3, timeout=15), rotel.log()
    assert {s.resource["service.name"] for s in sink.spans()} == {"in-code"}
