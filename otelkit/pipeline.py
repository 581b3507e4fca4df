"""Assemble the otelkit tracing pipeline from environment variables (or arguments).

Two entry points share the builders here:

* :func:`configure` - one call in application code; returns a :class:`Pipeline` handle
  with the provider, its parts, aggregated ``stats()`` and a clean ``shutdown()``.
* :class:`otelkit.configurator.OtelkitConfigurator` - the ``OTEL_PYTHON_CONFIGURATOR=otelkit``
  entry point used by ``opentelemetry-instrument``; it hands the SDK's
  ``_initialize_components`` an otelkit sampler and export-processor factory, so
  metrics, logs, id generators and resource detectors keep their stock behaviour.

The pipeline, in order: head sampler (``OTEL_TRACES_SAMPLER``) -> optional tail-sampling
processor (``OTELKIT_TAIL_ENABLED``) -> export processor (``OTELKIT_PROCESSOR``) ->
exporters (``OTEL_TRACES_EXPORTER``; which ones is decided in
:mod:`otelkit._exporter_selection`, the processors in :mod:`otelkit._processor_selection`,
both re-exported here). The SDK's span limits and ``OTEL_PROPAGATORS`` are read through the
same ``environ`` (:mod:`otelkit._sdk_settings`): no environment value makes set-up raise.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from otelkit import _warn, config
from otelkit._exporter_selection import (
    DEFAULT_EXPORTER,
    EXPORTER_GROUP,
    _accepts_environ,
    _load_entry_point,
    build_exporters,
    default_exporter,
    exporter_names,
    otlp_traces_protocol,
    sdk_exporter_setting,
)
from otelkit._parse import check_range, parse_pairs
from otelkit._processor_selection import build_export_processor, stock_batch_options, wrap_head_for_tail
from otelkit._resource import create_resource
from otelkit._sdk_settings import install_propagators, span_limits
from otelkit._warn import warn_limited

__all__ = [
    "Pipeline",
    "configure",
    "build_sampler",
    "build_exporters",
    "build_export_processor",
    "stock_batch_options",
    "current_pipeline",
    "DEFAULT_EXPORTER",
    "EXPORTER_GROUP",
    "default_exporter",
    "exporter_names",
    "otlp_traces_protocol",
    "sdk_exporter_setting",
]

_logger = logging.getLogger("otelkit.configure")

SAMPLER_GROUP = "opentelemetry_traces_sampler"
_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")

def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def build_sampler(environ: Mapping[str, str] | None = None) -> Sampler:
    """The head sampler named by ``OTEL_TRACES_SAMPLER`` (entry point), with its argument.

    Factories that take an ``environ`` keyword (the otelkit samplers) are given the same
    mapping, so ``OTELKIT_SAMPLER_*`` and ``OTELKIT_RULES`` are read from it. An unknown
    name or a factory that fails logs a warning naming the value and falls back to
    ``parentbased_always_on`` (the spec default): a typo never breaks the app.
    """
    env = _env(environ)
    name = config.OTEL_TRACES_SAMPLER.get(env).strip().lower()
    raw_arg = config.OTEL_TRACES_SAMPLER_ARG.raw(env)
    try:
        factory = _load_entry_point(SAMPLER_GROUP, name)
        arg: float | str | None = raw_arg
        if name in _RATIO_SAMPLERS:
            arg = _ratio(raw_arg)
        sampler = factory(arg, environ=env) if _accepts_environ(factory) else factory(arg)
        if not isinstance(sampler, Sampler):
            raise TypeError(f"factory returned {type(sampler).__name__}, not a Sampler")
        return sampler
    except Exception as exc:  # noqa: BLE001 - a bad sampler config must not crash the app
        warn_limited(
            _logger,
            "sampler:" + name,
            "OTEL_TRACES_SAMPLER=%r could not be used (%s); allowed: the names in the "
            "'opentelemetry_traces_sampler' entry-point group; using parentbased_always_on",
            name,
            exc,
        )
        return ParentBased(ALWAYS_ON)


def _ratio(raw: str | None) -> float:
    if raw is None:
        return 1.0
    try:
        return float(check_range("ratio", float(raw), lo=0.0, hi=1.0))
    except ValueError:
        warn_limited(_logger, "sampler-arg",
                     "OTEL_TRACES_SAMPLER_ARG=%r is invalid: expected a number from 0 to 1; using 1.0", raw)
        return 1.0


def parse_key_values(raw: str, source: str = "OTEL_RESOURCE_ATTRIBUTES") -> dict[str, str]:
    """Parse ``k1=v1,k2=v2`` (values URL-decoded); malformed pairs warn (naming ``source``)
    and are skipped."""

    def malformed(index: int, item: str) -> None:
        warn_limited(_logger, f"kv:{source}:{item[:32]}", "%s: ignoring malformed key=value pair %r "
                     "(expected key=value)", source, item[:64])

    return parse_pairs(raw, decode=True, on_malformed=malformed)


def build_resource(
    environ: Mapping[str, str] | None = None,
    service_name: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Resource:
    """Resource from ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME`` (the latter wins),
    then explicit ``attributes`` and ``service_name`` (which win over both)."""
    env = _env(environ)
    # raw, not get(): a malformed pair is skipped (warned), the valid ones still apply
    attrs: dict[str, Any] = dict(parse_key_values(config.OTEL_RESOURCE_ATTRIBUTES.raw(env) or ""))
    env_name = config.OTEL_SERVICE_NAME.get(env)
    if env_name:
        attrs[SERVICE_NAME] = env_name
    if attributes:
        attrs.update(attributes)
    if service_name:
        attrs[SERVICE_NAME] = service_name
    return create_resource(attrs, env)  # the detectors run as in Resource.create, from env


@dataclass
class Pipeline:
    """What :func:`configure` built: the provider and its parts, with a clean shutdown."""

    provider: TracerProvider
    sampler: Sampler
    processors: list[SpanProcessor] = field(default_factory=list)
    exporters: list[SpanExporter] = field(default_factory=list)
    _shutdown: bool = field(default=False, repr=False)

    def tracer(self, name: str = "otelkit") -> trace.Tracer:
        return self.provider.get_tracer(name)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush and stop every processor and exporter once; later calls do nothing."""
        if self._shutdown:
            return
        self._shutdown = True
        self.provider.shutdown()

    def stats(self) -> dict[str, Any]:
        """Snapshots of every part that offers ``stats()``, keyed by role."""
        out: dict[str, Any] = {}
        parts: list[tuple[str, Any]] = [("sampler", self.sampler)]
        parts += [(f"processor{i}", p) for i, p in enumerate(self.processors)]
        parts += [(f"exporter{i}", e) for i, e in enumerate(self.exporters)]
        for role, part in parts:
            snap = getattr(part, "stats", None)
            if callable(snap):
                try:
                    out[role] = snap()
                except Exception:  # noqa: BLE001 - stats must never break the caller
                    _logger.debug("stats() of %s failed", role, exc_info=True)
        return out

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


