"""The distributed run's report: rates from cumulative counts, empty series named, drops by reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from otelkit.demo.distributed_report import (
    DistPoint,
    DistRecorder,
    DistTotals,
    distributed_report_data,
    write_distributed_report,
)


def _totals(drops: dict[str, dict[str, int] | None]) -> DistTotals:
    return DistTotals(produced=90, decided=90, kept=8, whole=8, errors=4, errors_whole=4, spans_in=360,
                      spans_out=32, per_worker={"vm:2": {"kept": 3, "dropped": 40}, "vm:1": {"kept": 5}}, drops=drops)


def _chart(data: dict[str, Any], chart: str) -> dict[str, Any]:
    return next(c for c in [*data["lines"], *data["bars"]] if c["id"] == chart)


def _recorded() -> DistRecorder:
    rec = DistRecorder(["dropped", "kept: errors", "kept: sample"])
    rec.add(DistPoint(1.0, 30, 0, 100, 0, None, None))  # the decisions topic not read yet
    rec.add(DistPoint(2.0, 60, 4, 220, 16, {"dropped": 20, "kept: errors": 2}, 120))
    rec.add(DistPoint(2.0, 61, 4, 220, 16, {}, 5))  # not later: ignored
    rec.add(DistPoint(4.0, 90, 8, 360, 32, {"dropped": 82, "kept: errors": 4, "kept: sample": 4}, 0))
    return rec


def test_rates_are_the_increase_since_the_count_was_last_known() -> None:
    s = _recorded().series()
    assert s.t == [1.0, 2.0, 4.0]
    assert s.produced_per_s == [30.0, 30.0, 15.0]
    assert s.spans_in_per_s == [100.0, 120.0, 70.0]
    assert s.kept_per_s == [0.0, 4.0, 2.0]
    # unknown at 1 s: the first known count is over the 2 s since the start
    assert s.decisions_per_s == {"dropped": [None, 10.0, 31.0], "kept: errors": [None, 1.0, 1.0],
                                 "kept: sample": [None, 0.0, 2.0]}
    assert s.lag == [None, 120.0, 0.0]


def test_a_label_first_seen_late_was_0_where_decisions_were_read() -> None:
    rec = DistRecorder()
    rec.add(DistPoint(1.0, 1, 0, 4, 0, {"dropped": 1}, 0))
    rec.add(DistPoint(2.0, 2, 1, 8, 4, {"dropped": 1, "kept: errors": 1}, 0))
    assert rec.series().decisions_per_s == {"dropped": [1.0, 0.0], "kept: errors": [0.0, 1.0]}


def test_charts_carry_the_series_and_name_empty_ones() -> None:
    data = distributed_report_data(_recorded().series(), _totals({}), {"duration": 4.0, "rate": 30.0})
    kept = {s["name"]: s["points"] for s in _chart(data, "kept")["series"]}
    assert kept == {"produced": [[1.0, 30.0], [2.0, 30.0], [4.0, 15.0]], "kept": [[1.0, 0.0], [2.0, 4.0], [4.0, 2.0]]}
    decisions = {s["name"]: s["points"] for s in _chart(data, "decisions")["series"]}
    assert decisions["kept: sample"] == [[2.0, 0.0], [4.0, 2.0]]
    assert _chart(data, "lag")["series"][0]["points"] == [[2.0, 120.0], [4.0, 0.0]]
    workers = [(b["label"], b["value"]) for b in _chart(data, "workers")["bars"]]
    assert workers == [("vm:1 kept", 5), ("vm:2 dropped", 40), ("vm:2 kept", 3)]

    empty = distributed_report_data(DistRecorder().series(), _totals({}), {})
    assert _chart(empty, "decisions")["series"] == [
        {"name": "decisions", "points": [], "empty": "no decision read from the decisions topic"}]
    lag = _chart(empty, "lag")["series"][0]
    assert lag["points"] == [] and lag["empty"] == "the group's offsets were not readable (not started or rebalancing)"


def test_drops_are_bars_by_reason_and_notes_say_none_or_not_reported() -> None:
    drops = {"services": {"export failed": 0}, "tail workers": None,
             "delivery": {"kept, not received": 3, "other": 0}}
    chart = _chart(distributed_report_data(_recorded().series(), _totals(drops), {}), "drops")
    assert [(b["label"], b["value"]) for b in chart["bars"]] == [("delivery: kept, not received", 3)]
    assert chart["notes"] == ["services: no spans dropped (0 for every reason)", "tail workers: drops not reported"]


def test_the_page_has_the_summary_and_the_data(tmp_path: Path) -> None:
    path = write_distributed_report(tmp_path / "d.html", _recorded().series(), _totals({}),
                                    {"duration": 4.0, "rate": 30.0, "seed": 7})
    page = path.read_text()
    assert "<td>traces produced</td><td>90</td>" in page
    assert "<td>error traces kept whole</td><td>4/4</td>" in page
    assert "duration 4.0, rate 30.0, seed 7" in page
    assert 'id="otelkit-data"' in page and '<figure id="decisions"></figure>' in page
