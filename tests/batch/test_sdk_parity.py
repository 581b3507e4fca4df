"""What the SDK's own BatchSpanProcessor tests check, checked for SmartBatchSpanProcessor.

Each test names the SDK test it mirrors (opentelemetry-sdk ``tests/trace/export/
test_export.py::TestBatchSpanProcessor`` and ``tests/shared_internal/test_batch_processor.py``);
written for otelkit, not copied. Deliberate differences from the stock processor are tested
in ``test_stock_differences.py``.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
from typing import Any
from unittest import mock

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otelkit.batch import SmartBatchSpanProcessor

from ._helpers import FakeClock, Recording, end_spans, pipeline, wait_until

# Waits long enough that only the mechanism under test can trigger an export.
_LONG = {"freshness_ms": 60_000, "startup_ms": 60_000, "schedule_delay_millis": 60_000}


def test_span_exporter_property_returns_the_exporter() -> None:  # test_get_span_exporter
    exporter = Recording()
    processor = SmartBatchSpanProcessor(exporter, environ={}, self_metrics=False)
    assert processor.span_exporter is exporter
    processor.shutdown()


def test_stock_env_vars_set_the_bounds() -> None:  # test_args_env_var
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_SCHEDULE_DELAY": "2",
           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "3", "OTEL_BSP_EXPORT_TIMEOUT": "4"}
    processor = SmartBatchSpanProcessor(Recording(), environ=env, self_metrics=False)
    o = processor.options
    assert (o.max_queue_size, o.max_wait_ms, o.max_batch, o.export_timeout_ms) == (10, 2, 3, 4)
    processor.shutdown()


def test_invalid_stock_env_vars_fall_back_to_the_defaults() -> None:  # test_args_env_var_value_error
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "a", "OTEL_BSP_SCHEDULE_DELAY": " ",
           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "One", "OTEL_BSP_EXPORT_TIMEOUT": "@"}
    processor = SmartBatchSpanProcessor(Recording(), environ=env, self_metrics=False)
    o = processor.options
    assert (o.max_queue_size, o.max_wait_ms, o.max_batch, o.export_timeout_ms) == (65536, 5000, 8192, 30000)
    processor.shutdown()


def test_on_start_accepts_the_parent_context() -> None:  # test_on_start_accepts_parent_context
    processor = mock.Mock(wraps=SmartBatchSpanProcessor(Recording(), environ={}, self_metrics=False))
    provider = TracerProvider()
    provider.add_span_processor(processor)
    context = Context()
    span = provider.get_tracer("t").start_span("foo", context=context)
    processor.on_start.assert_called_once_with(span, parent_context=context)
    provider.shutdown()


def test_spans_not_sampled_are_not_exported() -> None:  # test_batch_span_processor_not_sampled
    exporter = Recording()
    processor = SmartBatchSpanProcessor(exporter, environ={}, self_metrics=False)
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(processor)
    end_spans(provider, ["foo"])
    assert processor.force_flush(10_000)
    assert exporter.names == [] and processor.stats()["spans_received"] == 0
    provider.shutdown()


def test_span_without_a_context_is_ignored_quietly() -> None:  # test_simple_span_processor_no_context
    processor = SmartBatchSpanProcessor(Recording(), environ={}, self_metrics=False)
    processor.on_end(ReadableSpan("no-context"))
    assert processor.stats()["spans_received"] == 0
    processor.shutdown()


@pytest.mark.parametrize("kw, named", [
    ({"max_queue_size": 0}, "max_queue_size"),
    ({"max_queue_size": -500}, "max_queue_size"),
    ({"schedule_delay_millis": 0}, "max_wait_ms"),
    ({"schedule_delay_millis": -500}, "max_wait_ms"),
    ({"max_export_batch_size": 0}, "max_batch"),
    ({"max_export_batch_size": -500}, "max_batch"),
    ({"max_queue_size": 256, "max_export_batch_size": 512}, r"max_export_batch_size=512 .* at most max_queue_size \(256\)"),
])
def test_bad_bounds_raise_value_error_naming_what_is_allowed(kw: dict[str, Any], named: str) -> None:
    # test_batch_span_processor_parameters
    with pytest.raises(ValueError, match=named):
        SmartBatchSpanProcessor(Recording(), environ={}, self_metrics=False, **kw)


def test_export_starts_once_the_queue_reaches_the_batch_size() -> None:
    # test_telemetry_exported_once_batch_size_reached: no flush, the 60 s waits never pass.
    # The queue is twice the batch: otelkit's target batch is at most half the queue (a full
    # queue never waits for an export; test_stock_differences), so with stock's 15/15 it
    # would export at 7 spans, in one call or two depending on how fast the spans end.
    exporter = Recording()
    provider, processor = pipeline(exporter, max_queue_size=30, max_export_batch_size=15, min_batch=15, **_LONG)
    end_spans(provider, [f"s{i}" for i in range(15)])
    assert wait_until(lambda: len(exporter.names) == 15)
    assert exporter.calls == 1
    provider.shutdown()


def test_lone_span_is_exported_once_the_schedule_delay_passes() -> None:
    # test_telemetry_exported_once_schedule_delay_reached, on a fake clock: the 100 ms
    # schedule delay bounds the 60 s freshness and start-up waits
    clock = FakeClock()
    exporter = Recording()
    provider, processor = pipeline(exporter, clock=clock, freshness_ms=60_000, startup_ms=60_000,
                                   schedule_delay_millis=100)
    end_spans(provider, ["lone"])
    start = clock.now

    def exported_or_tick() -> bool:  # fake time moves at most 1 s, far below the 60 s waits
        if exporter.names:
            return True
        if clock.now - start < 1.0:
            clock.advance(0.05)
        return False

    assert wait_until(exported_or_tick)
    assert exporter.names == ["lone"]
    provider.shutdown()


def test_force_flush_exports_what_was_queued_in_one_call() -> None:  # test_force_flush_flushes_telemetry
    exporter = Recording()
    # a queue of 30: the target batch (half the queue, 15) stays above the 10 spans queued
    provider, processor = pipeline(exporter, max_queue_size=30, max_export_batch_size=15, **_LONG)
    end_spans(provider, [f"s{i}" for i in range(10)])
    assert processor.force_flush(10_000)
    assert exporter.calls == 1 and exporter.names == [f"s{i}" for i in range(10)]
    provider.shutdown()


def test_shutdown_exports_what_was_queued_and_drops_what_comes_after() -> None:
    # test_telemetry_flushed_before_shutdown_and_dropped_after_shutdown
    exporter = Recording()
    provider, processor = pipeline(exporter, **_LONG)
    end_spans(provider, ["before"])
    processor.shutdown()
    assert exporter.names == ["before"] and exporter.calls == 1
    end_spans(provider, ["after"])
    assert exporter.calls == 1 and processor.stats()["dropped_shutdown"] == 1


def test_shutdown_lets_the_running_export_finish() -> None:  # test_shutdown_allows_1_export_to_finish
    gate = threading.Event()
    exporter = Recording(gate=gate)
    provider, processor = pipeline(exporter, max_concurrent_exports=1, max_export_batch_size=1, min_batch=1)
    end_spans(provider, ["s0", "s1", "s2"])
    assert exporter.entered.wait(10)
    stopper = threading.Thread(target=processor.shutdown)
    stopper.start()
    assert wait_until(lambda: processor.force_flush(0) is False)  # shutdown has begun
    gate.set()
    stopper.join(30)
    assert not stopper.is_alive()
    assert exporter.names == ["s0", "s1", "s2"]  # otelkit drains the rest within the budget too
    assert processor.stats()["spans_exported"] == 3


def test_processor_is_garbage_collected_after_shutdown() -> None:  # test_record_processor_is_garbage_collected
    processor = SmartBatchSpanProcessor(Recording(), environ={})
    ref = weakref.ref(processor)
    processor.shutdown()
    del processor
    assert wait_until(lambda: gc.collect() is not None and ref() is None)


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="needs fork")
def test_collected_processor_does_not_break_a_later_fork() -> None:
    # test_garbage_collected_processor_does_not_crash_on_fork: the at-fork hook of a
    # collected processor must be skipped, not raise in the child
    processor = SmartBatchSpanProcessor(Recording(), environ={})
    ref = weakref.ref(processor)
    processor.shutdown()
    del processor
    assert wait_until(lambda: gc.collect() is not None and ref() is None)
    read_fd, write_fd = os.pipe()
    saved_fd, saved_hook = os.dup(2), sys.unraisablehook
    try:
        os.dup2(write_fd, 2)
        sys.unraisablehook = sys.__unraisablehook__  # pytest's hook would keep it in memory
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    finally:
        sys.unraisablehook = saved_hook
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        child_stderr = pipe.read().decode(errors="replace")
    assert "Error" not in child_stderr and "Traceback" not in child_stderr
