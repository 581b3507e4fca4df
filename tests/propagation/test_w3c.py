"""Exact W3C Trace Context (level 2) parsing: every case of the w3c/trace-context test suite.

The cases below restate, as a table, what ``test/test.py`` of github.com/w3c/trace-context
(strict level 2, spec level 2) sends and expects; they run through otelkit's ASGI header
index and :func:`extract_context`, the path the middleware takes.
"""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.span import TraceState

from otelkit.propagation._context import extract_context
from otelkit.propagation.asgi import index_getter, index_headers
from otelkit.propagation.w3c import (
    MAX_TRACESTATE_CHARS,
    W3CTraceContextPropagator,
    W3CTraceState,
    parse_traceparent,
    parse_tracestate,
)

TID = "12345678901234567890123456789012"
SID = "1234567890123456"
TP = f"00-{TID}-{SID}-01"
TP0 = f"00-{TID}-{SID}-00"

Headers = list[tuple[str, str]]


def extract(headers: Headers) -> trace.SpanContext:
    index = index_headers([(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers])
    return trace.get_current_span(extract_context(index, index_getter, "test")).get_span_context()


def trace_id(headers: Headers) -> str | None:
    ctx = extract(headers)
    return f"{ctx.trace_id:032x}" if ctx.is_valid else None


def state(headers: Headers) -> dict[str, str]:
    return dict(extract(headers).trace_state.items())


# --- traceparent ------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "expected"), [
    pytest.param([], None, id="both-missing"),
    pytest.param([("traceparent", TP)], TID, id="traceparent-included"),
    pytest.param([("traceparent", f"00-{TID[:-1]}1-{SID}-01"), ("traceparent", TP)], None, id="duplicated"),
    pytest.param([("trace-parent", TP)], None, id="name-trace-parent"),
    pytest.param([("trace.parent", TP)], None, id="name-trace.parent"),
    pytest.param([("TraceParent", TP)], TID, id="casing-TraceParent"),
    pytest.param([("TrAcEpArEnT", TP)], TID, id="casing-TrAcEpArEnT"),
    pytest.param([("TRACEPARENT", TP)], TID, id="casing-TRACEPARENT"),
    pytest.param([("traceparent", TP + ".")], None, id="v00-trailing-dot"),
    pytest.param([("traceparent", TP + "-what-the-future-will-be-like")], None, id="v00-extra-field"),
    pytest.param([("traceparent", f"cc-{TID}-{SID}-01")], TID, id="vcc"),
    pytest.param([("traceparent", f"cc-{TID}-{SID}-01-what-the-future-will-be-like")], TID, id="vcc-extra-field"),
    pytest.param([("traceparent", f"cc-{TID}-{SID}-01.what-the-future-will-be-like")], None, id="vcc-bad-separator"),
    pytest.param([("traceparent", f"ff-{TID}-{SID}-01")], None, id="vff"),
    pytest.param([("traceparent", f".0-{TID}-{SID}-01")], None, id="version-illegal-1"),
    pytest.param([("traceparent", f"0.-{TID}-{SID}-01")], None, id="version-illegal-2"),
    pytest.param([("traceparent", f"000-{TID}-{SID}-01")], None, id="version-too-long-3"),
    pytest.param([("traceparent", f"0000-{TID}-{SID}-01")], None, id="version-too-long-4"),
    pytest.param([("traceparent", f"0-{TID}-{SID}-01")], None, id="version-too-short"),
    pytest.param([("traceparent", f"00-{'0' * 32}-{SID}-01")], None, id="trace-id-zero"),
    pytest.param([("traceparent", f"00-.{TID[1:]}-{SID}-01")], None, id="trace-id-illegal-1"),
    pytest.param([("traceparent", f"00-{TID[:-1]}.-{SID}-01")], None, id="trace-id-illegal-2"),
    pytest.param([("traceparent", f"00-{TID}3-{SID}-01")], None, id="trace-id-too-long"),
    pytest.param([("traceparent", f"00-{TID[:-1]}-{SID}-01")], None, id="trace-id-too-short"),
    pytest.param([("traceparent", f"00-{TID}-{'0' * 16}-01")], None, id="parent-id-zero"),
    pytest.param([("traceparent", f"00-{TID}-.{SID[1:]}-01")], None, id="parent-id-illegal-1"),
    pytest.param([("traceparent", f"00-{TID}-{SID[:-1]}.-01")], None, id="parent-id-illegal-2"),
    pytest.param([("traceparent", f"00-{TID}-{SID}7-01")], None, id="parent-id-too-long"),
    pytest.param([("traceparent", f"00-{TID}-{SID[:-1]}-01")], None, id="parent-id-too-short"),
    pytest.param([("traceparent", f"00-{TID}-{SID}-.0")], None, id="flags-illegal-1"),
    pytest.param([("traceparent", f"00-{TID}-{SID}-0.")], None, id="flags-illegal-2"),
    pytest.param([("traceparent", f"00-{TID}-{SID}-001")], None, id="flags-too-long"),
    pytest.param([("traceparent", f"00-{TID}-{SID}-1")], None, id="flags-too-short"),
    pytest.param([("traceparent", " " + TP)], TID, id="ows-leading-space"),
    pytest.param([("traceparent", "\t" + TP)], TID, id="ows-leading-tab"),
    pytest.param([("traceparent", TP + " ")], TID, id="ows-trailing-space"),
    pytest.param([("traceparent", TP + "\t")], TID, id="ows-trailing-tab"),
    pytest.param([("traceparent", "\t " + TP + " \t")], TID, id="ows-both"),
    pytest.param([("traceparent", f"00-{'AB' * 16}-{SID}-01")], None, id="upper-case-hex"),
])
def test_traceparent(headers: Headers, expected: str | None) -> None:
    assert trace_id(headers) == expected


