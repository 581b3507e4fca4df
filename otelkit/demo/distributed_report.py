"""``otelkit demo --distributed --report PATH.html``: the report of the distributed run.

The same page and renderer as the single-server report (:func:`otelkit.demo.report.render_page`,
``report.js``), with the series of the distributed pipeline: traces produced and kept (at
the receiver) per second, tail decisions per second by policy (from the decisions topic),
spans per second into Kafka (the services' exporters) and out of the workers (at the
receiver), the consumer group's lag, spans dropped by reason and decisions per worker.

A :class:`DistRecorder` is handed the run's cumulative counts once a second
(:class:`DistPoint`) and owns the series it derives from them: a rate is the increase of a
count since the last point where it was known, over the time between them (the first from
the start of the run, 0). :func:`distributed_report_data` is pure.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otelkit.demo.report import render_page, summary_html, write_page

__all__ = ["DistPoint", "DistRecorder", "DistSeries", "DistTotals", "distributed_report_data", "write_distributed_report"]


@dataclass(frozen=True)
class DistPoint:
    """Cumulative counts of a distributed run ``elapsed`` seconds in (``None``: not known then)."""

    elapsed: float
    produced: int
    kept: int
    """Distinct traces at the receiver."""
    spans_in: int | None
    """Spans the services' Kafka exporters wrote."""
    spans_out: int
    """Spans at the receiver (exported by the workers)."""
    decisions: Mapping[str, int] | None
    """Decisions read from the decisions topic, by ``kept: <policy>`` or ``dropped``."""
    lag: int | None


@dataclass
class DistSeries:
    """The recorded series; lists are aligned with ``t`` (``None``: not known at that point)."""

    t: list[float] = field(default_factory=list)
    produced_per_s: list[float | None] = field(default_factory=list)
    kept_per_s: list[float | None] = field(default_factory=list)
    spans_in_per_s: list[float | None] = field(default_factory=list)
    spans_out_per_s: list[float | None] = field(default_factory=list)
    decisions_per_s: dict[str, list[float | None]] = field(default_factory=dict)
    lag: list[float | None] = field(default_factory=list)


class DistRecorder:
    """Turns the cumulative counts of each :class:`DistPoint` into per-second series.

    ``labels``: the decision labels known before the run (the configured policies), so a
    policy that decides nothing shows as 0 decisions/s rather than missing.
    """

    def __init__(self, labels: Sequence[str] = ()) -> None:
        self._lock = threading.Lock()
        self._series = DistSeries(decisions_per_s={label: [] for label in labels})
        self._since: dict[str, tuple[float, float]] = {}  # count -> (t, value) where last known
        self._decisions_known: list[tuple[int, float]] = []  # (point index, t) where decisions were read

    def _rate(self, key: str, t: float, value: float | None) -> float | None:
        if value is None:
            return None
        t0, v0 = self._since.get(key, (0.0, 0.0))
        self._since[key] = (t, value)
        return max(0.0, value - v0) / (t - t0)

    def add(self, p: DistPoint) -> None:
        """Record ``p``; a point not later than the previous one is ignored."""
        with self._lock:
            s = self._series
            if p.elapsed <= (s.t[-1] if s.t else 0.0):
                return
            n = len(s.t)
            s.t.append(round(p.elapsed, 3))
            s.produced_per_s.append(self._rate("produced", p.elapsed, p.produced))
            s.kept_per_s.append(self._rate("kept", p.elapsed, p.kept))
            s.spans_in_per_s.append(self._rate("spans_in", p.elapsed, p.spans_in))
            s.spans_out_per_s.append(self._rate("spans_out", p.elapsed, p.spans_out))
            s.lag.append(None if p.lag is None else float(p.lag))
            decisions = p.decisions
            for label in sorted({*s.decisions_per_s, *(decisions or {})}):
                if label not in s.decisions_per_s:  # first seen: 0 wherever decisions were read before
                    s.decisions_per_s[label] = [None] * n
                    for i, _ in self._decisions_known:
                        s.decisions_per_s[label][i] = 0.0
                    if self._decisions_known:
                        self._since["decisions." + label] = (self._decisions_known[-1][1], 0.0)
                known = None if decisions is None else decisions.get(label, 0)
                s.decisions_per_s[label].append(self._rate("decisions." + label, p.elapsed, known))
            if decisions is not None:
                self._decisions_known.append((n, p.elapsed))

    def series(self) -> DistSeries:
        """A copy of what was recorded so far."""
        with self._lock:
            s = self._series
            return DistSeries(list(s.t), list(s.produced_per_s), list(s.kept_per_s), list(s.spans_in_per_s),
                              list(s.spans_out_per_s), {k: list(v) for k, v in s.decisions_per_s.items()},
                              list(s.lag))


