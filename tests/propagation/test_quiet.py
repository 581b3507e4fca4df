"""The SDK propagators' warnings are limited only while otelkit's carriers call them."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from otelkit.propagation._context import extract_context
from otelkit.propagation._quiet import SDK_PARSER_LOGGERS, sdk_logs_limited
from otelkit.propagation.asgi import index_getter, index_headers

SDK = "opentelemetry.baggage.propagation"


def _sdk_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name in SDK_PARSER_LOGGERS]


def test_outside_otelkit_the_sdk_logs_exactly_as_before(caplog: pytest.LogCaptureFixture) -> None:
    """No global logging change: the application's own SDK calls log every line, in full."""
    extract_context(index_headers([(b"baggage", b"a,a")]), index_getter)  # installs the filter
    caplog.clear()
    for _ in range(3):
        W3CBaggagePropagator().extract({"baggage": "a,a," + "b" * 300})
    lines = _sdk_lines(caplog)
    assert len(lines) == 9 and any("b" * 300 in line for line in lines)


def test_inside_otelkit_each_kind_logs_once_and_quotes_a_prefix(caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(1000):
        extract_context(index_headers([(b"baggage", b"c" * 300)]), index_getter)
    lines = _sdk_lines(caplog)
    assert len(lines) == 1 and "c" * 100 not in lines[0] and "chars)" in lines[0]


def test_one_line_per_sdk_logger_per_interval_with_the_suppressed_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from otelkit import _warn
    from otelkit.propagation import _quiet

    now = [10.0]
    monkeypatch.setattr(_quiet._FILTER, "clock", lambda: now[0])
    _warn.configure({"OTELKIT_WARN_INTERVAL_S": "5"})
    logger = logging.getLogger(SDK)
    with sdk_logs_limited():
        logger.warning("Invalid baggage entry: `%s`", "x" * 200)
        logger.warning("Baggage list-member `%s` doesn't match the format", "a")  # same logger: same kind
        now[0] += 5
        logger.warning("Baggage list-member `%s` doesn't match the format", "b")
    lines = _sdk_lines(caplog)
    assert lines == ["Invalid baggage entry: `" + "x" * 64 + "...(200 chars)`",
                     "Baggage list-member `b` doesn't match the format (1 similar warnings suppressed)"]


def test_the_flag_does_not_leak_out_of_the_block(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(SDK)
    with sdk_logs_limited():
        logger.warning("kind %s", "a")
        logger.warning("kind %s", "b")
    logger.warning("kind %s", "c")
    assert _sdk_lines(caplog) == ["kind a", "kind c"]
