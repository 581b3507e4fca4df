from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import baggage, propagate, trace

from otelkit.propagation import asgi
from otelkit.propagation._context import extract_context

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"
TP = f"00-{TRACE_ID}-{SPAN_ID}-01"


def scope(*headers: Any) -> dict[str, Any]:
    return {"type": "http", "headers": list(headers)}


def parent_of(carrier: dict[str, Any]) -> trace.SpanContext:
    ctx = extract_context(carrier, asgi.asgi_getter, "test")
    return trace.get_current_span(ctx).get_span_context()


def test_get_is_case_insensitive() -> None:
    assert asgi.asgi_getter.get(scope((b"TraceParent", TP.encode())), "traceparent") == [TP]


def test_get_missing_header_is_none() -> None:
    assert asgi.asgi_getter.get(scope((b"a", b"b")), "traceparent") is None


def test_repeated_headers_are_joined_with_comma_in_order() -> None:
    s = scope((b"tracestate", b"a=1"), (b"x", b"y"), (b"tracestate", b"b=2"))
    assert asgi.asgi_getter.get(s, "tracestate") == ["a=1,b=2"]


def test_keys_are_header_names_once() -> None:
    s = scope((b"Host", b"h"), (b"accept", b"1"), (b"accept", b"2"))
    assert asgi.asgi_getter.keys(s) == ["host", "accept"]


def test_index_is_built_once_per_scope() -> None:
    s = scope((b"traceparent", TP.encode()))
    first = asgi.header_index(s)
    assert asgi.header_index(s) is first


def test_index_is_rebuilt_when_headers_are_replaced() -> None:
    s = scope((b"a", b"1"))
    asgi.header_index(s)
    s["headers"] = [(b"a", b"2")]
    assert asgi.asgi_getter.get(s, "a") == ["2"]


def test_index_is_rebuilt_when_a_header_is_appended() -> None:
    s = scope((b"a", b"1"))
    asgi.header_index(s)
    s["headers"].append((b"traceparent", TP.encode()))
    assert asgi.asgi_getter.get(s, "traceparent") == [TP]


def test_valid_traceparent_is_extracted() -> None:
    sc = parent_of(scope((b"traceparent", TP.encode())))
    assert sc.trace_id == int(TRACE_ID, 16) and sc.is_remote


def test_tracestate_and_baggage_are_extracted() -> None:
    s = scope((b"traceparent", TP.encode()), (b"tracestate", b"k=v"), (b"baggage", b"user=ann"))
    ctx = extract_context(s, asgi.asgi_getter, "test")
    assert trace.get_current_span(ctx).get_span_context().trace_state.get("k") == "v"
    assert baggage.get_baggage("user", ctx) == "ann"


def test_malformed_traceparent_starts_new_trace_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        sc = parent_of(scope((b"traceparent", b"00-zz-yy-01")))
    assert not sc.is_valid
    assert "malformed traceparent" in caplog.text


def test_malformed_traceparent_warning_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        for _ in range(5):
            parent_of(scope((b"traceparent", b"garbage")))
    assert caplog.text.count("malformed traceparent") == 1


def test_duplicate_traceparent_headers_start_new_trace() -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01".encode()
    assert not parent_of(scope((b"traceparent", TP.encode()), (b"traceparent", other))).is_valid


def test_malformed_tracestate_keeps_parent_and_drops_tracestate() -> None:
    s = scope((b"traceparent", TP.encode()), (b"tracestate", b"%%%not a list member"))
    sc = parent_of(s)
    assert sc.is_valid and len(sc.trace_state) == 0


def test_oversized_baggage_is_ignored_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    big = b",".join(b"k%d=%s" % (i, b"v" * 40) for i in range(300))  # > 8192 bytes (W3C limit)
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        ctx = extract_context(scope((b"baggage", big)), asgi.asgi_getter, "test")
    assert baggage.get_all(ctx) == {}
    assert "allowed: at most 8192" in caplog.text


