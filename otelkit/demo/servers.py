"""Start the example servers for the demo: free 127.0.0.1 ports, scrubbed env, stopped by PID.

Each server is a ``uvicorn --factory`` subprocess of the current interpreter, with the
source checkout's root on ``PYTHONPATH`` (the examples are not part of the installed
package). The parent's ``OTEL_*``/``OTELKIT_*`` variables are scrubbed; the pipeline under
test is described entirely by the variables :func:`pipeline_env` returns.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from otelkit.testing import ManagedProcess, free_port, scrubbed_env, wait_for_port

__all__ = [
    "BATCH_FRESHNESS_MS",
    "TAIL_DECISION_WAIT_MS",
    "TAIL_POLICIES",
    "ExampleServer",
    "PipelineEnv",
    "examples_root",
    "pipeline_env",
    "process_cpu_seconds",
    "start_example",
    "API_APP",
    "LIVEROOM_APP",
    "MODES",
    "fastotel_installed",
]

API_APP = "examples.api_server.app:create_app"
MODES = ("otelkit", "stock", "fastotel")
"""The pipelines the demo runs; ``fastotel`` needs ``pip install 'otelkit[dev]'``."""
LIVEROOM_APP = "examples.liveroom.app:create_app"

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def examples_root() -> Path:
    """The source checkout holding ``examples/`` (the parent of the ``otelkit`` package)."""
    root = Path(__file__).resolve().parent.parent.parent
    if not (root / "examples" / "api_server" / "app.py").is_file():
        raise FileNotFoundError(
            f"the example servers are not next to otelkit ({root / 'examples'} is missing); "
            "run the demo from a source checkout (scripts/demo)"
        )
    return root


def _loadable(group: str, name: str) -> bool:
    for ep in entry_points(group=group, name=name):
        try:
            ep.load()
        except Exception:  # noqa: BLE001 - any failure means "not usable here"
            return False
        return True
    return False


def fastotel_installed() -> bool:
    """Whether the Rust-backed peer ``fastotel`` can be imported (it is in the dev extra)."""
    import importlib.util

    return importlib.util.find_spec("fastotel") is not None


TAIL_POLICIES = "errors=status_code(status_codes=ERROR);slow=latency(threshold_ms=1000);head=head_sampled"
"""The demo's tail policies: every error trace, every trace slower than 1 s, and the traces
the adaptive head sampler kept (``head_sampled``), so ``--target`` sets the volume on both
sides of ``--compare``. The library's default set keeps 10% of the rest instead, which
ignores the head's target."""


BATCH_FRESHNESS_MS = 1000
"""The smart batcher's wait while exports are fast, in the demo (the library default is 200 ms).

At the demo's ~80 kept spans/s, 200 ms makes batches of ~17 spans: one HTTP request and one
zstd frame per 17 spans, so the resource and scope repeat in every request and the
compressor sees too little to work with (measured: 4.6x compression, 98 wire bytes per
span, 1.1-1.2x the stock SDK's bytes per trace, whose BatchSpanProcessor waits up to 5 s).
1 s gives batches of ~80 spans and still exports 5x sooner than the stock default."""


TAIL_DECISION_WAIT_MS = 0
"""How long the demo's tail sampler waits after a trace's root span ends (the library
default is 1000 ms, for spans that end after their local root).

The example servers end every child span before the root (request/response), so waiting
buys nothing there; a span that did come later would still follow the trace's cached
decision. The wait also decided how often the decision thread runs: each trace falls due
at its own time (root end + wait), and the thread wakes for each one (measured: 0.29-0.37 s
of CPU per 2,000 requests at 200/s, 150-185 us per request, ~15% of the otelkit server's
CPU). With no wait every trace is due when its root ends and the thread decides them in
batches when it wakes, at most every 0.5 s (measured: 0.05 s per 2,000 requests)."""


@dataclass
class PipelineEnv:
    """Environment for one pipeline under test, and notes about fallbacks taken."""

    mode: str
    env: dict[str, str]
    notes: list[str] = field(default_factory=list)


