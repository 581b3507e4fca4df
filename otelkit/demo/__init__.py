"""``otelkit demo``: an example server under bounded load with the whole pipeline, live.

It starts the example API server (and with ``--liveroom`` the live-room service and a
Tansu Kafka broker) on 127.0.0.1, an embedded OTLP receiver (or exports to
``--endpoint``), drives a bounded load, shows live numbers and ends with a summary table.
``--compare`` runs the same load against the stock SDK pipeline (and, where ``fastotel`` is
installed, the stock SDK with fastotel's Rust-backed processor) in interleaved rounds and
prints them side by side with CPU per request medians and ranges. ``--report PATH.html``
writes one self-contained HTML page with charts of the run. ``--distributed`` runs the
tail-worker demo instead (:mod:`otelkit.tailworker.demo`); it takes ``--duration``, ``--rate``
(traces/s, at most 100), ``--seed`` and ``--report``, and :func:`check_arguments` refuses
the flags that cannot apply to it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from otelkit.demo.display import RunResult, summary_table
from otelkit.demo.recorder import Recorder, RunSeries
from otelkit.demo.report import ReportData, write_report
from otelkit.demo.rounds import cpu_rounds, round_order, rounds_table
from otelkit.demo.runner import RunOptions, run_once
from otelkit.demo.servers import fastotel_installed

__all__ = ["add_arguments", "check_arguments", "compare_modes", "run"]

RATE, CONCURRENCY, TARGET, ROUNDS = 200.0, 32, 50.0, 3
"""Defaults of ``--rate``, ``--concurrency``, ``--target`` and ``--rounds`` (the parser's
defaults are ``None``, so :func:`check_arguments` sees which flags were given)."""
DISTRIBUTED_RATE = 100.0
"""``--distributed``: traces/s by default and at most (the services run in the demo's process)."""
_DISTRIBUTED_ALLOWED = "--duration, --rate (traces/s, at most 100), --seed, --report"


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = kind(raw)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{raw!r} is invalid; allowed: a number > 0")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``otelkit demo`` options to ``parser``."""
    parser.add_argument("--duration", type=_positive(float), default=20.0, help="seconds of load per run (default 20)")
    parser.add_argument(
        "--rate", type=_positive(float),
        help="HTTP requests per second offered (default 200); with --distributed traces/s (default and at most 100)",
    )
    parser.add_argument("--concurrency", type=_positive(int), help="HTTP requests in flight at most (default 32)")
    parser.add_argument(
        "--target",
        type=_positive(float),
        help="traces/s the adaptive head sampler keeps; the stock ratio is target/rate (default 50)",
    )
    parser.add_argument(
        "--compare", action="store_true",
        help="also run the stock SDK pipeline (and fastotel's, when installed) in interleaved rounds and compare",
    )
    parser.add_argument(
        "--rounds", type=_positive(int),
        help="with --compare: interleaved rounds; each pipeline's --duration is split over them (default 3)",
    )
    parser.add_argument("--report", metavar="PATH.html", help="write a self-contained HTML page with charts of the run")
    parser.add_argument("--liveroom", action="store_true", help="also run the live-room service (WebSocket + Kafka)")
    parser.add_argument("--endpoint", metavar="URL", help="export to this OTLP/HTTP traces URL instead of the embedded receiver")
    parser.add_argument("--no-tail", dest="tail", action="store_false", help="run the otelkit pipeline without tail sampling")
    parser.add_argument("--seed", type=int, default=None, help="seed of the load generator's random choices")
    parser.add_argument(
        "--distributed", action="store_true",
        help="two services and two tail workers on Tansu: whole traces kept across services; takes "
        + _DISTRIBUTED_ALLOWED,
    )


def check_arguments(args: argparse.Namespace) -> str | None:
    """Why the flags in ``args`` cannot run together, naming what is allowed; ``None`` if they can.

    A flag the run would not use is refused rather than ignored: ``--distributed`` with a
    flag of the single-server demo, more than 100 traces/s with ``--distributed``, and
    ``--rounds`` without ``--compare``.
    """
    if args.distributed:
        given = [flag for flag, on in (
            ("--compare", args.compare), ("--rounds", args.rounds is not None),
            ("--concurrency", args.concurrency is not None), ("--target", args.target is not None),
            ("--liveroom", args.liveroom), ("--endpoint", args.endpoint is not None), ("--no-tail", not args.tail),
        ) if on]
        if given:
            return (f"{', '.join(given)} cannot apply to --distributed (its services export to Kafka and two tail "
                    f"workers decide with fixed policies); allowed with --distributed: {_DISTRIBUTED_ALLOWED}")
        if args.rate is not None and args.rate > DISTRIBUTED_RATE:
            return (f"--rate {args.rate:g} is more than --distributed drives; allowed with --distributed: "
                    f"--rate up to {DISTRIBUTED_RATE:g} (traces/s)")
    elif args.rounds is not None and not args.compare:
        return "--rounds applies only with --compare (the compared pipelines' interleaved rounds); add --compare"
    return None


def compare_modes(compare: bool, fastotel: bool) -> tuple[list[str], str | None]:
    """The pipelines a run compares, and a note when fastotel is missing from ``--compare``."""
    if not compare:
        return ["otelkit"], None
    if fastotel:
        return ["otelkit", "stock", "fastotel"], None
    return ["otelkit", "stock"], "fastotel is not installed (pip install 'otelkit[dev]'): comparing otelkit and stock only"


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code (0 ok, 1 a run failed, 2 the flags cannot run
    together or the report cannot be written, 130 interrupted)."""
    # CI logs are not terminals: print wide plain lines instead of a live table.
    console = Console() if sys.stdout.isatty() else Console(width=140)
    problem = check_arguments(args)  # the command line refused these already (argparse error)
    if problem:
        console.print(problem, highlight=False, markup=False)
        return 2
    report = args.report
    if report and not Path(report).resolve().parent.is_dir():  # say so before the run, not after it
        console.print(f"cannot write the report {report!r}: {Path(report).resolve().parent} is not a directory",
                      highlight=False, markup=False)
        return 2
    if args.distributed:
        from otelkit.tailworker.demo import run_distributed

        return run_distributed(args.duration, args.rate or DISTRIBUTED_RATE, args.seed, report=report)
    target = args.target or TARGET
    opts = RunOptions(
        duration=args.duration,
        rate=args.rate or RATE,
        concurrency=args.concurrency or CONCURRENCY,
        target=target,
        liveroom=args.liveroom,
        endpoint=args.endpoint,
        tail=args.tail,
        seed=args.seed,
    )
    modes, note = compare_modes(args.compare, fastotel_installed())
    if note:
        console.print(note, highlight=False, markup=False)
    rounds = (args.rounds or ROUNDS) if args.compare else 1
    if rounds > 1:
        opts = dataclasses.replace(opts, duration=args.duration / rounds)
    results: list[RunResult] = []
    series: list[RunSeries] = []
    try:
        for r in range(rounds):
            for mode in round_order(modes, r):
                if rounds > 1:
                    console.print(f"[{mode}] round {r + 1} of {rounds}", highlight=False, markup=False)
                recorder = Recorder(mode, r + 1, target, min_interval=min(1.0, opts.duration / 10))
                results.append(run_once(mode, opts, console, recorder))
                series.append(recorder.series())
    except KeyboardInterrupt:
        console.print("interrupted; every process the demo started was stopped", markup=False)
        return 130
    except (RuntimeError, OSError) as exc:
        console.print(f"demo failed: {exc}", highlight=False, markup=False)
        return 1
    last = [next(x for x in reversed(results) if x.final.mode == m) for m in modes]
    title = "otelkit demo summary" + (f" (last of {rounds} interleaved rounds)" if rounds > 1 else "")
    console.print(summary_table(last, title))
    cpu = cpu_rounds(results, modes)
    if args.compare:
        console.print(rounds_table(cpu))
    if report:
        options = {**vars(args), "rate": opts.rate, "concurrency": opts.concurrency, "target": target, "rounds": rounds}
        data = ReportData(modes, results, series, cpu, args.compare, options)
        try:
            path = write_report(report, data)
        except OSError as exc:
            console.print(f"cannot write the report {report!r}: {exc}", highlight=False, markup=False)
            return 1
        console.print(f"report written to {path}", highlight=False, markup=False)
    return 0
