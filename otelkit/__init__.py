"""otelkit: production tracing on top of the OpenTelemetry Python SDK.

This package exports what an application wires: ``configure`` and its ``Pipeline``, the
head samplers, ``RecordForTailSampler`` and the processors, the exporters and the
middleware. Building blocks (the encoder, the pools, the policies, carriers) stay in their
modules (``otelkit.exporter.encoder``, ``otelkit.pool``, ``otelkit.tail``, ...). Public names
are imported lazily, so ``import otelkit`` stays light and optional framework dependencies
are only imported when their piece is used.
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
    # batch processor (otelkit.batch)
    "SmartBatchSpanProcessor": "otelkit.batch",
    # head sampling (otelkit.sampling)
    "AdaptiveSampler": "otelkit.sampling.adaptive",
    "RulesSampler": "otelkit.sampling.rules",
    "ConsistentProbabilitySampler": "otelkit.sampling.consistent",
    # tail sampling (otelkit.tail)
    "TailSamplingProcessor": "otelkit.tail.processor",
    "RecordForTailSampler": "otelkit.tail.head",
    # carriers and middleware (otelkit.propagation, otelkit.middleware)
    "ASGITracingMiddleware": "otelkit.middleware.asgi",
    "aiohttp_tracing_middleware": "otelkit.middleware.aiohttp",
    "aiohttp_client_trace_config": "otelkit.middleware.aiohttp",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