@pytest.mark.parametrize(("flags", "sampled", "random"), [("00", False, False), ("01", True, False),
                                                         ("02", False, True), ("03", True, True), ("ff", True, True)])
def test_known_flags_are_kept_and_reserved_ones_dropped(flags: str, sampled: bool, random: bool) -> None:
    ctx = extract([("traceparent", f"00-{TID}-{SID}-{flags}")])
    assert (ctx.trace_flags.sampled, ctx.trace_flags.random_trace_id, ctx.trace_flags & ~0x03) == (sampled, random, 0)


def test_random_flag_and_trace_id_reach_the_child_and_outgoing_headers() -> None:
    """Level 2 (test_propagates_random_flag) plus the 'multiple requests' cases of AdvancedTest."""
    tracer = TracerProvider().get_tracer("t")
    parent = extract_context(index_headers([(b"traceparent", f"00-{TID}-{SID}-02".encode())]), index_getter)
    outgoing = []
    for _ in range(3):
        with tracer.start_as_current_span("call", context=parent):
            carrier: dict[str, str] = {}
            W3CTraceContextPropagator().inject(carrier)
            outgoing.append(parse_traceparent(carrier["traceparent"]))
    assert {o[0] for o in outgoing if o} == {int(TID, 16)}
    assert len({o[1] for o in outgoing if o}) == 3 and int(SID, 16) not in {o[1] for o in outgoing if o}
    assert all(o is not None and o[2] & 0x02 for o in outgoing)


# --- tracestate -------------------------------------------------------------------------

VENDORLESS = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
ALL_VALUE = "".join(map(chr, [*range(0x20, 0x2C), *range(0x2D, 0x3D), *range(0x3E, 0x7F)]))
THIRTY_TWO = ",".join(f"bar{i:02d}={i:02d}" for i in range(1, 33))


def ts(*values: str) -> Headers:
    return [("traceparent", TP0), *(("tracestate", v) for v in values)]


