"""A tail-worker fleet (real Tansu, real Rotel): late spans over 30 s, the probabilistic share.

The ``fleet`` fixture (conftest) runs ``otelkit tail-worker`` processes in one group and two
producing services whose traces cross both. The workers run on real time (their decision
wait and decision TTL are the processes' clocks), so the late-span test really spreads a
trace's spans over 31 s; every condition is waited on with a deadline.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest

from otelkit.receiver import OtlpReceiver
from otelkit.sampling import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.sampling.threshold import probability_to_threshold, randomness
from otelkit.tail import POLICY_ATTRIBUTE

pytestmark = pytest.mark.peers

Fleet = Any  # the ``fleet`` fixture


def test_a_trace_whose_spans_arrive_over_30_s_is_kept_or_dropped_whole(fleet: Fleet, sink: OtlpReceiver) -> None:
    fleet.env["OTELKIT_TAIL_WORKER_DECISION_TTL_S"] = "120"
    for _ in range(3):
        fleet.start_worker()
    began = time.monotonic()
    kept, dropped = fleet.trace(0), fleet.trace(1)  # service b fails in trace 0 only
    assert fleet.wait_until(fleet.whole(sink, {kept})), fleet.logs()
    late: list[int] = []
    pace = threading.Event()  # never set: only paces the scenario, every check below waits on a condition
    for at in (10.0, 20.0, 31.0):
        pace.wait(max(0.0, began + at - time.monotonic()))
        late.append(fleet.late_span(kept, 1))  # no error: judged alone it would be dropped
        fleet.late_span(dropped, 1)
    fleet.late_root_error(dropped)  # at 31 s, a failed root: judged alone it would be kept
    spread = time.monotonic() - began
    assert spread >= 31.0
    assert fleet.wait_until(fleet.all_committed), fleet.logs()
    sentinel = fleet.trace(3)
    assert fleet.wait_until(fleet.whole(sink, {sentinel})), fleet.logs()
    got = fleet.received(sink)
    assert set(late) <= set(got[kept]) and len(got[kept]) == 4 + 3, "the kept trace is not whole"
    assert dropped not in got, "a span of the dropped trace leaked"
    assert set(got) == {kept, sentinel}
    print(f"spans of one trace arrived over {spread:.1f} s; test took {time.monotonic() - began:.1f} s")


def test_probabilistic_share_with_three_workers_is_within_binomial_bounds(fleet: Fleet, sink: OtlpReceiver) -> None:
    fleet.env["OTELKIT_TAIL_POLICIES"] = "errors=status_code(status_codes=ERROR);p=probabilistic(sampling_percentage=20)"
    for _ in range(3):
        fleet.start_worker()
    n, p = 300, 0.2
    ok = {fleet.trace(3 * i + 1) for i in range(n)}  # none fails: only the 20% policy keeps them
    assert fleet.wait_until(fleet.all_committed, 90.0), fleet.logs()
    sentinel = fleet.trace(0)
    assert fleet.wait_until(fleet.whole(sink, {sentinel})), fleet.logs()
    got = fleet.received(sink)
    kept = set(got) & ok
    assert set(got) == kept | {sentinel}
    for tid in kept:
        assert len(got[tid]) == 4, f"trace {tid:032x} split: {dict(got[tid])}"
    sigma = math.sqrt(n * p * (1 - p))
    print(f"kept {len(kept)} of {n} at {p:.0%}: expected {n * p:.0f} +- {4 * sigma:.1f} (4 sigma)")
    assert abs(len(kept) - n * p) <= 4 * sigma
    # and exactly the traces whose randomness (no ``rv``: the trace ID's low 56 bits) passes
    threshold = probability_to_threshold(p)
    assert kept == {t for t in ok if randomness(t) >= threshold}
    for r in sink.spans():
        if int.from_bytes(r.span.trace_id, "big") in kept:
            assert r.attributes[POLICY_ATTRIBUTE] == "p"
            assert r.attributes[ADJUSTED_COUNT_ATTRIBUTE] == pytest.approx(1 / p, rel=1e-3)
            assert "th:" in r.span.trace_state
