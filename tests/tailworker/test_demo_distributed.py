"""``otelkit demo --distributed`` end to end: Tansu, two tail workers, two services."""

from __future__ import annotations

import io
import re

import pytest

from otelkit.tailworker.demo import run_distributed

pytestmark = pytest.mark.peers


def test_distributed_demo_keeps_whole_traces_and_reports_each_worker() -> None:
    out = io.StringIO()
    code = run_distributed(duration=3.0, rate=30.0, seed=7, out=out)
    text = out.getvalue()
    assert code == 0, text
    produced, decided = map(int, re.search(r"traces produced (\d+), decided (\d+)", text).groups())  # type: ignore[union-attr]
    assert produced == decided > 0, text
    errors = re.search(r"error traces kept whole: (\d+)/(\d+)", text)
    assert errors is not None and errors.group(1) == errors.group(2), text
    assert re.search(r"worker \S+: dropped \d+", text), text
