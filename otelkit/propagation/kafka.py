"""Kafka message headers as a propagation carrier, for kafka-python, aiokafka and confluent-kafka.

The three clients hold headers in slightly different shapes:

* kafka-python ``ConsumerRecord.headers`` and ``KafkaProducer.send(headers=...)``: a list of
  ``(str, bytes)`` tuples;
* aiokafka: a list or tuple of ``(str, bytes)`` tuples (consumed records carry a tuple);
* confluent-kafka ``Message.headers()``: a list of ``(str, bytes)`` tuples or ``None``;
  ``Producer.produce(headers=...)`` also accepts a ``dict``.

:class:`KafkaHeadersGetter` reads all of them and never raises, whatever it is handed:
values may be ``bytes``, ``str`` or ``None``, invalid UTF-8 is tolerated (decoded as
Latin-1 with a rate-limited warning, see :func:`otelkit.propagation._common.header_text`),
malformed entries and foreign carrier types are skipped. Kafka header keys are
case-sensitive byte strings, but the propagation header names (``traceparent``,
``tracestate``, ``baggage``) are matched case-insensitively so a producer that writes
``Traceparent`` still propagates. Repeated keys are allowed: ``get`` returns every value in
order.

:class:`KafkaHeadersSetter` writes ``bytes`` values into a ``list`` (replacing earlier
entries of the same name, so injecting twice never duplicates ``traceparent``) or a
``dict``; an immutable carrier (a ``tuple``) is left unchanged with a rate-limited warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry.propagators.textmap import Getter, Setter

from otelkit._warn import warn_limited
from otelkit.propagation._common import header_bytes, header_text

__all__ = ["KafkaHeadersGetter", "KafkaHeadersSetter", "kafka_getter", "kafka_setter"]

_logger = logging.getLogger("otelkit.propagation.kafka")


def _key_text(key: object) -> str | None:
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key).decode("utf-8", "replace")
    return None


def _pairs(carrier: object) -> Iterator[tuple[str, object]]:
    """``(name, raw value)`` for every well-formed entry of ``carrier``; never raises."""
    if carrier is None:
        return
    if not isinstance(carrier, (Mapping, list, tuple)):
        warn_limited(
            _logger,
            "kafka-carrier-type:" + type(carrier).__name__,
            "Kafka headers of type %s are not supported; allowed: list or tuple of (str, bytes) "
            "pairs, dict or None; ignoring them",
            type(carrier).__name__,
        )
        return
    try:
        items: Any = carrier.items() if isinstance(carrier, Mapping) else carrier
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                warn_limited(
                    _logger,
                    "kafka-header-entry",
                    "Kafka header entry of type %s is not a (key, value) pair; skipping it",
                    type(item).__name__,
                )
                continue
            name = _key_text(item[0])
            if name is None:
                continue
            yield name, item[1]
    except Exception:  # noqa: BLE001 - a hostile carrier (broken __iter__) must not escape
        warn_limited(_logger, "kafka-carrier-iter", "Kafka headers could not be iterated; ignoring them")


class KafkaHeadersGetter(Getter[Any]):
    """Read propagation headers from any Kafka client's header collection."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        """Header ``key`` (case-insensitive) as text, or ``None`` if absent.

        Repeated headers are joined with ``","`` into one value, as the HTTP carriers do
        (RFC 9110 field combination; the W3C specs combine ``tracestate``/``baggage`` the
        same way). Two ``traceparent`` headers so become one invalid value: the propagator
        rejects it and a new trace starts, with a rate-limited warning, instead of silently
        trusting the first one.
        """
        wanted = key.lower()
        found = [
            text
            for name, raw in _pairs(carrier)
            if name.lower() == wanted and (text := header_text(raw, wanted)) is not None
        ]
        return [",".join(found)] if found else None

    def keys(self, carrier: Any) -> list[str]:
        """The header names in ``carrier`` (duplicates kept once, in first-seen order)."""
        return list(dict.fromkeys(name for name, _ in _pairs(carrier)))


class KafkaHeadersSetter(Setter[Any]):
    """Write propagation headers as ``(str, bytes)`` entries of a list, or items of a dict."""

    def set(self, carrier: Any, key: str, value: str) -> None:
        """Set header ``key`` to ``value`` encoded as UTF-8 bytes; never raises."""
        if not isinstance(key, str) or not isinstance(value, (str, bytes)):
            warn_limited(
                _logger,
                "kafka-setter-value",
                "Kafka header %r: key must be str and value str or bytes, got %s/%s; not set",
                key,
                type(key).__name__,
                type(value).__name__,
            )
            return
        data = header_bytes(value)
        if isinstance(carrier, list):
            wanted = key.lower()
            carrier[:] = [
                item
                for item in carrier
                if not (
                    isinstance(item, (tuple, list))
                    and len(item) == 2
                    and (_key_text(item[0]) or "").lower() == wanted
                )
            ]
            carrier.append((key, data))
        elif isinstance(carrier, dict):
            carrier[key] = data
        else:
            warn_limited(
                _logger,
                "kafka-setter-type:" + type(carrier).__name__,
                "cannot inject %r into Kafka headers of type %s; allowed: list or dict "
                "(a tuple is immutable); the message is sent without it",
                key,
                type(carrier).__name__,
            )


kafka_getter = KafkaHeadersGetter()
"""Shared getter instance (stateless)."""

kafka_setter = KafkaHeadersSetter()
"""Shared setter instance (stateless)."""
