"""``otelkit demo`` end to end: a short bounded run completes, exports with 0 dropped, cleans up;
``--compare`` runs every pipeline in interleaved rounds; ``--report`` renders in headless Chromium."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from otelkit.cli import _build_parser
from otelkit.demo import compare_modes
from otelkit.demo.servers import fastotel_installed
from otelkit.receiver import OtlpReceiver
from otelkit.testing import free_port, scrubbed_env

from ._chromium import check_line_charts, render_in_chromium

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
    assert _row(out, "spans spooled / replayed") == ["0 / 0"]  # the spool is on; the receiver took everything
    assert _number(_row(out, "compression ratio")[0]) > 1.5
    assert "\x1b[" not in out  # not a terminal: plain periodic lines, no live redraws
    assert re.search(r"^\[otelkit\] \d+\.\d / 3 s  req ", out, re.M)
    pids = _pids(out)
    assert len(pids) == 1 and not _alive(pids[0])


@pytest.mark.timeout(400)
def test_compare_runs_every_pipeline_in_interleaved_rounds_and_reports_them(tmp_path: Path) -> None:
    modes, note = compare_modes(True, fastotel_installed())  # fastotel is in the dev extra
    report = tmp_path / "compare.html"
    out = _demo("--compare", "--rounds", "2", "--duration", "3", "--rate", "100", "--seed", "2",
                "--report", str(report), timeout=380)
    n = len(modes)
    assert (note or "") in out and ("fastotel is not installed" in out) == (n == 2)
    assert len(re.findall(r"^\[\w+\] round \d of 2$", out, re.M)) == 2 * n
    for label in ("spans exported", "CPU per request (ms)", "CPU per exported span (us)", "wire bytes per span"):
        cells = _row(out, label)
        assert len(cells) == n and all(_number(c) > 0 for c in cells)
    assert _row(out, "spans dropped") == ["0"] * n
    assert _row(out, "spans spooled / replayed") == ["0 / 0"] + ["-"] * (n - 1)  # only otelkit's has a spool
    for other in modes[1:]:
        assert _number(_row(out, f"CPU per request, otelkit/{other}")[0]) > 0
        assert _number(_row(out, f"CPU per request median, otelkit/{other}")[0]) > 0
    medians = [_number(c) for c in _row(out, "CPU per request (ms), median")]
    each = [[_number(v) for v in c.split()] for c in _row(out, "CPU per request (ms), rounds")]
    assert len(medians) == n and all(len(v) == 2 and min(v) > 0 for v in each)
    assert medians == [pytest.approx(sum(v) / 2, abs=0.0011) for v in each]
    # the trace account closes on every side: started = exported + lost + sampled out
    started = _row(out, "traces started (1 per request)")
    assert started == _row(out, "requests") and len(set(started)) <= n
    assert _row(out, "traces unaccounted") == ["0"] * n
    assert _row(out, "traces lost") == ["0"] * n
    sampled_out = _row(out, "traces sampled out")
    assert "(started - kept)" not in sampled_out[0] and all(c.endswith("(started - kept)") for c in sampled_out[1:])
    assert not [p for p in _pids(out) if _alive(p)]
    # the report draws one CPU bar per pipeline at the printed median, with one dot per round
    dom = render_in_chromium(report, tmp_path)
    bars = {e.attrs["data-label"]: e for e in dom.find("rect", chart="cpu", cls="bar")}
    assert list(bars) == modes
    assert [f"{float(bars[m].attrs['data-value']):.3f}" for m in modes] == _row(out, "CPU per request (ms), median")
    for m in modes:
        assert len(dom.find("circle", chart="cpu", cls="round", label=m)) == 2
    assert dom.legend("latency", "stock p50") == "stock p50: no data (its exporter reports no latency)"
    check_line_charts(dom)


def test_report_renders_the_run_in_headless_chromium(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    out = _demo("--duration", "4", "--rate", "100", "--seed", "3", "--report", str(report))
    assert f"report written to {report}" in out
    dom = render_in_chromium(report, tmp_path)
    check_line_charts(dom)
    kept = dom.find("path", chart="kept", cls="series")
    assert [p.attrs["data-series"] for p in kept] == ["otelkit"] and int(kept[0].attrs["data-points"]) >= 3
    assert [e.attrs["data-value"] for e in dom.find("line", chart="kept", cls="ref")] == ["50"]
    assert dom.find("path", chart="probability", cls="series")  # the adaptive sampler's keys
    assert len(dom.find("circle", chart="latency", cls="point")) > 0
    # the numbers are the run's: CPU bar and summary table as printed, drops stated as none
    bar = dom.find("rect", chart="cpu", cls="bar")
    assert [b.attrs["data-label"] for b in bar] == ["otelkit"]
    assert f"{float(bar[0].attrs['data-value']):.3f}" == _row(out, "CPU per request (ms)")[0]
    assert "stock SDK and fastotel: not measured (run with --compare)" in dom.notes("cpu")
    assert _row(out, "spans dropped") == ["0"] and not dom.find("rect", chart="drops", cls="bar")
    assert "no spans dropped by any pipeline" in dom.texts("drops", "empty")
    assert "otelkit: no spans dropped (0 for every reason)" in dom.notes("drops")
    for label in ("spans exported", "CPU per request (ms)", "traces exported"):
        assert dom.summary[label] == _row(out, label)


def test_the_demo_pipeline_spools_what_it_cannot_deliver() -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1/traces"  # nothing listens: every export is refused
    out = _demo("--duration", "2", "--rate", "50", "--target", "1000", "--no-tail", "--endpoint", nobody)
    spooled, replayed = (_number(v) for v in _row(out, "spans spooled / replayed")[0].split(" / "))
    assert spooled > 0 and replayed == 0
    assert _row(out, "spans exported") == ["0"]  # spooled is not exported
    assert _row(out, "spans dropped") == ["0"]  # nor lost: it waits on disk
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


def test_liveroom_runs_the_websocket_and_kafka_service_and_exports_its_spans() -> None:
    # docs/examples.md: `otelkit demo --liveroom` ("also the live-room service (WebSocket + Kafka on Tansu)")
    out = _demo("--liveroom", "--duration", "4", "--seed", "4", timeout=90)
    assert re.search(r", liveroom http://127\.0\.0\.1:\d+ \(pid \d+\), kafka 127\.0\.0\.1:\d+ \(pid \d+\)", out)
    requests, room_requests = _number(_row(out, "requests")[0]), _number(_row(out, "live-room requests")[0])
    assert 0 < room_requests < requests  # its REST API (rooms, hot rooms) next to the API server's load
    sent, received = (_number(v) for v in _row(out, "ws messages sent / received")[0].split(" / "))
    assert sent > 0 and 0 < received <= 3 * sent  # 12 viewers in 4 rooms: each message goes to the room's 3
    # every message went through Kafka (Tansu) and its consumer before the run ended
    assert _row(out, "Kafka published / consumed") == [f"{sent:,.0f} / {sent:,.0f}"]
    # the receiver got both services' spans; the live-room's hold at least room message, send
    # and process for every message (the client's traceparent is sampled, the tail keeps it)
    by_service = dict(kv.rsplit(" ", 1) for kv in _row(out, "spans received by service")[0].split(", "))
    assert set(by_service) == {"example-api", "example-liveroom"}
    assert _number(by_service["example-liveroom"]) >= 3 * sent
    assert sum(_number(v) for v in by_service.values()) == _number(_row(out, "spans exported")[0])
    assert _row(out, "spans dropped") == ["0"]
    assert _row(out, "spans spooled / replayed") == ["0 / 0"]
    # the trace account closes: 1 trace per request, ws message, ws connection and consumer poll
    assert _number(_row(out, "traces started (1 per request, ws message, ws connection, poll)")[0]) > requests + sent
    assert _row(out, "traces lost") == ["0"]
    assert _row(out, "traces unaccounted") == ["0"]
    pids = _pids(out)
    assert len(pids) == 3 and not [p for p in pids if _alive(p)]  # API server, live-room service, Tansu


@pytest.mark.timeout(200)
def test_liveroom_compare_closes_every_pipelines_trace_account() -> None:
    # the stock side counts kept traces as sampled local roots; a message's trace has two
    modes, _ = compare_modes(True, fastotel_installed())
    out = _demo("--liveroom", "--compare", "--rounds", "1", "--duration", "3", "--seed", "6", timeout=180)
    n = len(modes)
    for cell in _row(out, "ws messages sent / received"):
        sent, received = (_number(v) for v in cell.split(" / "))
        assert sent > 0 and received > 0
    assert all(_number(c) > 0 for c in _row(out, "traces exported"))
    assert _row(out, "traces lost") == ["0"] * n
    assert _row(out, "traces unaccounted") == ["0"] * n
    assert _row(out, "spans dropped") == ["0"] * n
    assert len(_pids(out)) == 3 * n and not [p for p in _pids(out) if _alive(p)]
