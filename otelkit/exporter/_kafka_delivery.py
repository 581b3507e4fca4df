"""The Kafka exporter's live messages, from ``send`` to the one outcome each gets.

:class:`DeliveryLedger` owns the messages handed to the producer and not yet settled. Each
is settled exactly once, by whichever comes first:

* its delivery report: acknowledged -> exported; failed -> written to the disk spool (with
  one), else failed under the error's class name;
* :meth:`DeliveryLedger.close` at shutdown, after the final flush: still unacknowledged ->
  spooled, else failed ``shutdown_timeout``.

A report arriving after that finds nothing to settle and counts nothing; a message sent
after it is refused and failed ``shutdown``. Every write to the spool goes through here
under the ledger's lock, so none can happen once :meth:`~DeliveryLedger.close` returned:
the exporter closes (syncs) the spool after the ledger, and the next process replays all of
it. A broker refusing the record-batch codec gets the message again with the fallback codec
(same entry, one warning per refused codec).

Counts go to :class:`~otelkit.exporter._stats.ExportStats`: summed per export call while
``export()`` runs (:class:`~otelkit.exporter._kafka_call.KafkaCall`), on their own after.
"""

from __future__ import annotations

import logging
import threading

from otelkit._fork import after_fork
from otelkit._warn import warn_limited
from otelkit.exporter._kafka_call import KafkaCall
from otelkit.exporter._kafka_client import COMPRESSION_REFUSED, DeliveryCallback, MessageProducer
from otelkit.exporter._spool import Spool
from otelkit.exporter._spool_replay import Replayer
from otelkit.exporter._stats import ExportStats

__all__ = ["DeliveryLedger", "SHUTDOWN", "SHUTDOWN_TIMEOUT"]

_logger = logging.getLogger("otelkit.exporter.kafka")

SHUTDOWN = "shutdown"
"""``error.type`` of spans handed over after shutdown (never sent)."""
SHUTDOWN_TIMEOUT = "shutdown_timeout"
"""``error.type`` of spans still unacknowledged when the shutdown flush ended (no spool)."""
_EXPORTED = ""
_SPOOLED = "\x00spooled"  # an outcome: written to the disk spool
_OK = (_EXPORTED, _SPOOLED)


class _Message:
    """One message handed to the producer: its export call, content, spans and codec."""

    __slots__ = ("call", "key", "value", "spans", "codec")

    def __init__(self, call: KafkaCall, key: bytes | None, value: bytes, spans: int, codec: str | None) -> None:
        self.call, self.key, self.value, self.spans, self.codec = call, key, value, spans, codec


