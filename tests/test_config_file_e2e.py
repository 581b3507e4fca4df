"""OTEL_CONFIG_FILE under opentelemetry-instrument: a Starlette app, the adaptive sampler
(target 20), tail policies and the smart batcher, exporting through a real Rotel.

Trace IDs come from a stratified generator named in the same file (``id_generator``, an
``opentelemetry_id_generator`` entry point of a throw-away distribution on PYTHONPATH): the
randomness of consecutive traces is a low-discrepancy sequence, so the kept count over a
window equals ``sum(p)`` within a few traces instead of carrying binomial noise. What is
measured is the sampler's own control error. Rates are computed from the spans' own start
timestamps (the application's clock), not from the test's timing.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from otelkit import cli
from otelkit.receiver import OtlpReceiver
from otelkit.sampling._decide import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.testing import ManagedProcess, Rotel, free_port, scrubbed_env, wait_for_port

pytest.importorskip("opentelemetry.configuration")
pytest.importorskip("opentelemetry.instrumentation.starlette")

pytestmark = pytest.mark.peers

TARGET = 20.0
WARMUP_S = 4.0
OFFERED = 100.0
LOAD_S = 14.0
BOOM_EVERY = 50

APP = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def work(request):
    return PlainTextResponse("ok")


async def boom(request):
    return PlainTextResponse("boom", status_code=500)


app = Starlette(routes=[Route("/work", work), Route("/boom", boom)])
"""

IDS = """
import random
from opentelemetry.sdk.trace.id_generator import IdGenerator

_PHI = 0.6180339887498949


class StratifiedIdGenerator(IdGenerator):
    def __init__(self):
        self._n = 0
        self._rng = random.Random(7)

    def generate_span_id(self):
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self):
        self._n += 1
        low = int(((self._n * _PHI) % 1.0) * (1 << 56))
        return (self._rng.getrandbits(72) << 56) | low or 1
"""

CONFIG = """\
file_format: "1.1"
resource:
  attributes: [{{name: service.name, value: cfgfile-e2e}}]
tracer_provider:
  id_generator:
    stratified: {{}}
  sampler:
    parent_based:
      root:
        otelkit_adaptive: {{target: {target}, tau: 2, keys: [http.method, http.request.method]}}
  processors:
    - otelkit_tail:
        decision_wait_ms: 200
        policies:
          - {{name: errors, type: status_code, status_codes: [ERROR]}}
          - {{name: head, type: head_sampled}}
        processor:
          otelkit_batch:
            max_queue: 65536
            exporter:
              otelkit_otlp: {{endpoint: "{endpoint}", compression: gzip}}
"""


def _instrument_bin() -> str:
    path = Path(sys.executable).parent / "opentelemetry-instrument"
    return str(path) if path.exists() else shutil.which("opentelemetry-instrument") or "opentelemetry-instrument"


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    dist = site / "otelkit_test_ids-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: otelkit-test-ids\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[opentelemetry_id_generator]\nstratified = otelkit_test_ids:StratifiedIdGenerator\n")
    (site / "otelkit_test_ids.py").write_text(IDS)
    (site / "app.py").write_text(APP)
    return site


