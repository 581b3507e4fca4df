"""Partition assignment of a tail-worker fleet on a real Tansu broker (real Rotel behind).

``cooperative`` (librdkafka ``cooperative-sticky``, the default) moves only the partitions
that change owner; a group cannot mix it with ``eager``: Tansu answers the odd member with
``INCONSISTENT_GROUP_PROTOCOL``, and a cooperative worker joining eager ones falls back to
eager. Which worker decided a trace is read from the decisions topic (each record names
its worker), so "every worker took part" is observed, not assumed.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from otelkit.receiver import OtlpReceiver

pytestmark = pytest.mark.peers

Fleet = Any  # the ``fleet`` fixture (tests/tailworker/conftest.py)
KAFKA_TEST = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


class Deciders:
    """The worker IDs (``host:pid``) named by the decisions topic's records so far."""

    def __init__(self, fleet: Fleet) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self._consumer = Consumer({"bootstrap.servers": fleet.bootstrap, "group.id": "read-" + fleet.group,
                                   "enable.auto.commit": "false", **KAFKA_TEST})
        self._consumer.assign([TopicPartition(fleet.topic + "_decisions", p, 0) for p in range(3)])
        self.seen: set[str] = set()

    def read(self) -> set[str]:
        for msg in self._consumer.consume(500, 0.2):
            if msg.error() is None:
                self.seen.add(json.loads(msg.value())["w"].rsplit(":", 1)[1])
        return self.seen

    def close(self) -> None:
        self._consumer.close()


def _produce_until(fleet: Fleet, done: threading.Event) -> threading.Thread:
    def produce() -> None:
        i = 0
        while not done.is_set() and i < 400:
            fleet.trace(i)
            i += 1
            done.wait(0.05)  # pacing only: every check waits on a condition

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    return thread


def test_three_cooperative_workers_all_decide_and_keep_error_traces_whole(fleet: Fleet, sink: OtlpReceiver) -> None:
    workers = [fleet.start_worker() for _ in range(3)]
    done = threading.Event()
    producer = _produce_until(fleet, done)
    deciders = Deciders(fleet)
    try:
        pids = {str(w.pid) for w in workers}
        assert fleet.wait_until(lambda: deciders.read() == pids, 50.0), (deciders.seen, fleet.logs())
    finally:
        done.set()
        producer.join(10)
        deciders.close()
    assert fleet.wait_until(fleet.whole(sink, fleet.errors)), fleet.logs()
    assert fleet.wait_until(fleet.all_committed), fleet.logs()
    got = fleet.received(sink)
    assert set(got) == fleet.errors and all(len(got[t]) == 4 for t in fleet.errors)
    for worker in workers:
        stats = fleet.stats_of(worker)
        assert stats["assignment"] == "cooperative" and "assignment_fallbacks" not in stats


def test_a_cooperative_worker_joining_an_eager_group_falls_back_to_eager(fleet: Fleet, sink: OtlpReceiver) -> None:
    fleet.env["OTELKIT_TAIL_WORKER_ASSIGNMENT"] = "eager"
    eager = fleet.start_worker()
    del fleet.env["OTELKIT_TAIL_WORKER_ASSIGNMENT"]  # the default: cooperative
    assert fleet.wait_until(fleet.whole(sink, {fleet.trace(0)})), fleet.logs()
    joining = fleet.start_worker()
    done = threading.Event()
    producer = _produce_until(fleet, done)
    deciders = Deciders(fleet)
    try:
        assert fleet.wait_until(lambda: str(joining.pid) in deciders.read(), 50.0), fleet.logs()
    finally:
        done.set()
        producer.join(10)
        deciders.close()
    assert fleet.wait_until(fleet.whole(sink, fleet.errors)), fleet.logs()
    assert fleet.wait_until(fleet.all_committed), fleet.logs()
    got = fleet.received(sink)
    assert set(got) == fleet.errors and all(len(got[t]) == 4 for t in fleet.errors)
    stats = fleet.stats_of(joining)
    assert stats["assignment"] == "eager" and stats["assignment_fallbacks"] == 1
    assert fleet.stats_of(eager)["assignment"] == "eager"
