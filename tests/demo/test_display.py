"""What the demo shows: '-' for what nobody reported, drop reasons, the comparison ratios."""

from __future__ import annotations

import io

from rich.console import Console

from otelkit.demo.display import Display, RunResult, Snapshot, live_rows, summary_rows, summary_table
from otelkit.demo.loadgen import LoadStats
from otelkit.demo.metrics import Counts, Totals


def _snap(mode: str = "otelkit", *, cpu: float | None = 2.0, exported: float | None = 1000, wire: float | None = 50_000) -> Snapshot:
    load = LoadStats(requests=4000, by_status={200: 3990, 500: 10})
    counts = Counts(spans_created=5000, spans_sampled=1000)
    totals = Totals(exported=exported, expected=1000, dropped={}, raw_bytes=400_000, wire_bytes=wire)
    return Snapshot(mode, 20.0, 20.0, load, 200.0, counts, totals, cpu)


def test_unreported_values_show_a_dash() -> None:
    rows = dict(live_rows(_snap()))
    assert rows["tail-kept by policy"] == "-"
    assert rows["export latency p50 / p99"] == "- / - ms"
    assert rows["requests (5xx)"] == "4,000 (10)"
    assert rows["compression ratio"] == "8.00x"


def test_dropped_lists_each_reason() -> None:
    snap = _snap()
    snap.totals.dropped.update({"queue full": 3, "lost": 2})
    assert dict(live_rows(snap))["spans dropped"] == "5 (lost 2, queue full 3)"


def test_summary_derives_per_request_and_per_span_costs() -> None:
    rows = dict(summary_rows(RunResult(_snap())))
    assert rows["CPU per request (ms)"] == "0.500"
    assert rows["CPU per exported span (us)"] == "2,000.0"
    assert rows["wire bytes per span"] == "50.0"
    assert rows["spans dropped"] == "0"
    unknown = dict(summary_rows(RunResult(_snap(cpu=None, exported=None))))
    assert unknown["CPU per request (ms)"] == "-" and unknown["spans dropped"] == "-"


def test_compare_table_has_both_columns_and_ratios() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)
    console.print(summary_table([RunResult(_snap("otelkit", cpu=1.0)), RunResult(_snap("stock", cpu=4.0, wire=100_000))]))
    text = out.getvalue()
    assert "otelkit" in text and "stock" in text
    assert "CPU per request, otelkit/stock" in text and "0.25x" in text
    assert "CPU per exported trace, otelkit/stock" in text
    assert "wire bytes per span, otelkit/stock" not in text  # spans per trace differ: not comparable


