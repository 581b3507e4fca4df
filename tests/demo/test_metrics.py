"""Stats snapshots -> demo numbers: every key optional, drops counted by reason."""

from __future__ import annotations

from typing import Any

import pytest

from otelkit.demo.metrics import Counts, combine, extract, totals

FULL: dict[str, Any] = {
    "spans_created": 1000,
    "spans_sampled": 400,
    "cpu_seconds": 2.5,
    "sampler": {"kept": 90, "dropped": 310, "probability": 0.25, "keys": 7},
    "processor0": {
        "traces_kept": 40,
        "traces_dropped": 50,
        "spans_kept": 300,
        "spans_dropped": 100,
        "kept_by_policy": {"errors": 10, "latency": 5, "probabilistic": 25},
        "buffered_traces": 0,
        "buffered_spans": 0,
        "downstream": {"spans_exported": 290, "spans_failed": 0, "dropped_queue_full": 4, "dropped_shutdown": 0},
    },
    "exporter0": {
        "spans_exported": 290,
        "spans_failed": 6,
        "spans_rejected": 0,
        "raw_bytes": 100_000,
        "wire_bytes": 20_000,
        "export_latency_p50_ms": 1.5,
        "export_latency_p99_ms": 9.0,
    },
}


def test_extract_reads_every_contract_key_through_the_tail_processor() -> None:
    c = extract(FULL)
    assert (c.head_kept, c.head_dropped, c.probability) == (90, 310, 0.25)
    assert (c.tail_traces_kept, c.tail_spans_kept, c.tail_buffered_spans) == (40, 300, 0)
    assert c.kept_by_policy == {"errors": 10, "latency": 5, "probabilistic": 25}
    assert (c.batch_exported, c.dropped_queue_full) == (290, 4)
    assert (c.exp_exported, c.exp_failed, c.raw_bytes, c.wire_bytes, c.p99_ms) == (290, 6, 100_000, 20_000, 9.0)


def test_extract_without_tail_reads_the_batcher_as_processor0() -> None:
    c = extract({"processor0": {"spans_exported": 7, "dropped_queue_full": 1}})
    assert (c.batch_exported, c.dropped_queue_full, c.tail_traces_kept) == (7, 1, None)


@pytest.mark.parametrize("stats", [{}, {"sampler": "weird", "processor0": None}, {"spans_created": True}])
def test_missing_or_malformed_keys_become_none(stats: dict[str, Any]) -> None:
    assert extract(stats) == Counts()


def test_combine_sums_counters_and_keeps_the_worst_latency() -> None:
    a = extract(FULL)
    b = extract({"spans_created": 5, "exporter0": {"export_latency_p99_ms": 20.0}, "processor0": {"traces_kept": 1, "kept_by_policy": {"errors": 1}}})
    c = combine([a, b])
    assert (c.spans_created, c.p99_ms, c.p50_ms) == (1005, 20.0, 1.5)
    assert c.kept_by_policy["errors"] == 11


def test_totals_prefer_the_receiver_and_name_each_drop_reason() -> None:
    t = totals(extract(FULL), {"spans": 290, "raw_bytes": 1, "wire_bytes": 1}, final=True)
    assert t.exported == 290 and t.expected == 300
    assert t.dropped == {"queue full": 4, "export failed": 6}
    assert t.dropped_total == 10
    assert t.ratio == 5.0  # the exporter's own byte counts win


def test_final_totals_report_spans_that_vanished_as_lost() -> None:
    counts = extract({"spans_sampled": 100})
    assert totals(counts, {"spans": 90}, final=True).dropped == {"lost": 10}
    assert totals(counts, {"spans": 90}).dropped == {}  # still in flight while running
    clean = totals(counts, {"spans": 100, "raw_bytes": 800, "wire_bytes": 100}, final=True)
    assert (clean.dropped_total, clean.ratio) == (0, 8.0)


def test_nothing_known_stays_unknown() -> None:
    t = totals(Counts(), None, final=True)
    assert (t.exported, t.dropped_total, t.ratio) == (None, None, None)


def test_export_requests_come_from_the_receiver_else_the_exporter() -> None:
    counts = extract({"exporter0": {"spans_exported": 290, "requests": 30}})
    assert counts.exp_requests == 30
    assert totals(counts, {"spans": 290, "requests": 29}).requests == 29
    assert totals(counts, None).requests == 30
    assert totals(Counts(), None).requests is None
    assert totals(counts, {"spans": 290, "traces": 120}).traces == 120


def test_combine_keeps_the_probability_range_of_several_servers() -> None:
    c = combine([extract({"sampler": {"probability": 0.25}}), extract({"sampler": {"probability": 1.0}})])
    assert (c.probability_min, c.probability) == (0.25, 1.0)


def test_liveroom_counts_kafka_messages_only_over_kafka() -> None:
    room = {"published": 40, "consumed": 39, "polls": 7, "transport": "kafka"}
    c = combine([extract(FULL), extract(room)])
    assert (c.messages_published, c.messages_consumed, c.consumer_polls) == (40, 39, 7)
    local = extract({**room, "transport": "in-process"})  # no Kafka: nothing was published to it
    assert (local.messages_published, local.messages_consumed) == (None, None)
    assert extract(FULL).consumer_polls is None


def test_totals_take_spans_per_service_from_the_receiver() -> None:
    rx = {"spans": 10, "services": {"example-api": 4, "example-liveroom": 6, "bad": "x"}}
    assert totals(Counts(), rx).by_service == {"example-api": 4.0, "example-liveroom": 6.0}
    assert totals(Counts(), None).by_service == {}