_current_lock = threading.Lock()
_current: Pipeline | None = None


def current_pipeline() -> Pipeline | None:
    """The pipeline built last by :func:`configure` or the otelkit configurator."""
    return _current


def _set_current(pipeline: Pipeline) -> None:
    global _current
    with _current_lock:
        _current = pipeline
    from otelkit._shutdown import flush_on_signals  # the global pipeline flushes on SIGTERM/SIGINT
    flush_on_signals(pipeline)


def configure(
    *,
    service_name: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    sampler: Sampler | None = None,
    exporters: Sequence[SpanExporter] | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    set_global: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Pipeline:
    """Build the otelkit pipeline from env vars; explicit arguments win.

    Args:
        service_name: ``service.name``; default ``OTEL_SERVICE_NAME``.
        resource_attributes: extra resource attributes (win over ``OTEL_RESOURCE_ATTRIBUTES``).
        sampler: head sampler; default from ``OTEL_TRACES_SAMPLER``/``_ARG`` (and the
            ``OTELKIT_SAMPLER_*``/``OTELKIT_RULES`` settings of the otelkit samplers).
        exporters: span exporters; default from ``OTEL_TRACES_EXPORTER``.
        span_processors: extra processors added before the export processors.
        set_global: install the provider as the global tracer provider (only the first
            global install takes effect, as in the SDK), and the ``OTEL_PROPAGATORS``
            propagators (when set) as the global propagator.
        environ: mapping to read instead of ``os.environ``: every otelkit setting, the span
            limits and ``OTEL_PROPAGATORS`` are read from it, and it is handed to otelkit's
            samplers, processors and exporters (stock exporters built from
            ``OTEL_TRACES_EXPORTER`` read ``os.environ``).

    No environment value makes it raise: an invalid one warns (naming the value and what
    is allowed) and its default applies.

    Returns:
        a :class:`Pipeline`; call ``shutdown()`` (or use it as a context manager) to flush.
    """
    env = _env(environ)
    resource = build_resource(env, service_name, resource_attributes)
    if config.OTEL_SDK_DISABLED.get(env):
        # Spec: a disabled SDK records nothing; hand back a pipeline that drops every span
        # and leave the global provider alone.
        disabled = Pipeline(provider=TracerProvider(sampler=ALWAYS_OFF, resource=resource), sampler=ALWAYS_OFF)
        _set_current(disabled)
        return disabled
    warn_unknown(env)
    from_file = _from_config_file(env, set_global, sampler, exporters, span_processors)
    if from_file is not None:
        _set_current(from_file)
        return from_file
    head = sampler if sampler is not None else build_sampler(env)
    if config.OTELKIT_TAIL_ENABLED.get(env):
        head = wrap_head_for_tail(head, env)
    provider = TracerProvider(sampler=head, resource=resource, span_limits=span_limits(env))
    pipeline = Pipeline(provider=provider, sampler=head)
    for extra in span_processors:
        provider.add_span_processor(extra)
        pipeline.processors.append(extra)
    exps = list(exporters) if exporters is not None else build_exporters(env)
    for exporter in exps:
        processor = build_export_processor(exporter, env)
        provider.add_span_processor(processor)
        pipeline.processors.append(processor)
        pipeline.exporters.append(exporter)
    install_propagators(env, install=set_global)
    if set_global:
        trace.set_tracer_provider(provider)
    _set_current(pipeline)
    return pipeline


def _from_config_file(env: Mapping[str, str], set_global: bool, sampler: Sampler | None,
                      exporters: Sequence[SpanExporter] | None,
                      span_processors: Sequence[SpanProcessor]) -> Pipeline | None:
    """The pipeline ``OTEL_CONFIG_FILE`` describes, or None (unset, or the file could not be
    loaded: warned, and the environment settings apply)."""
    path = config.OTEL_CONFIG_FILE.get(env).strip()
    if not path:
        return None
    from otelkit._config_file_pipeline import configure_from_file

    extra = list(span_processors) + [build_export_processor(e, {}) for e in exporters or ()]
    try:
        return configure_from_file(path, env, set_global=set_global, sampler=sampler, extra_processors=tuple(extra))
    except ValueError as exc:
        warn_limited(_logger, "config-file", "OTEL_CONFIG_FILE could not be used (%s); using the environment "
                     "settings instead", exc)
        return None


def warn_unknown(environ: Mapping[str, str]) -> None:
    """Apply ``OTELKIT_WARN_INTERVAL_S`` from ``environ`` (an invalid value warns), then warn
    (once each) about ``OTELKIT_*`` names that are not settings, naming the closest one."""
    _warn.configure(environ)
    for problem in config.unknown_names(environ):
        warn_limited(_logger, "unknown:" + problem.name, "%s", problem.message)
