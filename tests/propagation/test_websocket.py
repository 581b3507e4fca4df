from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import baggage, trace
from opentelemetry.context import Context
from websockets.datastructures import Headers
from websockets.http11 import Request

from otelkit.propagation import websocket as ws
from otelkit.propagation._context import extract_context

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331
TP = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


def sender() -> Context:
    sc = trace.SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=trace.TraceFlags(1))
    return baggage.set_baggage("user", "ann", trace.set_span_in_context(trace.NonRecordingSpan(sc)))


def span_context(ctx: Context | None) -> trace.SpanContext:
    assert ctx is not None
    return trace.get_current_span(ctx).get_span_context()


# --- handshake headers -------------------------------------------------------------------


def test_getter_reads_websockets_headers() -> None:
    assert ws.websocket_headers_getter.get(Headers(Traceparent=TP), "traceparent") == [TP]


def test_getter_reads_websockets_request() -> None:
    req = Request("/ws", Headers([("traceparent", TP)]))
    assert span_context(extract_context(req, ws.websocket_headers_getter, "t")).trace_id == TRACE_ID


def test_getter_reads_asgi_websocket_scope() -> None:
    scope = {"type": "websocket", "headers": [(b"traceparent", TP.encode())]}
    assert ws.websocket_headers_getter.get(scope, "traceparent") == [TP]


def test_getter_joins_repeated_headers() -> None:
    headers = Headers([("tracestate", "a=1"), ("tracestate", "b=2")])
    assert ws.websocket_headers_getter.get(headers, "tracestate") == ["a=1,b=2"]


def test_keys_are_lowercased_header_names_once() -> None:
    headers = Headers([("Traceparent", TP), ("X", "1"), ("x", "2")])
    assert ws.websocket_headers_getter.keys(headers) == ["traceparent", "x"]


def test_getter_reads_plain_mapping() -> None:
    assert ws.websocket_headers_getter.get({"traceparent": TP}, "traceparent") == [TP]


@pytest.mark.parametrize("carrier", [None, 1, "x", object(), {"traceparent": 3}])
def test_getter_never_raises_on_odd_carriers(carrier: Any) -> None:
    assert ws.websocket_headers_getter.get(carrier, "traceparent") is None
    assert isinstance(ws.websocket_headers_getter.keys(carrier), list)


# --- text envelope ------------------------------------------------------------------------


def test_wrap_text_puts_otel_member_first() -> None:
    wrapped = ws.wrap('{"a": 1}', sender())
    obj = json.loads(wrapped)
    assert next(iter(obj)) == "_otel" and obj["_otel"]["traceparent"] == TP and obj["a"] == 1


def test_wrap_text_carries_baggage() -> None:
    assert json.loads(ws.wrap("{}", sender()))["_otel"]["baggage"] == "user=ann"


@pytest.mark.parametrize("payload", ['{"a": 1}', "{}", " { } ", '\n{"nested": {"_otel": 1}}'])
def test_text_round_trip_is_exact(payload: str) -> None:
    inner, ctx = ws.unwrap(ws.wrap(payload, sender()))
    assert inner == payload and span_context(ctx).trace_id == TRACE_ID


def test_unwrap_carries_baggage() -> None:
    _, ctx = ws.unwrap(ws.wrap("{}", sender()))
    assert ctx is not None and baggage.get_baggage("user", ctx) == "ann"


def test_otel_member_elsewhere_is_read_and_payload_kept() -> None:
    text = json.dumps({"a": 1, "_otel": {"traceparent": TP}})
    inner, ctx = ws.unwrap(text)
    assert inner == text and span_context(ctx).span_id == SPAN_ID


def test_wrap_non_object_text_returns_it_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        assert ws.wrap("hello", sender()) == "hello"
    assert "not a JSON object" in caplog.text


def test_wrap_without_context_returns_payload_unchanged() -> None:
    assert ws.wrap('{"a":1}', Context()) == '{"a":1}'
    assert ws.wrap(b"raw", Context()) == b"raw"


def test_plain_messages_unwrap_to_themselves_without_context() -> None:
    assert ws.unwrap('{"a": 1}') == ('{"a": 1}', None)
    assert ws.unwrap(b"\x00\x01") == (b"\x00\x01", None)


