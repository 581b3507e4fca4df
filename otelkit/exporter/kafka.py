"""OTLP over Kafka: ``KafkaSpanExporter`` writes spans as ``ExportTraceServiceRequest`` messages.

Each message value is the protobuf encoding of one ``ExportTraceServiceRequest`` (the
``otlp_proto`` encoding the OpenTelemetry Collector's kafka receiver reads by default),
produced by :class:`otelkit.exporter.encoder.SpanEncoder` (or assembled from spans encoded at
``on_end``: ``export_encoded``). With keying ``trace`` (the
default) an export batch is split into **one message per trace**, keyed by the trace ID as
32 lower-case hex characters, exactly what the Collector's kafka exporter writes with
``partition_traces_by_id: true``; Kafka's key partitioner then puts every span of a trace on
the same partition, so a downstream tail sampler sees whole traces. Keying ``none`` sends the
whole batch as one unkeyed message.

The exporter is built for ``OTEL_TRACES_EXPORTER=otelkit_kafka``: constructible with no
arguments, it reads ``OTELKIT_KAFKA_*`` (see :mod:`otelkit.config`); explicit arguments win.
``export`` waits for broker acknowledgements at most ``timeout_ms``, counts every span as
exported or failed from the per-message delivery reports, and never raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit import config
from otelkit._warn import warn_limited
from otelkit.exporter._encoded import EncodedSpan, encode_each, encode_request
from otelkit.exporter._kafka_client import (
    ConfluentProducer,
    DeliveryCallback,
    MessageProducer,
    parse_properties,
)
from otelkit.exporter._stats import ExportStats

__all__ = ["KafkaSpanExporter", "MessageProducer", "ConfluentProducer", "trace_key"]

_logger = logging.getLogger("otelkit.exporter.kafka")

_POLL_SLICE_S = 0.05


def trace_key(trace_id: int) -> bytes:
    """The message key of a trace: its ID as 32 lower-case hex digits, ASCII-encoded."""
    return format(trace_id, "032x").encode("ascii")


class _Call:
    """Outstanding messages of one export call; ``done`` is set when none remain.

    ``pending`` starts at 1, a token for "still queueing", released by :meth:`queued`: a
    message acknowledged while later ones are still being queued cannot end the wait early.

    Statistics are summed here while ``export()`` runs and handed to :class:`ExportStats`
    once per call (one metric update per outcome, not per message: with one message per
    trace, per-message updates nearly doubled the export CPU under an SDK meter provider).
    Delivery reports arriving after ``export()`` returned are reported on their own.
    """

    __slots__ = ("pending", "failed", "done", "lock", "open", "messages", "raw", "wire", "outcomes")

    def __init__(self) -> None:
        self.pending = 1
        self.failed = False
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.open = True
        self.messages = self.raw = self.wire = 0  # touched by the exporting thread only
        self.outcomes: dict[str, int] = {}  # spans by outcome: "" exported, else the error type

    def add_outcome(self, n_spans: int, error: str) -> bool:
        """Sum ``n_spans`` under ``error`` ("" = exported); False once the call is closed."""
        with self.lock:
            if self.open:
                self.outcomes[error] = self.outcomes.get(error, 0) + n_spans
            return self.open

    def close(self) -> dict[str, int]:
        """Stop summing; the outcomes summed so far."""
        with self.lock:
            self.open = False
            return self.outcomes

    def queued(self) -> None:
        with self.lock:
            self.pending -= 1
            if self.pending <= 0:
                self.done.set()


class KafkaSpanExporter(SpanExporter):
    """Export spans to a Kafka topic as OTLP protobuf messages.

    Args:
        bootstrap_servers: brokers, ``host:port[,...]``. Default ``OTELKIT_KAFKA_BOOTSTRAP_SERVERS``
            (``localhost:9092``).
        topic: destination topic. Default ``OTELKIT_KAFKA_TOPIC`` (``otlp_spans``).
        compression: Kafka record-batch compression, one of ``none``, ``gzip``, ``snappy``,
            ``lz4``, ``zstd``. Default ``OTELKIT_KAFKA_COMPRESSION`` (``zstd``).
        keying: ``trace`` (one message per trace, key = hex trace ID) or ``none`` (one unkeyed
            message per batch). Default ``OTELKIT_KAFKA_KEYING`` (``trace``).
        timeout_ms: longest one ``export`` waits for acknowledgements, and the shutdown flush
            bound (milliseconds). Default ``OTELKIT_KAFKA_TIMEOUT_MS`` (10000).
        producer_config: extra librdkafka properties for the default producer. Default parsed
            from ``OTELKIT_KAFKA_PRODUCER_CONFIG``.
        producer: any :class:`MessageProducer`; when given, the connection settings above are
            not used. Default: a :class:`ConfluentProducer` (needs ``otelkit[kafka]``).
        meter_provider: provider for the self-metrics (``OTELKIT_SELF_METRICS``); default global.
        environ: environment mapping to read (default ``os.environ``).
        clock: monotonic clock in seconds (for tests).

    Raises:
        ValueError: a bad explicit argument (unknown compression or keying, timeout < 1 ms,
            empty topic).
    """

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        topic: str | None = None,
        compression: str | None = None,
        keying: str | None = None,
        timeout_ms: int | None = None,
        producer_config: Mapping[str, str] | None = None,
        producer: MessageProducer | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        meter_provider: Any = None,
    ) -> None:
        if compression is not None and compression not in config.KAFKA_COMPRESSIONS:
            raise ValueError(
                f"compression={compression!r} is invalid: expected one of "
                + ", ".join(config.KAFKA_COMPRESSIONS)
            )
        if keying is not None and keying not in ("trace", "none"):
            raise ValueError(f"keying={keying!r} is invalid: expected 'trace' or 'none'")
        if timeout_ms is not None and timeout_ms < 1:
            raise ValueError(f"timeout_ms={timeout_ms!r} is invalid: expected an integer >= 1")
        if topic is not None and not topic:
            raise ValueError("topic='' is invalid: expected a Kafka topic name")
        self.topic = config.OTELKIT_KAFKA_TOPIC.resolve(topic, environ)
        self.keying = config.OTELKIT_KAFKA_KEYING.resolve(keying, environ)
        self.timeout_s = config.OTELKIT_KAFKA_TIMEOUT_MS.resolve(timeout_ms, environ) / 1000.0
        if producer is None:
            producer = ConfluentProducer(
                config.OTELKIT_KAFKA_BOOTSTRAP_SERVERS.resolve(bootstrap_servers, environ),
                config.OTELKIT_KAFKA_COMPRESSION.resolve(compression, environ),
                int(self.timeout_s * 1000),
                self._extra_properties(producer_config, environ),
            )
        self._producer = producer
        self._clock = clock
        self._shutdown = False
        self._stats = ExportStats(
            self.topic, config.OTELKIT_SELF_METRICS.get(environ), meter_provider,
            component_type="otelkit_kafka_span_exporter",
        )

    @staticmethod
    def _extra_properties(
        explicit: Mapping[str, str] | None, environ: Mapping[str, str] | None
    ) -> dict[str, str]:
        if explicit is not None:
            return dict(explicit)
        raw = config.OTELKIT_KAFKA_PRODUCER_CONFIG.get(environ)
        try:
            return parse_properties(raw)
        except ValueError as exc:
            warn_limited(_logger, "kafka-producer-config", "OTELKIT_KAFKA_PRODUCER_CONFIG: %s; ignoring it", exc)
            return {}

    # ------------------------------------------------------------------ export

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send ``spans``; SUCCESS only when every span was encoded and every message was
        acknowledged within the timeout. A span that cannot be encoded fails alone."""
        encoded, failed = encode_each(spans)
        if failed:
            self._stats.spans(failed=failed, error="encode")
        result = self.export_encoded(encoded)
        return SpanExportResult.FAILURE if failed else result

    def export_encoded(self, spans: Sequence[EncodedSpan]) -> SpanExportResult:
        """Send spans encoded at ``on_end`` (:mod:`otelkit.exporter._encoded`), one message
        per trace (or per batch with keying ``none``) assembled by concatenation. Same
        acknowledgement wait, stats and result as :meth:`export`."""
        if not spans:
            return SpanExportResult.SUCCESS
        if self._shutdown:
            self._stats.spans(failed=len(spans), error="shutdown")
            return SpanExportResult.FAILURE
        start = self._clock()
        deadline = start + self.timeout_s
        self._stats.begin(len(spans))
        call = _Call()
        handled = 0  # spans already accounted for (by a delivery report or as failed)
        try:
            for key, group in self._groups(spans):
                self._send_group(call, key, group)
                handled += len(group)
            call.queued()
            self._wait(call, deadline)
        except Exception as exc:  # noqa: BLE001 - export must never raise into the processor
            _logger.debug("Kafka export failed unexpectedly", exc_info=True)
            self._stats.spans(failed=len(spans) - handled, error=type(exc).__name__)
            call.failed = True
        with call.lock:
            ok = not call.failed and call.pending == 0
        self._flush_stats(call)
        self._stats.end(len(spans))
        self._stats.latency(self._clock() - start, ok)
        if not ok:
            warn_limited(_logger, "kafka-export-failed", "Kafka span export to %r failed or timed out", self.topic)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def _groups(self, spans: Sequence[EncodedSpan]) -> list[tuple[bytes | None, list[EncodedSpan]]]:
        if self.keying == "none":
            return [(None, list(spans))]
        by_trace: dict[int, list[EncodedSpan]] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)
        return [(trace_key(tid), group) for tid, group in by_trace.items()]

    def _send_group(self, call: _Call, key: bytes | None, group: list[EncodedSpan]) -> None:
        try:
            value = encode_request(group)
        except Exception:  # noqa: BLE001 - one unencodable trace must not lose the others
            _logger.debug("encoding %d spans failed", len(group), exc_info=True)
            self._stats.spans(failed=len(group), error="encode")
            call.failed = True
            return
        with call.lock:
            call.pending += 1
        try:
            self._producer.send(self.topic, key, value, self._on_done(call, len(group)))
        except Exception as exc:  # noqa: BLE001 - queue full, message too large, closed client
            with call.lock:
                call.pending -= 1
                call.failed = True
            self._stats.spans(failed=len(group), error=type(exc).__name__)
            warn_limited(_logger, "kafka-send", "Kafka producer refused a message: %s", exc)
            return
        call.messages += 1
        call.raw += len(value)
        call.wire += len(value) + (len(key) if key else 0)

    def _flush_stats(self, call: _Call) -> None:
        if call.messages:
            self._stats.request(call.raw, call.wire, retry=False, count=call.messages)
        for error, n_spans in call.close().items():
            if error:
                self._stats.spans(failed=n_spans, error=error)
            else:
                self._stats.spans(exported=n_spans)

    def _on_done(self, call: _Call, n_spans: int) -> DeliveryCallback:
        def done(err: BaseException | None) -> None:
            error = "" if err is None else type(err).__name__
            if not call.add_outcome(n_spans, error):  # late report: export() already returned
                self._stats.spans(exported=0 if err else n_spans, failed=n_spans if err else 0, error=error)
            if err is not None:
                warn_limited(_logger, "kafka-delivery", "Kafka delivery failed: %s", err)
            with call.lock:
                call.pending -= 1
                if err is not None:
                    call.failed = True
                if call.pending <= 0:
                    call.done.set()

        return done

    def _wait(self, call: _Call, deadline: float) -> None:
        while not call.done.is_set():
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            self._producer.poll(min(remaining, _POLL_SLICE_S))

    # --------------------------------------------------------------- lifecycle

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait up to ``timeout_millis`` for every queued message; True when none remain."""
        try:
            return self._producer.flush(timeout_millis / 1000.0) == 0
        except Exception:  # noqa: BLE001
            _logger.debug("Kafka flush failed", exc_info=True)
            return False

    def shutdown(self) -> None:
        """Flush for at most ``timeout_ms``, then release the client; later exports fail fast."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            left = self._producer.flush(self.timeout_s)
            if left:
                warn_limited(_logger, "kafka-shutdown", "%d Kafka messages were not acknowledged at shutdown", left)
            self._producer.close()
        except Exception:  # noqa: BLE001
            _logger.debug("Kafka producer shutdown failed", exc_info=True)

    # ------------------------------------------------------------------- stats

    def stats(self) -> dict[str, Any]:
        """Counters since start, with the same keys as the OTLP/HTTP exporter's.

        See :mod:`otelkit.exporter._stats`. Here ``requests`` counts messages handed to the
        Kafka client, ``raw_bytes`` the encoded OTLP bytes and ``wire_bytes`` the key + value
        bytes, *before* Kafka's record-batch compression (which happens inside the client and
        is not observable per message); ``retries`` and ``spans_rejected`` stay 0.
        """
        return self._stats.snapshot()
