"""``OTEL_PYTHON_CONFIGURATOR=otelkit``: the otelkit pipeline under ``opentelemetry-instrument``.

Registered in the ``opentelemetry_configurator`` and ``opentelemetry_distro`` entry-point
groups. The configurator passes the SDK's ``_initialize_components`` the otelkit head
sampler and an export-processor factory (``export_span_processor``, SDK >= 1.40), so the
rest of the SDK set-up (metrics, logs, id generator, resource detectors) is unchanged.
With ``OTEL_CONFIG_FILE`` set, the file describes the pipeline instead
(:mod:`otelkit._config_file_pipeline`), otelkit's pieces included.

Both pick trace exporters with the same decision as :func:`otelkit.configure`
(:func:`otelkit.pipeline.exporter_names`): unset ``OTEL_TRACES_EXPORTER`` means
``otelkit_otlp`` for OTLP/HTTP protobuf and the stock exporter for ``grpc``/``http/json``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _initialize_components, _OTelSDKConfigurator
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from otelkit import config
from otelkit import pipeline as _cfg
from otelkit._processor_selection import wrap_head_for_tail
from otelkit._sdk_settings import sanitize_sdk_environ

__all__ = ["OtelkitConfigurator", "OtelkitDistro"]

_logger = logging.getLogger("otelkit.configure")


class OtelkitConfigurator(_OTelSDKConfigurator):
    """Configurator that assembles the otelkit pipeline from environment variables."""

    def _configure(self, **kwargs: Any) -> None:
        env = os.environ
        if config.OTEL_SDK_DISABLED.get(env):
            return
        _cfg.warn_unknown(env)
        if config.OTEL_CONFIG_FILE.get(env).strip():
            # The file describes the pipeline (the SDK's own configurator would apply it
            # without otelkit's pieces); a file that cannot be loaded falls back, warned.
            pipeline = _cfg._from_config_file(env, True, kwargs.get("sampler"), None, ())
            if pipeline is not None:
                _cfg._set_current(pipeline)
                return
        # The SDK reads span limits and OTEL_PROPAGATORS itself and raises on a bad value:
        # drop those values first (each warned), so telemetry set-up never fails the app.
        sanitize_sdk_environ(env)
        sampler = kwargs.pop("sampler", None) or _cfg.build_sampler(env)
        if config.OTELKIT_TAIL_ENABLED.get(env):
            sampler = wrap_head_for_tail(sampler, env)
        # The SDK reads OTEL_TRACES_EXPORTER itself and resolves `otlp` its own way (grpc when
        # no protocol is set, an error for http/json): hand it configure()'s resolved names.
        env[OTEL_TRACES_EXPORTER] = _cfg.sdk_exporter_setting(env)
        processors: list[SpanProcessor] = []
        exporters: list[SpanExporter] = []

        def export_processor(exporter: SpanExporter, *args: Any, **kw: Any) -> SpanProcessor:
            processor = _cfg.build_export_processor(exporter, env)
            processors.append(processor)
            exporters.append(exporter)
            return processor

        kwargs.setdefault("export_span_processor", export_processor)
        try:
            _initialize_components(sampler=sampler, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a bad SDK setting must not leave the app untraced
            _logger.warning("the SDK's set-up failed (%s: %s); tracing with otelkit.configure() instead",
                            type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            _cfg.configure(environ=env)
            return
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            _cfg._set_current(
                _cfg.Pipeline(provider=provider, sampler=sampler, processors=processors, exporters=exporters)
            )


class OtelkitDistro(BaseDistro):  # type: ignore[misc]
    """Distro defaults: the trace exporter ``configure()`` would pick (``otelkit_otlp``, or
    the stock one when the chosen OTLP protocol is ``grpc``/``http/json``); OTLP protocol
    ``http/protobuf``; no metrics/logs exporters unless asked."""

    def _configure(self, **kwargs: Any) -> None:
        env = os.environ
        if config.OTEL_TRACES_EXPORTER.raw(env) is None:
            env[OTEL_TRACES_EXPORTER] = _cfg.sdk_exporter_setting(env)
        env.setdefault("OTEL_METRICS_EXPORTER", "none")
        env.setdefault("OTEL_LOGS_EXPORTER", "none")
        env.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
