"""The demo's terminal display: a live ``rich`` table on a terminal, periodic lines otherwise.

:func:`live_rows` and :func:`summary_rows` are pure (numbers in, labelled strings out), so
what the demo shows is testable without a terminal. A value nobody reported shows ``-``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from otelkit.demo.loadgen import LoadStats
from otelkit.demo.metrics import Counts, Totals, TraceAccount, trace_account

__all__ = ["Snapshot", "RunResult", "Display", "live_rows", "summary_rows", "summary_table", "fmt"]

DASH = "-"


def fmt(value: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    """``value`` formatted with ``spec``, or ``-`` when it is unknown."""
    return DASH if value is None else f"{value:{spec}}{suffix}"


@dataclass
class Snapshot:
    """Everything the display shows at one moment."""

    mode: str
    elapsed: float
    duration: float
    load: LoadStats
    rps: float | None
    counts: Counts
    totals: Totals
    cpu_seconds: float | None


@dataclass
class RunResult:
    """A finished run: the final snapshot plus CPU used and fallbacks taken."""

    final: Snapshot
    notes: list[str] = field(default_factory=list)

    @property
    def cpu_per_request_ms(self) -> float | None:
        s = self.final
        return s.cpu_seconds * 1000 / s.load.requests if s.cpu_seconds is not None and s.load.requests else None

    @property
    def cpu_per_span_us(self) -> float | None:
        s = self.final
        exported = s.totals.exported
        return s.cpu_seconds * 1e6 / exported if s.cpu_seconds is not None and exported else None

    @property
    def cpu_per_trace_us(self) -> float | None:
        """Server CPU per exported trace (us)."""
        s = self.final
        traces = s.totals.traces
        return s.cpu_seconds * 1e6 / traces if s.cpu_seconds is not None and traces else None

    @property
    def traces(self) -> TraceAccount:
        """Where every trace went: one trace per request, and with the live-room service one
        per WebSocket message, per WebSocket connection and per non-empty Kafka fetch."""
        s = self.final
        started = s.load.requests + s.load.ws_sent + s.load.ws_connections + (s.counts.consumer_polls or 0)
        return trace_account(s.counts, s.totals, float(started))

    @property
    def wire_bytes_per_span(self) -> float | None:
        t = self.final.totals
        return t.wire_bytes / t.exported if t.wire_bytes is not None and t.exported else None

    @property
    def wire_bytes_per_trace(self) -> float | None:
        """Wire bytes per exported trace: comparable when the pipelines make different spans per trace."""
        t = self.final.totals
        return t.wire_bytes / t.traces if t.wire_bytes is not None and t.traces else None

    @property
    def spans_per_request(self) -> float | None:
        """Mean spans per export request (batch size): compression depends on it."""
        t = self.final.totals
        return t.exported / t.requests if t.exported is not None and t.requests else None


def _dropped_text(t: Totals) -> str:
    total = t.dropped_total
    if total is None:
        return DASH
    if not t.dropped:
        return "0"
    reasons = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(t.dropped.items()))
    return f"{total:,.0f} ({reasons})"


def _head_text(c: Counts) -> str:
    """The head sampler's current probability (the range over several servers)."""
    if c.probability is None:
        return DASH
    if c.probability_min is not None and c.probability_min < c.probability:
        return f"{c.probability_min:.3g}-{c.probability:.3g}"
    return f"{c.probability:.3g}"


def _traces_rows(a: TraceAccount, liveroom: bool) -> list[tuple[str, str]]:
    out = fmt(a.sampled_out) + (" (started - kept)" if a.derived and a.sampled_out is not None else "")
    per = "request, ws message, ws connection, poll" if liveroom else "request"
    return [
        (f"traces started (1 per {per})", fmt(a.started)),
        ("traces sampled out", out),
        ("traces kept by sampling", fmt(a.kept)),
        ("traces exported", fmt(a.exported)),
        ("traces lost", fmt(a.lost)),
        ("traces unaccounted", fmt(a.unaccounted)),
    ]


def _tail_text(c: Counts) -> str:
    if c.tail_traces_kept is None:
        return DASH
    return f"{c.tail_traces_kept:,.0f} kept / {fmt(c.tail_traces_dropped)} dropped"


def _policy_text(c: Counts) -> str:
    if c.tail_traces_kept is None:
        return DASH
    return ", ".join(f"{k} {v:,.0f}" for k, v in sorted(c.kept_by_policy.items())) or "0"


def _spool_text(c: Counts) -> str:
    """Spans written to the disk spool / replayed from it (``-``: the pipeline has no spool)."""
    if c.spool_bytes is None:
        return DASH
    return f"{fmt(c.spans_spooled)} / {fmt(c.spool_replayed)}"


def _requests_text(t: Totals, per_request: float | None) -> str:
    if t.requests is None:
        return DASH
    return f"{t.requests:,.0f} ({fmt(per_request, ',.1f')})"


def live_rows(s: Snapshot) -> list[tuple[str, str]]:
    """Labelled values of the live display."""
    c, t, load = s.counts, s.totals, s.load
    rows = [
        ("elapsed", f"{s.elapsed:.1f} / {s.duration:.0f} s"),
        ("requests (5xx)", f"{load.requests:,} ({load.server_errors:,})"),
        ("requests/s", fmt(s.rps, ",.1f")),
    ]
    if load.ws_connections:
        rows.append(("ws messages sent / received", f"{load.ws_sent:,} / {load.ws_received:,}"))
    rows += [
        ("spans recorded", fmt(c.spans_created)),
        ("head probability", _head_text(c)),
        ("tail traces", _tail_text(c)),
        ("tail-kept by policy", _policy_text(c)),
        ("spans exported", fmt(t.exported)),
        ("spans dropped", _dropped_text(t)),
        ("spans spooled / replayed", _spool_text(c)),
        ("raw / wire bytes", f"{fmt(t.raw_bytes)} / {fmt(t.wire_bytes)}"),
        ("export requests (spans each)",
         _requests_text(t, t.exported / t.requests if t.exported is not None and t.requests else None)),
        ("compression ratio", fmt(t.ratio, ".2f", "x")),
        ("export latency p50 / p99", f"{fmt(c.p50_ms, '.1f')} / {fmt(c.p99_ms, '.1f')} ms"),
        ("server CPU", fmt(s.cpu_seconds, ".2f", " s")),
    ]
    return rows


