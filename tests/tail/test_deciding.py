"""The in-decision pool on its own: its span/byte counts, what fits beside the traces in
decision, stragglers within the shared budget, the early queue."""

from __future__ import annotations

from otelkit.tail._deciding import DecisionPool, _Entry


def entry(spans: int, size: int, first_seen: float = 0.0) -> _Entry:
    e = _Entry(first_seen)
    e.spans = [object()] * spans  # type: ignore[list-item]
    e.bytes = size
    return e


def test_counts_are_the_sums_over_started_traces_and_their_stragglers() -> None:
    pool = DecisionPool(max_spans=100, max_bytes=10_000)
    a, b = entry(3, 300), entry(2, 200)
    pool.start(1, a)
    pool.start(2, b)
    pending = pool.pending(1)
    assert pending is not None and pool.pending(3) is None
    assert pool.join(pending, object(), 50, undecided_bytes=0)  # type: ignore[arg-type]
    assert (len(pool), pool.spans, pool.bytes) == (2, 6, 550)
    assert len(pool.release(1, a)) == 4  # the straggler goes with its trace
    assert (len(pool), pool.spans, pool.bytes) == (1, 2, 200)
    assert pool.release(2, b) == b.spans
    assert (len(pool), pool.spans, pool.bytes) == (0, 0, 0)


def test_a_trace_alone_always_fits_others_within_both_limits() -> None:
    pool = DecisionPool(max_spans=10, max_bytes=1000)
    big = entry(50, 5000)
    assert pool.fits(big) and pool.fits_in_budget(big, undecided_bytes=10**9)
    pool.start(1, big)
    assert not pool.fits(entry(1, 1)) and not pool.fits_in_budget(entry(1, 1), 0)
    pool.release(1, big)
    pool.start(2, entry(5, 500))
    assert pool.fits(entry(5, 500)) and not pool.fits(entry(6, 10)) and not pool.fits(entry(1, 501))
    assert pool.fits_in_budget(entry(1, 400), undecided_bytes=100)
    assert not pool.fits_in_budget(entry(1, 400), undecided_bytes=101)


def test_a_straggler_is_refused_at_max_spans_or_past_the_shared_budget() -> None:
    pool = DecisionPool(max_spans=4, max_bytes=1000)
    pool.start(1, entry(3, 300))
    pending = pool.pending(1)
    assert pending is not None
    span = object()
    assert not pool.join(pending, span, 101, undecided_bytes=600)  # type: ignore[arg-type]
    assert pool.join(pending, span, 100, undecided_bytes=600)  # type: ignore[arg-type]
    assert not pool.join(pending, span, 1, undecided_bytes=0)  # type: ignore[arg-type]  # 4 spans: full
    assert (pool.spans, pool.bytes, len(pending.spans)) == (4, 400, 1)


def test_early_traces_are_in_decision_and_taken_once_oldest_first() -> None:
    pool = DecisionPool(max_spans=100, max_bytes=10_000)
    a, b = entry(1, 10), entry(2, 20)
    pool.queue_early(7, a)
    pool.queue_early(8, b)
    assert pool.has_early() and (pool.spans, pool.bytes) == (3, 30)
    assert pool.take_early() == [(7, a), (8, b)]
    assert not pool.has_early() and pool.take_early() == []
    assert pool.pending(7) is not None  # still in decision until released
