"""The tiny producer contract :class:`~otelkit.exporter.kafka.KafkaSpanExporter` needs, and its
confluent-kafka implementation.

Any Kafka client can carry the exporter's messages by implementing
:class:`MessageProducer` (four methods); confluent-kafka is the default because librdkafka
is fast, ships every codec (zstd included) in its wheel, reports per-message delivery and is
thread-safe. confluent-kafka is imported only when :class:`ConfluentProducer` is built.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = [
    "DeliveryCallback", "MessageProducer", "ConfluentProducer", "parse_properties", "KafkaDeliveryError",
    "COMPRESSION_REFUSED", "compression_fallback",
]

COMPRESSION_REFUSED = "UNSUPPORTED_COMPRESSION_TYPE"
"""Kafka error name of a broker refusing the record batch codec (zstd before Kafka 2.1)."""

_FALLBACK = {"zstd": "gzip", "lz4": "gzip", "snappy": "gzip", "gzip": "none"}


def compression_fallback(codec: str) -> str | None:
    """The codec to use when a broker refuses ``codec`` (every broker takes gzip and none)."""
    return _FALLBACK.get(codec)


_INHERITED: list[Any] = []  # clients copied from a parent process by fork: never destroyed


class KafkaDeliveryError(RuntimeError):
    """A failed delivery; ``code`` is the Kafka error name (e.g. ``UNSUPPORTED_COMPRESSION_TYPE``)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code

DeliveryCallback = Callable[[BaseException | None], None]
"""Called exactly once per message: ``None`` when the broker acknowledged it, else the error."""


class MessageProducer(Protocol):
    """What the exporter needs from a Kafka client.

    Implementations must be thread-safe and must never block in :meth:`send`.
    """

    def send(self, topic: str, key: bytes | None, value: bytes, on_done: DeliveryCallback) -> None:
        """Queue one message; ``on_done`` runs later, from :meth:`poll` or :meth:`flush`.

        May raise when the message cannot even be queued (queue full, message too large);
        ``on_done`` is then not called.
        """

    def poll(self, timeout_s: float) -> None:
        """Serve pending delivery callbacks, waiting at most ``timeout_s`` seconds."""

    def flush(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` seconds for every queued message; return how many remain."""

    def close(self) -> None:
        """Release the client (after a final :meth:`flush`)."""


def parse_properties(raw: str) -> dict[str, str]:
    """``"k1=v1,k2=v2"`` as a dict; raises ValueError naming the bad entry (value hidden)."""
    props: dict[str, str] = {}
    for entry in raw.split(","):
        if not entry.strip():
            continue
        name, sep, value = entry.partition("=")
        if not sep or not name.strip():
            raise ValueError(
                f"producer property {name.strip()[:40]!r} is malformed: expected key=value pairs "
                "separated by commas"
            )
        props[name.strip()] = value.strip()
    return props


class ConfluentProducer:
    """:class:`MessageProducer` over ``confluent_kafka.Producer`` (librdkafka).

    Args:
        bootstrap_servers: ``host:port[,host:port]``.
        compression: librdkafka ``compression.type`` (``none``, ``gzip``, ``snappy``, ``lz4``,
            ``zstd``).
        message_timeout_ms: librdkafka ``message.timeout.ms``: a message not acknowledged in
            this time fails (its delivery callback reports the error), so every span is
            eventually counted as exported or failed.
        extra: further librdkafka properties; they win over the ones above.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        compression: str,
        message_timeout_ms: int,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "compression.type": compression,
            "message.timeout.ms": message_timeout_ms,
            "linger.ms": 5,
            "acks": "all",
            "client.id": "otelkit-kafka-exporter",
        }
        conf.update(extra or {})
        self._conf = conf
        self._pid = os.getpid()
        self._closed = False
        self._fork_lock = threading.Lock()
        self._retired: list[Any] = []  # clients replaced after a refused codec, still delivering
        self._producer: Any = self._new_producer()

    def _new_producer(self) -> Any:
        import confluent_kafka  # lazy: optional dependency (extra "kafka")

        return confluent_kafka.Producer(self._conf)

    def _current(self) -> Any:
        """The producer of this process: librdkafka's threads do not survive ``fork``, so a
        forked child (gunicorn ``--preload``, multiprocessing) gets a fresh one."""
        pid = os.getpid()
        if pid != self._pid:
            with self._fork_lock:
                if pid != self._pid and not self._closed:
                    # Never destroy the parent's client in the child: rd_kafka_destroy waits for
                    # threads that do not exist here and hangs. Keep it referenced for good.
                    _INHERITED.extend([self._producer, *self._retired])
                    self._producer = self._new_producer()
                    self._retired = []
                    self._pid = pid
        return self._producer

    @property
    def compression(self) -> str:
        """The record batch codec messages are sent with now."""
        return str(self._conf["compression.type"])

    def fall_back(self, refused: str) -> str | None:
        """After the broker refused ``refused``: use the next codec (new messages go through a
        new client; the old one still delivers what it holds). The codec now in use, or None
        when ``refused`` has no fallback."""
        with self._fork_lock:
            if self.compression != refused:
                return self.compression  # another delivery report already switched
            nxt = compression_fallback(refused)
            if nxt is None or self._closed:
                return None
            self._retired.append(self._producer)
            self._conf = {**self._conf, "compression.type": nxt}
            self._producer = self._new_producer()
            return nxt

    def send(self, topic: str, key: bytes | None, value: bytes, on_done: DeliveryCallback) -> None:
        def report(err: Any, _msg: Any) -> None:
            on_done(None if err is None else KafkaDeliveryError(str(err), _error_name(err)))

        producer = self._current()
        try:
            producer.produce(topic, value=value, key=key, on_delivery=report)
        except BufferError:
            # Local queue full: serve delivery reports once to make room, then try again.
            producer.poll(0)
            producer.produce(topic, value=value, key=key, on_delivery=report)

    def poll(self, timeout_s: float) -> None:
        self._current().poll(max(0.0, timeout_s))
        for old in list(self._retired):
            old.poll(0)

    def flush(self, timeout_s: float) -> int:
        left = sum(int(old.flush(max(0.0, timeout_s))) for old in list(self._retired))
        return left + int(self._current().flush(max(0.0, timeout_s)))

    def close(self) -> None:
        # confluent_kafka.Producer has no close(); dropping the reference frees librdkafka.
        self._closed = True
        self._producer = _Closed()
        self._retired = []


def _error_name(err: Any) -> str:
    try:
        return str(err.name())
    except Exception:  # noqa: BLE001 - not a confluent KafkaError
        return ""


class _Closed:
    """Stands in for a released producer: every call fails fast."""

    def produce(self, *_a: Any, **_kw: Any) -> None:
        raise RuntimeError("the Kafka producer is closed")

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        return 0
