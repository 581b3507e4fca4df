"""--compare rounds: the order rotates, medians and ranges per pipeline, ratios of medians."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from rich.console import Console

from otelkit.cli import _build_parser
from otelkit.demo import compare_modes, run
from otelkit.demo.display import RunResult, Snapshot
from otelkit.demo.loadgen import LoadStats
from otelkit.demo.metrics import Counts, Totals
from otelkit.demo.rounds import cpu_rounds, round_order, rounds_table


def _run(mode: str, cpu: float | None) -> RunResult:
    load = LoadStats(requests=1000)
    return RunResult(Snapshot(mode, 5.0, 5.0, load, None, Counts(), Totals(None, None, {}, None, None), cpu))


def test_each_round_rotates_the_order() -> None:
    modes = ["otelkit", "stock", "fastotel"]
    assert [round_order(modes, r) for r in range(4)] == [
        ["otelkit", "stock", "fastotel"], ["stock", "fastotel", "otelkit"],
        ["fastotel", "otelkit", "stock"], ["otelkit", "stock", "fastotel"],
    ]


def test_medians_ranges_and_ratios_of_medians() -> None:
    results = [_run("otelkit", 1.0), _run("stock", 2.0), _run("otelkit", 3.0), _run("stock", 4.0),
               _run("otelkit", 2.0), _run("stock", None)]
    ok, stock = cpu_rounds(results, ["otelkit", "stock"])
    assert ok.values == (1.0, 3.0, 2.0) and (ok.median, ok.low, ok.high) == (2.0, 1.0, 3.0)
    assert stock.measured == [2.0, 4.0] and stock.median == 3.0
    out = io.StringIO()
    Console(file=out, width=200).print(rounds_table([ok, stock]))
    text = out.getvalue()
    assert "over 3 interleaved rounds" in text
    assert "2.000" in text and "1.000-3.000" in text and "2.000-4.000" in text
    assert "CPU per request median, otelkit/stock" in text and "0.67x" in text  # 2.0 / 3.0


def test_compare_runs_fastotel_only_where_installed() -> None:
    assert compare_modes(False, True) == (["otelkit"], None)
    assert compare_modes(True, True) == (["otelkit", "stock", "fastotel"], None)
    modes, note = compare_modes(True, False)
    assert modes == ["otelkit", "stock"]
    assert note is not None and "fastotel is not installed" in note and "otelkit[dev]" in note


def test_a_report_in_a_missing_directory_is_refused_before_the_run(tmp_path: Path) -> None:
    args = _build_parser().parse_args(["demo", "--report", str(tmp_path / "missing" / "r.html")])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run(args) == 2
    assert "is not a directory" in out.getvalue() and "api http" not in out.getvalue()  # nothing was started