def _liveroom_rows(s: Snapshot) -> list[tuple[str, str]]:
    """What the live-room service handled, and the spans each service delivered to the receiver."""
    c, load = s.counts, s.load
    by_service = ", ".join(f"{k or '(unnamed)'} {v:,.0f}" for k, v in sorted(s.totals.by_service.items()))
    return [
        ("live-room requests", f"{load.room_requests:,}"),
        ("ws messages sent / received", f"{load.ws_sent:,} / {load.ws_received:,}"),
        ("Kafka published / consumed", f"{fmt(c.messages_published)} / {fmt(c.messages_consumed)}"),
        ("spans received by service", by_service or DASH),
    ]


def summary_rows(r: RunResult) -> list[tuple[str, str]]:
    """Labelled values of one run's summary (the comparison columns)."""
    s = r.final
    room = bool(s.load.ws_connections)
    return [
        ("requests", f"{s.load.requests:,}"),
        *(_liveroom_rows(s) if room else []),
        ("requests/s", fmt(s.load.requests / s.duration if s.duration else None, ",.1f")),
        ("5xx responses", f"{s.load.server_errors:,}"),
        *_traces_rows(r.traces, room),
        ("head probability", _head_text(s.counts)),
        ("tail-kept by policy", _policy_text(s.counts)),
        ("spans recorded", fmt(s.counts.spans_created)),
        ("spans exported", fmt(s.totals.exported)),
        ("spans per exported trace", fmt(
            s.totals.exported / s.totals.traces if s.totals.exported is not None and s.totals.traces else None, ".2f")),
        ("spans dropped", _dropped_text(s.totals)),
        ("spans spooled / replayed", _spool_text(s.counts)),
        ("export requests (spans each)", _requests_text(s.totals, r.spans_per_request)),
        ("compression ratio", fmt(s.totals.ratio, ".2f", "x")),
        ("wire bytes per trace", fmt(r.wire_bytes_per_trace, ",.1f")),
        ("wire bytes per span", fmt(r.wire_bytes_per_span, ",.1f")),
        ("export latency p50 / p99 (ms)", f"{fmt(s.counts.p50_ms, '.1f')} / {fmt(s.counts.p99_ms, '.1f')}"),
        ("server CPU (s)", fmt(s.cpu_seconds, ".2f")),
        ("CPU per request (ms)", fmt(r.cpu_per_request_ms, ".3f")),
        ("CPU per exported trace (us)", fmt(r.cpu_per_trace_us, ",.1f")),
        ("CPU per exported span (us)", fmt(r.cpu_per_span_us, ",.1f")),
    ]


def summary_table(results: Sequence[RunResult], title: str = "otelkit demo summary") -> Table:
    """One column per run; with several runs, rows with the first run's ratio to each other."""
    table = Table(title=title, show_lines=False)
    table.add_column("metric")
    for r in results:
        table.add_column(r.final.mode, justify="right")
    per_run = [summary_rows(r) for r in results]
    for i, (label, _) in enumerate(per_run[0]):
        table.add_row(label, *(rows[i][1] for rows in per_run))
    a = results[0]
    for b in results[1:]:
        table.add_section()
        pair = f"{a.final.mode}/{b.final.mode}"
        for label, x, y in (
            ("CPU per request", a.cpu_per_request_ms, b.cpu_per_request_ms),
            ("CPU per exported trace", a.cpu_per_trace_us, b.cpu_per_trace_us),
            ("wire bytes per trace", a.wire_bytes_per_trace, b.wire_bytes_per_trace),
            ("spans per export request", a.spans_per_request, b.spans_per_request),
        ):
            ratio = fmt(x / y if x is not None and y else None, ".2f", "x")
            table.add_row(f"{label}, {pair}", ratio, *([""] * (len(results) - 1)))
    return table


class Display:
    """Shows snapshots: a ``rich.live.Live`` table on a terminal, one line every
    ``line_interval`` seconds otherwise (no cursor tricks in CI logs)."""

    def __init__(self, console: Console, *, line_interval: float = 2.0) -> None:
        self.console = console
        self._interval = line_interval
        self._live: Live | None = None
        self._last_line = float("-inf")

    def __enter__(self) -> Display:
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)
            self._live = None

    def update(self, snap: Snapshot, *, force: bool = False) -> None:
        if self._live is not None:
            table = Table(title=f"otelkit demo - {snap.mode} pipeline", show_header=False)
            table.add_column("metric")
            table.add_column("value", justify="right")
            for label, value in live_rows(snap):
                table.add_row(label, value)
            self._live.update(table)
            return
        now = time.monotonic()
        if now - self._last_line < self._interval and not force:
            return
        self._last_line = now
        rows = dict(live_rows(snap))
        self.console.print(
            f"[{snap.mode}] {rows['elapsed']}  req {rows['requests (5xx)']}  {rows['requests/s']} req/s  "
            f"spans {rows['spans recorded']} recorded, {rows['spans exported']} exported, "
            f"{rows['spans dropped']} dropped, {rows['spans spooled / replayed']} spooled/replayed  "
            f"ratio {rows['compression ratio']}",
            highlight=False,
            markup=False,
        )
