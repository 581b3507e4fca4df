"""``otelkit demo --report PATH.html``: one self-contained HTML page with charts of the run.

The page needs no network: the data are embedded as JSON and ``report.js`` (inline) draws
them as SVG - kept traces/s against the target, head probability per key, CPU per request
of each pipeline (median and range of the interleaved rounds), export latency and drops by
reason - and says so where a series is empty. The summary table is static HTML.
:func:`report_data` is pure, so what the page shows is testable without a browser.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from otelkit.demo.display import RunResult, summary_rows
from otelkit.demo.recorder import RunSeries
from otelkit.demo.rounds import CpuRounds

__all__ = ["ReportData", "render_html", "render_page", "report_data", "summary_html", "write_page", "write_report"]


@dataclass(frozen=True)
class ReportData:
    """What a report is made of: the pipelines, every run with its recorded series, CPU rounds."""

    modes: Sequence[str]
    results: Sequence[RunResult]
    series: Sequence[RunSeries]
    cpu: Sequence[CpuRounds]
    compare: bool
    options: Mapping[str, Any]


def _points(t: Sequence[float], ys: Sequence[float | None]) -> list[list[float]]:
    return [[x, round(y, 6)] for x, y in zip(t, ys, strict=True) if y is not None]


def _last(rd: ReportData, mode: str) -> tuple[RunResult, RunSeries]:
    i = max(i for i, r in enumerate(rd.results) if r.final.mode == mode)
    return rd.results[i], rd.series[i]


def _no_latency(mode: str) -> str:
    return "its exporter reports no latency" if mode != "otelkit" else "no export finished"


def report_data(rd: ReportData) -> dict[str, Any]:
    """The JSON the page draws: ``lines`` and ``bars`` chart specs (see ``report.js``)."""
    last = {m: _last(rd, m) for m in rd.modes}
    target = float(rd.options.get("target") or 0.0)
    rounds = max((len(c.values) for c in rd.cpu), default=1)
    which = f" (last of {rounds} rounds)" if rounds > 1 else ""
    kept = [{"name": m, "points": _points(s.t, s.kept_per_s), "empty": "the pipeline reported no sampled roots"}
            for m, (_, s) in last.items()]
    prob = [
        {"name": f"{m}: {key}", "points": _points(s.t, values), "empty": "not reported"}
        for m, (_, s) in last.items() for key, values in sorted(s.probability_by_key.items())
    ] or [{"name": "head probability", "points": [], "empty": "no sampler reported a probability"}]
    latency = [
        {"name": f"{m} {q}", "points": _points(s.t, ys), "empty": _no_latency(m)}
        for m, (_, s) in last.items() for q, ys in (("p50", s.p50_ms), ("p99", s.p99_ms))
    ]
    cpu_bars = [{"label": c.mode, "value": c.median, "low": c.low, "high": c.high, "rounds": list(c.values)}
                for c in rd.cpu]
    cpu_notes = [] if rd.compare else ["stock SDK and fastotel: not measured (run with --compare)"]
    drop_bars: list[dict[str, Any]] = []
    drop_notes: list[str] = []
    for m, (r, _) in last.items():
        dropped = r.final.totals.dropped
        if r.final.totals.dropped_total is None:
            drop_notes.append(f"{m}: drops not reported")
        elif not dropped:
            drop_notes.append(f"{m}: no spans dropped (0 for every reason)")
        drop_bars += [{"label": f"{m}: {reason}", "value": n, "low": None, "high": None, "rounds": []}
                      for reason, n in sorted(dropped.items())]
    return {
        "options": {k: v for k, v in rd.options.items() if isinstance(v, (str, int, float, bool)) or v is None},
        "modes": list(rd.modes),
        "rounds": rounds,
        "lines": [
            {"id": "kept", "title": f"Traces kept by head sampling per second, against the target{which}",
             "xlabel": "seconds into the run", "ylabel": "traces/s", "series": kept,
             "refs": [{"name": "target", "y": target}] if target else []},
            {"id": "probability", "title": f"Head sampling probability per key{which}", "xlabel": "seconds into the run",
             "ylabel": "probability", "ymax": 1.0, "byIndex": True, "series": prob},
            {"id": "latency", "title": f"Export latency{which}", "xlabel": "seconds into the run",
             "ylabel": "ms", "series": latency},
        ],
        "bars": [
            {"id": "cpu", "title": "Server CPU per request (ms)" + (f", median and range of {rounds} rounds" if rounds > 1 else ""),
             "ylabel": "ms per request", "digits": 3, "bars": cpu_bars, "notes": cpu_notes},
            {"id": "drops", "title": f"Spans dropped by reason{which}", "ylabel": "spans", "digits": 0,
             "bars": drop_bars, "notes": drop_notes, "empty": "no spans dropped by any pipeline"},
        ],
    }


def summary_html(columns: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The static summary table: one row per ``(label, cells)``, one cell per column."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr><td>" + html.escape(label) + "</td>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        for label, cells in rows
    )
    return f'<table id="summary"><thead><tr><th>metric</th>{head}</tr></thead><tbody>{body}</tbody></table>'


def _summary_html(rd: ReportData) -> str:
    rows = [summary_rows(_last(rd, m)[0]) for m in rd.modes]
    return summary_html(rd.modes, [(label, [r[i][1] for r in rows]) for i, (label, _) in enumerate(rows[0])])


_STYLE = """body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:760px}
figure{margin:0 0 28px}h2{font-size:16px;margin:8px 0}.legend{margin:4px 0;padding-left:18px}
.empty{fill:#a00;font-weight:bold}.series.empty,.note{color:#a00}.tick{font-size:11px;fill:#444}
.label{font-size:12px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}"""


def render_page(intro: str, summary: str, data: Mapping[str, Any]) -> str:
    """A whole page: ``intro`` (text), the ``summary`` table (HTML), one container per chart
    of ``data`` (the :func:`report_data` shape), the data JSON and the drawing script."""
    # "</" inside a <script> element would end it: escape it in the JSON text
    payload = json.dumps(data, sort_keys=True).replace("</", "<\\/")
    script = resources.files("otelkit.demo").joinpath("report.js").read_text(encoding="utf-8")
    charts = "".join(f'<figure id="{c["id"]}"></figure>' for c in [*data["lines"], *data["bars"]])
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>otelkit demo report</title>'
        f"<style>{_STYLE}</style></head><body><h1>otelkit demo report</h1>"
        f"<p>{html.escape(intro)}</p>"
        f"{summary}{charts}"
        f'<script type="application/json" id="otelkit-data">{payload}</script>'
        f"<script>{script}</script></body></html>"
    )


def render_html(rd: ReportData) -> str:
    """The page of a demo run: summary table, chart containers, data JSON and the drawing script."""
    data = report_data(rd)
    opts = ", ".join(f"{k} {v}" for k, v in sorted(data["options"].items()) if k in ("duration", "rate", "target", "rounds"))
    return render_page(f"Pipelines: {', '.join(rd.modes)}; {opts}.", _summary_html(rd), data)


def write_page(path: str | Path, page: str) -> Path:
    """Write ``page`` to ``path``; returns the absolute path."""
    out = Path(path).resolve()
    out.write_text(page, encoding="utf-8")
    return out


def write_report(path: str | Path, rd: ReportData) -> Path:
    """Write the page of ``rd`` to ``path``; returns the absolute path."""
    return write_page(path, render_html(rd))