class DeliveryLedger:
    """Sends messages and settles each exactly once (see the module docstring).

    Args:
        producer: the exporter's client.
        topic: where messages go.
        stats: where outcomes are counted.
        spool: where undeliverable messages go (the exporter's; None: they fail).
        replayer: the spool's replayer, whose outage flag sends messages straight to the
            spool while the broker is down (None without a spool).
        bootstrap: the brokers, named in the refused-codec warning.
    """

    def __init__(self, producer: MessageProducer, topic: str, stats: ExportStats, spool: Spool | None,
                 replayer: Replayer | None, bootstrap: str) -> None:
        self._producer, self._topic, self._stats = producer, topic, stats
        self._spool, self._replayer, self._bootstrap = spool, replayer, bootstrap
        self._lock = threading.Lock()
        self._live: dict[_Message, None] = {}  # unsettled, in send order
        self._closed = False
        self._refused_codecs: set[str] = set()
        after_fork(self._after_fork)

    def _after_fork(self) -> None:
        # The parent's messages are its producer's to report; the child never hears of them.
        self._lock = threading.Lock()
        self._live = {}

    # ------------------------------------------------------------------ sending

    def send(self, call: KafkaCall, key: bytes | None, value: bytes, spans: int) -> None:
        """Produce one message of ``spans`` spans for ``call``, or spool it while the broker
        is down; never raises. Its outcome reaches ``call`` (or the stats, once closed)."""
        replayer = self._replayer
        if replayer is not None and replayer.outage:  # the broker is down: straight to disk
            with self._lock:
                outcome = SHUTDOWN if self._closed else self._spool_locked(key, value, spans)
            self._finish(call, spans, outcome, sent=False)
            return
        msg = _Message(call, key, value, spans, getattr(self._producer, "compression", None))
        with self._lock:
            closed = self._closed
            if not closed:
                self._live[msg] = None
        if closed:
            self._finish(call, spans, SHUTDOWN, sent=False)
            return
        with call.lock:
            call.pending += 1
        try:
            self._producer.send(self._topic, key, value, self._on_done(msg))
        except Exception as exc:  # noqa: BLE001 - queue full, message too large, closed client
            warn_limited(_logger, "kafka-send", "Kafka producer refused a message: %s", exc)
            self._settle(msg, exc)
            return
        call.messages += 1
        call.raw += len(value)
        call.wire += len(value) + (len(key) if key else 0)

    def _on_done(self, msg: _Message) -> DeliveryCallback:
        def done(err: BaseException | None) -> None:
            if err is not None and getattr(err, "code", "") == COMPRESSION_REFUSED and self._resend(msg):
                return  # re-sent with the fallback codec; its own report settles it
            if err is not None:
                warn_limited(_logger, "kafka-delivery", "Kafka delivery failed: %s", err)
            self._settle(msg, err)

        return done

    def _resend(self, msg: _Message) -> bool:
        """The broker refused ``msg.codec``: switch the client to the next codec (one warning)
        and send ``msg`` again; False when there is no fallback (the message then fails)."""
        with self._lock:
            if msg not in self._live:
                return True  # settled at shutdown: nothing left to do
        codec = msg.codec
        fall_back = getattr(self._producer, "fall_back", None)
        now = fall_back(codec) if fall_back is not None and codec is not None else None
        if now is None or codec is None:
            return False
        if codec not in self._refused_codecs:  # one warning per refused codec
            self._refused_codecs.add(codec)
            _logger.warning("Kafka broker %s refused %s-compressed messages (UNSUPPORTED_COMPRESSION_TYPE); "
                            "re-sent them with %s and using %s from now on. Set OTELKIT_KAFKA_COMPRESSION=%s to "
                            "silence this.", self._bootstrap, codec, now, now, now)
        msg.codec = now
        try:
            self._producer.send(self._topic, msg.key, msg.value, self._on_done(msg))
        except Exception:  # noqa: BLE001 - the local queue refused it: fail (or spool) as usual
            return False
        return True

    # ------------------------------------------------------------------ settling

    def _settle(self, msg: _Message, err: BaseException | None) -> None:
        """``msg``'s report (or send failure): its outcome, unless it was settled already."""
        replayer = self._replayer
        with self._lock:
            if msg not in self._live:
                return  # settled at shutdown: a late report counts nothing
            del self._live[msg]
            if err is None:
                outcome = _EXPORTED
            elif self._spool is not None and not self._closed:
                outcome = self._spool_locked(msg.key, msg.value, msg.spans)
            else:
                outcome = type(err).__name__
        if replayer is not None and err is None:
            replayer.delivered()
        elif replayer is not None:
            replayer.failed()
        self._finish(msg.call, msg.spans, outcome, sent=True)

    def _spool_locked(self, key: bytes | None, value: bytes, spans: int) -> str:
        """Under ``self._lock``: write one message to the spool; its outcome."""
        assert self._spool is not None
        return _SPOOLED if self._spool.append(spans, value, key) else "spool_full"

    def _finish(self, call: KafkaCall, spans: int, outcome: str, sent: bool) -> None:
        """Count ``outcome`` with ``call`` (or alone once it returned); a ``sent`` message
        no longer holds the call's wait."""
        if not call.add_outcome(spans, outcome):  # late: export() already returned
            self.count(outcome, spans)
        with call.lock:
            if outcome not in _OK:
                call.failed = True
            if sent:
                call.pending -= 1
                if call.pending <= 0:
                    call.done.set()

    def count(self, outcome: str, spans: int) -> None:
        if outcome == _SPOOLED:
            self._stats.spans(spooled=spans)
        elif outcome:
            self._stats.spans(failed=spans, error=outcome)
        else:
            self._stats.spans(exported=spans)

    def finish_call(self, call: KafkaCall) -> None:
        """``export()`` is returning: count what ``call`` summed (later reports count alone)."""
        if call.messages:
            self._stats.request(call.raw, call.wire, retry=False, count=call.messages)
        for outcome, spans in call.close().items():
            self.count(outcome, spans)

    # ------------------------------------------------------------------ shutdown

    def close(self) -> int:
        """After the final flush: settle every message still unacknowledged (spooled, else
        failed ``shutdown_timeout``) and refuse later ones; how many there were. The spool
        is not written to after this returns."""
        with self._lock:
            self._closed = True
            left, self._live = list(self._live), {}
            outcomes = [
                self._spool_locked(m.key, m.value, m.spans) if self._spool is not None else SHUTDOWN_TIMEOUT
                for m in left
            ]
        for msg, outcome in zip(left, outcomes, strict=True):
            self._finish(msg.call, msg.spans, outcome, sent=True)
        return len(left)
