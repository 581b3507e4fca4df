"""Fixtures for tail-sampling tests: hand-built spans and traces, and a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags, TraceState

from otelkit.tail.policy import TraceView

_RESOURCE = Resource.create({"service.name": "svc"})


class FakeClock:
    """A settable monotonic clock (seconds)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_span(
    trace_id: int = 0x1234,
    span_id: int = 1,
    *,
    parent_id: int | None = None,
    remote_parent: bool = False,
    name: str = "op",
    status: StatusCode = StatusCode.UNSET,
    start_ms: float = 0.0,
    end_ms: float = 1.0,
    attributes: Mapping[str, Any] | None = None,
    events: int = 0,
    sampled: bool = False,
    trace_state: TraceState | None = None,
    resource: Resource = _RESOURCE,
) -> ReadableSpan:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    ctx = SpanContext(trace_id, span_id, False, flags, trace_state or TraceState())
    parent = None
    if parent_id is not None:
        parent = SpanContext(trace_id, parent_id, remote_parent, flags, trace_state or TraceState())
    return ReadableSpan(
        name=name,
        context=ctx,
        parent=parent,
        resource=resource,
        attributes=dict(attributes or {}),
        events=[Event(f"e{i}", {"i": i}) for i in range(events)],
        status=Status(status),
        start_time=int(start_ms * 1e6),
        end_time=int(end_ms * 1e6),
    )


def make_view(spans: Sequence[ReadableSpan], trace_id: int | None = None) -> TraceView:
    tid = trace_id if trace_id is not None else (spans[0].context.trace_id if spans else 0)  # type: ignore[union-attr]
    return TraceView(tid, spans)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def span() -> Callable[..., ReadableSpan]:
    return make_span


@pytest.fixture
def view() -> Callable[..., TraceView]:
    return make_view
