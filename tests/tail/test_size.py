from __future__ import annotations

import pytest

from otelkit.tail._size import ATTRIBUTE_BYTES, EVENT_BYTES, SPAN_BASE_BYTES, estimate_span_bytes


@pytest.mark.parametrize(
    ("attrs", "events", "expected"),
    [
        ({}, 0, SPAN_BASE_BYTES + 2),
        ({"a": 1}, 0, SPAN_BASE_BYTES + 2 + ATTRIBUTE_BYTES),
        ({"a": "x" * 100, "b": 2.0}, 0, SPAN_BASE_BYTES + 2 + 2 * ATTRIBUTE_BYTES + 100),
        ({}, 3, SPAN_BASE_BYTES + 2 + 3 * EVENT_BYTES),
    ],
)
def test_estimate_table(span, attrs, events, expected) -> None:
    assert estimate_span_bytes(span(name="op", attributes=attrs, events=events)) == expected
