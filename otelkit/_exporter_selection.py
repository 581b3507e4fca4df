"""Which trace exporters the otelkit pipeline builds, decided once for every setup path.

``otelkit.configure()``, the otelkit configurator and the otelkit distro all pick exporters
through :func:`exporter_names`: ``OTEL_TRACES_EXPORTER`` when set (``otlp`` resolved by the
OTLP protocol to the stock ``otlp_proto_grpc`` or ``otlp_proto_http``), else
:func:`default_exporter` - ``otelkit_otlp`` for OTLP/HTTP protobuf, the stock exporter for
``grpc`` and ``http/json`` (``otelkit_otlp`` speaks only HTTP protobuf). Re-exported by
:mod:`otelkit.pipeline`.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from otelkit import config
from otelkit._warn import warn_limited

__all__ = [
    "DEFAULT_EXPORTER",
    "EXPORTER_GROUP",
    "build_exporters",
    "default_exporter",
    "exporter_names",
    "otlp_traces_protocol",
    "sdk_exporter_setting",
]

_logger = logging.getLogger("otelkit.configure")

EXPORTER_GROUP = "opentelemetry_traces_exporter"

DEFAULT_EXPORTER: str = config.OTEL_TRACES_EXPORTER.default
"""Exporter used when ``OTEL_TRACES_EXPORTER`` is unset and the OTLP protocol is
``http/protobuf`` (``otlp`` still means the stock exporter); see :func:`default_exporter`."""

_OTLP_BY_PROTOCOL = {
    "grpc": "otlp_proto_grpc",
    "http/protobuf": "otlp_proto_http",
    "http/json": "otlp_proto_http",
}


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _load_entry_point(group: str, name: str) -> Any:
    for ep in entry_points(group=group, name=name):
        return ep.load()
    raise LookupError(f"no entry point {name!r} in group {group!r}")


def otlp_traces_protocol(environ: Mapping[str, str] | None = None) -> str:
    """The traces OTLP protocol: ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` when set, else
    ``OTEL_EXPORTER_OTLP_PROTOCOL`` (default ``http/protobuf``)."""
    env = _env(environ)
    if config.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL.raw(env) is not None:
        return config.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL.get(env)
    return config.OTEL_EXPORTER_OTLP_PROTOCOL.get(env)


def default_exporter(environ: Mapping[str, str] | None = None) -> str:
    """The exporter name used when ``OTEL_TRACES_EXPORTER`` is unset.

    :data:`DEFAULT_EXPORTER` (``otelkit_otlp``) speaks OTLP/HTTP protobuf only, so when the
    chosen protocol (:func:`otlp_traces_protocol`) is ``grpc`` or ``http/json`` the default
    is the stock ``otlp`` exporter for that protocol. ``configure()``, the otelkit
    configurator and the otelkit distro all decide through this function.
    """
    return DEFAULT_EXPORTER if otlp_traces_protocol(environ) == "http/protobuf" else "otlp"


def exporter_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Entry-point names from ``OTEL_TRACES_EXPORTER`` (default :func:`default_exporter`),
    with ``otlp`` resolved by protocol to ``otlp_proto_grpc`` or ``otlp_proto_http``."""
    env = _env(environ)
    protocol = otlp_traces_protocol(env)
    raw = config.OTEL_TRACES_EXPORTER.raw(env) or default_exporter(env)
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if names == ["none"]:
        return []
    return [_OTLP_BY_PROTOCOL.get(protocol, "otlp_proto_http") if n == "otlp" else n for n in names]


def sdk_exporter_setting(environ: Mapping[str, str] | None = None) -> str:
    """The ``OTEL_TRACES_EXPORTER`` value that makes the SDK's own configuration code build
    exactly the exporters :func:`configure` would: :func:`exporter_names` joined by commas
    (``otlp`` already resolved, so the SDK neither falls back to grpc when no protocol is
    set nor rejects ``http/json``), or ``none``."""
    return ",".join(exporter_names(environ)) or "none"


def _accepts_environ(cls: Any) -> bool:
    try:
        param = inspect.signature(cls).parameters.get("environ")
    except (TypeError, ValueError):  # no introspectable signature (C extension types)
        return False
    return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)


def build_exporters(environ: Mapping[str, str] | None = None) -> list[SpanExporter]:
    """Instantiate every exporter named by ``OTEL_TRACES_EXPORTER``; unknown names warn and are skipped.

    Exporters whose constructor takes an ``environ`` keyword (otelkit's ``otelkit_otlp`` and
    ``otelkit_kafka``) are given the same mapping, so ``configure(environ=...)`` configures
    them too. Stock exporters (``otlp``, ``console``, ...) have no such argument and read
    ``os.environ`` themselves.
    """
    env = _env(environ)
    exporters: list[SpanExporter] = []
    for name in exporter_names(env):
        try:
            cls = _load_entry_point(EXPORTER_GROUP, name)
            exporters.append(cls(environ=env) if _accepts_environ(cls) else cls())
        except Exception as exc:  # noqa: BLE001
            warn_limited(
                _logger,
                "exporter:" + name,
                "OTEL_TRACES_EXPORTER names %r, which could not be loaded (%s); allowed: the "
                "names in the 'opentelemetry_traces_exporter' entry-point group; skipping it",
                name,
                exc,
            )
    return exporters