@pytest.mark.parametrize(("headers", "expected"), [
    pytest.param([("tracestate", "foo=1")], {}, id="traceparent-missing-1"),
    pytest.param([("tracestate", "foo=1,bar=2")], {}, id="traceparent-missing-2"),
    pytest.param(ts("foo=1,bar=2"), {"foo": "1", "bar": "2"}, id="both-included"),
    pytest.param([("traceparent", TP0), ("trace-state", "foo=1")], {}, id="name-trace-state"),
    pytest.param([("traceparent", TP0), ("trace.state", "foo=1")], {}, id="name-trace.state"),
    pytest.param([("traceparent", TP0), ("TraceState", "foo=1")], {"foo": "1"}, id="casing-TraceState"),
    pytest.param([("traceparent", TP0), ("TrAcEsTaTe", "foo=1")], {"foo": "1"}, id="casing-TrAcEsTaTe"),
    pytest.param([("traceparent", TP0), ("TRACESTATE", "foo=1")], {"foo": "1"}, id="casing-TRACESTATE"),
    pytest.param(ts(""), {}, id="empty"),
    pytest.param(ts("foo=1", ""), {"foo": "1"}, id="empty-after"),
    pytest.param(ts("", "foo=1"), {"foo": "1"}, id="empty-before"),
    pytest.param(ts("foo=1,foo=1"), {"foo": "1"}, id="duplicate-same-value"),
    pytest.param(ts("foo=1,foo=2"), {"foo": "1"}, id="duplicate-keeps-first"),
    pytest.param(ts("foo=1", "foo=1"), {"foo": "1"}, id="duplicate-across-headers"),
    pytest.param(ts("foo=1", "foo=2"), {"foo": "1"}, id="duplicate-across-headers-keeps-first"),
    pytest.param(ts(VENDORLESS + "=" + ALL_VALUE), {VENDORLESS: ALL_VALUE}, id="all-allowed-characters"),
    pytest.param(ts(VENDORLESS + "@a-z0-9_-*/=" + ALL_VALUE), {VENDORLESS + "@a-z0-9_-*/": ALL_VALUE},
                 id="all-allowed-characters-vendor"),
    pytest.param(ts("foo=1 \t , \t bar=2, \t baz=3"), {"foo": "1", "bar": "2", "baz": "3"}, id="ows-1"),
    pytest.param(ts("foo=1\t \t,\t \tbar=2,\t \tbaz=3"), {"foo": "1", "bar": "2", "baz": "3"}, id="ows-2"),
    pytest.param(ts(" foo=1"), {"foo": "1"}, id="ows-leading-space"),
    pytest.param(ts("\tfoo=1"), {"foo": "1"}, id="ows-leading-tab"),
    pytest.param(ts("foo=1 "), {"foo": "1"}, id="ows-trailing-space"),
    pytest.param(ts("foo=1\t"), {"foo": "1"}, id="ows-trailing-tab"),
    pytest.param(ts("\t foo=1 \t"), {"foo": "1"}, id="ows-both"),
    pytest.param(ts("foo= 1"), {"foo": " 1"}, id="leading-value-space-kept"),
    pytest.param(ts("foo =1"), {}, id="key-space"),
    pytest.param(ts("FOO=1"), {}, id="key-upper-case"),
    pytest.param(ts("foo.bar=1"), {}, id="key-dot"),
    pytest.param(ts("foo@=1,bar=2"), {"foo@": "1", "bar": "2"}, id="vendor-trailing-at"),
    pytest.param(ts("@foo=1,bar=2"), {}, id="vendor-leading-at"),
    pytest.param(ts("foo@@bar=1,bar=2"), {"foo@@bar": "1", "bar": "2"}, id="vendor-double-at"),
    pytest.param(ts("foo@bar@baz=1,bar=2"), {"foo@bar@baz": "1", "bar": "2"}, id="vendor-two-ats"),
    pytest.param(ts(THIRTY_TWO[:89], THIRTY_TWO[90:179], THIRTY_TWO[180:269], THIRTY_TWO[270:]),
                 {f"bar{i:02d}": f"{i:02d}" for i in range(1, 33)}, id="32-members"),
    pytest.param(ts(THIRTY_TWO, "bar33=33"), {}, id="33-members"),
    pytest.param(ts("foo=1", "z" * 256 + "=1"), {"foo": "1", "z" * 256: "1"}, id="key-256"),
    pytest.param(ts("foo=1", "z" * 257 + "=1"), {}, id="key-257"),
    pytest.param(ts("foo=1", "t" * 241 + "@" + "v" * 14 + "=1"), {"foo": "1", "t" * 241 + "@" + "v" * 14: "1"},
                 id="key-256-with-vendor"),
    pytest.param(ts("foo=1", "t" * 242 + "@v=1"), {"foo": "1", "t" * 242 + "@v": "1"}, id="key-long-tenant"),
    pytest.param(ts("foo=1", "t@" + "v" * 15 + "=1"), {"foo": "1", "t@" + "v" * 15: "1"}, id="key-long-vendor"),
    pytest.param(ts("1a=1"), {"1a": "1"}, id="key-leading-digit"),
    pytest.param(ts("foo=bar=baz"), {}, id="value-with-equals"),
    pytest.param(ts("foo=,bar=3"), {}, id="value-empty"),
    pytest.param(ts("foo=" + "v" * 256), {"foo": "v" * 256}, id="value-256"),
    pytest.param(ts("foo=" + "v" * 257), {}, id="value-257"),
    pytest.param(ts("foo=1\x7f"), {}, id="value-control-character"),
])
def test_tracestate(headers: Headers, expected: dict[str, str]) -> None:
    assert state(headers) == expected


