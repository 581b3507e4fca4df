"""SIGTERM to real servers under ``opentelemetry-instrument`` with tail sampling buffering every
trace: each trace the policy keeps, ended before the signal, reaches a real Rotel.

The tail's decision wait is 10 minutes, so nothing is exported before the signal: every kept
trace that arrives was flushed by the shutdown path. Before ``otelkit._shutdown`` existed,
uvicorn (which restores the handlers it found and raises SIGTERM again after its graceful
shutdown) and gunicorn's uvicorn workers (which reset the handlers to the default) died by the
signal with the traces still buffered: 0 arrived.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from otelkit.receiver import OtlpReceiver
from otelkit.testing import ManagedProcess, Rotel, free_port, scrubbed_env, wait_for_port

pytestmark = pytest.mark.peers

REQUESTS = 12  # odd-numbered requests fail: the tail keeps exactly those
SPANS_PER_TRACE = {"aiohttp": 3}  # aiohttp's server instrumentation adds a span; else 2

APP = textwrap.dedent(
    """
    import logging
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")

    from opentelemetry import trace
    from opentelemetry.trace import StatusCode

    def handle(path):
        index = int(path.rsplit("/", 1)[-1])
        tracer = trace.get_tracer("sigapp")
        with tracer.start_as_current_span("GET /r") as root:
            root.set_attribute("req.index", index)
            with tracer.start_as_current_span("work"):
                pass
            if index % 2:
                root.set_status(StatusCode.ERROR, "odd")
        return b"ok"

    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": "lifespan." + kind + ".complete"})
                if kind == "shutdown":
                    return
        body = handle(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    def wsgi(environ, start_response):
        body = handle(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    if __name__ == "__main__":  # aiohttp
        import sys
        from aiohttp import web

        async def route(request):
            return web.Response(body=handle(request.path))

        app = web.Application()
        app.router.add_get("/r/{i}", route)
        web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
    """
)


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


SERVERS = {
    "uvicorn": lambda port: [sys.executable, "-m", "uvicorn", "sigapp:asgi", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"],
    "gunicorn-sync": lambda port: [_bin("gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "sigapp:wsgi"],
    "gunicorn-uvicorn": lambda port: [_bin("gunicorn"), "-w", "2", "-k", "uvicorn.workers.UvicornWorker",
                                      "-b", f"127.0.0.1:{port}", "sigapp:asgi"],
    "aiohttp": lambda port: [sys.executable, "-m", "sigapp", str(port)],
}


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "sigapp.py").write_text(APP)
    yield tmp_path


@pytest.mark.parametrize("server", list(SERVERS))
def test_sigterm_flushes_every_kept_trace(server: str, app_dir: Path, rotel: Rotel, sink: OtlpReceiver) -> None:
    port = free_port()
    env = scrubbed_env({
        "PYTHONPATH": str(app_dir),
        "OTEL_PYTHON_CONFIGURATOR": "otelkit",
        "OTEL_PYTHON_DISTRO": "otelkit",
        "OTEL_SERVICE_NAME": f"sig-{server}",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rotel.http_endpoint,
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
        "OTEL_TRACES_SAMPLER": "always_off",  # the tail alone decides
        "OTELKIT_TAIL_ENABLED": "true",
        "OTELKIT_TAIL_DECISION_WAIT_MS": "600000",
        "OTELKIT_TAIL_MAX_WAIT_MS": "600000",
        "OTELKIT_TAIL_POLICIES": "errors=status_code(status_codes=ERROR)",
        "OTELKIT_SELF_METRICS": "false",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    })
    argv = [_bin("opentelemetry-instrument"), *SERVERS[server](port)]
    proc = ManagedProcess(argv, env, f"sig-{server}")
    try:
        wait_for_port(port, 30, proc.proc)
        for i in range(REQUESTS):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/r/{i}", timeout=10) as resp:  # noqa: S310
                assert resp.read() == b"ok"
        assert sink.spans() == []  # still buffered by the tail sampler
        os.kill(proc.pid, signal.SIGTERM)
        proc.proc.wait(40)
    finally:
        proc.stop()
        log = proc.log_path.read_text(errors="replace")[-6000:]
    kept = list(range(1, REQUESTS, 2))
    per_trace = SPANS_PER_TRACE.get(server, 2)
    assert sink.wait_for_spans(per_trace * len(kept), timeout=20), log + rotel.log()[-2000:]
    indexes = sorted(s.attributes["req.index"] for s in sink.spans() if "req.index" in s.attributes)
    assert indexes == kept, (indexes, log)
    by_trace: dict[bytes, int] = {}
    for received in sink.spans():
        by_trace[received.span.trace_id] = by_trace.get(received.span.trace_id, 0) + 1
    assert len(by_trace) == len(kept) and set(by_trace.values()) == {per_trace}  # whole traces
    if server != "aiohttp":  # aiohttp's loop handlers replace ours; it flushes at exit instead
        lines = re.findall(r"otelkit: SIGTERM: flushed (\d+) spans, lost (\d+)", log)
        assert lines, log  # one line per process that flushed (each gunicorn worker)
        assert sum(int(f) for f, _ in lines) == per_trace * len(kept) and {n for _, n in lines} == {"0"}
