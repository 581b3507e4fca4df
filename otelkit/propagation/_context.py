"""Never-raising extract/inject around the global propagator, shared by every carrier user.

The stock propagators already ignore a malformed ``traceparent`` (a new trace starts), but
they do so silently, and a propagator or getter that raises would break the request.
:func:`extract_context` adds what a server facing untrusted callers needs:

* it never raises, and each propagator of the global composite runs on its own, so a bad
  ``baggage`` (one that makes the SDK's baggage propagator raise) never costs the request
  its valid ``traceparent``;
* the API's ``tracecontext`` propagator is replaced by otelkit's exact W3C level-2 parser
  (:class:`otelkit.propagation.w3c.W3CTraceContextPropagator`);
* the SDK propagators' own warnings are rate-limited and shortened while they run
  (:mod:`otelkit.propagation._quiet`), and one rate-limited warning says when a
  ``traceparent`` was sent but could not be used.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otelkit._warn import short, warn_limited
from otelkit.propagation import _quiet
from otelkit.propagation.w3c import W3CTraceContextPropagator

__all__ = ["extract_context", "inject_context", "TRACEPARENT"]

_logger = logging.getLogger("otelkit.propagation")

TRACEPARENT = "traceparent"
"""W3C Trace Context header name."""

C = TypeVar("C")

_W3C = W3CTraceContextPropagator()
_plan: tuple[object, tuple[textmap.TextMapPropagator, ...]] = (None, ())
_quiet.install()


def _extractors() -> tuple[textmap.TextMapPropagator, ...]:
    """The global propagator split into its parts, ``tracecontext`` swapped for otelkit's.

    Cached per global propagator object (re-planned when it is replaced).
    """
    global _plan
    current = propagate.get_global_textmap()
    if _plan[0] is current:
        return _plan[1]
    parts: list[Any] = [current]
    if isinstance(current, CompositePropagator):
        inner = getattr(current, "_propagators", None)  # read only; no public accessor
        if isinstance(inner, (list, tuple)):
            parts = list(inner)
    plan = tuple(_W3C if type(p) is TraceContextTextMapPropagator else p for p in parts)
    _plan = (current, plan)
    return plan


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
    ctx = Context()
    token = _quiet.enter()
    try:
        for propagator in _extractors():
            try:
                ctx = propagator.extract(carrier, context=ctx, getter=getter)
            except Exception as exc:  # a third-party propagator or odd carrier must not break us
                warn_limited(
                    _logger, "extract-fail:" + source,
                    "%s: %s failed (%s: %s); continuing without what it carries",
                    source, type(propagator).__name__, type(exc).__name__, short(exc),
                )
    finally:
        _quiet.leave(token)
    try:
        if not trace.get_current_span(ctx).get_span_context().is_valid:
            sent = getter.get(carrier, TRACEPARENT)
            if sent:
                warn_limited(
                    _logger, "traceparent:" + source,
                    "%s: malformed traceparent %r; expected 00-<32 hex>-<16 hex>-<2 hex>; starting a new trace",
                    source, short(sent[0]),
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
            type(carrier).__name__, type(exc).__name__, short(exc),
        )
        return False
