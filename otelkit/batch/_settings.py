"""Settings of the smart batch span processor (the stock ``OTEL_BSP_*`` and ``OTELKIT_BATCH_*``).

Precedence for every batch bound: explicit constructor argument > ``OTELKIT_BATCH_*`` (when
set) > the matching ``OTEL_BSP_*`` (when set) > the ``OTELKIT_BATCH_*`` default.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from otelkit.config import HOUR_MS, enum_setting, environment_check, int_setting

__all__ = [
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTELKIT_BATCH_MAX_QUEUE",
    "OTELKIT_BATCH_MAX_SIZE",
    "OTELKIT_BATCH_MIN_SIZE",
    "OTELKIT_BATCH_FRESHNESS_MS",
    "OTELKIT_BATCH_STARTUP_MS",
    "OTELKIT_BATCH_MAX_CONCURRENT_EXPORTS",
    "OTELKIT_BATCH_OVERFLOW",
    "OTELKIT_BATCH_BLOCK_TIMEOUT_MS",
    "OTELKIT_BATCH_MAX_QUEUE_BYTES",
]

OTEL_BSP_SCHEDULE_DELAY = int_setting(
    "OTEL_BSP_SCHEDULE_DELAY", 5000, "Batch processor maximum delay between exports (ms).", min=0, max=HOUR_MS, standard=True
)

OTEL_BSP_EXPORT_TIMEOUT = int_setting(
    "OTEL_BSP_EXPORT_TIMEOUT", 30000, "Batch processor export timeout (ms).", min=0, max=HOUR_MS, standard=True
)

OTEL_BSP_MAX_QUEUE_SIZE = int_setting(
    "OTEL_BSP_MAX_QUEUE_SIZE", 2048, "Batch processor queue capacity (spans).", min=1, standard=True
)

OTEL_BSP_MAX_EXPORT_BATCH_SIZE = int_setting(
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, "Batch processor maximum batch size (spans).", min=1, standard=True
)

OTELKIT_BATCH_MAX_QUEUE = int_setting(
    "OTELKIT_BATCH_MAX_QUEUE",
    65536,
    "SmartBatchSpanProcessor queue capacity (spans) when OTEL_BSP_MAX_QUEUE_SIZE is unset; "
    "the memory bound of the processor: a finished span with 4 attributes holds about 3 KB, so "
    "the default bounds the queue at about 190 MiB during a burst (steady state stays far below).",
    min=1,
    component="batch",
)

OTELKIT_BATCH_MAX_SIZE = int_setting(
    "OTELKIT_BATCH_MAX_SIZE",
    8192,
    "Largest batch (spans) handed to one export() call when OTEL_BSP_MAX_EXPORT_BATCH_SIZE is unset.",
    min=1,
    component="batch",
)

OTELKIT_BATCH_MIN_SIZE = int_setting(
    "OTELKIT_BATCH_MIN_SIZE",
    16,
    "Lower bound of the adaptive target batch size (spans); below it the wait deadline flushes.",
    min=1,
    component="batch",
)

OTELKIT_BATCH_FRESHNESS_MS = int_setting(
    "OTELKIT_BATCH_FRESHNESS_MS",
    200,
    "Adaptive wait while exports are fast (ms): a lone span is handed to the exporter this long "
    "after it ended. The wait grows above it only while exports are slow, up to "
    "OTEL_BSP_SCHEDULE_DELAY.",
    min=1,
    max=HOUR_MS,
    component="batch",
)

OTELKIT_BATCH_STARTUP_MS = int_setting(
    "OTELKIT_BATCH_STARTUP_MS",
    50,
    "Wait before the very first export after start (or fork), so start-up spans show up at once (ms).",
    min=0,
    max=HOUR_MS,
    component="batch",
)

OTELKIT_BATCH_MAX_CONCURRENT_EXPORTS = int_setting(
    "OTELKIT_BATCH_MAX_CONCURRENT_EXPORTS",
    2,
    "Export calls allowed in flight at once; above 1 the exporter must be thread-safe "
    "(otelkit's and the stock OTLP exporters are).",
    min=1,
    max=16,
    component="batch",
)

OTELKIT_BATCH_OVERFLOW = enum_setting(
    "OTELKIT_BATCH_OVERFLOW",
    "drop",
    ("drop", "block"),
    "What on_end does when the queue is full: `drop` the newest span (counted as "
    "dropped_queue_full) or `block` the producer up to OTELKIT_BATCH_BLOCK_TIMEOUT_MS, then drop.",
    component="batch",
)

OTELKIT_BATCH_BLOCK_TIMEOUT_MS = int_setting(
    "OTELKIT_BATCH_BLOCK_TIMEOUT_MS",
    100,
    "Longest a producer thread waits for queue space under the `block` overflow policy (ms).",
    min=0,
    max=HOUR_MS,
    component="batch",
)

OTELKIT_BATCH_MAX_QUEUE_BYTES = int_setting(
    "OTELKIT_BATCH_MAX_QUEUE_BYTES",
    64 * 1024 * 1024,
    "Byte budget of the SmartBatchSpanProcessor queue when its exporter takes encoded spans "
    "(otelkit's OTLP/HTTP and Kafka exporters): each ended span is held as its encoded bytes plus "
    "64 bytes of overhead; a span that would exceed the budget is dropped and counted "
    "(dropped_queue_full). The span-count bound applies as well.",
    min=1,
    component="batch",
)



@environment_check()
def _check_stock_batch(environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """With ``OTELKIT_PROCESSOR=stock``, a batch larger than the queue (the stock constructor
    refuses it; the pipeline clamps it with a warning)."""
    from otelkit import config

    if config.OTELKIT_PROCESSOR.get(environ) != "stock":
        return
    queue, batch = OTEL_BSP_MAX_QUEUE_SIZE.get(environ), OTEL_BSP_MAX_EXPORT_BATCH_SIZE.get(environ)
    if batch > queue:
        yield ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", f"OTEL_BSP_MAX_EXPORT_BATCH_SIZE={batch} is larger than "
               f"OTEL_BSP_MAX_QUEUE_SIZE={queue}: expected at most the queue size (OTELKIT_PROCESSOR=stock)")
