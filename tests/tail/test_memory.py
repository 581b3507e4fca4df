"""The decision memory on its own: FIFO caches of kept and dropped trace IDs and what a late
span of a remembered trace does (forwarded or dropped, counted with its age)."""

from __future__ import annotations

import pytest

from otelkit.tail._memory import DROPPED, DecisionMemory
from otelkit.tail._stats import Counters


def test_late_spans_follow_the_remembered_decision() -> None:
    counters = Counters()
    memory = DecisionMemory(10, counters)
    memory.kept(1, "errors", 7, 100.0)
    memory.dropped(2, 100.0)
    assert memory.follow(1, 100.5) == ("errors", 7)
    assert memory.follow(2, 130.0) is DROPPED
    assert memory.follow(3, 130.0) is None  # never decided: not counted
    snap = counters.snapshot()
    assert (snap["late_spans_kept"], snap["late_spans_dropped"]) == (1, 1)
    assert snap["spans_kept_by_policy"] == {"errors": 1} and snap["spans_dropped_by_policy"] == {"late": 1}
    assert snap["late_span_age"] == {"<=1s": 1, "<=60s": 1}


@pytest.mark.parametrize("put", ["kept", "dropped"])
def test_each_cache_forgets_its_oldest_ids_first(put: str) -> None:
    memory = DecisionMemory(3, Counters())
    for tid in range(1, 6):
        memory.kept(tid, "p", None, 0.0) if put == "kept" else memory.dropped(tid, 0.0)
    assert memory.remembered() == ((3, 0) if put == "kept" else (0, 3))
    assert memory.follow(1, 1.0) is None and memory.follow(2, 1.0) is None
    assert memory.follow(5, 1.0) is not None


def test_the_caches_have_a_size_each() -> None:
    """Many drops do not push a kept trace out: each cache holds its own ``size`` IDs."""
    memory = DecisionMemory(2, Counters())
    memory.kept(1, "p", None, 0.0)
    for tid in range(10, 20):
        memory.dropped(tid, 0.0)
    assert memory.follow(1, 1.0) == ("p", None)
    assert memory.remembered() == (1, 2)


def test_a_decision_put_again_keeps_its_place() -> None:
    """Putting a remembered ID again updates its value, not its age (FIFO, not LRU)."""
    memory = DecisionMemory(2, Counters())
    memory.kept(1, "a", None, 0.0)
    memory.kept(2, "b", None, 0.0)
    memory.kept(1, "c", None, 0.0)
    memory.kept(3, "d", None, 0.0)
    assert memory.follow(1, 1.0) is None and memory.follow(2, 1.0) == ("b", None)


def test_size_zero_remembers_nothing() -> None:
    memory = DecisionMemory(0, Counters())
    memory.kept(1, "p", None, 0.0)
    memory.dropped(2, 0.0)
    assert memory.remembered() == (0, 0)
    assert memory.follow(1, 1.0) is None and memory.follow(2, 1.0) is None


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_invalid_size_names_what_is_allowed(bad: object) -> None:
    with pytest.raises(ValueError, match=r"decision cache size .* expected an integer >= 0"):
        DecisionMemory(bad, Counters())  # type: ignore[arg-type]
