"""``otelkit demo``: an example server under bounded load with the whole pipeline, live.

It starts the example API server (and with ``--liveroom`` the live-room service and a
Tansu Kafka broker) on 127.0.0.1, an embedded OTLP receiver (or exports to
``--endpoint``), drives a bounded load, shows live numbers and ends with a summary table.
``--compare`` runs the same load against the stock SDK pipeline and prints both side by
side.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rich.console import Console

from otelkit.demo.display import RunResult, summary_table
from otelkit.demo.runner import RunOptions, run_once

__all__ = ["add_arguments", "run"]


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
    parser.add_argument("--rate", type=_positive(float), default=200.0, help="HTTP requests per second offered (default 200)")
    parser.add_argument("--concurrency", type=_positive(int), default=32, help="HTTP requests in flight at most (default 32)")
    parser.add_argument(
        "--target",
        type=_positive(float),
        default=50.0,
        help="traces/s the adaptive head sampler keeps; the stock ratio is target/rate (default 50)",
    )
    parser.add_argument("--compare", action="store_true", help="also run the stock SDK pipeline and compare")
    parser.add_argument("--liveroom", action="store_true", help="also run the live-room service (WebSocket + Kafka)")
    parser.add_argument("--endpoint", metavar="URL", help="export to this OTLP/HTTP traces URL instead of the embedded receiver")
    parser.add_argument("--no-tail", dest="tail", action="store_false", help="run the otelkit pipeline without tail sampling")
    parser.add_argument("--seed", type=int, default=None, help="seed of the load generator's random choices")
    parser.add_argument(
        "--distributed", action="store_true",
        help="two services and two tail workers on Tansu: whole traces kept across services (--rate: traces/s)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code (0 ok, 1 a run failed, 130 interrupted)."""
    # CI logs are not terminals: print wide plain lines instead of a live table.
    if getattr(args, "distributed", False):
        from otelkit.tailworker.demo import run_distributed

        return run_distributed(args.duration, min(args.rate, 100.0), args.seed)
    console = Console() if sys.stdout.isatty() else Console(width=140)
    opts = RunOptions(
        duration=args.duration,
        rate=args.rate,
        concurrency=args.concurrency,
        target=args.target,
        liveroom=args.liveroom,
        endpoint=args.endpoint,
        tail=args.tail,
        seed=args.seed,
    )
    modes = ["otelkit", "stock"] if args.compare else ["otelkit"]
    results: list[RunResult] = []
    try:
        for mode in modes:
            results.append(run_once(mode, opts, console))
    except KeyboardInterrupt:
        console.print("interrupted; every process the demo started was stopped", markup=False)
        return 130
    except (RuntimeError, OSError) as exc:
        console.print(f"demo failed: {exc}", highlight=False, markup=False)
        return 1
    console.print(summary_table(results))
    return 0
