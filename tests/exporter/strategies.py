"""Hypothesis strategies for ended spans covering everything OTLP can carry.

Attributes of every type (str, bool, int64 extremes, float specials, bytes, homogeneous
and nested sequences, maps, None), tiny and huge values (multi-byte length varints),
events, links, status, kinds, dropped counts (bounded attributes/events/links), trace
flags and tracestate, remote/local parents, and several resources and scopes, including
equal-but-distinct objects (which the SDK groups together).
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

MAX64 = (1 << 63) - 1
MIN64 = -(1 << 63)

small_text = st.text(max_size=12)
huge_text = st.integers(min_value=128, max_value=70_000).map(lambda n: "é" * (n // 2) + "x" * (n - n // 2))
texts = st.one_of(small_text, small_text, small_text, huge_text)
ints = st.one_of(
    st.integers(min_value=MIN64, max_value=MAX64),
    st.sampled_from([0, 1, -1, 127, 128, MAX64, MIN64, 1 << 32]),
)
floats = st.one_of(st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324]))
scalars = st.one_of(texts, ints, floats, st.booleans(), st.binary(max_size=20), st.binary(min_size=200, max_size=300))
homogeneous = st.one_of(
    st.lists(small_text, max_size=4),
    st.lists(ints, max_size=4),
    st.lists(floats, max_size=4),
    st.lists(st.booleans(), max_size=4),
    st.lists(st.binary(max_size=4), max_size=3),
).flatmap(lambda xs: st.sampled_from([xs, tuple(xs)]))
values: st.SearchStrategy[Any] = st.one_of(
    scalars,
    homogeneous,
    st.lists(homogeneous, max_size=2),
    st.dictionaries(small_text, scalars, max_size=3),
    st.none(),
)
plain_attrs = st.dictionaries(small_text, values, max_size=6)


@st.composite
def attr_maps(draw: st.DrawFn) -> Any:
    """A plain dict, or ``BoundedAttributes`` that dropped some (dropped count > 0)."""
    attrs = draw(plain_attrs)
    if attrs and draw(st.booleans()):
        return BoundedAttributes(maxlen=draw(st.integers(0, len(attrs))), attributes=attrs, immutable=False)
    return attrs


def bounded(items: list[Any], limit: int | None) -> Any:
    if limit is None:
        return items
    out: BoundedList[Any] = BoundedList(limit)
    out.extend(items)
    return out


ids128 = st.one_of(st.integers(min_value=1, max_value=(1 << 128) - 1), st.sampled_from([1, (1 << 128) - 1, 1 << 64]))
ids64 = st.one_of(st.integers(min_value=1, max_value=(1 << 64) - 1), st.sampled_from([1, (1 << 64) - 1]))
times = st.one_of(st.none(), st.integers(min_value=0, max_value=(1 << 64) - 1), st.just(1_700_000_000_000_000_000))
flags = st.sampled_from([TraceFlags(0), TraceFlags(1), TraceFlags(0x03)])
state_keys = st.from_regex(r"[a-z][a-z0-9_\-*/]{0,8}", fullmatch=True)
state_values = st.from_regex(r"[!-+\--<>-~]{1,12}", fullmatch=True)  # printable, no ',' or '='
trace_states = st.one_of(
    st.none(),
    st.just(TraceState()),
    st.dictionaries(state_keys, state_values, min_size=1, max_size=4).map(lambda d: TraceState(list(d.items()))),
)


SAMPLED = TraceFlags(1)


def ctx(trace_id: int, span_id: int, remote: bool, trace_flags: TraceFlags = SAMPLED,
        state: TraceState | None = None) -> SpanContext:
    return SpanContext(trace_id, span_id, remote, trace_flags, state)


contexts = st.builds(ctx, ids128, ids64, st.booleans(), flags, trace_states)
links = st.builds(Link, contexts, attr_maps())
events = st.builds(Event, small_text, attr_maps(), times)
statuses = st.one_of(
    st.sampled_from([Status(StatusCode.UNSET), Status(StatusCode.OK), Status(StatusCode.ERROR)]),
    st.builds(Status, st.just(StatusCode.ERROR), texts),
)
limits = st.one_of(st.none(), st.integers(0, 3))

_R1 = Resource({"service.name": "checkout", "host.name": "web-17", "process.pid": 4242})
RESOURCES = [
    _R1,
    Resource({"service.name": "checkout", "host.name": "web-17", "process.pid": 4242}),  # equal to _R1
    Resource({"service.name": "x", "k": [1, 2]}, "https://opentelemetry.io/schemas/1.26.0"),
    Resource({}),
]
_S1 = InstrumentationScope("otelkit.tests", "0.1")
SCOPES = [
    _S1,
    InstrumentationScope("otelkit.tests", "0.1"),  # equal to _S1
    InstrumentationScope("other", None, "https://s/2", {"k": "v", "n": 1}),
    InstrumentationScope("", ""),
    None,
]


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    """One ended span with any mix of the fields above."""
    context = draw(contexts)
    parent = draw(st.one_of(st.none(), st.builds(ctx, st.just(context.trace_id), ids64, st.booleans(), flags)))
    return ReadableSpan(
        name=draw(texts),
        context=SpanContext(context.trace_id, context.span_id, False, context.trace_flags, context.trace_state),
        parent=parent,
        resource=draw(st.sampled_from(RESOURCES)),
        attributes=draw(attr_maps()),
        events=bounded(draw(st.lists(events, max_size=3)), draw(limits)),
        links=bounded(draw(st.lists(links, max_size=3)), draw(limits)),
        kind=draw(st.sampled_from(list(SpanKind))),
        instrumentation_scope=draw(st.sampled_from(SCOPES)),
        status=draw(statuses),
        start_time=draw(times),
        end_time=draw(times),
    )


batches = st.lists(spans(), max_size=8)
