"""Resolved settings of one SmartBatchSpanProcessor (explicit args > OTELKIT_BATCH_* > OTEL_BSP_*)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otelkit import config
from otelkit._parse import check_range
from otelkit._warn import warn_limited
from otelkit.config import Setting

__all__ = ["BatchOptions", "OVERFLOW_POLICIES"]

OVERFLOW_POLICIES = ("drop", "block")

_config_logger = logging.getLogger("otelkit.config")


def _pick(explicit: int | None, own: Setting[int], stock: Setting[int], env: Mapping[str, str] | None) -> int:
    """Explicit value, else the otelkit variable when set, else the OTEL_BSP_* one when set,
    else the otelkit default."""
    if explicit is not None:
        return explicit
    if own.raw(env) is not None:
        return own.get(env)
    raw = stock.raw(env)
    if raw is not None:
        try:
            return stock.parse(raw)
        except ValueError as exc:
            warn_limited(_config_logger, "config:" + stock.name, "%s; using the default %r", exc, own.default)
    return own.default


def _check_int(name: str, value: Any, lo: int) -> int:
    return int(check_range(name, value, lo=lo, integer=True))


def _batch_within(queue: int, explicit: int | None, env: Mapping[str, str] | None) -> int:
    """The batch bound, at most the queue size: an explicit larger one raises (as the SDK's
    processor does); one from the environment warns and is capped; the default is capped."""
    if explicit is not None and explicit > queue:
        raise ValueError(
            f"max_export_batch_size={explicit!r} is invalid: expected at most max_queue_size ({queue})")
    batch = _pick(explicit, config.OTELKIT_BATCH_MAX_SIZE, config.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, env)
    if batch > queue:
        if config.OTELKIT_BATCH_MAX_SIZE.raw(env) is not None or config.OTEL_BSP_MAX_EXPORT_BATCH_SIZE.raw(env) is not None:
            warn_limited(_config_logger, "config:batch-over-queue",
                         "batch size %d is larger than the queue (%d spans); using %d", batch, queue, queue)
        batch = queue
    return batch


@dataclass(frozen=True)
class BatchOptions:
    """Every bound the processor works within.

    Attributes:
        max_queue_size: queue capacity (spans); the memory bound.
        max_batch: largest batch per export() call (spans).
        min_batch: lower bound of the adaptive target batch (spans).
        max_wait_ms: upper bound of the adaptive wait (ms).
        freshness_ms: wait while exports are fast (ms).
        startup_ms: wait before the first export (ms).
        export_timeout_ms: longest one export() call is waited for, and the shutdown budget (ms).
        max_concurrent_exports: export() calls in flight at once.
        overflow: ``drop`` or ``block``.
        block_timeout_ms: longest a producer blocks under ``block`` (ms).
        max_request_bytes: upper bound on encoded bytes per export() call.
        self_metrics: report metrics through the OpenTelemetry metrics API.
        max_queue_bytes: byte budget of the queue when spans are held encoded (bytes).
    """

    max_queue_size: int
    max_batch: int
    min_batch: int
    max_wait_ms: int
    freshness_ms: int
    startup_ms: int
    export_timeout_ms: int
    max_concurrent_exports: int
    overflow: str
    block_timeout_ms: int
    max_request_bytes: int
    self_metrics: bool
    max_queue_bytes: int = 64 * 1024 * 1024

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None, **explicit: Any) -> BatchOptions:
        """Options from explicit keyword values (``None`` = not given) and the environment.

        Raises:
            ValueError: an explicit value is out of range (names the value and what is allowed).
        """
        env = environ
        ex = {k: v for k, v in explicit.items() if v is not None}
        unknown = set(ex) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)}; allowed: {sorted(cls.__dataclass_fields__)}")
        for name, lo in (
            ("max_queue_size", 1), ("max_batch", 1), ("min_batch", 1), ("max_wait_ms", 1),
            ("freshness_ms", 1), ("startup_ms", 0), ("export_timeout_ms", 1),
            ("max_concurrent_exports", 1), ("block_timeout_ms", 0), ("max_request_bytes", 1),
            ("max_queue_bytes", 1),
        ):
            if name in ex:
                _check_int(name, ex[name], lo)
        if "overflow" in ex and ex["overflow"] not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow={ex['overflow']!r} is invalid: expected one of {', '.join(OVERFLOW_POLICIES)}")
        if ex.get("max_concurrent_exports", 1) > 16:
            raise ValueError(f"max_concurrent_exports={ex['max_concurrent_exports']!r} is invalid: expected 1 to 16")
        timeout = config.OTEL_BSP_EXPORT_TIMEOUT.resolve(ex.get("export_timeout_ms"), env)
        max_wait = config.OTEL_BSP_SCHEDULE_DELAY.resolve(ex.get("max_wait_ms"), env)
        queue = _pick(ex.get("max_queue_size"), config.OTELKIT_BATCH_MAX_QUEUE, config.OTEL_BSP_MAX_QUEUE_SIZE, env)
        return cls(
            max_queue_size=queue,
            max_batch=_batch_within(queue, ex.get("max_batch"), env),
            min_batch=config.OTELKIT_BATCH_MIN_SIZE.resolve(ex.get("min_batch"), env),
            max_wait_ms=max(1, max_wait),
            freshness_ms=config.OTELKIT_BATCH_FRESHNESS_MS.resolve(ex.get("freshness_ms"), env),
            startup_ms=config.OTELKIT_BATCH_STARTUP_MS.resolve(ex.get("startup_ms"), env),
            export_timeout_ms=max(1, timeout),
            max_concurrent_exports=config.OTELKIT_BATCH_MAX_CONCURRENT_EXPORTS.resolve(
                ex.get("max_concurrent_exports"), env),
            overflow=config.OTELKIT_BATCH_OVERFLOW.resolve(ex.get("overflow"), env),
            block_timeout_ms=config.OTELKIT_BATCH_BLOCK_TIMEOUT_MS.resolve(ex.get("block_timeout_ms"), env),
            max_request_bytes=config.OTELKIT_EXPORTER_MAX_REQUEST_BYTES.resolve(ex.get("max_request_bytes"), env),
            self_metrics=config.OTELKIT_SELF_METRICS.resolve(ex.get("self_metrics"), env),
            max_queue_bytes=config.OTELKIT_BATCH_MAX_QUEUE_BYTES.resolve(ex.get("max_queue_bytes"), env),
        )
