"""What the HTML report is made of: chart data from the recorded series, empty series named."""

from __future__ import annotations

import json
import re
from pathlib import Path

from otelkit.demo.display import RunResult, Snapshot
from otelkit.demo.loadgen import LoadStats
from otelkit.demo.metrics import Counts, Totals
from otelkit.demo.recorder import RunSeries
from otelkit.demo.report import ReportData, render_html, report_data, write_report
from otelkit.demo.rounds import cpu_rounds


def _run(mode: str, cpu: float, dropped: dict[str, float] | None = None) -> RunResult:
    totals = Totals(exported=100.0, expected=100.0, dropped=dropped or {}, raw_bytes=None, wire_bytes=None)
    return RunResult(Snapshot(mode, 5.0, 5.0, LoadStats(requests=500), None, Counts(), totals, cpu))


def _series(mode: str, round_: int, *, latency: bool) -> RunSeries:
    p = [1.0, 2.0] if latency else [None, None]
    keys = {"GET /a</script>": [0.5, 0.4]} if mode == "otelkit" else {"all spans (fixed ratio)": [0.25, 0.25]}
    return RunSeries(mode, round_, 50.0, [1.0, 2.0], [48.0, 51.0], p, p, [0.1, 0.2], keys)


def _data(compare: bool) -> ReportData:
    modes = ["otelkit", "stock"] if compare else ["otelkit"]
    results = [_run("otelkit", 0.5), _run("stock", 1.0, {"queue full": 7.0})][: len(modes)]
    series = [_series("otelkit", 1, latency=True), _series("stock", 1, latency=False)][: len(modes)]
    return ReportData(modes, results, series, cpu_rounds(results, modes), compare, {"target": 50.0, "rounds": 1})


def _chart(data: dict[str, object], chart: str) -> dict[str, object]:
    charts = [*data["lines"], *data["bars"]]  # type: ignore[misc]
    return next(c for c in charts if c["id"] == chart)


def test_charts_carry_the_recorded_points_and_the_target() -> None:
    data = report_data(_data(compare=True))
    kept = _chart(data, "kept")
    assert kept["series"] == [
        {"name": "otelkit", "points": [[1.0, 48.0], [2.0, 51.0]], "empty": "the pipeline reported no sampled roots"},
        {"name": "stock", "points": [[1.0, 48.0], [2.0, 51.0]], "empty": "the pipeline reported no sampled roots"},
    ]
    assert kept["refs"] == [{"name": "target", "y": 50.0}]
    cpu = _chart(data, "cpu")
    assert [(b["label"], b["value"]) for b in cpu["bars"]] == [("otelkit", 1.0), ("stock", 2.0)]  # ms per request
    assert cpu["notes"] == []


def test_empty_series_say_why() -> None:
    data = report_data(_data(compare=True))
    latency = {s["name"]: s for s in _chart(data, "latency")["series"]}
    assert latency["stock p50"]["points"] == [] and latency["stock p50"]["empty"] == "its exporter reports no latency"
    assert len(latency["otelkit p99"]["points"]) == 2
    drops = _chart(data, "drops")
    assert drops["notes"] == ["otelkit: no spans dropped (0 for every reason)"]
    assert [(b["label"], b["value"]) for b in drops["bars"]] == [("stock: queue full", 7.0)]


def test_without_compare_the_stock_cpu_is_not_measured() -> None:
    cpu = _chart(report_data(_data(compare=False)), "cpu")
    assert [b["label"] for b in cpu["bars"]] == ["otelkit"]
    assert cpu["notes"] == ["stock SDK and fastotel: not measured (run with --compare)"]


def test_page_is_self_contained_and_its_json_cannot_end_the_script(tmp_path: Path) -> None:
    path = write_report(tmp_path / "r.html", _data(compare=True))
    page = path.read_text()
    assert page == render_html(_data(compare=True))
    assert not re.search(r"(src|href)=", page)  # nothing loaded from anywhere
    assert "http://" not in page.replace('"http://www.w3.org/2000/svg"', "")
    raw = re.search(r'<script type="application/json" id="otelkit-data">(.*?)</script>', page, re.S)
    assert raw is not None and "</script" not in raw.group(1)
    keys = [s["name"] for s in _chart(json.loads(raw.group(1)), "probability")["series"]]
    assert keys == ["otelkit: GET /a</script>", "stock: all spans (fixed ratio)"]
    assert '<td>CPU per request (ms)</td><td>1.000</td><td>2.000</td>' in page
