"""``TailWorker``: tail sampling on a Kafka consumer group (one member of a worker fleet).

Each trace lives on one spans partition (keyed by trace ID), each partition has one owner.
Per assigned partition a :class:`~otelkit.tailworker._partition.Partition` buffers and
decides (the in-process tail processor and policies); kept traces go to the configured
exporter; decisions go to the decisions topic (same partition number); offsets are committed
below the oldest span undecided or not yet exported, after the decisions are flushed.
On assign a partition's recent decisions are replayed before it decides; on revoke kept
traces are exported (bounded), decisions flushed and offsets committed synchronously;
undecided spans are left to the next owner. A partition is paused (never dropped from)
while its trace buffer is near full or its kept traces wait for a failed export
(:mod:`~otelkit.tailworker._backpressure`).

The worker owns the group membership (consumer, assignment, the assigned partitions) and
the consume loop. What goes out for decided traces (the decisions producer and the kept
traces' exporters) is owned by :class:`~otelkit.tailworker._outbound.Outbound`; the commit
times and lag by :class:`~otelkit.tailworker._offsets.Offsets`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace.export import SpanExporter

from otelkit import config
from otelkit._warn import warn_limited
from otelkit.exporter._kafka_client import parse_properties
from otelkit.tail import Policy
from otelkit.tailworker import _decisions, _kafka
from otelkit.tailworker import _settings as s
from otelkit.tailworker._backpressure import Backpressure
from otelkit.tailworker._budget import PolicySource
from otelkit.tailworker._decode import BadMessage, decode
from otelkit.tailworker._exports import KeptExports, default_exporters
from otelkit.tailworker._offsets import Offsets
from otelkit.tailworker._outbound import Outbound
from otelkit.tailworker._partition import Partition

__all__ = ["TailWorker"]

_logger = logging.getLogger("otelkit.tailworker")
# per-partition counts summed into the worker's totals (the last three: kept over a retire)
_TOTALS = ("late_kept_spans", "late_dropped_spans", "duplicate_spans", "decided_early", "overflow_spans",
           "evicted_spans")



class TailWorker:
    """One tail worker. Arguments override the environment (``environ``, default ``os.environ``).

    Args:
        bootstrap_servers, topic: the spans topic (``OTELKIT_KAFKA_*``).
        group, decisions_topic: ``OTELKIT_TAIL_WORKER_*``.
        policies (compact string or policies), decision_wait_ms: ``OTELKIT_TAIL_*``.
        exporter: default: the exporters named by ``OTEL_TRACES_EXPORTER`` (otelkit's rules).
        kafka_config: extra librdkafka properties (default ``OTELKIT_TAIL_WORKER_CONSUMER_CONFIG``).
        assignment: ``cooperative`` or ``eager`` (``OTELKIT_TAIL_WORKER_ASSIGNMENT``, default
            cooperative; falls back to eager when the group refuses it).
        self_metrics, meter_provider: ``OTELKIT_SELF_METRICS``; the global provider.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str | None = None,
        topic: str | None = None,
        group: str | None = None,
        decisions_topic: str | None = None,
        policies: str | Sequence[Policy] | None = None,
        decision_wait_ms: float | None = None,
        exporter: SpanExporter | None = None,
        kafka_config: Mapping[str, str] | None = None,
        self_metrics: bool | None = None,
        meter_provider: MeterProvider | None = None,
        assignment: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if assignment is not None and assignment not in ("cooperative", "eager"):
            raise ValueError(f"assignment {assignment!r} is not allowed: cooperative or eager")
        try:
            import confluent_kafka  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("otelkit tail-worker needs confluent-kafka: pip install 'otelkit[kafka]'") from exc
        self._env = environ
        self.bootstrap = config.OTELKIT_KAFKA_BOOTSTRAP_SERVERS.resolve(bootstrap_servers, environ)
        self.topic = config.OTELKIT_KAFKA_TOPIC.resolve(topic, environ)
        self.group = s.OTELKIT_TAIL_WORKER_GROUP.resolve(group, environ)
        self.decisions_topic = s.OTELKIT_TAIL_WORKER_DECISIONS_TOPIC.resolve(decisions_topic, environ) or (
            self.topic + "_decisions"
        )
        self._policies = PolicySource(policies, environ)
        self.policies: list[Policy] = self._policies.shared
        self.partition_count = 1  # of the spans topic, read at start: the budget split
        self.decision_wait_ms = decision_wait_ms
        self.ttl_s = s.OTELKIT_TAIL_WORKER_DECISION_TTL_S.get(environ)
        self.max_message = s.OTELKIT_TAIL_WORKER_MAX_MESSAGE_BYTES.get(environ)
        self.revoke_s = s.OTELKIT_TAIL_WORKER_REVOKE_TIMEOUT_MS.get(environ) / 1000.0
        self.commit_s = s.OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS.get(environ) / 1000.0
        self.cache_size = config.OTELKIT_TAIL_DECISION_CACHE_SIZE.get(environ)
        extra = dict(kafka_config) if kafka_config is not None else self._consumer_properties(environ)
        self._kafka: dict[str, str | int | float | bool] = {"bootstrap.servers": self.bootstrap, **extra}
        self.assignment = assignment or s.OTELKIT_TAIL_WORKER_ASSIGNMENT.get(environ)
        self._refused = self._cooperative = False
        self._consumer: Any = None  # the group consumer, while run() is a member
        self.counters: dict[str, int] = {}
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        exports = KeptExports([exporter] if exporter is not None else default_exporters(environ), self._count)
        self._out = Outbound(self.decisions_topic, self.worker_id, exports, self._count, self.revoke_s)
        self._parts: dict[int, Partition] = {}
        self._stop = threading.Event()
        high = s.OTELKIT_TAIL_WORKER_PAUSE_HIGH_WATER.get(environ)
        self._pressure = Backpressure(high, min(high, s.OTELKIT_TAIL_WORKER_PAUSE_LOW_WATER.get(environ)))
        self._offsets = Offsets(self.topic, self.commit_s)
        if config.OTELKIT_SELF_METRICS.resolve(self_metrics, environ):
            from otelkit.tailworker._metrics import register

            register(self, meter_provider)

    @staticmethod
    def _consumer_properties(environ: Mapping[str, str] | None) -> dict[str, str]:
        try:
            return parse_properties(s.OTELKIT_TAIL_WORKER_CONSUMER_CONFIG.get(environ))
        except ValueError as exc:  # malformed: warned (value hidden) and ignored, as for the exporter
            warn_limited(_logger, "tailworker-consumer-config", "OTELKIT_TAIL_WORKER_CONSUMER_CONFIG: %s; ignoring it",
                         exc)
            return {}

    def _count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def stop(self) -> None:
        """Ask :meth:`run` to hand its partitions over and return."""
        self._stop.set()

    def run(self) -> None:
        """Consume, decide, export and commit until :meth:`stop`; then hand everything over."""
        from confluent_kafka import Consumer

        self._out.open(self._kafka)
        self._replayer = Consumer({**self._kafka, "group.id": self.group + "-replay", "enable.auto.commit": "false"})
        try:
            self.partition_count = _kafka.ensure_decisions_topic(self._kafka, self.topic, self.decisions_topic, self._stop)
            while self._member() and not self._stop.is_set():
                self.assignment, self._refused = "eager", False  # the group refused cooperative
                self._count("assignment_fallbacks")
                warn_limited(_logger, "tailworker-eager", "group %s refuses cooperative assignment; rejoining with "
                             "eager (set OTELKIT_TAIL_WORKER_ASSIGNMENT=eager on every worker)", self.group)
        finally:
            self._replayer.close()
            self._out.close()

    def _member(self) -> bool:
        """Be a group member until :meth:`stop` (then hand over; False) or until the group
        refuses cooperative assignment (True)."""
        from confluent_kafka import Consumer

        conf = _kafka.group_config(self._kafka, self.group, self.assignment)
        self._cooperative = _kafka.is_cooperative(conf)
        self._consumer = Consumer(conf)
        try:
            self._consumer.subscribe(
                [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
            while not self._stop.is_set() and not self._refused:
                self._step()
            self._hand_over(list(self._parts))
        finally:
            self._consumer.close()
        return self._refused

    # -- the loop -------------------------------------------------------------------------
    def _step(self) -> None:
        for msg in self._consumer.consume(500, 0.1):
            err = msg.error()
            if err is not None:
                if err.code() in _kafka.REFUSED and self._cooperative:
                    self._refused = True
                elif not err.code() == -191:  # _PARTITION_EOF
                    warn_limited(_logger, "tailworker-consume", "consume error: %s", err)
                continue
            if not self._pressure.skips(msg.partition() or 0):  # else re-read after its resume
                self._take(msg)
        out = self._out
        out.send([(number, out.settle(number, part, part.decide())) for number, part in list(self._parts.items())],
                 self._parts)  # decisions delivered, then the kept traces exported
        out.exports.retry(self._parts)
        self._backpressure()
        out.poll()
        if self._offsets.due():
            self._commit(list(self._parts), asynchronous=True)

    def _backpressure(self) -> None:
        """Pause the partitions whose buffer is near full or whose kept traces wait for a
        failed export; resume them after (reading on would only grow memory or force early
        decisions)."""
        fills = {number: part.fill for number, part in self._parts.items()}
        self._pressure.apply(self._consumer, self.topic, fills, self._out.exports.waiting())

    def _take(self, msg: Any) -> None:
        number, offset = msg.partition(), msg.offset()
        part = self._parts.get(number)
        if part is None:
            return
        self._count("messages")
        try:
            traces = decode(msg.value(), self.max_message, part.keys)
        except BadMessage as exc:
            self._count("bad_messages." + exc.reason)
            warn_limited(_logger, "tailworker-bad:" + exc.reason, "skipping message %s[%d]@%d: %s",
                         msg.topic(), number, offset, exc)
            part.add(offset, None)
            return
        late = part.add(offset, traces)
        if late:
            self._out.exports.export(number, late, part.release)
        self._pressure.took(self._consumer, self.topic, number, offset, part.fill())

    # -- offsets, rebalances ----------------------------------------------------------------
    def _commit(self, numbers: list[int], *, asynchronous: bool) -> None:
        self._offsets.commit(self._consumer, self._parts, numbers, asynchronous=asynchronous,
                             ready=lambda: not self._out.flush())

    def _retire(self, number: int) -> None:
        """Forget a partition, keeping its late-span counts in the worker's totals."""
        part = self._parts.pop(number, None)
        self._offsets.forget(number)
        if part is not None:
            self._count("late_kept_spans", part.late_kept)
            self._count("late_dropped_spans", part.late_dropped)
            for key, value in part.stats().items():
                if key in _TOTALS[3:]:
                    self._count(key, value)
            self._count("duplicate_spans", part.duplicates)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            part = Partition(
                self._policies.for_partition(self.partition_count), ttl_s=self.ttl_s, cache_size=self.cache_size, environ=self._env,
                decision_wait_ms=self.decision_wait_ms,
            )
            _decisions.replay(self._replayer, self.decisions_topic, tp.partition, self.ttl_s, part.remember,
                              self.revoke_s)
            self._parts[tp.partition] = part
        self._count("assignments", len(partitions))
        if self._cooperative:  # only the added partitions; the others keep being read
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)

    def _hand_over(self, numbers: list[int]) -> None:
        """Export held kept traces (bounded), flush decisions, commit synchronously, forget."""
        deadline = time.monotonic() + self.revoke_s
        exports = self._out.exports
        while exports.waiting() & set(numbers) and time.monotonic() < deadline:
            exports.retry(self._parts, only=numbers, force=True)
            if exports.waiting() & set(numbers):
                time.sleep(0.1)
        self._commit(numbers, asynchronous=False)
        for number in numbers:
            self._retire(number)
        self._forget(numbers)

    def _forget(self, numbers: list[int]) -> None:
        self._out.exports.forget(self._parts)
        self._pressure.forget(numbers)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self._hand_over([tp.partition for tp in partitions])
        if self._cooperative:
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            self._retire(tp.partition)
        self._forget([tp.partition for tp in partitions])

    def stats(self) -> dict[str, Any]:
        """Counters (``kept_by_policy.<label>``, ``traces_dropped``, ``bad_messages.<reason>``,
        ``spans_exported``, ...) plus per-partition gauges (``lag``, ``buffered_spans``, ...) and the spans ``topic``."""
        parts = {n: {**p.stats(), "lag": self._offsets.lag.get(n, 0)} for n, p in list(self._parts.items())}
        out: dict[str, Any] = dict(self.counters)
        for key in _TOTALS:
            out[key] = out.get(key, 0) + sum(p[key] for p in parts.values())
        out["topic"] = self.topic
        out["assignment"] = self.assignment
        out["paused_partitions"] = sorted(self._pressure.paused)
        out["buffer_full_partitions"] = sorted(self._pressure.full())
        for reason, n in self._pressure.events.items():
            out["pause_events." + reason] = n
        out["partitions"] = parts
        return out