def test_multiple_headers_keep_their_order() -> None:
    ctx = extract(ts("foo=1,bar=2", "rojo=1,congo=2", "baz=3"))
    assert ctx.trace_state.to_header() == "foo=1,bar=2,rojo=1,congo=2,baz=3"


def test_bad_tracestate_keeps_the_traceparent() -> None:
    assert trace_id(ts("@foo=1")) == TID and trace_id(ts("z" * 300)) == TID


def test_long_tracestate_is_truncated_large_members_first_then_from_the_end() -> None:
    small = [f"k{i:02d}=" + "v" * 20 for i in range(20)]  # 24 chars each
    large = "big=" + "x" * 200
    members, problem = parse_tracestate([",".join([small[0], large, *small[1:]])])
    header = ",".join(f"{k}={v}" for k, v in members)
    assert problem == "length" and len(header) <= MAX_TRACESTATE_CHARS
    assert "big" not in dict(members) and members[:3] == [(s.split("=")[0], "v" * 20) for s in small[:3]]
    assert len(members) == MAX_TRACESTATE_CHARS // 25  # 20 members of 24 chars + commas fit


def test_512_characters_are_propagated_untouched() -> None:
    members = [(f"k{i:02d}", "v" * 26) for i in range(16)]  # 16 * 30 + 15 + 17 = 512
    kept, problem = parse_tracestate([",".join(f"{k}={v}" for k, v in members[:16]) + ",a=" + "b" * 14])
    assert problem is None and len(kept) == 17


def test_level2_keys_survive_sampler_style_updates() -> None:
    """The API's TraceState would drop ``foo@`` (level-1 grammar) at the first update."""
    st = W3CTraceState([("foo@", "1"), ("t@" + "v" * 15, "2")])
    updated = st.update("ot", "th:8").add("new", "x").delete("t@" + "v" * 15)
    assert updated.to_header() == "new=x,ot=th:8,foo@=1"
    assert isinstance(updated, TraceState)
    assert st.add("Bad", "1") is st and st.update("ok", "bad,value") is st and st.delete("absent") is st


def test_injected_tracestate_keeps_level2_keys() -> None:
    tracer = TracerProvider().get_tracer("t")
    parent = extract_context(index_headers([(b"traceparent", TP.encode()), (b"tracestate", b"foo@=1,bar=2")]),
                             index_getter)
    with tracer.start_as_current_span("call", context=parent):
        carrier: dict[str, str] = {}
        W3CTraceContextPropagator().inject(carrier)
    assert carrier["tracestate"] == "foo@=1,bar=2"
