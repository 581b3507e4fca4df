"""The span processors the otelkit pipeline puts in front of each exporter, for every set-up
path (:func:`otelkit.configure` and the configurator); re-exported by :mod:`otelkit.pipeline`.

The export processor is the smart batcher (``OTELKIT_PROCESSOR=smart``, the default) or the
SDK's ``BatchSpanProcessor`` (``stock``, given the ``OTEL_BSP_*`` values of the injected
environ), behind the tail-sampling processor when ``OTELKIT_TAIL_ENABLED`` is true.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from otelkit import config
from otelkit._warn import warn_limited

__all__ = ["build_export_processor", "stock_batch_options", "wrap_head_for_tail"]

_logger = logging.getLogger("otelkit.configure")


def build_export_processor(
    exporter: SpanExporter, environ: Mapping[str, str] | None = None
) -> SpanProcessor:
    """The processor in front of one exporter: smart batcher (default) or the stock one,
    behind the tail-sampling processor when ``OTELKIT_TAIL_ENABLED`` is true."""
    env = os.environ if environ is None else environ
    kind = config.OTELKIT_PROCESSOR.get(env)
    processor: SpanProcessor = _smart_or_stock(kind, exporter, env)
    if config.OTELKIT_TAIL_ENABLED.get(env):
        processor = _wrap_tail(processor, env)
    return processor


def _smart_or_stock(kind: str, exporter: SpanExporter, env: Mapping[str, str]) -> SpanProcessor:
    if kind == "stock":
        opts = stock_batch_options(env)
        return BatchSpanProcessor(
            exporter,
            max_queue_size=opts["max_queue_size"],
            schedule_delay_millis=opts["schedule_delay_millis"],
            max_export_batch_size=opts["max_export_batch_size"],
            export_timeout_millis=opts["export_timeout_millis"],
        )
    from otelkit.batch import SmartBatchSpanProcessor

    return SmartBatchSpanProcessor(exporter, environ=env)


def stock_batch_options(environ: Mapping[str, str]) -> dict[str, int]:
    """The stock ``BatchSpanProcessor``'s arguments from the ``OTEL_BSP_*`` values in
    ``environ``, adjusted (with a warning) where the stock constructor would raise."""
    queue = config.OTEL_BSP_MAX_QUEUE_SIZE.get(environ)
    batch = config.OTEL_BSP_MAX_EXPORT_BATCH_SIZE.get(environ)
    if batch > queue:
        warn_limited(_logger, "config:OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=%d is "
                     "larger than OTEL_BSP_MAX_QUEUE_SIZE=%d, which the stock processor refuses; using %d",
                     batch, queue, queue)
        batch = queue
    return {
        "max_queue_size": queue,
        "max_export_batch_size": batch,
        "schedule_delay_millis": max(1, config.OTEL_BSP_SCHEDULE_DELAY.get(environ)),
        "export_timeout_millis": config.OTEL_BSP_EXPORT_TIMEOUT.get(environ),
    }


def _wrap_tail(downstream: SpanProcessor, env: Mapping[str, str]) -> SpanProcessor:
    # Tail sampling in front of the export processor; settings from OTELKIT_TAIL_*.
    from otelkit.tail import TailSamplingProcessor

    return TailSamplingProcessor(downstream, environ=env)


def wrap_head_for_tail(sampler: Sampler, env: Mapping[str, str]) -> Sampler:
    # With tail sampling on, head-dropped spans are still recorded (RECORD_ONLY) so the
    # tail sees every span; head-sampled ones keep their flag and th.
    from otelkit.tail import RecordForTailSampler

    return RecordForTailSampler(sampler)
