"""Keep the SDK propagators quiet while otelkit's carriers call them.

The SDK's baggage and trace-state parsers log one WARNING per bad entry, quoting the whole
entry or header: 1,000 requests with baggage ``a,a,...`` logged 100,000 lines, each
``Baggage header `...` exceeded`` line quoted ~10 KB. otelkit changes nothing about logging
globally; it adds one :class:`logging.Filter` to those SDK loggers only, and the filter acts
only inside :func:`sdk_logs_limited` (a context variable, so other threads and the
application's own calls into the SDK are untouched). Inside, each SDK logger is one kind
of problem for otelkit's limiter ("the SDK's baggage parser complained"): one line per
logger per ``OTELKIT_WARN_INTERVAL_S``, the first message of the interval, with the count
of those suppressed since, and every quoted string cut to a short prefix. Keying by
logger, not by message, keeps the number of lines bounded whatever messages an SDK
version adds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from otelkit import _warn

__all__ = ["SDK_PARSER_LOGGERS", "enter", "install", "leave", "sdk_logs_limited"]

SDK_PARSER_LOGGERS = (
    "opentelemetry.baggage.propagation",
    "opentelemetry.baggage",
    "opentelemetry.trace.span",
    "opentelemetry.trace.propagation.tracecontext",
)
"""The SDK loggers that header parsing writes to."""

_active: ContextVar[bool] = ContextVar("otelkit_carrier_parsing", default=False)


class _CarrierLogFilter(logging.Filter):
    """Rate-limits and shortens SDK parser records emitted inside :func:`sdk_logs_limited`."""

    clock: Callable[[], float] = staticmethod(time.monotonic)
    """Monotonic clock in seconds (tests set a fake one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _active.get():
            return True
        try:
            key = "sdk:" + record.name
            suppressed = _warn.limiter.admit(key, self.clock(), _warn.interval_s())
            if suppressed is None:
                return False
            args = record.args if isinstance(record.args, tuple) else ()
            record.args = tuple(_warn.short(a) if isinstance(a, (str, bytes)) else a for a in args)
            if suppressed:
                record.msg = str(record.msg) + " (%d similar warnings suppressed)"
                record.args = (*record.args, suppressed)
        except Exception:  # noqa: BLE001 - a filter must never break logging
            return False
        return True


_FILTER = _CarrierLogFilter("otelkit.carriers")


def install() -> None:
    """Attach the filter to :data:`SDK_PARSER_LOGGERS` (idempotent)."""
    for name in SDK_PARSER_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def enter() -> Token[bool]:
    """Start limiting SDK parser warnings in this thread / task; pass the token to :func:`leave`."""
    return _active.set(True)


def leave(token: Token[bool]) -> None:
    """Stop limiting (restores the state before :func:`enter`)."""
    _active.reset(token)


@contextmanager
def sdk_logs_limited() -> Iterator[None]:
    """Within this block (this thread / task only) SDK parser warnings are rate-limited."""
    token = enter()
    try:
        yield
    finally:
        leave(token)