@pytest.mark.parametrize(
    "text",
    [
        '{"_otel":{"traceparent":',  # truncated JSON
        '{"_otel":{"traceparent":"00-x"} "a":1}',  # no separator after the member
        '{"_otel":"not an object","a":1}',
        '{"_otel":{"traceparent":5}}',
        '{"_otel":{"traceparent":"00-zz-yy-01"}}',
        '{"a":1,"_otel":[1,2]}',
        '{"a":1,"_otel": broken',
    ],
)
def test_malformed_text_envelope_gives_no_context_and_never_raises(text: str) -> None:
    inner, ctx = ws.unwrap(text)
    assert ctx is None and isinstance(inner, str)


@pytest.mark.parametrize("text", ['{"_otel":{"traceparent":', '{"_otel":"not an object","a":1}'])
def test_malformed_text_envelope_is_returned_as_is(text: str) -> None:
    assert ws.unwrap(text) == (text, None)


# --- binary envelope ----------------------------------------------------------------------


def test_binary_layout_is_magic_version_length_fields_payload() -> None:
    wrapped = ws.wrap(b"PAYLOAD", sender())
    size = int.from_bytes(wrapped[4:6], "big")
    assert wrapped[:4] == b"OTW\x01"
    assert json.loads(wrapped[6:6 + size])["traceparent"] == TP and wrapped[6 + size:] == b"PAYLOAD"


@pytest.mark.parametrize("payload", [b"", b"PAYLOAD", b"OTW\x01 looks like magic", bytes(range(256))])
def test_binary_round_trip_is_exact(payload: bytes) -> None:
    inner, ctx = ws.unwrap(ws.wrap(payload, sender()))
    assert inner == payload and span_context(ctx).trace_id == TRACE_ID


def test_bytearray_and_memoryview_are_accepted() -> None:
    wrapped = ws.wrap(b"x", sender())
    assert ws.unwrap(bytearray(wrapped))[0] == b"x" and ws.unwrap(memoryview(wrapped))[0] == b"x"


@pytest.mark.parametrize(
    "data",
    [
        b"OTW",  # magic only
        b"OTW\x02\x00\x02{}rest",  # unknown version
        b"OTW\x01\xff\xffshort",  # length past the end
        b"OTW\x01\x00\x05{abc}rest",  # not JSON
        b"OTW\x01\x00\x02[]rest",  # not an object
        b"OTW\x01\x00\x02\xff\xferest",  # not UTF-8
        b"OTW\x01\x00\x1a{\"traceparent\":\"garbage\"}rest",  # bad traceparent
    ],
)
def test_malformed_binary_envelope_gives_payload_as_is_or_no_context(data: bytes) -> None:
    inner, ctx = ws.unwrap(data)
    assert ctx is None
    assert inner in (data, b"rest")


def test_unknown_version_returns_payload_as_is(caplog: pytest.LogCaptureFixture) -> None:
    data = b"OTW\x02\x00\x02{}rest"
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        assert ws.unwrap(data) == (data, None)
    assert "supported: 1" in caplog.text


@pytest.mark.parametrize("payload", [None, 5, 1.5, ["list"], {"dict": 1}])
def test_other_payload_types_pass_through(payload: Any) -> None:
    assert ws.wrap(payload, sender()) is payload
    assert ws.unwrap(payload) == (payload, None)


# --- dict-level helpers -------------------------------------------------------------------


def test_inject_json_and_extract_json_round_trip() -> None:
    obj = ws.inject_json({"a": 1}, sender())
    assert span_context(ws.extract_json(json.loads(json.dumps(obj)))).span_id == SPAN_ID


@pytest.mark.parametrize("obj", [None, [], {"a": 1}, {"_otel": None}, {"_otel": {"traceparent": "x"}}])
def test_extract_json_without_usable_member_is_none(obj: Any) -> None:
    assert ws.extract_json(obj) is None


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_random_messages_never_raise(payload: str | bytes) -> None:
    inner, _ = ws.unwrap(payload)
    assert type(inner) is type(payload)


@given(st.binary(max_size=120))
def test_random_bytes_after_magic_never_raise(tail: bytes) -> None:
    inner, _ = ws.unwrap(b"OTW\x01" + tail)
    assert isinstance(inner, bytes)