@dataclass(frozen=True)
class DistTotals:
    """The end of a distributed run, as its summary prints it."""

    produced: int
    decided: int
    kept: int
    whole: int
    errors: int
    errors_whole: int
    spans_in: int | None
    spans_out: int
    per_worker: Mapping[str, Mapping[str, int]]
    """Decisions per worker (``host:pid``): ``kept`` and ``dropped``."""
    drops: Mapping[str, Mapping[str, int] | None]
    """Spans dropped by reason, per part of the pipeline (``None``: the part reported none)."""


def _points(t: Sequence[float], ys: Sequence[float | None]) -> list[list[float]]:
    return [[x, round(y, 6)] for x, y in zip(t, ys, strict=True) if y is not None]


def _line(name: str, t: Sequence[float], ys: Sequence[float | None], empty: str) -> dict[str, Any]:
    return {"name": name, "points": _points(t, ys), "empty": empty}


def distributed_report_data(series: DistSeries, totals: DistTotals, options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON the page draws (the shape of :func:`otelkit.demo.report.report_data`)."""
    t = series.t
    decisions = [_line(label, t, ys, "no decision read from the decisions topic")
                 for label, ys in sorted(series.decisions_per_s.items())]
    drop_bars: list[dict[str, Any]] = []
    drop_notes: list[str] = []
    for part, reasons in totals.drops.items():
        if reasons is None:
            drop_notes.append(f"{part}: drops not reported")
        elif not any(reasons.values()):
            drop_notes.append(f"{part}: no spans dropped (0 for every reason)")
        drop_bars += [{"label": f"{part}: {reason}", "value": n, "low": None, "high": None, "rounds": []}
                      for reason, n in sorted((reasons or {}).items()) if n]
    worker_bars: list[dict[str, Any]] = [
        {"label": f"{w} {what}", "value": n, "low": None, "high": None, "rounds": []}
        for w, counts in sorted(totals.per_worker.items()) for what, n in sorted(counts.items())
    ]
    return {
        "options": {k: v for k, v in options.items() if isinstance(v, (str, int, float, bool)) or v is None},
        "modes": ["distributed"],
        "rounds": 1,
        "lines": [
            {"id": "kept", "title": "Traces produced, and kept at the receiver, per second",
             "xlabel": "seconds into the run", "ylabel": "traces/s", "refs": [], "series": [
                 _line("produced", t, series.produced_per_s, "no trace produced"),
                 _line("kept", t, series.kept_per_s, "no kept trace reached the receiver")]},
            {"id": "decisions", "title": "Tail decisions per second, by policy",
             "xlabel": "seconds into the run", "ylabel": "traces/s", "byIndex": True,
             "series": decisions or [_line("decisions", [], [], "no decision read from the decisions topic")]},
            {"id": "spans", "title": "Spans per second into Kafka (services) and out of the tail workers (receiver)",
             "xlabel": "seconds into the run", "ylabel": "spans/s", "series": [
                 _line("spans in", t, series.spans_in_per_s, "the services' exporters reported no count"),
                 _line("spans out", t, series.spans_out_per_s, "no span reached the receiver")]},
            {"id": "lag", "title": "Consumer group lag (messages not yet committed)",
             "xlabel": "seconds into the run", "ylabel": "messages", "series": [
                 _line("lag", t, series.lag, "the group's offsets were not readable (not started or rebalancing)")]},
        ],
        "bars": [
            {"id": "drops", "title": "Spans dropped by reason", "ylabel": "spans", "digits": 0,
             "bars": drop_bars, "notes": drop_notes, "empty": "no spans dropped anywhere in the pipeline"},
            {"id": "workers", "title": "Decisions per tail worker", "ylabel": "traces", "digits": 0,
             "bars": worker_bars, "notes": [], "empty": "no decision read from the decisions topic"},
        ],
    }


def summary_rows(totals: DistTotals) -> list[tuple[str, list[str]]]:
    """The summary table's rows (one column)."""
    def num(v: int | None) -> str:
        return "-" if v is None else f"{v:,}"

    return [
        ("traces produced", [num(totals.produced)]),
        ("traces decided", [num(totals.decided)]),
        ("traces kept (at the receiver)", [num(totals.kept)]),
        ("traces kept whole", [num(totals.whole)]),
        ("error traces kept whole", [f"{totals.errors_whole:,}/{totals.errors:,}"]),
        ("spans in (services to Kafka)", [num(totals.spans_in)]),
        ("spans out (workers to the receiver)", [num(totals.spans_out)]),
    ]


def write_distributed_report(path: str | Path, series: DistSeries, totals: DistTotals,
                             options: Mapping[str, Any]) -> Path:
    """Write the page to ``path``; returns the absolute path."""
    data = distributed_report_data(series, totals, options)
    opts = ", ".join(f"{k} {options[k]}" for k in ("duration", "rate", "seed") if k in options)
    intro = f"Distributed: services gateway and payments, 2 tail workers on Tansu; {opts}."
    return write_page(path, render_page(intro, summary_html(["distributed"], summary_rows(totals)), data))
