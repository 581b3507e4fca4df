"""``otelkit demo`` end to end: a short bounded run completes, exports with 0 dropped, cleans up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from otelkit.cli import _build_parser
from otelkit.receiver import OtlpReceiver
from otelkit.testing import scrubbed_env

pytestmark = pytest.mark.peers


def _demo(*args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "otelkit", "demo", *args],
        env=scrubbed_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _row(out: str, label: str) -> list[str]:
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in:\n{out}")


def _number(cell: str) -> float:
    return float(cell.replace(",", "").rstrip("x"))


def _pids(out: str) -> list[int]:
    return [int(p) for p in re.findall(r"\(pid (\d+)\)", out)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_short_demo_exports_everything_and_stops_its_server() -> None:
    out = _demo("--duration", "3", "--rate", "100", "--seed", "1")
    assert _number(_row(out, "requests")[0]) > 0
    exported = _number(_row(out, "spans exported")[0])
    assert exported > 0
    assert _row(out, "spans dropped") == ["0"]
    assert _number(_row(out, "compression ratio")[0]) > 1.5
    assert "\x1b[" not in out  # not a terminal: plain periodic lines, no live redraws
    assert re.search(r"^\[otelkit\] \d+\.\d / 3 s  req ", out, re.M)
    pids = _pids(out)
    assert len(pids) == 1 and not _alive(pids[0])


def test_compare_prints_both_pipelines_side_by_side() -> None:
    out = _demo("--compare", "--duration", "2", "--rate", "100", "--seed", "2")
    for label in ("spans exported", "CPU per request (ms)", "CPU per exported span (us)", "wire bytes per span"):
        otelkit, stock = _row(out, label)
        assert _number(otelkit) > 0 and _number(stock) > 0
    assert _row(out, "spans dropped") == ["0", "0"]
    assert _number(_row(out, "CPU per request, otelkit/stock")[0]) > 0
    # the trace account closes on both sides: started = exported + lost + sampled out
    started = _row(out, "traces started (1 per request)")
    assert started[0] == started[1] == _row(out, "requests")[0]
    assert _row(out, "traces unaccounted") == ["0", "0"]
    assert _row(out, "traces lost") == ["0", "0"]
    otelkit_out, stock_out = _row(out, "traces sampled out")
    assert "(started - kept)" not in otelkit_out and stock_out.endswith("(started - kept)")
    assert not [p for p in _pids(out) if _alive(p)]


@pytest.mark.parametrize("bad", [["--duration", "0"], ["--rate", "-1"], ["--duration", "soon"]])
def test_bad_arguments_are_refused(bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        _build_parser().parse_args(["demo", *bad])


def test_endpoint_sends_spans_to_the_given_collector(sink: OtlpReceiver) -> None:
    # a target above the offered rate and no tail sampling: every request's trace is kept
    out = _demo("--duration", "2", "--rate", "50", "--target", "1000", "--no-tail", "--endpoint", sink.endpoint)
    assert ", receiver http" not in out  # no embedded receiver was started
    assert f"exporting to {sink.endpoint}" in out
    requests = _number(_row(out, "requests")[0])
    assert sink.wait_for_spans(int(requests), timeout=10)


def test_ctrl_c_stops_every_process_the_demo_started() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "otelkit", "demo", "--duration", "60", "--rate", "50"],
        env=scrubbed_env({"PYTHONUNBUFFERED": "1"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = ""
        assert proc.stdout is not None
        for line in proc.stdout:
            seen += line
            if " req " in line:  # the load is running
                break
        pids = _pids(seen)
        assert pids and all(_alive(p) for p in pids)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 130
    assert "every process the demo started was stopped" in rest
    assert "Traceback" not in rest
    assert not [p for p in pids if _alive(p)]
