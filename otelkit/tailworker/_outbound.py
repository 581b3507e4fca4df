"""What a worker sends out for its decided traces: decisions first, then the kept traces.

:class:`Outbound` owns the decisions producer and the worker's
:class:`~otelkit.tailworker._exports.KeptExports`. Its ordering rule: the decisions of a
round are delivered before its kept traces are exported (whatever a killed worker exported,
the next owner replays the decision and follows it, counting the re-read spans as
duplicates), and :meth:`Outbound.flush` tells the worker's commit whether every decision
is delivered (committing before could let a trace be decided again). Each decision goes to
the decisions topic's partition of the same number as the spans partition, keyed by trace
ID, naming this worker (``host:pid``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from otelkit._warn import warn_limited
from otelkit.tailworker import _decisions
from otelkit.tailworker._exports import KeptExports
from otelkit.tailworker._partition import Outcome, Partition

__all__ = ["Outbound"]

_logger = logging.getLogger("otelkit.tailworker")


class Outbound:
    """Decisions to ``decisions_topic`` and kept traces to ``exports``, in that order.

    Args:
        decisions_topic: where decisions go (same partition number as their spans).
        worker_id: names this worker in each decision record.
        exports: the kept traces' exporters (owned from here on: :meth:`close` shuts them down).
        count: ``count(key, n)`` adds ``n`` to the worker's counter ``key``.
        flush_s: how long a flush of the decisions may wait, in seconds.
    """

    def __init__(self, decisions_topic: str, worker_id: str, exports: KeptExports,
                 count: Callable[[str, int], None], flush_s: float) -> None:
        self.decisions_topic = decisions_topic
        self.worker_id = worker_id
        self.exports = exports
        self._count = count
        self.flush_s = flush_s
        self.producer: Any = None  # the decisions producer, from open() on

    def open(self, kafka: Mapping[str, str | int | float | bool]) -> None:
        """Create the decisions producer with the worker's Kafka properties (``kafka``)."""
        from confluent_kafka import Producer

        self.producer = Producer({**kafka, "linger.ms": "5"})

    def close(self) -> None:
        """Deliver the last decisions (bounded by ``flush_s``) and shut the exporters down."""
        self.producer.flush(self.flush_s)
        self.exports.shutdown()

    def settle(self, number: int, part: Partition, outcomes: list[Outcome]) -> list[Outcome]:
        """Publish the decisions, release the dropped traces; returns the kept ones to export."""
        kept: list[Outcome] = []
        for outcome in outcomes:
            if outcome.publish:
                self._publish(number, outcome)
                keep = outcome.verdict.keep
                self._count("kept_by_policy." + outcome.verdict.label if keep else "traces_dropped", 1)
            if outcome.verdict.keep and outcome.spans:
                kept.append(outcome)
            else:
                part.release(outcome.offsets)
        return kept

    def send(self, kept: list[tuple[int, list[Outcome]]], parts: Mapping[int, Partition]) -> None:
        """Export the ``kept`` traces (by partition number) of the partitions still in
        ``parts``, once the decisions published so far are delivered."""
        if not any(outcomes for _, outcomes in kept):
            return
        self.producer.flush(self.flush_s)
        for number, outcomes in kept:
            if outcomes and number in parts:
                self.exports.export(number, outcomes, parts[number].release)

    def flush(self) -> int:
        """Deliver the published decisions (bounded by ``flush_s``); how many are not yet."""
        return int(self.producer.flush(self.flush_s))

    def poll(self) -> None:
        """Serve the producer's delivery reports."""
        self.producer.poll(0)

    def _publish(self, number: int, outcome: Outcome) -> None:
        try:
            self.producer.produce(
                self.decisions_topic, _decisions.encode(outcome.verdict, self.worker_id),
                format(outcome.trace_id, "032x").encode(), partition=number, on_delivery=self._delivered,
            )
            self._count("decisions_published", 1)
        except Exception as exc:  # noqa: BLE001 - the queue may be full: counted, decisions still held locally
            self._count("decisions_failed", 1)
            warn_limited(_logger, "tailworker-publish", "could not publish a decision: %r", exc)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._count("decisions_failed", 1)
