"""Retry policy of the OTLP/HTTP exporter: which responses to retry and how long to wait.

Retryable: HTTP 408, 429, 502, 503, 504 and connection errors (the OTLP spec's list plus
408). The wait is the server's ``Retry-After`` (delta-seconds or an HTTP date) when given,
otherwise exponential backoff ``initial * 2**attempt`` with ±20% jitter, capped at 30 s.
The caller never sleeps past its export deadline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timezone
from email.utils import parsedate_to_datetime

__all__ = ["RETRYABLE_STATUS", "MAX_BACKOFF_S", "backoff_s", "retry_after_s"]

RETRYABLE_STATUS = frozenset({408, 429, 502, 503, 504})
MAX_BACKOFF_S = 30.0


def backoff_s(attempt: int, initial_s: float, rand: Callable[[float, float], float] = random.uniform) -> float:
    """Backoff before retry number ``attempt + 1`` (``attempt`` counts from 0), in seconds."""
    base = min(MAX_BACKOFF_S, initial_s * (2 ** min(attempt, 30)))
    return float(min(MAX_BACKOFF_S, base * rand(0.8, 1.2)))


def retry_after_s(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value; ``None`` when absent or invalid.

    Args:
        value: delta-seconds (``"3"``) or an HTTP date (``"Wed, 21 Oct 2026 07:28:00 GMT"``).
        now: wall clock (Unix seconds), injectable for tests.
    """
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit() alone also accepts "³" (latin-1 \xb3)
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now())
