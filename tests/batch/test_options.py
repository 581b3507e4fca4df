from __future__ import annotations

import logging
from typing import Any

import pytest

from otelkit._warn import reset_warnings
from otelkit.batch import BatchOptions


def test_defaults_without_environment() -> None:
    o = BatchOptions.resolve({})
    assert (o.max_queue_size, o.max_batch, o.min_batch) == (65536, 8192, 16)
    assert (o.max_wait_ms, o.freshness_ms, o.startup_ms, o.export_timeout_ms) == (5000, 200, 50, 30000)
    assert (o.max_concurrent_exports, o.overflow, o.block_timeout_ms) == (2, "drop", 100)
    assert o.max_request_bytes == 4 << 20


@pytest.mark.parametrize(("env", "field", "expected"), [
    ({"OTEL_BSP_MAX_QUEUE_SIZE": "100"}, "max_queue_size", 100),
    ({"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTELKIT_BATCH_MAX_QUEUE": "300"}, "max_queue_size", 300),
    ({"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "64"}, "max_batch", 64),
    ({"OTELKIT_BATCH_MAX_SIZE": "128", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "64"}, "max_batch", 128),
    ({"OTEL_BSP_SCHEDULE_DELAY": "1000"}, "max_wait_ms", 1000),
    ({"OTEL_BSP_EXPORT_TIMEOUT": "250"}, "export_timeout_ms", 250),
    ({"OTELKIT_BATCH_FRESHNESS_MS": "20"}, "freshness_ms", 20),
    ({"OTELKIT_BATCH_MAX_CONCURRENT_EXPORTS": "4"}, "max_concurrent_exports", 4),
    ({"OTELKIT_BATCH_OVERFLOW": "BLOCK"}, "overflow", "block"),
    ({"OTELKIT_BATCH_BLOCK_TIMEOUT_MS": "7"}, "block_timeout_ms", 7),
    ({"OTELKIT_EXPORTER_MAX_REQUEST_BYTES": "1MiB"}, "max_request_bytes", 1 << 20),
    ({"OTELKIT_SELF_METRICS": "false"}, "self_metrics", False),
])
def test_environment_values(env: dict[str, str], field: str, expected: Any) -> None:
    assert getattr(BatchOptions.resolve(env), field) == expected


@pytest.mark.parametrize(("env", "field", "default"), [
    ({"OTEL_BSP_MAX_QUEUE_SIZE": "lots"}, "max_queue_size", 65536),
    ({"OTELKIT_BATCH_MAX_QUEUE": "0"}, "max_queue_size", 65536),
    ({"OTELKIT_BATCH_OVERFLOW": "sideways"}, "overflow", "drop"),
    ({"OTELKIT_BATCH_MAX_CONCURRENT_EXPORTS": "99"}, "max_concurrent_exports", 2),
    ({"OTEL_BSP_SCHEDULE_DELAY": "-5"}, "max_wait_ms", 5000),
])
def test_invalid_environment_warns_and_uses_default(
    env: dict[str, str], field: str, default: Any, caplog: pytest.LogCaptureFixture
) -> None:
    reset_warnings()
    with caplog.at_level(logging.WARNING, logger="otelkit.config"):
        assert getattr(BatchOptions.resolve(env), field) == default
    [name] = env
    assert name in caplog.text


def test_explicit_arguments_win_over_environment() -> None:
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTELKIT_BATCH_MAX_QUEUE": "300", "OTELKIT_BATCH_OVERFLOW": "block"}
    o = BatchOptions.resolve(env, max_queue_size=7, overflow="drop")
    assert (o.max_queue_size, o.overflow) == (7, "drop")


@pytest.mark.parametrize(("kw", "named"), [
    ({"max_queue_size": 0}, "max_queue_size=0"),
    ({"max_batch": -1}, "max_batch=-1"),
    ({"freshness_ms": 0}, "freshness_ms=0"),
    ({"max_concurrent_exports": 17}, "max_concurrent_exports=17"),
    ({"overflow": "spill"}, "overflow='spill'"),
    ({"block_timeout_ms": 1.5}, "block_timeout_ms=1.5"),
    ({"colour": "red"}, "colour"),
])
def test_bad_explicit_values_raise_naming_them(kw: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("(", r"\(")) as info:
        BatchOptions.resolve({}, **kw)
    assert "expected" in str(info.value) or "allowed" in str(info.value)
