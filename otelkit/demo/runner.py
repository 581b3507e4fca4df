"""One bounded demo run: receiver, example server(s), load, live display, flush, final numbers.

Every process the run starts is stopped by PID when it ends, also on Ctrl-C or an error
(an :class:`contextlib.ExitStack` unwinds in reverse start order, so the servers flush
into the receiver before it stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from otelkit.demo.display import Display, RunResult, Snapshot
from otelkit.demo.loadgen import LoadStats, http_load, liveroom_load
from otelkit.demo.metrics import Counts, combine, extract, totals
from otelkit.demo.recorder import Recorder
from otelkit.demo.servers import API_APP, LIVEROOM_APP, ExampleServer, pipeline_env, start_example
from otelkit.receiver import OtlpReceiver
from otelkit.testing import Tansu, start_tansu

__all__ = ["RunOptions", "run_once"]

_SETTLE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class RunOptions:
    """What one run does; see ``otelkit demo --help`` for the meaning of each field."""

    duration: float = 20.0
    rate: float = 200.0
    concurrency: int = 32
    target: float = 50.0
    liveroom: bool = False
    ws_rate: float = 40.0
    endpoint: str | None = None
    tail: bool = True
    seed: int | None = None
    server_env: tuple[tuple[str, str], ...] = ()
    """Extra variables for the example servers, applied last (e.g. ``OTEL_METRICS_EXPORTER=otlp``
    and its endpoint to collect the servers' self-metrics, or ``OTELKIT_SPOOL_DIR``)."""


def run_once(mode: str, opts: RunOptions, console: Console, recorder: Recorder | None = None) -> RunResult:
    """Run the ``mode`` pipeline (``otelkit``, ``stock`` or ``fastotel``) under load; return
    its numbers. ``recorder`` gets every live snapshot (the report's time series)."""
    with contextlib.ExitStack() as stack:
        receiver: OtlpReceiver | None = None
        if opts.endpoint:
            endpoint = opts.endpoint
        else:
            receiver = OtlpReceiver(keep_spans=False).start()
            stack.callback(receiver.stop)
            endpoint = receiver.endpoint
        # the otelkit exporter spools what it cannot deliver; the directory lives as long as the run
        spool_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="otelkit-demo-spool-"))
        penv = pipeline_env(mode, endpoint, target=opts.target, rate=opts.rate, tail=opts.tail, spool_dir=spool_dir)
        penv.env.update(opts.server_env)
        for note in penv.notes:
            console.print(f"[{mode}] note: {note}", highlight=False, markup=False)
        servers: list[ExampleServer] = []
        api = start_example(API_APP, penv.env, name=f"api-{mode}")
        stack.callback(api.stop)
        servers.append(api)
        room: ExampleServer | None = None
        tansu: Tansu | None = None
        if opts.liveroom:
            tansu = start_tansu()
            stack.callback(tansu.stop)
            room = start_example(
                LIVEROOM_APP, {**penv.env, "OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP": tansu.bootstrap}, name=f"liveroom-{mode}"
            )
            stack.callback(room.stop)
            servers.append(room)
        console.print(
            f"[{mode}] api {api.base_url} (pid {api.pid})"
            + (f", liveroom {room.base_url} (pid {room.pid}), kafka {tansu.bootstrap} (pid {tansu.pid})"
               if room and tansu else "")
            + (f", receiver {endpoint}" if receiver else f", exporting to {endpoint}"),
            highlight=False,
            markup=False,
        )
        cpu0 = _cpu(servers)
        final = asyncio.run(
            _drive(mode, opts, api, room, servers, receiver, cpu0, console, _fixed_ratio(penv.env), recorder)
        )
        return RunResult(final, list(penv.notes))
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack does not swallow


def _fixed_ratio(env: dict[str, str]) -> float | None:
    """The stock ratio sampler's probability (it reports none itself), so the head
    probability row means the same on both sides."""
    if env.get("OTEL_TRACES_SAMPLER") != "parentbased_traceidratio":
        return None
    try:
        return float(env.get("OTEL_TRACES_SAMPLER_ARG", "1"))
    except ValueError:
        return None