def _drive(port: int, sent: dict[str, list[int]]) -> None:
    """Offer OFFERED requests/s for LOAD_S seconds over one keep-alive connection (paced by
    send slots, so the load stays light on a shared machine); record each send time (ns)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    start = time.monotonic()
    try:
        for i in range(int(LOAD_S * OFFERED)):
            slot = start + i / OFFERED
            # one clock read: two could straddle the slot and sleep a negative time (ValueError)
            time.sleep(max(0.0, slot - time.monotonic()))
            path = "/boom" if i % BOOM_EVERY == BOOM_EVERY - 1 else "/work"
            sent[path].append(time.time_ns())
            conn.request("GET", path)
            conn.getresponse().read()
    finally:
        conn.close()


def test_config_file_adaptive_tail_batcher_under_instrument(tmp_path: Path, rotel: Rotel, sink: OtlpReceiver,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path)
    config_path = tmp_path / "otel.yaml"
    config_path.write_text(CONFIG.format(target=TARGET, endpoint=rotel.http_endpoint))
    # the deployment check passes on this file, and fails naming the key on a typo
    assert cli.main(["config", "--file", str(config_path)], environ={}) == 0, capsys.readouterr().err
    typo = tmp_path / "typo.yaml"
    typo.write_text(config_path.read_text().replace("target:", "traget:"))
    assert cli.main(["config", "--file", str(typo)], environ={}) == 2
    assert "unknown key 'traget' (did you mean 'target'?)" in capsys.readouterr().err

    port = free_port()
    env = scrubbed_env({"OTEL_PYTHON_CONFIGURATOR": "otelkit", "OTEL_PYTHON_DISTRO": "otelkit",
                        "OTEL_CONFIG_FILE": str(config_path), "PYTHONPATH": str(site)})
    argv = [_instrument_bin(), sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port",
            str(port), "--no-access-log", "--log-level", "warning", "--app-dir", str(site)]
    sent: dict[str, list[int]] = {"/work": [], "/boom": []}
    with ManagedProcess(argv, env, "cfgfile-app") as app:
        wait_for_port(port, 30, app.proc)
        _drive(port, sent)
        # SIGINT: uvicorn shuts down, then re-raises it as KeyboardInterrupt, so the SDK's atexit
        # shutdown drains the tail and the batcher (a re-raised SIGTERM would kill it first)
        os.kill(app.pid, signal.SIGINT)
        app.proc.wait(60)
        log = app.log_path.read_text(errors="replace")
        assert "Traceback" not in log.split("KeyboardInterrupt")[0], log
    roots = [s for s in sink.spans() if not s.span.parent_span_id]
    n_boom = len(sent["/boom"])
    assert sink.wait_for_spans(1, timeout=15), log
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(1 for r in roots if r.attributes.get("http.route") == "/boom") < n_boom:
        time.sleep(0.1)
        roots = [s for s in sink.spans() if not s.span.parent_span_id]
    assert "OTEL_CONFIG_FILE" not in log, log  # no warning about the file

    # every error trace kept (tail policy), whether or not the head sampled it
    # (one fairness key for every GET, so the head drops most /boom traces too)
    errors = [r for r in roots if r.span.status.code == 2]
    assert len(errors) == n_boom == int(LOAD_S * OFFERED) // BOOM_EVERY
    # a trace the head dropped and the tail kept carries th:0, i.e. an adjusted count of 1; the
    # head keeps /boom at its key's probability (~TARGET/OFFERED), a count well above 1
    head_dropped = [r for r in errors if r.attributes.get(ADJUSTED_COUNT_ATTRIBUTE, 1.0) == 1.0]
    assert head_dropped, "every error trace was head-sampled: the tail policy was not exercised"
    assert {r.resource["service.name"] for r in roots} == {"cfgfile-e2e"}

    # kept roots/s of the head sampler over the steady window, by the spans' own timestamps
    first = min(sent["/work"] + sent["/boom"])
    last = max(sent["/work"] + sent["/boom"])
    lo = first + int(WARMUP_S * 1e9)
    assert last - lo > 4e9, "the load ran for too short a time to measure a steady window"
    window_s = (last - lo) / 1e9
    arrivals = sum(1 for t in sent["/work"] + sent["/boom"] if lo <= t <= last) / window_s
    assert arrivals > 2 * TARGET, f"offered {arrivals:.1f} roots/s: too few to test a target of {TARGET}"
    head_kept = [r for r in roots if ADJUSTED_COUNT_ATTRIBUTE in r.attributes
                 and lo <= r.span.start_time_unix_nano <= last]
    rate = len(head_kept) / window_s
    print(f"kept {rate:.2f} roots/s of {arrivals:.1f}/s offered over {window_s:.1f} s (target {TARGET})")
    assert abs(rate - TARGET) <= 0.1 * TARGET, f"kept {rate:.2f} roots/s of {arrivals:.1f}/s, target {TARGET}"
