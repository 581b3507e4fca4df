"""Retry policy: backoff growth, jitter bounds, Retry-After parsing (fake clocks)."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from otelkit.exporter._retry import MAX_BACKOFF_S, RETRYABLE_STATUS, backoff_s, retry_after_s

NOW = 1_800_000_000.0  # fixed wall clock


@pytest.mark.parametrize(
    ("attempt", "lo", "hi"),
    [(0, 0.4, 0.6), (1, 0.8, 1.2), (3, 3.2, 4.8), (10, 0.8 * MAX_BACKOFF_S, MAX_BACKOFF_S)],
)
def test_backoff_doubles_with_jitter_and_cap(attempt: int, lo: float, hi: float) -> None:
    assert backoff_s(attempt, 0.5, rand=lambda a, b: a) == pytest.approx(min(lo, MAX_BACKOFF_S))
    assert backoff_s(attempt, 0.5, rand=lambda a, b: b) == pytest.approx(min(hi, MAX_BACKOFF_S))


def test_backoff_jitter_varies() -> None:
    values = {backoff_s(2, 1.0) for _ in range(20)}
    assert len(values) > 1 and all(3.2 <= v <= 4.8 for v in values)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("", None),
        (None, None),
        ("-1", None),
        ("soon", None),
        ("1.5", None),
        ("\xb3", None),  # a latin-1 superscript digit: isdigit() but not a number
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_s(header, now=lambda: NOW) == seconds


def test_retry_after_http_date_is_relative_to_now() -> None:
    assert retry_after_s(formatdate(NOW + 42, usegmt=True), now=lambda: NOW) == pytest.approx(42, abs=1)
    assert retry_after_s(formatdate(NOW - 42, usegmt=True), now=lambda: NOW) == 0.0


def test_retryable_statuses() -> None:
    assert RETRYABLE_STATUS == {408, 429, 502, 503, 504}
