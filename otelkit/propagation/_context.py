"""Never-raising extract/inject around the global propagator, shared by every carrier user.

The stock propagators already ignore a malformed ``traceparent`` (a new trace starts), but
they do so silently, and a propagator or getter that raises would break the request.
:func:`extract_context` adds the two things a server needs: it never raises, and it logs
one rate-limited warning when a ``traceparent`` was sent but could not be used.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators import textmap

from otelkit._warn import warn_limited

__all__ = ["extract_context", "inject_context", "TRACEPARENT"]

_logger = logging.getLogger("otelkit.propagation")

TRACEPARENT = "traceparent"
"""W3C Trace Context header name."""

C = TypeVar("C")


def extract_context(carrier: C, getter: textmap.Getter[C], source: str = "carrier") -> Context:
    """The context propagated in ``carrier``; an empty context (new trace) on any failure.

    Args:
        carrier: the request, scope, headers or message to read.
        getter: the carrier's ``textmap.Getter``.
        source: short label used in warnings (``"asgi"``, ``"aiohttp"``, ...).

    Returns:
        The extracted context. A malformed ``traceparent`` or a failing propagator yields
        a context without a remote parent and one rate-limited warning; nothing raises.
    """
    try:
        ctx = propagate.extract(carrier, context=Context(), getter=getter)
    except Exception as exc:  # a third-party propagator or odd carrier must not break us
        warn_limited(
            _logger, "extract-fail:" + source, "%s: context extraction failed (%s: %s); starting a new trace",
            source, type(exc).__name__, exc,
        )
        return Context()
    try:
        if not trace.get_current_span(ctx).get_span_context().is_valid:
            sent = getter.get(carrier, TRACEPARENT)
            if sent:
                warn_limited(
                    _logger, "traceparent:" + source,
                    "%s: malformed traceparent %r; expected 00-<32 hex>-<16 hex>-<2 hex>; starting a new trace",
                    source, sent[0][:64],
                )
    except Exception:  # pragma: no cover - the getters used here never raise
        pass
    return ctx


def inject_context(carrier: Any, setter: textmap.Setter[Any], context: Context | None = None) -> bool:
    """Inject ``context`` (default: the current one) into ``carrier``; False on failure, never raises."""
    try:
        propagate.inject(carrier, context=context, setter=setter)
        return True
    except Exception as exc:
        warn_limited(
            _logger, "inject-fail:" + type(carrier).__name__,
            "context injection into %s failed (%s: %s); the message is sent without it",
            type(carrier).__name__, type(exc).__name__, exc,
        )
        return False