def test_non_utf8_value_does_not_raise_and_starts_new_trace(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        sc = parent_of(scope((b"traceparent", b"00-\xff\xfe-\x80-01")))
    assert not sc.is_valid
    assert "not valid UTF-8" in caplog.text


def test_latin1_value_is_decoded_without_loss() -> None:
    assert asgi.asgi_getter.get(scope((b"x-name", "café".encode("latin-1"))), "x-name") == ["café"]


def test_str_pairs_where_bytes_expected_still_work() -> None:
    assert parent_of(scope(("traceparent", TP))).trace_id == int(TRACE_ID, 16)


def test_mixed_bytes_and_str_repeats_are_joined() -> None:
    assert asgi.asgi_getter.get(scope((b"tracestate", b"a=1"), ("tracestate", "b=2")), "tracestate") == ["a=1,b=2"]


@pytest.mark.parametrize(
    "headers",
    [None, 42, "not a list", [b"single"], [(b"a",)], [(1, b"v")], [(b"a", 5)], [(b"a", None)], [None]],
)
def test_malformed_header_lists_never_raise(headers: Any) -> None:
    s = {"type": "http", "headers": headers}
    assert asgi.asgi_getter.get(s, "traceparent") is None
    assert isinstance(asgi.asgi_getter.keys(s), list)


@pytest.mark.parametrize("carrier", [None, 3, "scope", [], {"type": "http"}])
def test_non_scope_carriers_never_raise(carrier: Any) -> None:
    assert asgi.asgi_getter.get(carrier, "traceparent") is None
    assert asgi.asgi_getter.keys(carrier) == []


@pytest.mark.parametrize("junk", [5, (1,), ("x", "y"), (None, 1, "not a dict")])
def test_junk_in_the_cache_key_is_ignored(junk: Any) -> None:
    s = scope((b"traceparent", TP.encode()))
    s["otelkit.header_index"] = junk
    assert asgi.asgi_getter.get(s, "traceparent") == [TP]


def test_setter_appends_lowercase_byte_pair() -> None:
    message: dict[str, Any] = {"type": "http.response.start", "headers": [(b"a", b"b")]}
    asgi.asgi_setter.set(message, "TraceParent", TP)
    assert message["headers"][-1] == (b"traceparent", TP.encode())


def test_setter_creates_headers_and_replaces_tuples() -> None:
    empty: dict[str, Any] = {}
    asgi.asgi_setter.set(empty, "k", "v")
    frozen: dict[str, Any] = {"headers": ((b"a", b"b"),)}
    asgi.asgi_setter.set(frozen, "k", "v")
    assert empty["headers"] == [(b"k", b"v")] and frozen["headers"] == [(b"a", b"b"), (b"k", b"v")]


def test_setter_on_immutable_carrier_warns_instead_of_raising(caplog: pytest.LogCaptureFixture) -> None:
    from types import MappingProxyType

    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        asgi.asgi_setter.set(MappingProxyType({}), "k", "v")  # type: ignore[arg-type]
    assert "cannot set header" in caplog.text


def test_inject_then_extract_round_trips() -> None:
    sc = trace.SpanContext(int(TRACE_ID, 16), int(SPAN_ID, 16), is_remote=True,
                           trace_flags=trace.TraceFlags(1))
    message: dict[str, Any] = {}
    propagate.inject(message, context=trace.set_span_in_context(trace.NonRecordingSpan(sc)),
                     setter=asgi.asgi_setter)
    assert parent_of(message).span_id == int(SPAN_ID, 16)


_bytes_or_str = st.one_of(st.binary(max_size=64), st.text(max_size=64))
_item = st.one_of(st.tuples(_bytes_or_str, _bytes_or_str), st.none(), st.integers(), st.binary(max_size=4),
                  st.tuples(_bytes_or_str))


@given(st.lists(_item, max_size=20), st.sampled_from(["traceparent", "tracestate", "baggage", "host"]))
def test_random_header_lists_never_raise(headers: list[Any], key: str) -> None:
    s = {"type": "http", "headers": headers}
    value = asgi.asgi_getter.get(s, key)
    assert value is None or (len(value) == 1 and isinstance(value[0], str))
    assert all(isinstance(k, str) for k in asgi.asgi_getter.keys(s))
    extract_context(s, asgi.asgi_getter, "property")