def pipeline_env(
    mode: str, endpoint: str, *, target: float, rate: float, tail: bool = True, spool_dir: str | None = None
) -> PipelineEnv:
    """``OTEL_*``/``OTELKIT_*`` variables for the ``otelkit``, ``stock`` or ``fastotel`` pipeline.

    Args:
        mode: ``otelkit`` (adaptive head sampler, tail sampling, smart batcher, otelkit
            OTLP/HTTP exporter with zstd and a disk spool) or ``stock``
            (ParentBased(TraceIdRatioBased), BatchSpanProcessor, stock OTLP/HTTP exporter
            with gzip, contrib ASGI middleware) or ``fastotel`` (as ``stock``, with
            ``fastotel.OTLPSpanProcessor`` (gzip) in place of the batch processor and
            exporter).
        endpoint: OTLP/HTTP traces URL.
        target: traces per second the otelkit adaptive sampler keeps; the stock ratio is
            ``target / rate`` (capped at 1) so both aim at the same volume.
        rate: offered load, requests per second.
        tail: enable the tail-sampling processor (otelkit mode).
        spool_dir: the otelkit exporter's disk spool (``OTELKIT_SPOOL_DIR``; otelkit mode).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is invalid; allowed: {', '.join(MODES)}")
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint, "OTELKIT_EXAMPLE_TRACING": mode}
    notes: list[str] = []
    if mode in ("stock", "fastotel"):
        ratio = min(1.0, target / rate) if rate > 0 else 1.0
        env.update(
            OTEL_TRACES_SAMPLER="parentbased_traceidratio",
            OTEL_TRACES_SAMPLER_ARG=f"{ratio:.4g}",
            OTEL_EXPORTER_OTLP_TRACES_COMPRESSION="gzip",
        )
        return PipelineEnv(mode, env, notes)
    env.update(
        OTEL_TRACES_SAMPLER="otelkit_adaptive",
        OTEL_TRACES_SAMPLER_ARG=f"target={target:g}",
        OTELKIT_PROCESSOR="smart",
        OTELKIT_BATCH_FRESHNESS_MS=str(BATCH_FRESHNESS_MS),
        OTELKIT_TAIL_ENABLED="true" if tail else "false",
    )
    if tail:  # the tail keeps what the head sampled (the target) plus every error and slow trace
        env["OTELKIT_TAIL_POLICIES"] = TAIL_POLICIES
        env["OTELKIT_TAIL_DECISION_WAIT_MS"] = str(TAIL_DECISION_WAIT_MS)
    if spool_dir:  # what the exporter cannot deliver goes to disk and is replayed (docs/spool.md)
        env["OTELKIT_SPOOL_DIR"] = spool_dir
    if _loadable("opentelemetry_traces_exporter", "otelkit_otlp"):
        env.update(OTEL_TRACES_EXPORTER="otelkit_otlp", OTEL_EXPORTER_OTLP_TRACES_COMPRESSION="zstd")
    else:
        env.update(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_TRACES_COMPRESSION="gzip")
        notes.append("otelkit_otlp exporter not installed: using the stock OTLP/HTTP exporter (gzip)")
    if not _loadable("opentelemetry_traces_sampler", "otelkit_adaptive"):
        notes.append("otelkit_adaptive sampler not installed: the pipeline falls back to parentbased_always_on")
    return PipelineEnv(mode, env, notes)


class ExampleServer(ManagedProcess):
    """A running example server; ``base_url`` is ``http://127.0.0.1:PORT``."""

    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.pid)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` from ``/proc/<pid>/stat`` (None when unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; fields after the last ')' are fixed
    fields = raw.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def start_example(app: str, extra_env: dict[str, str], *, name: str, timeout: float = 20.0) -> ExampleServer:
    """Start ``app`` (a uvicorn factory path) on a free 127.0.0.1 port and wait for ``/health``."""
    root = examples_root()
    port = free_port()
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    env = scrubbed_env({"PYTHONPATH": path, **extra_env})
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "5",
    ]
    server = ExampleServer(argv, env, name)
    server.port = port
    try:
        wait_for_port(port, timeout, server.proc)
        _wait_healthy(server.base_url + "/health", timeout)
    except Exception:
        log = server.log()
        server.stop()
        raise RuntimeError(f"{name} did not start; its log:\n{log[-2000:]}") from None
    return server


def _wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - 127.0.0.1 only
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)
