"""Which trace exporters the otelkit pipeline builds, decided once for every setup path.

``otelkit.configure()``, the otelkit configurator and the otelkit distro all pick exporters
through :func:`exporter_names`: ``OTEL_TRACES_EXPORTER`` when set (``otlp`` resolved by the
OTLP protocol to the stock ``otlp_proto_grpc`` or ``otlp_proto_http``), else
:func:`default_exporter` - ``otelkit_otlp`` for OTLP/HTTP protobuf, the stock exporter for
``grpc`` and ``http/json`` (``otelkit_otlp`` speaks only HTTP protobuf). Re-exported by
:mod:`otelkit.pipeline`.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import inspect
import logging
import os
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from otelkit import config
from otelkit._settings import OTEL_TRACES_EXPORTER
from otelkit._warn import warn_limited

__all__ = [
    "check_entry_points",
    "entry_point_names",
    "DEFAULT_EXPORTER",
    "EXPORTER_GROUP",
    "build_exporters",
    "missing_extra",
    "usable_exporter_names",
    "default_exporter",
    "exporter_names",
    "otlp_traces_protocol",
    "sdk_exporter_setting",
]

_logger = logging.getLogger("otelkit.configure")

EXPORTER_GROUP = "opentelemetry_traces_exporter"

DEFAULT_EXPORTER: str = OTEL_TRACES_EXPORTER.default
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


@functools.lru_cache(maxsize=16)
def entry_point_names(group: str) -> tuple[str, ...]:
    """The names installed in entry-point ``group`` (cached: the set is fixed per process)."""
    return tuple(sorted({ep.name for ep in entry_points(group=group)}))


def check_entry_points(group: str, raw: str, *, extra: tuple[str, ...] = (), single: bool = False) -> list[str]:
    """The comma-separated names in ``raw`` (lower-cased); ValueError naming each one that
    is not in ``group`` (nor ``extra``), with the closest installed name and the allowed ones."""
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    known = (*entry_point_names(group), *extra)
    if single and len(names) != 1:
        raise ValueError(f"expected one name; allowed: {', '.join(known)}")
    bad = [n for n in names if n not in known]
    if bad:
        hints = []
        for name in bad:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"unknown {', '.join(hints)}; allowed: {', '.join(known)}")
    return names


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
    with ``otlp`` resolved by protocol to ``otlp_proto_grpc`` or ``otlp_proto_http``;
    ``none`` anywhere in the list means no exporter (as for ``OTEL_PROPAGATORS``)."""
    env = _env(environ)
    protocol = otlp_traces_protocol(env)
    raw = config.OTEL_TRACES_EXPORTER.raw(env) or default_exporter(env)
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if "none" in names:
        return []
    return [_OTLP_BY_PROTOCOL.get(protocol, "otlp_proto_http") if n == "otlp" else n for n in names]


def sdk_exporter_setting(environ: Mapping[str, str] | None = None) -> str:
    """The ``OTEL_TRACES_EXPORTER`` value that makes the SDK's own configuration code build
    exactly the exporters :func:`configure` would: :func:`usable_exporter_names` joined by commas
    (``otlp`` already resolved, so the SDK neither falls back to grpc when no protocol is
    set nor rejects ``http/json``), or ``none``."""
    return ",".join(usable_exporter_names(environ)) or "none"


def _accepts_environ(cls: Any) -> bool:
    try:
        param = inspect.signature(cls).parameters.get("environ")
    except (TypeError, ValueError):  # no introspectable signature (C extension types)
        return False
    return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)


_EXTRAS = {"otelkit_kafka": ("confluent_kafka", "kafka")}
"""Exporter name -> (module it needs, otelkit extra that installs it)."""


def missing_extra(name: str) -> str | None:
    """One line naming the ``pip install`` that exporter ``name`` needs, or ``None``."""
    need = _EXTRAS.get(name)
    if need is None:
        return None
    try:
        found = importlib.util.find_spec(need[0]) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"exporter {name!r} needs the {need[1]!r} extra: pip install 'otelkit[{need[1]}]'"


def _problem(name: str) -> str | None:
    try:
        check_entry_points(EXPORTER_GROUP, name)
    except ValueError as exc:
        return str(exc)
    return missing_extra(name)


def _skip(name: str, why: str, fallback: str | None) -> None:
    tail = f"; using {fallback!r} instead" if fallback else "; skipping it"
    warn_limited(_logger, "exporter:" + name, "OTEL_TRACES_EXPORTER: %r could not be used (%s)%s",
                 name, (why.splitlines() or [""])[0], tail)


def usable_exporter_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """:func:`exporter_names` without the unknown ones and those missing their extra (one
    warning line each); when none is left, the default exporter (:func:`default_exporter`),
    so a typo never leaves the application without tracing."""
    env = _env(environ)
    names = exporter_names(env)
    fallback = default_exporter(env)
    usable: list[str] = []
    for index, name in enumerate(names):
        problem = _problem(name)
        if problem is None:
            usable.append(name)
            continue
        last_resort = not usable and index == len(names) - 1 and _problem(fallback) is None
        _skip(name, problem, fallback if last_resort else None)
        if last_resort:
            usable.append(fallback)
    return usable


def build_exporters(environ: Mapping[str, str] | None = None) -> list[SpanExporter]:
    """Instantiate every usable exporter named by ``OTEL_TRACES_EXPORTER``
    (:func:`usable_exporter_names`).

    A constructor that fails leaves its exporter out with one warning line (no traceback);
    when none could be built, the default exporter is used instead. Exporters whose
    constructor takes an ``environ`` keyword (``otelkit_otlp``, ``otelkit_kafka``) are given
    the same mapping, so ``configure(environ=...)`` configures them too; stock exporters read
    ``os.environ``.
    """
    env = _env(environ)
    names = usable_exporter_names(env)
    fallback = default_exporter(env)
    exporters: list[SpanExporter] = []
    for index, name in enumerate(names):
        try:
            cls = _load_entry_point(EXPORTER_GROUP, name)
            exporters.append(cls(environ=env) if _accepts_environ(cls) else cls())
        except Exception as exc:  # noqa: BLE001 - a bad exporter setting must not crash the app
            last_resort = not exporters and index == len(names) - 1 and name != fallback
            _skip(name, f"{type(exc).__name__}: {exc}", fallback if last_resort else None)
            if last_resort:
                exporters.extend(build_exporters({**env, "OTEL_TRACES_EXPORTER": fallback}))
    return exporters
