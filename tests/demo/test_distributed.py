"""``otelkit demo --distributed``: ``--report`` writes the distributed run's report (the command
docs/tail-worker.md shows, rendered in headless Chromium), and the flags that cannot apply to
it are refused (exit 2) instead of ignored."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from otelkit import cli
from otelkit.testing import scrubbed_env

from ._chromium import Dom, check_line_charts, render_in_chromium

PAGE = Path(__file__).resolve().parents[2] / "docs" / "tail-worker.md"
ALLOWED = "allowed with --distributed: --duration, --rate (traces/s, at most 100), --seed, --report"


def documented_command() -> list[str]:
    """The command under "See it run" in docs/tail-worker.md."""
    section = PAGE.read_text().split("## See it run", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "docs/tail-worker.md: no bash block under 'See it run'"
    return shlex.split(block.group(1))


def _integral(points: list[list[float]]) -> float:
    """The count a rate series adds up to: each rate times the time since the previous point."""
    total, prev = 0.0, 0.0
    for x, y in points:
        total += y * (x - prev)
        prev = x
    return total


def _series(dom: Dom, chart: str) -> dict[str, list[list[float]]]:
    spec = next(c for c in dom.data["lines"] if c["id"] == chart)
    return {s["name"]: s["points"] for s in spec["series"]}


def _number(text: str, pattern: str) -> list[int]:
    found = re.search(pattern, text)
    assert found, (pattern, text)
    return [int(g) for g in found.groups()]


@pytest.mark.peers
@pytest.mark.timeout(180)
def test_the_documented_distributed_report_renders_the_runs_numbers(tmp_path: Path) -> None:
    argv = documented_command()
    assert argv[:3] == ["otelkit", "demo", "--distributed"] and "--report" in argv
    report = tmp_path / argv[argv.index("--report") + 1]
    proc = subprocess.run([sys.executable, "-m", "otelkit", *argv[1:]], cwd=tmp_path, env=scrubbed_env(),
                          capture_output=True, text=True, timeout=150)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f"report written to {report}" in out
    produced, decided, kept, whole = _number(out, r"traces produced (\d+), decided (\d+), kept (\d+) \((\d+) whole")
    errors_whole, errors = _number(out, r"error traces kept whole: (\d+)/(\d+)")
    assert produced == decided > 0 and kept == whole > 0 and errors_whole == errors

    dom = render_in_chromium(report, tmp_path)
    check_line_charts(dom)  # axes, one path and one dot per recorded point, empty series named
    # each rate series adds up to the total the run printed (the last point is after the workers stopped)
    kept_chart = _series(dom, "kept")
    assert len(kept_chart["produced"]) >= 5
    assert _integral(kept_chart["produced"]) == pytest.approx(produced, abs=1.5)
    assert _integral(kept_chart["kept"]) == pytest.approx(kept, abs=1.5)
    decisions = _series(dom, "decisions")
    assert set(decisions) == {"dropped", "kept: errors", "kept: sample"}
    assert sum(_integral(p) for p in decisions.values()) == pytest.approx(decided, abs=1.5)
    assert _integral(decisions["kept: errors"]) == pytest.approx(errors, abs=1.5)  # errors is the first policy
    assert _integral(decisions["dropped"]) == pytest.approx(decided - kept, abs=1.5)
    spans = _series(dom, "spans")
    assert _integral(spans["spans in"]) == pytest.approx(4 * produced, abs=3)
    assert _integral(spans["spans out"]) == pytest.approx(4 * kept, abs=3)
    assert dom.summary["traces produced"] == [f"{produced:,}"]
    assert dom.summary["spans out (workers to the receiver)"] == [f"{4 * kept:,}"]
    lag = _series(dom, "lag")["lag"]
    last_lag = re.findall(r" lag (\S+)$", out, re.M)[-1]
    assert lag and all(y >= 0 for _, y in lag) and f"{lag[-1][1]:g}" == last_lag
    # one bar per worker and outcome, at the counts the run printed; nothing dropped, and said so
    printed = {f"{w} {what}": int(n) for w, what, n in re.findall(r"worker (\S+): (kept|dropped) (\d+)", out)}
    bars = {b.attrs["data-label"]: float(b.attrs["data-value"]) for b in dom.find("rect", chart="workers", cls="bar")}
    assert bars == printed and sum(bars.values()) == decided
    assert not dom.find("rect", chart="drops", cls="bar")
    assert "no spans dropped anywhere in the pipeline" in dom.texts("drops", "empty")
    assert dom.notes("drops") == [f"{part}: no spans dropped (0 for every reason)"
                                  for part in ("services", "tail workers", "delivery")]


@pytest.mark.parametrize(("flags", "message"), [
    (["--distributed", "--compare"], f"--compare cannot apply to --distributed (its services export to Kafka and "
                                     f"two tail workers decide with fixed policies); {ALLOWED}"),
    (["--distributed", "--rounds", "2", "--target", "10"], "--rounds, --target cannot apply to --distributed"),
    (["--distributed", "--concurrency", "8"], "--concurrency cannot apply to --distributed"),
    (["--distributed", "--liveroom", "--no-tail"], "--liveroom, --no-tail cannot apply to --distributed"),
    (["--distributed", "--endpoint", "http://127.0.0.1:1/v1/traces"], "--endpoint cannot apply to --distributed"),
    (["--distributed", "--rate", "500"],
     "--rate 500 is more than --distributed drives; allowed with --distributed: --rate up to 100 (traces/s)"),
    (["--rounds", "2"], "--rounds applies only with --compare (the compared pipelines' interleaved rounds); add --compare"),
])
def test_flags_that_cannot_apply_are_refused(flags: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", *flags])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: otelkit demo ") and f"otelkit demo: error: {message}" in err
    if flags[0] == "--distributed" and "--rate" not in flags:
        assert ALLOWED in err
