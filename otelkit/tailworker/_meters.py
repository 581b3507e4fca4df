"""The ``otelkit tail-worker`` command's meter provider, from the standard variables.

A worker embedded in an application reports on the application's (global) meter provider.
The command has no application around it, so it builds its own from the specification's
variables, as the SDK's auto-configuration would:

* ``OTEL_METRICS_EXPORTER``: ``otlp`` (default), ``console`` or ``none`` (comma-separated);
  an unknown name is warned about (rate-limited, naming the value and what is allowed) and
  left out;
* ``otlp`` uses ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``
  (``http/protobuf`` by default, or ``grpc``) and the exporter's own ``OTEL_EXPORTER_OTLP_*``
  endpoint, header and compression variables;
* ``OTEL_METRIC_EXPORT_INTERVAL`` (ms, default 60000) is read by the SDK's periodic reader;
* the resource is ``service.name`` = ``OTEL_SERVICE_NAME`` or ``otelkit-tail-worker``, plus
  ``OTEL_RESOURCE_ATTRIBUTES``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from otelkit._warn import warn_limited

__all__ = ["meter_provider", "EXPORTERS"]

_logger = logging.getLogger("otelkit.tailworker")

EXPORTERS = ("otlp", "console", "none")


def _otlp_exporter(environ: Mapping[str, str]) -> Any:
    protocol = (environ.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf").strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Grpc

        return Grpc()
    if protocol not in ("http/protobuf", ""):
        warn_limited(_logger, "tailworker-metrics-protocol",
                     "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=%r is not supported for the tail worker's metrics; "
                     "allowed: http/protobuf, grpc; using http/protobuf", protocol)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Http

    return Http()


def meter_provider(environ: Mapping[str, str]) -> Any:
    """A ``MeterProvider`` exporting the worker's self-metrics, or ``None`` (``none``, or no
    usable exporter named). The caller shuts it down (which exports the last values)."""
    raw = environ.get("OTEL_METRICS_EXPORTER", "otlp")
    names = [n.strip().lower() for n in raw.split(",") if n.strip()] or ["otlp"]
    if "none" in names:
        return None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    readers = []
    for name in names:
        if name == "otlp":
            readers.append(PeriodicExportingMetricReader(_otlp_exporter(environ)))
        elif name == "console":
            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
        else:
            warn_limited(_logger, "tailworker-metrics-exporter",
                         "OTEL_METRICS_EXPORTER names %r; allowed: %s; leaving it out", name, ", ".join(EXPORTERS))
    if not readers:
        return None
    service = (environ.get("OTEL_SERVICE_NAME") or "").strip() or "otelkit-tail-worker"
    return MeterProvider(resource=Resource.create({SERVICE_NAME: service}), metric_readers=readers)
