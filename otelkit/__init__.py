"""otelkit: production tracing on top of the OpenTelemetry Python SDK.

Public names are imported lazily, so ``import otelkit`` stays light and optional
framework dependencies are only imported when their piece is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # pipeline (otelkit.pipeline)
    "configure": "otelkit.pipeline",
    "Pipeline": "otelkit.pipeline",
    "current_pipeline": "otelkit.pipeline",
    # exporters (otelkit.exporter)
    "OtlpHttpSpanExporter": "otelkit.exporter.http",
    "KafkaSpanExporter": "otelkit.exporter.kafka",
    "SpanEncoder": "otelkit.exporter.encoder",
    # batch processor and pools (otelkit.batch, otelkit.pool)
    "SmartBatchSpanProcessor": "otelkit.batch",
    "BufferPool": "otelkit.pool",
    "ObjectPool": "otelkit.pool",
    # head sampling (otelkit.sampling)
    "AdaptiveSampler": "otelkit.sampling.adaptive",
    "RulesSampler": "otelkit.sampling.rules",
    "ConsistentProbabilitySampler": "otelkit.sampling.consistent",
    # tail sampling (otelkit.tail)
    "TailSamplingProcessor": "otelkit.tail.processor",
    # carriers and middleware (otelkit.propagation, otelkit.middleware)
    "ASGITracingMiddleware": "otelkit.middleware.asgi",
    "aiohttp_tracing_middleware": "otelkit.middleware.aiohttp",
    "aiohttp_client_trace_config": "otelkit.middleware.aiohttp",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'otelkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
