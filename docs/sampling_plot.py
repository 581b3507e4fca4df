"""Draw docs/img/adaptive-step.png: AdaptiveSampler through a 10x step up and back down.

Runs the deterministic simulation (:mod:`otelkit.sampling.simulate`: fake clock, Poisson
arrivals, seeded random trace IDs) with a target of 100 root traces/s while the arrival
rate goes 1000/s -> 10000/s -> 1000/s, and plots arrivals and kept traces per second.

Run from the repository root::

    python docs/sampling_plot.py            # writes docs/img/adaptive-step.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from otelkit.sampling.adaptive import AdaptiveSampler  # noqa: E402
from otelkit.sampling.simulate import FakeClock, Phase, simulate  # noqa: E402

TARGET = 100.0
PHASES = [(30.0, 1000.0), (30.0, 10000.0), (30.0, 1000.0)]


def main(out: Path) -> None:
    clock = FakeClock()
    sampler = AdaptiveSampler(TARGET, clock=clock, self_metrics=False, environ={})
    result = simulate(sampler, clock, [Phase(d, {"GET /checkout": r}) for d, r in PHASES], seed=2024)
    seconds = list(range(len(result.kept)))
    kept = result.rates()
    arrivals = [a / result.bucket for a in result.arrivals]
    estimate = [a / result.bucket for a in result.adjusted]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.6), sharex=True, height_ratios=[1, 1.6])
    top.step(seconds, arrivals, where="post", color="tab:gray", label="arriving root spans/s")
    top.step(seconds, estimate, where="post", color="tab:orange", lw=1, alpha=0.8,
             label="estimated from kept spans (sum of adjusted counts)/s")
    top.set_yscale("log")
    top.set_ylabel("arrivals / s")
    top.legend(loc="upper left", fontsize=8)
    top.set_title("AdaptiveSampler, target 100 traces/s, through a 10x step up and down")

    bottom.axhspan(TARGET * 0.9, TARGET * 1.1, color="tab:green", alpha=0.15, label="target +-10 %")
    bottom.axhline(TARGET, color="tab:green", lw=1)
    bottom.step(seconds, kept, where="post", color="tab:blue", label="kept traces/s (1 s buckets)")
    for edge in (30, 60):
        for axis in (top, bottom):
            axis.axvline(edge, color="black", ls=":", lw=1)
    bottom.set_ylim(0, 2.2 * TARGET)
    bottom.set_ylabel("kept / s")
    bottom.set_xlabel("simulated seconds")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    for start, end in ((10, 30), (40, 60), (70, 90)):
        print(f"{start:>2}-{end} s: arrivals {result.arrival_rate(start, end):8.0f}/s, "
              f"kept {result.kept_rate(start, end):6.1f}/s")
    print(f"estimate / true count: {result.estimated_total / result.total:.4f}; wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "img" / "adaptive-step.png")
