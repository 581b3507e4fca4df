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
``export`` waits for broker acknowledgements at most ``timeout_ms`` and never raises; every
span is counted exactly once as exported, spooled or failed by
:class:`~otelkit.exporter._kafka_delivery.DeliveryLedger`, which owns the messages in flight.
``shutdown`` stops taking exports, flushes for at most ``timeout_ms``, spools what the broker
did not acknowledge, and only then closes the spool (synced).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit import config
from otelkit._warn import warn_limited
from otelkit.exporter._encoded import EncodedSpan, encode_request
from otelkit.exporter._export import export_spans
from otelkit.exporter._http_send import Outcome
from otelkit.exporter._kafka_call import KafkaCall as _Call
from otelkit.exporter._kafka_call import extra_properties, group_spans, replay_messages, trace_key
from otelkit.exporter._kafka_client import ConfluentProducer, MessageProducer
from otelkit.exporter._kafka_delivery import SHUTDOWN, DeliveryLedger
from otelkit.exporter._spool import Record
from otelkit.exporter._spool_replay import Replayer
from otelkit.exporter._spool_settings import OTELKIT_SPOOL_REPLAY_SPANS_PER_S, spool_from_env
from otelkit.exporter._stats import ExportStats

__all__ = ["KafkaSpanExporter", "MessageProducer", "ConfluentProducer", "trace_key"]

_logger = logging.getLogger("otelkit.exporter.kafka")

_POLL_SLICE_S = 0.05
_REPLAY_BATCH = 500  # spooled messages produced together on replay
_REPLAY_JOIN_S = 1.0  # longest shutdown waits for the replay thread (within its timeout)


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
        spool_dir: disk spool for messages the broker did not acknowledge (``docs/spool.md``);
            default ``OTELKIT_SPOOL_DIR`` (none).

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
        spool_dir: str | None = None,
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
                extra_properties(producer_config, environ),
            )
        self._producer = producer
        self._clock = clock
        self._shutdown = False
        self._stats = ExportStats(
            self.topic, config.OTELKIT_SELF_METRICS.get(environ), meter_provider,
            component_type="otelkit_kafka_span_exporter",
        )
        self._spool = spool_from_env("kafka", spool_dir, environ)
        self._replayer: Replayer | None = None
        if self._spool is not None:
            self._replayer = Replayer(
                self._spool, self._replay, OTELKIT_SPOOL_REPLAY_SPANS_PER_S.get(environ),
                deliver_many=self._replay_many, batch=_REPLAY_BATCH,
            )
            self._stats.observe_spool(self._spool.snapshot)
            self._replayer.start()
        self._ledger = DeliveryLedger(
            producer, self.topic, self._stats, self._spool, self._replayer,
            config.OTELKIT_KAFKA_BOOTSTRAP_SERVERS.resolve(bootstrap_servers, environ),
        )

    # ------------------------------------------------------------------ export

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send ``spans``; SUCCESS only when every span was encoded and every message was
        acknowledged within the timeout. A span that cannot be encoded fails alone.

        An empty batch is SUCCESS with nothing sent, except after :meth:`shutdown`: FAILURE,
        nothing counted (as the OTLP/HTTP exporter and the stock exporters answer).
        """
        return export_spans(spans, self._shutdown, self._stats.spans, self.export_encoded)

    def export_encoded(self, spans: Sequence[EncodedSpan]) -> SpanExportResult:
        """Send spans encoded at ``on_end`` (:mod:`otelkit.exporter._encoded`), one message
        per trace (or per batch with keying ``none``) assembled by concatenation. Same
        acknowledgement wait, stats and result as :meth:`export`."""
        if self._shutdown:
            if spans:
                self._stats.spans(failed=len(spans), error=SHUTDOWN)
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        if self._replayer is not None:
            self._replayer.start()  # no-op unless a forked child lost the thread
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
        self._ledger.finish_call(call)
        self._stats.end(len(spans))
        self._stats.latency(self._clock() - start, ok)
        if not ok:
            warn_limited(_logger, "kafka-export-failed", "Kafka span export to %r failed or timed out", self.topic)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def _groups(self, spans: Sequence[EncodedSpan]) -> list[tuple[bytes | None, list[EncodedSpan]]]:
        return group_spans(spans, self.keying)

    def _send_group(self, call: _Call, key: bytes | None, group: list[EncodedSpan]) -> None:
        try:
            value = encode_request(group)
        except Exception:  # noqa: BLE001 - one unencodable trace must not lose the others
            _logger.debug("encoding %d spans failed", len(group), exc_info=True)
            self._stats.spans(failed=len(group), error="encode")
            call.failed = True
            return
        self._ledger.send(call, key, value, len(group))

    def _replay(self, record: Record) -> Outcome:
        return self._replay_many([record])[0]

    def _replay_many(self, records: list[Record]) -> list[Outcome]:
        """Produce spooled messages again and wait for their acknowledgements (replay thread)."""
        outcomes = replay_messages(self._producer, self.topic, records, self.timeout_s + 1.0, self._clock)
        done = [r for r, o in zip(records, outcomes, strict=True) if o.ok]
        if done:
            raw = sum(len(r.body) for r in done)
            self._stats.request(raw, raw + sum(len(r.key or b"") for r in done), retry=True, count=len(done))
        return outcomes

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
        """Stop taking exports, flush for at most ``timeout_ms``, spool what the broker did
        not acknowledge (without a spool: count it failed, ``shutdown_timeout``), then close
        the spool, synced, so the next process can replay it. Later exports fail fast."""
        if self._shutdown:
            return
        self._shutdown = True
        deadline = self._clock() + self.timeout_s
        replayer = self._replayer
        if replayer is not None:
            replayer.stop(0.0)  # no new replay batch; the thread is joined after the flush
        try:  # a delivery that fails now is spooled: the spool is still open
            self._producer.flush(max(0.0, deadline - self._clock()))
        except Exception:  # noqa: BLE001
            _logger.debug("Kafka producer flush failed", exc_info=True)
        if replayer is not None:  # its poll may serve live reports too: let it end first
            replayer.stop(min(_REPLAY_JOIN_S, max(0.0, deadline - self._clock())))
        left = self._ledger.close()
        if left:
            warn_limited(_logger, "kafka-shutdown", "%d Kafka messages were not acknowledged at shutdown; %s", left,
                         "spooled" if self._spool is not None else "counted failed (shutdown_timeout)")
        try:
            self._producer.close()
        except Exception:  # noqa: BLE001
            _logger.debug("Kafka producer shutdown failed", exc_info=True)
        if self._spool is not None:
            self._spool.close()  # after the ledger: nothing is written to it any more

    # ------------------------------------------------------------------- stats

    def stats(self) -> dict[str, Any]:
        """Counters since start, with the same keys as the OTLP/HTTP exporter's.

        See :mod:`otelkit.exporter._stats`. Here ``requests`` counts messages handed to the
        Kafka client, ``raw_bytes`` the encoded OTLP bytes and ``wire_bytes`` the key + value
        bytes, *before* Kafka's record-batch compression (which happens inside the client and
        is not observable per message); ``retries`` counts replayed spool messages and
        ``spans_rejected`` stays 0. With a spool, its counts come as ``spool_*`` keys.
        """
        out = self._stats.snapshot()
        if self._spool is not None:
            out.update({f"spool_{k}": v for k, v in self._spool.snapshot().items()})
        return out
