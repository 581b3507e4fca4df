"""``--compare`` over interleaved rounds: CPU per request of each pipeline, median and range.

Each round runs every pipeline once (the order rotates from round to round), so drift of a
shared machine falls on all of them alike; :func:`cpu_rounds` groups the runs by pipeline
and :func:`rounds_table` shows the medians, ranges and ratios of medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

from otelkit.demo.display import RunResult, fmt

__all__ = ["CpuRounds", "cpu_rounds", "round_order", "rounds_table"]


@dataclass(frozen=True)
class CpuRounds:
    """CPU per request (ms) of one pipeline in each round it ran (``None``: not measured)."""

    mode: str
    values: tuple[float | None, ...]

    @property
    def measured(self) -> list[float]:
        return [v for v in self.values if v is not None]

    @property
    def median(self) -> float | None:
        return statistics.median(self.measured) if self.measured else None

    @property
    def low(self) -> float | None:
        return min(self.measured) if self.measured else None

    @property
    def high(self) -> float | None:
        return max(self.measured) if self.measured else None


def round_order(modes: Sequence[str], round_: int) -> list[str]:
    """The pipelines of round ``round_`` (0-based): ``modes`` rotated by the round number."""
    k = round_ % len(modes) if modes else 0
    return [*modes[k:], *modes[:k]]


def cpu_rounds(results: Sequence[RunResult], modes: Sequence[str]) -> list[CpuRounds]:
    """CPU per request of every run, grouped by pipeline in the order of ``modes``."""
    return [CpuRounds(m, tuple(r.cpu_per_request_ms for r in results if r.final.mode == m)) for m in modes]


def rounds_table(rounds: Sequence[CpuRounds]) -> Table:
    """Medians [min-max] of CPU per request, each round's value, and the first pipeline's
    median over each other's."""
    n = max((len(r.values) for r in rounds), default=0)
    table = Table(title=f"CPU per request over {n} interleaved rounds", show_lines=False)
    table.add_column("metric")
    for r in rounds:
        table.add_column(r.mode, justify="right")
    table.add_row("CPU per request (ms), median", *(fmt(r.median, ".3f") for r in rounds))
    table.add_row(
        "CPU per request (ms), range",
        *(f"{fmt(r.low, '.3f')}-{fmt(r.high, '.3f')}" if r.measured else "-" for r in rounds),
    )
    table.add_row("CPU per request (ms), rounds", *(" ".join(fmt(v, ".3f") for v in r.values) for r in rounds))
    if len(rounds) > 1:
        first = rounds[0]
        table.add_section()
        for other in rounds[1:]:
            a, b = first.median, other.median
            table.add_row(
                f"CPU per request median, {first.mode}/{other.mode}",
                fmt(a / b if a is not None and b else None, ".2f", "x"),
                *([""] * (len(rounds) - 1)),
            )
    return table
