"""The README's env-only example, run as written against a real Rotel.

The command is read from README.md (the ``bash`` block under "Use it"): its variables and
its ``opentelemetry-instrument python app.py``, with only the collector's port replaced by
the free port Rotel listens on. ``app.py`` is a small Starlette service (instrumented by
``opentelemetry-instrument``) with a share of failing requests. Load: paced requests for
``DURATION_S`` seconds at ``RATE`` per second, above the README's target, so the head
sampler has to drop. Checks: spans arrive (zstd accepted or fallen back), kept roots/s
within 10% of the target, every failed request's trace kept, and the sum of the adjusted
counts of the kept roots within 4 standard deviations (estimated from the kept
counts themselves) of the requests sent.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from otelkit.receiver import OtlpReceiver
from otelkit.testing import ManagedProcess, Rotel, free_port, scrubbed_env, wait_for_port

pytestmark = pytest.mark.peers

README = Path(__file__).resolve().parent.parent / "README.md"
RATE = 50.0  # requests/s offered (2.5x the target, and well under what a loaded 2-core machine serves)
DURATION_S = 30.0
WARMUP_S = 5.0  # the adaptive sampler's first estimates are excluded from the rate check
ERROR_EVERY = 50  # every 50th request fails (HTTP 500)

APP = '''
import os
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def order(request):
    n = int(request.path_params["n"])
    if n % ERROR_EVERY == 0:
        return PlainTextResponse("boom", status_code=500)
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/orders/{n:int}", order)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["APP_PORT"]), log_level="warning")
'''.replace("ERROR_EVERY", str(ERROR_EVERY))


def readme_command() -> tuple[dict[str, str], list[str]]:
    """The variables and the command of the README's env-only example."""
    text = README.read_text()
    section = text.split("## Use it", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: no bash block under 'Use it'"
    words = shlex.split(block.group(1).replace("\\\n", " "))
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words


def test_the_readme_command_is_what_this_test_runs() -> None:
    env, argv = readme_command()
    assert argv == ["opentelemetry-instrument", "python", "app.py"]
    assert env["OTEL_PYTHON_CONFIGURATOR"] == "otelkit"
    assert env["OTEL_EXPORTER_OTLP_COMPRESSION"] == "zstd"
    assert env["OTELKIT_TAIL_ENABLED"] == "true"
    assert re.fullmatch(r"target=\d+(\.\d+)?", env["OTEL_TRACES_SAMPLER_ARG"])


async def _load(port: int) -> tuple[int, int]:
    import httpx

    sent = failed = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        start = time.monotonic()
        pending: set[asyncio.Task[None]] = set()

        async def one(n: int) -> None:
            nonlocal failed
            resp = await client.get(f"/orders/{n}")
            failed += resp.status_code >= 500

        n = 0
        while (now := time.monotonic() - start) < DURATION_S:
            due = int(now * RATE)
            while n <= due and len(pending) < 64:
                task = asyncio.ensure_future(one(n))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
            await asyncio.sleep(0.005)
        sent = n
        await asyncio.gather(*pending)
    return sent, failed


def test_readme_env_only_example_against_rotel(tmp_path: Path, rotel: Rotel, sink: OtlpReceiver) -> None:
    env, argv = readme_command()
    target = float(env["OTEL_TRACES_SAMPLER_ARG"].split("=", 1)[1])
    assert RATE > target * 1.2, "the load must exceed the target for the sampler to drop"
    endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint)
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{rotel.http_port}"  # the only change
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    bindir = Path(sys.executable).parent
    child_env = scrubbed_env({**env, "APP_PORT": str(port), "PATH": f"{bindir}:{scrubbed_env().get('PATH', '')}"})
    server = ManagedProcess(["sh", "-c", f"cd {shlex.quote(str(tmp_path))} && exec {shlex.join(argv)}"], child_env, "readme-app")
    try:
        wait_for_port(port, 30, server.proc)
        sent, failed = asyncio.run(_load(port))
    finally:
        server.stop()  # SIGTERM: the pipeline flushes what the tail still holds
    log = server.log_path.read_text(errors="replace")[-3000:]
    assert failed > 0
    # Rotel batches before it forwards: wait until every failed trace is there and the count
    # has stopped growing (bounded), not merely for the first span
    deadline, seen, stable_since = time.monotonic() + 30, -1, time.monotonic()
    while time.monotonic() < deadline:
        now_spans = sink.spans()
        errors_in = sum(1 for s in now_spans if not s.span.parent_span_id and s.span.status.code == 2)
        if len(now_spans) != seen:
            seen, stable_since = len(now_spans), time.monotonic()
        elif errors_in >= failed and time.monotonic() - stable_since >= 1.0:
            break
        time.sleep(0.1)
    spans = sink.spans()
    assert spans, f"no span arrived at Rotel\n{log}\n{rotel.log()[-2000:]}"
    roots = [s for s in spans if not s.span.parent_span_id]
    assert {s.resource["service.name"] for s in spans} == {env["OTEL_SERVICE_NAME"]}

    # every failed request's trace is kept
    failed_roots = [s for s in roots if s.span.status.code == 2]
    assert len(failed_roots) == failed, (len(failed_roots), failed)

    # kept roots/s within 10% of the target (after the sampler's warm-up)
    first = min(s.span.start_time_unix_nano for s in roots)
    per_second: dict[int, int] = defaultdict(int)
    for s in roots:
        per_second[int((s.span.start_time_unix_nano - first) / 1e9)] += 1
    # whole seconds only, up to the last one roots started in (a stalled machine shifts them)
    window = [per_second[i] for i in range(int(WARMUP_S), max(per_second))]
    rate = sum(window) / len(window)
    assert abs(rate - target) <= 0.1 * target, (rate, window, sent)

    # the adjusted counts of the kept roots add up to the requests sent
    # (Horvitz-Thompson: the sum is unbiased, and sum c*(c-1) over the kept roots estimates its
    # variance; at ~0.4 probability over 1,500 requests its SD is ~3% of the total, so a fixed
    # 5% bound failed about one run in ten by chance: the bound is 4 estimated SDs)
    counts = [float(s.attributes.get("otelkit.sampling.adjusted_count", 1)) for s in roots]
    total = sum(counts)
    sd = sum(c * (c - 1.0) for c in counts) ** 0.5
    assert 0 < sd <= 0.05 * sent, (sd, sent)  # the head really sampled, and not too thinly
    assert abs(total - sent) <= 4 * sd, (total, sent, sd)
