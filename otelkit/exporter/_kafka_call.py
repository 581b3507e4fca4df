"""Pieces of the Kafka exporter: message keys and grouping, producer properties, the
bookkeeping of one export call, and the replay of spooled messages.

Split from :mod:`otelkit.exporter.kafka`, which uses both.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from opentelemetry.sdk.trace import ReadableSpan

from otelkit import config
from otelkit._warn import warn_limited
from otelkit.exporter._http_send import Outcome
from otelkit.exporter._kafka_client import MessageProducer, parse_properties
from otelkit.exporter._spool import Record

__all__ = ["KafkaCall", "replay_messages", "trace_key", "group_spans", "extra_properties"]

_logger = logging.getLogger("otelkit.exporter.kafka")

_POLL_SLICE_S = 0.05


def trace_key(trace_id: int) -> bytes:
    """The message key of a trace: its ID as 32 lower-case hex digits, ASCII-encoded."""
    return format(trace_id, "032x").encode("ascii")


def group_spans(spans: Sequence[ReadableSpan], keying: str) -> list[tuple[bytes | None, list[ReadableSpan]]]:
    """Messages of a batch: one per trace keyed by :func:`trace_key` (``keying="trace"``), or
    the whole batch unkeyed (``"none"``)."""
    if keying == "none":
        return [(None, list(spans))]
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        ctx = span.context
        trace_id = ctx.trace_id if ctx is not None else 0
        by_trace.setdefault(trace_id, []).append(span)
    return [(trace_key(tid), group) for tid, group in by_trace.items()]


def extra_properties(explicit: Mapping[str, str] | None, environ: Mapping[str, str] | None) -> dict[str, str]:
    """Extra librdkafka properties: ``explicit``, else ``OTELKIT_KAFKA_PRODUCER_CONFIG`` (a bad
    value warns, naming the entry but never the value, and is ignored)."""
    if explicit is not None:
        return dict(explicit)
    raw = config.OTELKIT_KAFKA_PRODUCER_CONFIG.get(environ)
    try:
        return parse_properties(raw)
    except ValueError as exc:
        warn_limited(_logger, "kafka-producer-config", "OTELKIT_KAFKA_PRODUCER_CONFIG: %s; ignoring it", exc)
        return {}


class KafkaCall:
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


def replay_messages(
    producer: MessageProducer, topic: str, records: list[Record], wait_s: float, clock: Callable[[], float]
) -> list[Outcome]:
    """Produce spooled messages together and wait up to ``wait_s`` for their acknowledgements;
    one outcome per record, in order (unacknowledged ones may be retried later)."""
    acked = [threading.Event() for _ in records]
    errors: list[BaseException | None] = [None] * len(records)
    sent = [False] * len(records)

    def on_done(i: int) -> Callable[[BaseException | None], None]:
        def done(err: BaseException | None) -> None:
            errors[i] = err
            acked[i].set()

        return done

    for i, record in enumerate(records):
        try:
            producer.send(topic, record.key, record.body, on_done(i))
            sent[i] = True
        except Exception:  # noqa: BLE001 - queue full, closed client: keep it spooled
            break
    deadline = clock() + wait_s  # the client reports every message within message.timeout.ms
    while not all(a.is_set() for a, s in zip(acked, sent, strict=True) if s) and clock() < deadline:
        producer.poll(_POLL_SLICE_S)
    return [
        Outcome(True) if s and a.is_set() and e is None else Outcome(False, error="kafka_delivery", spoolable=True)
        for a, e, s in zip(acked, errors, sent, strict=True)
    ]
