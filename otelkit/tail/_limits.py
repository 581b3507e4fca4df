"""Resolved timing and memory limits of the tail processor (explicit args win over env)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otelkit import config
from otelkit._parse import check_range

__all__ = ["Limits", "OVERFLOW_MODES"]

OVERFLOW_MODES = ("decide", "evict")


def _check_int(field: str, value: Any, lo: int) -> int:
    return int(check_range(field, value, lo=lo, integer=True, joiner=" "))


def _check_ms(field: str, value: Any, lo: float) -> float:
    return float(check_range(field + " (ms)", value, lo=lo, joiner=" "))


@dataclass(frozen=True)
class Limits:
    """Tail processor limits.

    Attributes:
        decision_wait_s: wait after the local root span ends before deciding (s); default 1.
        max_wait_s: a trace without a local root is decided this long after its first
            span ended (s); default 30.
        max_spans: most buffered spans over all undecided traces; default 50 000.
        max_bytes: most bytes held (records: encoded span + summary, :mod:`otelkit.tail._record`),
            undecided and awaiting a decision together; default 64 MiB.
        max_spans_per_trace: most buffered spans of one trace; default 10 000.
        overflow: ``decide`` (decide the oldest/oversize trace early) or ``evict`` (drop it).
        decision_cache_size: trace IDs in each of the kept/dropped caches; default 100 000.
    """

    decision_wait_s: float
    max_wait_s: float
    max_spans: int
    max_bytes: int
    max_spans_per_trace: int
    overflow: str
    decision_cache_size: int

    @classmethod
    def resolve(
        cls,
        environ: Mapping[str, str] | None,
        *,
        decision_wait_ms: float | None = None,
        max_wait_ms: float | None = None,
        max_spans: int | None = None,
        max_bytes: int | None = None,
        max_spans_per_trace: int | None = None,
        overflow: str | None = None,
        decision_cache_size: int | None = None,
    ) -> Limits:
        """Explicit values (validated, ValueError on bad ones) or the ``OTELKIT_TAIL_*`` env."""
        if decision_wait_ms is not None:
            _check_ms("decision_wait_ms", decision_wait_ms, 0)
        if max_wait_ms is not None:
            _check_ms("max_wait_ms", max_wait_ms, 1)
        for field, value, lo in (
            ("max_spans", max_spans, 1),
            ("max_bytes", max_bytes, 1),
            ("max_spans_per_trace", max_spans_per_trace, 1),
            ("decision_cache_size", decision_cache_size, 0),
        ):
            if value is not None:
                _check_int(field, value, lo)
        if overflow is not None and overflow not in OVERFLOW_MODES:
            raise ValueError(f'unknown overflow mode "{overflow}", supported: decide, evict')
        return cls(
            decision_wait_s=(
                decision_wait_ms if decision_wait_ms is not None else config.OTELKIT_TAIL_DECISION_WAIT_MS.get(environ)
            ) / 1000.0,
            max_wait_s=(max_wait_ms if max_wait_ms is not None else config.OTELKIT_TAIL_MAX_WAIT_MS.get(environ)) / 1000.0,
            max_spans=config.OTELKIT_TAIL_MAX_SPANS.resolve(max_spans, environ),
            max_bytes=config.OTELKIT_TAIL_MAX_BYTES.resolve(max_bytes, environ),
            max_spans_per_trace=config.OTELKIT_TAIL_MAX_SPANS_PER_TRACE.resolve(max_spans_per_trace, environ),
            overflow=config.OTELKIT_TAIL_OVERFLOW.resolve(overflow, environ),
            decision_cache_size=config.OTELKIT_TAIL_DECISION_CACHE_SIZE.resolve(decision_cache_size, environ),
        )