def test_non_terminal_output_is_plain_periodic_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)
    with Display(console, line_interval=3600) as display:
        display.update(_snap())
        display.update(_snap())  # within the interval: not printed
        display.update(_snap(), force=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[otelkit] 20.0 / 20 s  req 4,000 (10)")
    assert "\x1b" not in out.getvalue()


def test_sampling_rows_show_head_decisions_and_tail_policies() -> None:
    snap = _snap()
    snap.counts.head_kept, snap.counts.head_dropped, snap.counts.probability = 250.0, 750.0, 0.25
    snap.counts.tail_traces_kept, snap.counts.tail_traces_dropped = 40.0, 210.0
    snap.counts.kept_by_policy = {"slow": 4.0, "errors": 6.0, "probabilistic": 30.0}
    rows = dict(live_rows(snap))
    assert rows["head probability"] == "0.25"
    assert rows["tail traces"] == "40 kept / 210 dropped"
    assert rows["tail-kept by policy"] == "errors 6, probabilistic 30, slow 4"
    assert dict(summary_rows(RunResult(snap)))["tail-kept by policy"] == rows["tail-kept by policy"]


def test_batch_size_is_shown_next_to_compression() -> None:
    a, b = _snap("otelkit", wire=60_000), _snap("stock", wire=20_000)
    a.totals.requests, b.totals.requests = 80.0, 4.0
    rows = dict(summary_rows(RunResult(a)))
    assert rows["export requests (spans each)"] == "80 (12.5)"
    assert dict(live_rows(b))["export requests (spans each)"] == "4 (250.0)"
    assert dict(summary_rows(RunResult(_snap())))["export requests (spans each)"] == "-"
    out = io.StringIO()
    Console(file=out, width=200).print(summary_table([RunResult(a), RunResult(b)]))
    assert "spans per export request, otelkit/stock" in out.getvalue() and "0.05x" in out.getvalue()


def test_traces_exported_and_wire_bytes_per_trace() -> None:
    a, b = _snap("otelkit", wire=60_000), _snap("stock", wire=90_000)
    a.totals.traces, b.totals.traces = 600.0, 300.0
    rows = dict(summary_rows(RunResult(a)))
    assert (rows["traces exported"], rows["wire bytes per trace"]) == ("600", "100.0")
    assert dict(summary_rows(RunResult(_snap())))["wire bytes per trace"] == "-"
    out = io.StringIO()
    Console(file=out, width=200).print(summary_table([RunResult(a), RunResult(b)]))
    assert "wire bytes per trace, otelkit/stock" in out.getvalue() and "0.33x" in out.getvalue()


def test_head_probability_of_several_servers_shows_the_range() -> None:
    snap = _snap()
    snap.counts.head_kept, snap.counts.head_dropped = 250.0, 750.0
    snap.counts.probability, snap.counts.probability_min = 1.0, 0.25
    assert dict(live_rows(snap))["head probability"] == "0.25-1"


def test_trace_account_closes_with_the_tail_counts() -> None:
    snap = _snap()  # 4,000 requests
    snap.counts.tail_traces_kept, snap.counts.tail_traces_dropped = 1000.0, 3000.0
    snap.counts.dropped_by_policy = {"no_match": 2990.0, "evicted": 10.0}
    snap.totals.traces = 995.0
    rows = dict(summary_rows(RunResult(snap)))
    assert rows["traces started (1 per request)"] == "4,000"
    assert rows["traces sampled out"] == "2,990"  # evictions are losses, not sampling
    assert rows["traces lost"] == "15"  # 5 kept but never arrived + 10 evicted
    assert rows["traces unaccounted"] == "0"


def test_without_tail_sampled_out_is_derived_from_the_sampled_roots() -> None:
    snap = _snap("stock")
    snap.counts.roots_sampled = 1000.0
    snap.totals.traces = 990.0
    rows = dict(summary_rows(RunResult(snap)))
    assert rows["traces sampled out"] == "3,000 (started - kept)"
    assert (rows["traces lost"], rows["traces unaccounted"]) == ("10", "0")
    missing = dict(summary_rows(RunResult(_snap("stock"))))
    assert missing["traces sampled out"] == "-" and missing["traces unaccounted"] == "-"


def test_liveroom_rows_and_its_traces_started() -> None:
    snap = _snap()  # 4,000 requests
    snap.load.ws_connections, snap.load.ws_sent, snap.load.ws_received, snap.load.room_requests = 12, 400, 1200, 28
    snap.counts.messages_published, snap.counts.messages_consumed, snap.counts.consumer_polls = 400.0, 399.0, 50.0
    snap.totals.by_service = {"example-api": 700.0, "example-liveroom": 1300.0, "": 1.0}
    rows = dict(summary_rows(RunResult(snap)))
    assert rows["live-room requests"] == "28"
    assert rows["ws messages sent / received"] == "400 / 1,200"
    assert rows["Kafka published / consumed"] == "400 / 399"
    assert rows["spans received by service"] == "(unnamed) 1, example-api 700, example-liveroom 1,300"
    # a trace per request, message, connection and non-empty consumer fetch
    assert rows["traces started (1 per request, ws message, ws connection, poll)"] == "4,462"
    snap.counts.messages_published = snap.counts.messages_consumed = None  # in-process, no Kafka
    assert dict(summary_rows(RunResult(snap)))["Kafka published / consumed"] == "- / -"
    assert "live-room requests" not in dict(summary_rows(RunResult(_snap())))
