"""Outages with the disk spool on, against a real application process: every span ended arrives.

Durations are the issue's (a 60 s collector outage at ~2,000 spans/s, a broker killed for
25 s); they are scenario lengths, not timing assertions. What arrived is counted by trace ID
at the receiver and compared with the trace IDs the application ended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from otelkit.testing import scrubbed_env

from ._servers import OK, FaultServer
from ._spans import wait_until

pytestmark = pytest.mark.peers

APP = Path(__file__).with_name("_app.py")
ROOT = Path(__file__).resolve().parents[2]


def start_app(state: Path, env: dict[str, str], rate: int, seconds: float, per_trace: int) -> subprocess.Popen[bytes]:
    state.mkdir(parents=True, exist_ok=True)
    full = scrubbed_env({"OTELKIT_SELF_METRICS": "false", "PYTHONPATH": str(ROOT), **env})
    return subprocess.Popen(
        [sys.executable, str(APP), str(state), str(rate), str(seconds), str(per_trace)],
        env=full, stdout=open(state / "log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )


def status(state: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((state / "status.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def ended_ids(state: Path) -> set[bytes]:
    return {bytes.fromhex(line) for line in (state / "ids").read_text().split() if len(line) == 32}


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.mark.timeout(400)
def test_a_60_s_collector_outage_at_2000_spans_per_s_loses_no_span(tmp_path: Path) -> None:
    before_s, outage_s, after_s, rate = 5.0, 60.0, 30.0, 2000
    state = tmp_path / "app"
    first = FaultServer([OK])
    port = first.port
    env = {"OTEL_TRACES_EXPORTER": "otelkit_otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": first.endpoint,
           "OTELKIT_SPOOL_DIR": str(tmp_path / "spool")}
    app = start_app(state, env, rate, before_s + outage_s + after_s, 1)
    second: FaultServer | None = None
    try:
        assert wait_until(lambda: first.wait_for(rate, 0.1), timeout=30), (state / "log").read_text()
        first.stop()  # the collector goes away: connections are refused
        at_start = status(state)
        rss = [at_start["rss_kb"]]
        outage_end = time.monotonic() + outage_s
        while time.monotonic() < outage_end:  # the scenario's length; RSS sampled meanwhile
            time.sleep(1.0)
            rss.append(status(state).get("rss_kb", rss[-1]))
        during = status(state)
        second = FaultServer([OK], port=port)  # the collector is back
        app.wait(after_s + 120)
        final = status(state)
        assert final.get("done"), (state / "log").read_text()[-3000:]
        ended = ended_ids(state)
        arrived = first.trace_ids() | second.trace_ids()
        missing = ended - arrived
        exp, bsp = final["exporter"], final["bsp"]
        print(f"\nended {len(ended)}, arrived {len(ended & arrived)}, spooled {exp['spans_spooled']}, "
              f"replayed {exp['spool_replayed_spans']}, RSS at outage start {rss[0] / 1024:.0f} MiB, "
              f"peak during {max(rss) / 1024:.0f} MiB, queue at outage end {during['bsp']['queue_size']}")
        assert not missing, f"{len(missing)} of {len(ended)} ended traces never arrived; {exp}, {bsp}"
        assert len(ended) >= rate * (before_s + outage_s + after_s) * 0.9  # ~2,000 spans/s were ended
        assert exp["spans_spooled"] >= rate * outage_s * 0.8 and exp["spool_corrupt_records"] == 0
        assert bsp["dropped_queue_full"] == 0
        # Memory: during the outage spans go to disk, so the process grows by at most the
        # batch queue's worth of spans held while the first export waits out its timeout.
        assert (max(rss) - rss[0]) / 1024 < 96, rss
    finally:
        stop(app)
        if second is not None:
            second.stop()