def _cpu(servers: list[ExampleServer]) -> float | None:
    values = [s.cpu_seconds() for s in servers]
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


async def _server_stats(session: Any, servers: list[ExampleServer]) -> list[dict[str, Any]]:
    out = []
    for server in servers:
        try:
            async with session.get(server.base_url + "/_otelkit/stats") as resp:
                data = await resp.json()
                out.append(data if isinstance(data, dict) else {})
        except Exception:  # noqa: BLE001 - a missed poll only shows '-'
            out.append({})
    return out


async def _drive(
    mode: str,
    opts: RunOptions,
    api: ExampleServer,
    room: ExampleServer | None,
    servers: list[ExampleServer],
    receiver: OtlpReceiver | None,
    cpu0: float | None,
    console: Console,
    head_ratio: float | None = None,
    recorder: Recorder | None = None,
) -> Snapshot:
    import aiohttp

    load = LoadStats()
    jobs = [http_load(api.base_url, load, rate=opts.rate, concurrency=opts.concurrency, duration=opts.duration, seed=opts.seed)]
    if room is not None:
        jobs.append(liveroom_load(room.base_url, load, rate=opts.ws_rate, duration=opts.duration, seed=opts.seed))
    started = time.monotonic()
    last = (started, 0)

    async def snapshot(session: Any, *, final: bool = False) -> Snapshot:
        nonlocal last
        now = time.monotonic()
        counts: Counts = combine(extract(s) for s in await _server_stats(session, servers))
        if counts.probability is None and head_ratio is not None:
            counts.probability = counts.probability_min = head_ratio
        cpu = _cpu(servers)
        dt = now - last[0]
        rps = (load.requests - last[1]) / dt if dt > 0 and not final else None
        last = (now, load.requests)
        return Snapshot(
            mode=mode,
            elapsed=min(now - started, opts.duration),
            duration=opts.duration,
            load=load,
            rps=rps,
            counts=counts,
            totals=totals(counts, receiver.stats() if receiver else None, final=final),
            cpu_seconds=cpu - cpu0 if cpu is not None and cpu0 is not None else None,
        )

    line_interval = max(1.0, opts.duration / 10)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        with Display(console, line_interval=line_interval) as display:
            task = asyncio.ensure_future(asyncio.gather(*jobs))
            task.add_done_callback(_retrieve)
            try:
                while not task.done():
                    await asyncio.wait([task], timeout=0.5)
                    snap = await snapshot(session)
                    display.update(snap)
                    if recorder is not None:
                        recorder.add(snap)
                task.result()
            finally:
                if not task.done():
                    task.cancel()
            await _settle(session, servers, receiver)
            final = await snapshot(session, final=True)
            final.elapsed = time.monotonic() - started
            display.update(final, force=True)
    final.duration = opts.duration
    return final


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark an interrupted load's outcome as seen (no 'exception never retrieved' noise)."""
    with contextlib.suppress(BaseException):
        task.exception()


async def _settle(session: Any, servers: list[ExampleServer], receiver: OtlpReceiver | None) -> None:
    """Flush the servers until what they expect to export has arrived (bounded)."""
    deadline = time.monotonic() + _SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        for server in servers:
            with contextlib.suppress(Exception):
                async with session.post(server.base_url + "/_otelkit/flush") as resp:
                    await resp.read()
        counts = combine(extract(s) for s in await _server_stats(session, servers))
        if receiver is None:
            return
        t = totals(counts, receiver.stats())
        buffered = counts.tail_buffered_spans or 0
        # a live-room message still in Kafka has no consumer span yet: nobody expects it
        in_kafka = (counts.messages_published or 0) - (counts.messages_consumed or 0)
        if t.expected is not None and t.exported is not None and t.exported >= t.expected and not buffered and in_kafka <= 0:
            return
        await asyncio.sleep(0.25)
