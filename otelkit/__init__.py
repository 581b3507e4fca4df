"""otelkit: production tracing on top of the OpenTelemetry Python SDK.

Public names are imported lazily, so ``import otelkit`` stays light and optional
framework dependencies are only imported when their piece is used.
"""

from __future__ import annotations

from otelkit._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
