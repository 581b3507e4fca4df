"""Offsets: commits only once the decisions are delivered; lag from the cached watermark."""

from __future__ import annotations

from typing import Any

from otelkit.tailworker._offsets import Offsets


class Part:
    def __init__(self, committable: int | None, position: int | None) -> None:
        self._at, self.position = committable, position

    def committable(self) -> int | None:
        return self._at


class Consumer:
    def __init__(self, high: int = 100) -> None:
        self.high = high
        self.commits: list[tuple[list[tuple[int, int]], bool]] = []

    def get_watermark_offsets(self, tp: Any, cached: bool) -> tuple[int, int]:
        return 0, self.high

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        self.commits.append(([(tp.partition, tp.offset) for tp in offsets], asynchronous))


def test_nothing_is_committed_before_the_decisions_are_delivered_but_the_attempt_counts() -> None:
    now = [5000.0]
    offsets, consumer = Offsets("spans", interval_s=10.0, clock=lambda: now[0]), Consumer()
    assert offsets.due()
    offsets.commit(consumer, {0: Part(5, 7)}, [0], asynchronous=True, ready=lambda: False)  # type: ignore[dict-item]
    assert consumer.commits == [] and offsets.last == 5000.0 and not offsets.due()
    now[0] += 10.0
    assert offsets.due()


def test_committable_offsets_are_committed_and_lag_measured_and_forgotten() -> None:
    offsets, consumer = Offsets("spans", interval_s=0.0), Consumer(high=100)
    parts = {0: Part(5, 70), 1: Part(None, 40), 2: Part(9, None)}
    offsets.commit(consumer, parts, [0, 1, 2, 3], asynchronous=False, ready=lambda: True)  # type: ignore[arg-type]
    assert consumer.commits == [([(0, 5), (2, 9)], False)]
    assert offsets.lag == {0: 30, 1: 60}
    offsets.forget(0)
    assert offsets.lag == {1: 60}
