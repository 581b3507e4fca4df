from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from opentelemetry import propagate, trace

from otelkit.propagation._context import extract_context
from otelkit.propagation.aiohttp import aiohttp_headers_setter, aiohttp_request_getter

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TP = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def request(*pairs: tuple[str, str]) -> Any:
    return make_mocked_request("GET", "/", headers=CIMultiDict(pairs))


def test_get_reads_request_headers_case_insensitively() -> None:
    assert aiohttp_request_getter.get(request(("TraceParent", TP)), "traceparent") == [TP]


def test_get_missing_header_is_none() -> None:
    assert aiohttp_request_getter.get(request(("a", "b")), "traceparent") is None


def test_repeated_headers_are_joined_with_comma() -> None:
    req = request(("tracestate", "a=1"), ("tracestate", "b=2"))
    assert aiohttp_request_getter.get(req, "tracestate") == ["a=1,b=2"]


def test_keys_are_header_names_not_storage_keys() -> None:
    req = request(("traceparent", TP), ("Accept", "x"))
    req[web.RequestKey("app_storage_key", int)] = 1  # contrib's keys() would return this
    assert aiohttp_request_getter.keys(req) == ["traceparent", "Accept"]


def test_keys_list_repeated_names_once() -> None:
    assert aiohttp_request_getter.keys(request(("a", "1"), ("a", "2"))) == ["a"]


def test_valid_traceparent_is_extracted() -> None:
    ctx = extract_context(request(("traceparent", TP)), aiohttp_request_getter, "test")
    assert trace.get_current_span(ctx).get_span_context().trace_id == int(TRACE_ID, 16)


def test_malformed_traceparent_starts_new_trace_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        ctx = extract_context(request(("traceparent", "00-nope")), aiohttp_request_getter, "test")
    assert not trace.get_current_span(ctx).get_span_context().is_valid
    assert "malformed traceparent" in caplog.text


def test_non_utf8_header_decoded_by_aiohttp_starts_new_trace() -> None:
    # aiohttp decodes raw header bytes with surrogateescape; such text never parses.
    bad = b"00-\xff\xfe".decode("utf-8", "surrogateescape")
    ctx = extract_context(CIMultiDict([("traceparent", bad)]), aiohttp_request_getter, "test")
    assert not trace.get_current_span(ctx).get_span_context().is_valid


def test_bytes_values_in_a_plain_dict_are_decoded() -> None:
    assert aiohttp_request_getter.get({"traceparent": TP.encode()}, "traceparent") == [TP]


def test_oversized_baggage_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        assert aiohttp_request_getter.get(request(("baggage", "k=" + "v" * 9000)), "baggage") is None
    assert "at most 8192" in caplog.text


@pytest.mark.parametrize("carrier", [None, 5, "str", object(), {"traceparent": 7}])
def test_odd_carriers_never_raise(carrier: Any) -> None:
    assert aiohttp_request_getter.get(carrier, "traceparent") is None
    assert isinstance(aiohttp_request_getter.keys(carrier), list)


def test_setter_sets_on_cimultidict_replacing_existing_value() -> None:
    headers = CIMultiDict([("traceparent", "old")])
    aiohttp_headers_setter.set(headers, "traceparent", TP)
    assert headers.getall("traceparent") == [TP]


def test_setter_sets_on_plain_dict() -> None:
    headers: dict[str, str] = {}
    propagate.inject(headers, context=trace.set_span_in_context(trace.NonRecordingSpan(
        trace.SpanContext(int(TRACE_ID, 16), 1, True, trace.TraceFlags(1)))), setter=aiohttp_headers_setter)
    assert headers["traceparent"].startswith(f"00-{TRACE_ID}-")


@pytest.mark.parametrize("carrier", [CIMultiDictProxy(CIMultiDict()), MappingProxyType({})])
def test_setter_on_immutable_headers_warns_instead_of_raising(carrier: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.propagation"):
        aiohttp_headers_setter.set(carrier, "traceparent", TP)
    assert "cannot set header" in caplog.text


@given(st.lists(st.tuples(st.text(min_size=1, max_size=20), st.text(max_size=80)), max_size=15))
def test_random_headers_never_raise(pairs: list[tuple[str, str]]) -> None:
    headers = CIMultiDict(pairs)
    for key in ("traceparent", "tracestate", "baggage"):
        value = aiohttp_request_getter.get(headers, key)
        assert value is None or isinstance(value[0], str)
    extract_context(headers, aiohttp_request_getter, "property")
