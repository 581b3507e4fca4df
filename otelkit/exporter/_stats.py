"""Export statistics: a thread-safe snapshot (``stats()``) and, optionally, OTel metrics.

Shared by every otelkit span exporter (OTLP/HTTP and Kafka), so both report the same
snapshot keys and metric names. A "request" is one HTTP attempt or one Kafka message; the
Kafka exporter never retries itself (its client does, invisibly), so its ``retries`` and
``spans_rejected`` stay 0.

Snapshot keys: ``spans_exported``, ``spans_failed``, ``spans_rejected``, ``spans_spooled``, ``requests``,
``retries``, ``raw_bytes`` (encoded, before compression), ``wire_bytes`` (sent),
``export_latency_p50_ms`` and ``export_latency_p99_ms`` (over the last 1024 ``export()``
calls). Every span handed to ``export()`` ends up in exactly one of exported, failed,
rejected (the receiver's ``partial_success.rejected_spans``) or spooled (written to the disk
spool for later delivery, see ``docs/spool.md``).

With ``OTELKIT_SELF_METRICS`` on, the same events feed the metrics API with the SDK's own
exporter metrics (names, units, descriptions and attributes of
``opentelemetry.exporter.otlp.common._exporter_metrics``): ``otel.sdk.exporter.span.exported``
(counter; failures carry ``error.type``, receiver rejections ``error.type=rejected``),
``otel.sdk.exporter.span.inflight`` (up-down counter) and
``otel.sdk.exporter.operation.duration`` (histogram, seconds), plus otelkit counters
``otelkit.exporter.requests``, ``otelkit.exporter.retries``, ``otelkit.exporter.raw_bytes``
and ``otelkit.exporter.wire_bytes``. Attributes: ``otel.component.type`` (the OTLP/HTTP
exporter uses the SDK's ``otlp_http_span_exporter``, so stock dashboards see it; the Kafka
exporter, which has no stock type, ``otelkit_kafka_span_exporter``), ``otel.component.name``
and, when the exporter has an endpoint, ``server.address``/``server.port``.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import metrics
from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
    OtelComponentTypeValues,
)
from opentelemetry.semconv._incubating.metrics.otel_metrics import (
    create_otel_sdk_exporter_operation_duration,
    create_otel_sdk_exporter_span_exported,
    create_otel_sdk_exporter_span_inflight,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

from otelkit._fork import after_fork

__all__ = ["ExportStats", "OTLP_HTTP_TYPE", "KAFKA_TYPE", "server_attributes"]

_RESERVOIR = 1024

OTLP_HTTP_TYPE = OtelComponentTypeValues.OTLP_HTTP_SPAN_EXPORTER.value
"""``otel.component.type`` of the OTLP/HTTP exporter: the SDK's value."""
KAFKA_TYPE = "otelkit_kafka_span_exporter"
"""``otel.component.type`` of the Kafka exporter (semconv has no Kafka exporter type)."""

_names = itertools.count()


def server_attributes(endpoint: str) -> dict[str, Any]:
    """``server.address``/``server.port`` of an endpoint URL, derived as the SDK's exporter
    metrics do (port 443 for https and 80 for http when the URL has none); {} if unparsable."""
    try:
        parts = urlsplit(endpoint if "://" in endpoint or endpoint.startswith("//") else f"//{endpoint}")
        port = parts.port
    except ValueError:
        return {}
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    out: dict[str, Any] = {}
    if parts.hostname:
        out[SERVER_ADDRESS] = parts.hostname
    if port is not None:
        out[SERVER_PORT] = port
    return out


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index]


