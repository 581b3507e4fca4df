"""Backpressure on a real Tansu broker (exporting through a real Rotel): a worker whose
trace buffer is far smaller than the backlog pauses its partitions instead of deciding
traces early or dropping spans.

600 spans (150 traces of 4, across both services) are written before the worker starts;
its buffer holds 40 spans per partition and it reads 500 messages a batch, so without
pausing the buffer would have to decide traces before their wait (``decided_early``) to
stay within its limit.
"""

from __future__ import annotations

from typing import Any

import pytest

from otelkit.receiver import OtlpReceiver

pytestmark = pytest.mark.peers

Fleet = Any  # the ``fleet`` fixture (tests/tailworker/conftest.py)


def test_a_full_buffer_pauses_partitions_and_no_span_is_lost_or_decided_early(fleet: Fleet, sink: OtlpReceiver) -> None:
    fleet.env.update({"OTELKIT_TAIL_MAX_SPANS": "40", "OTELKIT_TAIL_WORKER_PAUSE_HIGH_WATER": "0.8",
                      "OTELKIT_TAIL_WORKER_PAUSE_LOW_WATER": "0.25"})
    traces = [fleet.trace(i) for i in range(150)]  # the backlog: every third trace fails
    worker = fleet.start_worker()
    assert fleet.wait_until(fleet.whole(sink, fleet.errors)), fleet.logs()
    assert fleet.wait_until(fleet.all_committed), fleet.logs()
    stats = fleet.stats_of(worker)
    print({k: v for k, v in stats.items() if k != "partitions"})
    assert stats["pause_events.buffer"] >= 3, "the buffer never reached its high-water mark"
    assert stats["paused_partitions"] == [] and stats["buffer_full_partitions"] == []  # all resumed
    # every trace decided once, whole, on its own wait: none early, no span dropped or evicted
    assert stats["kept_by_policy.errors"] == len(fleet.errors) == 50
    assert stats["traces_dropped"] == len(traces) - 50
    assert stats["decided_early"] == 0 and stats["overflow_spans"] == 0 and stats["evicted_spans"] == 0
    assert stats["spans_exported"] == 4 * 50
    got = fleet.received(sink)
    assert set(got) == fleet.errors
    assert all(len(got[t]) == 4 and set(got[t].values()) == {1} for t in fleet.errors)
