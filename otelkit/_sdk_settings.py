"""The SDK's own variables that the stock code would raise on, read by otelkit instead.

``TracerProvider()`` builds ``SpanLimits()`` from ``os.environ`` and raises ``ValueError`` on
``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=-1``; importing ``opentelemetry.propagate`` raises on an
unknown ``OTEL_PROPAGATORS`` name. :func:`configure` reads both through its ``environ``
(:func:`span_limits`, :func:`install_propagators`); the configurator, which lets the SDK read
``os.environ``, first removes what the SDK would raise on (:func:`sanitize_sdk_environ`),
each with one warning naming the value and what is allowed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping

from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace import SpanLimits

from otelkit import config
from otelkit._exporter_selection import _load_entry_point, entry_point_names
from otelkit._settings import SPAN_LIMITS
from otelkit._warn import warn_limited

__all__ = ["span_limits", "propagator_names", "install_propagators", "sanitize_sdk_environ"]

_logger = logging.getLogger("otelkit.configure")
PROPAGATOR_GROUP = "opentelemetry_propagator"


def span_limits(environ: Mapping[str, str]) -> SpanLimits:
    """``SpanLimits`` from the ``OTEL_*_LIMIT`` variables in ``environ`` with the SDK's
    precedence (the generic attribute limits are the defaults of the specific ones); an
    invalid value warns and its default applies. Every argument is explicit, so the SDK
    reads nothing from ``os.environ``."""
    given = {arg: s.get(environ) for arg, s in SPAN_LIMITS.items() if s.raw(environ) is not None}
    values = {arg: given.get(arg, s.default) for arg, s in SPAN_LIMITS.items()}
    for specific in ("max_span_attributes", "max_event_attributes", "max_link_attributes"):
        if specific not in given:
            values[specific] = values["max_attributes"]
    if "max_span_attribute_length" not in given:
        values["max_span_attribute_length"] = values["max_attribute_length"]
    return SpanLimits(**values)


def propagator_names(environ: Mapping[str, str]) -> list[str] | None:
    """The usable names of ``OTEL_PROPAGATORS`` (``None`` when unset): unknown ones warn and
    are left out; ``none`` anywhere means no propagator."""
    raw = config.OTEL_PROPAGATORS.raw(environ)
    if raw is None:
        return None
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if "none" in names:
        return []
    known = entry_point_names(PROPAGATOR_GROUP)
    bad = [n for n in names if n not in known]
    if bad:
        warn_limited(_logger, "config:OTEL_PROPAGATORS", "OTEL_PROPAGATORS names unknown %s; allowed: %s; "
                     "leaving them out", ", ".join(map(repr, bad)), ", ".join(known))
    return [n for n in names if n in known]


def install_propagators(environ: Mapping[str, str], *, install: bool = True) -> None:
    """Install the global propagator ``OTEL_PROPAGATORS`` names in ``environ`` (when set);
    with ``install=False`` only check the names (the warnings are the same)."""
    names = propagator_names(environ)
    if names is None or not install:
        return
    built: list[TextMapPropagator] = []
    for name in names:
        try:
            built.append(_load_entry_point(PROPAGATOR_GROUP, name)())
        except Exception as exc:  # noqa: BLE001 - a broken propagator package must not crash the app
            warn_limited(_logger, "propagator:" + name, "OTEL_PROPAGATORS: %r could not be loaded (%s); "
                         "leaving it out", name, exc)
    try:
        from opentelemetry import propagate
    except ValueError as exc:  # the SDK's import-time loader read a bad os.environ value
        warn_limited(_logger, "config:OTEL_PROPAGATORS", "opentelemetry.propagate failed to load (%s)", exc)
        return
    propagate.set_global_textmap(CompositePropagator(built))


def sanitize_sdk_environ(environ: MutableMapping[str, str]) -> None:
    """Remove from ``environ`` the span limits the SDK would raise on, and leave only the
    known ``OTEL_PROPAGATORS`` names (one warning each): for set-up paths where the SDK
    itself reads the environment (the configurator)."""
    for setting in SPAN_LIMITS.values():
        raw = setting.raw(environ)
        if raw is None:
            continue
        try:
            setting.parse(raw)
        except ValueError:
            setting.get(environ)  # warns, naming the value and what is allowed
            del environ[setting.name]
    names = propagator_names(environ)
    if names is not None:
        environ[config.OTEL_PROPAGATORS.name] = ",".join(names) or "none"