class ExportStats:
    """Counters for one exporter.

    Args:
        component: ``otel.component.name`` attribute of the metrics; None: the stock format
            ``<component_type>/otelkit-<n>`` (distinct from the SDK's ``<type>/<n>``).
        self_metrics: also report through the OpenTelemetry metrics API.
        meter_provider: provider of the meter; default the global one.
        component_type: ``otel.component.type`` attribute of the metrics (the exporter
            kind); default ``otlp_http_span_exporter`` (the SDK's value).
        endpoint: URL the exporter sends to; gives ``server.address``/``server.port``.
    """

    def __init__(
        self,
        component: str | None,
        self_metrics: bool,
        meter_provider: Any = None,
        component_type: str = OTLP_HTTP_TYPE,
        endpoint: str | None = None,
    ) -> None:
        self._lock = threading.Lock()
        after_fork(self._after_fork)
        self._counts = dict.fromkeys(
            ("spans_exported", "spans_failed", "spans_rejected", "spans_spooled", "requests", "retries", "raw_bytes",
             "wire_bytes"), 0
        )
        self._latencies: deque[float] = deque(maxlen=_RESERVOIR)
        name = component if component is not None else f"{component_type}/otelkit-{next(_names)}"
        self._attrs: dict[str, Any] = {OTEL_COMPONENT_TYPE: component_type, OTEL_COMPONENT_NAME: name}
        if endpoint:
            self._attrs.update(server_attributes(endpoint))
        self._cause = threading.local()  # last failure cause per exporting thread (for the duration)
        self._instruments: dict[str, Any] | None = None
        self._meter: Any = None
        if self_metrics:
            meter = self._meter = metrics.get_meter("otelkit.exporter", meter_provider=meter_provider)
            self._instruments = {
                "spans": create_otel_sdk_exporter_span_exported(meter),
                "inflight": create_otel_sdk_exporter_span_inflight(meter),
                "duration": create_otel_sdk_exporter_operation_duration(meter),
                "requests": meter.create_counter(
                    "otelkit.exporter.requests", "{request}", "Requests sent (HTTP attempts or Kafka messages)"
                ),
                "retries": meter.create_counter("otelkit.exporter.retries", "{request}", "Retried requests"),
                "raw_bytes": meter.create_counter("otelkit.exporter.raw_bytes", "By", "Encoded bytes"),
                "wire_bytes": meter.create_counter("otelkit.exporter.wire_bytes", "By", "Bytes sent"),
            }

    @property
    def attributes(self) -> dict[str, Any]:
        """The attributes every metric point of this exporter carries."""
        return dict(self._attrs)

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
                self._cause.error = error or "export_failed"
                inst["spans"].add(failed, {**self._attrs, ERROR_TYPE: self._cause.error})
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
    def begin(self, spans: int) -> None:
        """``spans`` were handed to ``export()``: in flight until :meth:`end`."""
        inst = self._instruments
        if inst is not None and spans:
            inst["inflight"].add(spans, self._attrs)

    def end(self, spans: int) -> None:
        """The ``export()`` that :meth:`begin` counted concluded (whatever its outcome)."""
        inst = self._instruments
        if inst is not None and spans:
            inst["inflight"].add(-spans, self._attrs)

    def latency(self, seconds: float, ok: bool) -> None:
        """One ``export()`` call took ``seconds``. Call it on the thread that ran the export: a
        failed call's ``error.type`` is the last failure cause that thread reported through
        :meth:`spans` (``export_failed`` if none), with ``http.response.status_code`` for an
        HTTP status, as the SDK records them."""
        with self._lock:
            self._latencies.append(seconds * 1000.0)
        inst = self._instruments
        if inst is not None:
            cause = getattr(self._cause, "error", None) or "export_failed"
            self._cause.error = None
            attrs = self._attrs if ok else {**self._attrs, ERROR_TYPE: cause}
            if not ok and cause.startswith("http_") and cause[5:].isdigit():
                attrs[HTTP_RESPONSE_STATUS_CODE] = int(cause[5:])
            inst["duration"].record(seconds, attrs)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            lat = sorted(self._latencies)
        out["export_latency_p50_ms"] = _percentile(lat, 0.5)
        out["export_latency_p99_ms"] = _percentile(lat, 0.99)
        return out
