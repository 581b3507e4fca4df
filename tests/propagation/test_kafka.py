"""KafkaHeadersGetter/Setter: every client's header shape, every bad input, never raising."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otelkit.propagation._common import MAX_HEADER_CHARS
from otelkit.propagation.kafka import KafkaHeadersGetter, KafkaHeadersSetter, kafka_getter, kafka_setter

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
getter = KafkaHeadersGetter()
setter = KafkaHeadersSetter()


@pytest.mark.parametrize(
    "carrier",
    [
        [("traceparent", TP.encode())],  # kafka-python / confluent
        (("traceparent", TP.encode()),),  # aiokafka consumed record
        [("traceparent", TP)],  # str value
        [("traceparent", bytearray(TP.encode()))],
        [(b"traceparent", TP.encode())],  # bytes key
        {"traceparent": TP.encode()},  # confluent produce dict
        [["traceparent", TP.encode()]],  # list pairs
    ],
    ids=["list-bytes", "tuple", "str-value", "bytearray", "bytes-key", "dict", "list-pair"],
)
def test_get_reads_every_client_shape(carrier: Any) -> None:
    assert getter.get(carrier, "traceparent") == [TP]


def test_get_is_case_insensitive() -> None:
    assert getter.get([("TraceParent", TP.encode())], "traceparent") == [TP]


def test_get_joins_the_values_of_a_repeated_key() -> None:
    carrier = [("baggage", b"a=1"), ("other", b"x"), ("baggage", b"b=2")]
    assert getter.get(carrier, "baggage") == ["a=1,b=2"]


def test_get_missing_key_is_none() -> None:
    assert getter.get([("other", b"x")], "traceparent") is None


def test_get_none_carrier_is_none() -> None:
    assert getter.get(None, "traceparent") is None


def test_get_skips_none_values() -> None:
    assert getter.get([("traceparent", None), ("traceparent", TP.encode())], "traceparent") == [TP]


def test_get_only_none_value_is_none() -> None:
    assert getter.get([("traceparent", None)], "traceparent") is None


def test_get_decodes_invalid_utf8_as_latin1_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert getter.get([("traceparent", b"\xff\xfe")], "traceparent") == ["\xff\xfe"]
    assert "not valid UTF-8" in caplog.text


def test_get_ignores_oversized_value() -> None:
    assert getter.get([("baggage", b"k=" + b"v" * MAX_HEADER_CHARS)], "baggage") is None


@pytest.mark.parametrize("value", [123, 1.5, object(), ["x"], {"a": 1}])
def test_get_ignores_values_of_other_types(value: object) -> None:
    assert getter.get([("traceparent", value)], "traceparent") is None


@pytest.mark.parametrize(
    "entry",
    [("traceparent",), ("traceparent", TP.encode(), "extra"), "traceparent", None, 42, (None, TP.encode())],
    ids=["short", "long", "str", "none", "int", "none-key"],
)
def test_get_skips_malformed_entries(entry: object) -> None:
    carrier = [entry, ("traceparent", TP.encode())]
    assert getter.get(carrier, "traceparent") == [TP]


@pytest.mark.parametrize("carrier", ["traceparent", b"traceparent", 42, 3.0, object(), {1, 2}])
def test_get_ignores_foreign_carrier_types(carrier: object) -> None:
    assert getter.get(carrier, "traceparent") is None


def test_get_survives_a_carrier_whose_iteration_fails() -> None:
    class Broken(list[Any]):
        def __iter__(self) -> Any:
            raise RuntimeError("boom")

    assert getter.get(Broken([("traceparent", TP.encode())]), "traceparent") is None


def test_keys_lists_header_names_once() -> None:
    carrier = [("a", b"1"), (b"b", b"2"), ("a", b"3"), ("bad",)]
    assert getter.keys(carrier) == ["a", "b"]


def test_keys_of_garbage_is_empty() -> None:
    assert getter.keys(12) == []


def test_set_appends_bytes_to_a_list() -> None:
    carrier: list[Any] = [("other", b"x")]
    setter.set(carrier, "traceparent", TP)
    assert carrier == [("other", b"x"), ("traceparent", TP.encode())]


def test_set_replaces_an_existing_entry_case_insensitively() -> None:
    carrier: list[Any] = [("Traceparent", b"old"), ("other", b"x")]
    setter.set(carrier, "traceparent", TP)
    assert carrier == [("other", b"x"), ("traceparent", TP.encode())]


def test_set_writes_into_a_dict() -> None:
    carrier: dict[str, bytes] = {}
    setter.set(carrier, "traceparent", TP)
    assert carrier == {"traceparent": TP.encode()}


def test_set_leaves_a_tuple_unchanged_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    carrier = (("other", b"x"),)
    with caplog.at_level(logging.WARNING):
        setter.set(carrier, "traceparent", TP)
    assert carrier == (("other", b"x"),)
    assert "immutable" in caplog.text


@pytest.mark.parametrize("carrier", [None, "text", 5])
def test_set_on_garbage_does_not_raise(carrier: object) -> None:
    setter.set(carrier, "traceparent", TP)


def test_set_with_a_non_text_value_does_not_raise() -> None:
    carrier: list[Any] = []
    setter.set(carrier, "traceparent", 5)  # type: ignore[arg-type]
    assert carrier == []


def test_inject_then_extract_round_trips_the_span_context() -> None:
    span_ctx = SpanContext(TRACE_ID, 0x00F067AA0BA902B7, is_remote=False, trace_flags=TraceFlags(1))
    carrier: list[Any] = []
    propagate.inject(carrier, context=trace.set_span_in_context(NonRecordingSpan(span_ctx)), setter=kafka_setter)
    extracted = trace.get_current_span(propagate.extract(carrier, getter=kafka_getter)).get_span_context()
    assert (extracted.trace_id, extracted.span_id) == (TRACE_ID, 0x00F067AA0BA902B7)


@pytest.mark.parametrize(
    "value",
    [b"00-zz-00-01", "garbage", b"\xff" * 55, b""],
    ids=["bad-hex", "garbage", "non-utf8", "empty"],
)
def test_malformed_traceparent_starts_a_new_trace(value: object) -> None:
    ctx = propagate.extract([("traceparent", value)], getter=kafka_getter)
    assert not trace.get_current_span(ctx).get_span_context().is_valid


_values = st.one_of(st.none(), st.binary(max_size=64), st.text(max_size=64), st.integers(), st.floats())
_keys = st.one_of(st.sampled_from(["traceparent", "tracestate", "baggage", "Baggage"]), st.text(max_size=16),
                  st.binary(max_size=16), st.none(), st.integers())
_entries = st.one_of(st.tuples(_keys, _values), st.lists(_values, max_size=3), _values)
_carriers = st.one_of(st.lists(_entries, max_size=8), st.tuples(_entries), st.dictionaries(st.text(max_size=8), _values),
                      _values)


@settings(max_examples=300, deadline=None)
@given(_carriers)
def test_random_header_lists_never_raise(carrier: object) -> None:
    for key in ("traceparent", "tracestate", "baggage"):
        getter.get(carrier, key)
    getter.keys(carrier)
    propagate.extract(carrier, getter=kafka_getter)


def test_get_survives_a_mapping_whose_items_fail() -> None:
    class Broken(dict[str, bytes]):
        def items(self) -> Any:
            raise RuntimeError("boom")

    assert getter.get(Broken(traceparent=TP.encode()), "traceparent") is None
