"""Export statistics: a thread-safe snapshot (``stats()``) and, optionally, OTel metrics.

Shared by every otelkit span exporter (OTLP/HTTP and Kafka), so both report the same
snapshot keys and metric names; the ``otel.component.type`` attribute tells them apart
(``otelkit_otlp_http_span_exporter``, ``otelkit_kafka_span_exporter``). A "request" is one
HTTP attempt or one Kafka message; the Kafka exporter never retries itself (its client
does, invisibly), so its ``retries`` and ``spans_rejected`` stay 0.

Snapshot keys: ``spans_exported``, ``spans_failed``, ``spans_rejected``, ``spans_spooled``, ``requests``,
``retries``, ``raw_bytes`` (encoded, before compression), ``wire_bytes`` (sent),
``export_latency_p50_ms`` and ``export_latency_p99_ms`` (over the last 1024 ``export()``
calls). Every span handed to ``export()`` ends up in exactly one of exported, failed,
rejected (the receiver's ``partial_success.rejected_spans``) or spooled (written to the disk
spool for later delivery, see ``docs/spool.md``).

With ``OTELKIT_SELF_METRICS`` on, the same events feed the metrics API:
``otel.sdk.exporter.span.exported`` (counter; failures carry ``error.type``),
``otel.sdk.exporter.operation.duration`` (histogram, seconds) and otelkit counters
``otelkit.exporter.requests``, ``otelkit.exporter.retries``, ``otelkit.exporter.raw_bytes``
and ``otelkit.exporter.wire_bytes``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics
from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit._fork import after_fork

__all__ = ["ExportStats"]

_RESERVOIR = 1024


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index]


class ExportStats:
    """Counters for one exporter.

    Args:
        component: ``otel.component.name`` attribute of the metrics.
        self_metrics: also report through the OpenTelemetry metrics API.
        meter_provider: provider of the meter; default the global one.
        component_type: ``otel.component.type`` attribute of the metrics (the exporter
            kind); default ``otelkit_otlp_http_span_exporter``.
    """

    def __init__(
        self,
        component: str,
        self_metrics: bool,
        meter_provider: Any = None,
        component_type: str = "otelkit_otlp_http_span_exporter",
    ) -> None:
        self._lock = threading.Lock()
        after_fork(self._after_fork)
        self._counts = dict.fromkeys(
            ("spans_exported", "spans_failed", "spans_rejected", "spans_spooled", "requests", "retries", "raw_bytes",
             "wire_bytes"), 0
        )
        self._latencies: deque[float] = deque(maxlen=_RESERVOIR)
        self._attrs = {OTEL_COMPONENT_TYPE: component_type, OTEL_COMPONENT_NAME: component}
        self._instruments: dict[str, Any] | None = None
        self._meter: Any = None
        if self_metrics:
            meter = self._meter = metrics.get_meter("otelkit.exporter", meter_provider=meter_provider)
            self._instruments = {
                "spans": meter.create_counter("otel.sdk.exporter.span.exported", "{span}", "Spans handled"),
                "duration": meter.create_histogram(
                    "otel.sdk.exporter.operation.duration", "s", "Duration of export() calls"
                ),
                "requests": meter.create_counter(
                    "otelkit.exporter.requests", "{request}", "Requests sent (HTTP attempts or Kafka messages)"
                ),
                "retries": meter.create_counter("otelkit.exporter.retries", "{request}", "Retried requests"),
                "raw_bytes": meter.create_counter("otelkit.exporter.raw_bytes", "By", "Encoded bytes"),
                "wire_bytes": meter.create_counter("otelkit.exporter.wire_bytes", "By", "Bytes sent"),
            }


    def _after_fork(self) -> None:
        """In a forked child: a fresh lock (another thread may have held it at fork time) and
        zero counts, so the child reports its own exports, not the parent's."""
        self._lock = threading.Lock()
        for key in self._counts:
            self._counts[key] = 0
        self._latencies.clear()

    def request(self, raw: int, wire: int, retry: bool, count: int = 1) -> None:
        """``count`` requests (HTTP attempts or Kafka messages, default 1) carrying ``raw``
        encoded / ``wire`` sent bytes in total; ``retry``: they were all retries."""
        with self._lock:
            c = self._counts
            c["requests"] += count
            c["raw_bytes"] += raw
            c["wire_bytes"] += wire
            if retry:
                c["retries"] += count
        inst = self._instruments
        if inst is not None:
            inst["requests"].add(count, self._attrs)
            inst["raw_bytes"].add(raw, self._attrs)
            inst["wire_bytes"].add(wire, self._attrs)
            if retry:
                inst["retries"].add(count, self._attrs)

    def spans(self, exported: int = 0, failed: int = 0, rejected: int = 0, error: str = "", spooled: int = 0) -> None:
        """Account spans by outcome (``spooled``: written to the disk spool for later delivery)."""
        with self._lock:
            self._counts["spans_exported"] += exported
            self._counts["spans_failed"] += failed
            self._counts["spans_rejected"] += rejected
            self._counts["spans_spooled"] += spooled
        inst = self._instruments
        if inst is not None:
            if exported:
                inst["spans"].add(exported, self._attrs)
            if failed:
                inst["spans"].add(failed, {**self._attrs, ERROR_TYPE: error or "export_failed"})
            if rejected:
                inst["spans"].add(rejected, {**self._attrs, ERROR_TYPE: "rejected"})

    def observe_spool(self, snapshot: Callable[[], dict[str, int]]) -> None:
        """Report a spool's counts as metrics: ``otelkit.exporter.spool.spans`` (observable
        counter by ``otelkit.spool.outcome``: spooled, replayed, expired, dropped, full),
        ``otelkit.exporter.spool.corrupt`` (records skipped) and ``otelkit.exporter.spool.size``
        (bytes on disk). Read at each collection, so they are exact."""
        if self._meter is None:
            return
        attrs = self._attrs

        def spans(_options: Any) -> list[metrics.Observation]:
            snap = snapshot()
            return [metrics.Observation(snap[f"{k}_spans"], {**attrs, "otelkit.spool.outcome": k})
                    for k in ("spooled", "replayed", "expired", "dropped", "full")]

        self._meter.create_observable_counter("otelkit.exporter.spool.spans", [spans], "{span}", "Spans by spool outcome")
        self._meter.create_observable_counter(
            "otelkit.exporter.spool.corrupt", [lambda _o: [metrics.Observation(snapshot()["corrupt_records"], attrs)]],
            "{record}", "Corrupt or truncated spool records skipped",
        )
        self._meter.create_observable_up_down_counter(
            "otelkit.exporter.spool.size", [lambda _o: [metrics.Observation(snapshot()["bytes"], attrs)]],
            "By", "Bytes in the spool directory",
        )

    def latency(self, seconds: float, ok: bool) -> None:
        """One ``export()`` call took ``seconds``."""
        with self._lock:
            self._latencies.append(seconds * 1000.0)
        inst = self._instruments
        if inst is not None:
            attrs = self._attrs if ok else {**self._attrs, ERROR_TYPE: "export_failed"}
            inst["duration"].record(seconds, attrs)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            lat = sorted(self._latencies)
        out["export_latency_p50_ms"] = _percentile(lat, 0.5)
        out["export_latency_p99_ms"] = _percentile(lat, 0.99)
        return out
