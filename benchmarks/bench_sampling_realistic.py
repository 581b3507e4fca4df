"""Issue 17's table: head samplers on a realistic multi-key workload (fake clock, 20 seeds).

Not a speed benchmark: it replays :func:`otelkit.sampling.replay.services` (3 services,
300 routes with Zipf(1.2) popularity, day curve, 20x step up and drop, one bursting route,
rare routes) through each sampler and prints how well it tracks its target (50 root traces/s
per service) and how precise its counts are. The figures are deterministic per seed.

    .venv/bin/python benchmarks/bench_sampling_realistic.py [--seeds 20] [--only adaptive,reference]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from opentelemetry.sdk.trace.sampling import Sampler

from otelkit.sampling._reference import EmaThroughputReference
from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.sampling.replay import Scores, run
from otelkit.sampling.simulate import FakeClock

TARGET = 50.0

SAMPLERS: dict[str, Callable[[FakeClock], Sampler]] = {
    "adaptive": lambda clock: AdaptiveSampler(TARGET, clock=clock, self_metrics=False, environ={}),
    "reference": lambda clock: EmaThroughputReference(TARGET, clock=clock),
}

ROWS: list[tuple[str, Callable[[Scores], str]]] = [
    ("steady 10-s windows, mean error vs target", lambda s: f"{s.steady_error:+.1%} (mean |err| {s.steady_abs_error:.1%})"),
    ("after a 20x drop ends: s to within +-10%", lambda s: f"{s.recovery_after_drop:g}"),
    ("after a 20x step up: s to within +-10%", lambda s: f"{s.recovery_after_spike:g}"),
    ("after a 20x step up ends (step down): s to within +-10%", lambda s: f"{s.recovery_after_spike_end:g}"),
    ("during a 20x drop: kept / min(target, arrivals), first 6 s", lambda s: f"{s.drop_kept_ratio:.2f}x"),
    ("start-up: kept/target at 5 s; s to within +-10%", lambda s: f"{s.startup_ratio:.2f}x; {s.startup_recovery:g}"),
    ("rare routes (<= 1 trace/min), traces kept", lambda s: f"{s.rare_kept:.1%}"),
    ("SD of the total adjusted count across seeds (expected from variance estimates)",
     lambda s: f"{s.total_count_sd:.2%} ({s.total_count_expected_sd:.2%})"),
    ("bursting route, SD of its count error (expected)",
     lambda s: f"{s.burst_count_sd:.1%} ({s.burst_count_expected_sd:.1%})"),
    ("bursting route outside the 20x step up: SD of its count error (expected)",
     lambda s: f"{s.burst_outside_step_sd:.1%} ({s.burst_outside_step_expected_sd:.1%})"),
    ("its service during the bursts: kept / target", lambda s: f"{s.burst_kept_ratio:.2f}x"),
    ("kept / min(target, arrivals): whole replay; during the 20x step up",
     lambda s: f"{s.spend:.2f}x; {s.step_spend:.2f}x"),
    ("kept roots without th", lambda s: str(s.unknown)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--only", default=",".join(SAMPLERS))
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    scores = {}
    for name in names:
        t0 = time.perf_counter()
        scores[name] = run(SAMPLERS[name], seeds=args.seeds, target=TARGET)
        print(f"# {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, fmt in ROWS:
        print(f"| {label} | " + " | ".join(fmt(scores[n]) for n in names) + " |")


if __name__ == "__main__":
    main()
