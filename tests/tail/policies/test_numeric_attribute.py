from __future__ import annotations

import pytest

from otelkit.tail.policies import NumericAttributePolicy
from otelkit.tail.policy import Outcome

S, N = Outcome.SAMPLED, Outcome.NOT_SAMPLED


@pytest.mark.parametrize(
    ("lo", "hi", "invert", "value", "outcome"),
    [
        (500, 599, False, 503, S),
        (500, 599, False, 200, N),
        (500, None, False, 10_000, S),
        (None, 10, False, 10.0, S),  # inclusive
        (500, 599, False, "503", N),  # a string is not a number
        (0, 1, False, True, N),  # a bool is not a number
        (500, 599, True, 200, S),
        (500, 599, True, 503, N),
    ],
)
def test_numeric_attribute_table(span, view, lo, hi, invert, value, outcome) -> None:
    spans = [span(attributes={"http.response.status_code": value})]
    policy = NumericAttributePolicy("http.response.status_code", lo, hi, invert_match=invert)
    assert policy.evaluate(view(spans)).outcome is outcome


@pytest.mark.parametrize(
    ("lo", "hi", "match"), [(None, None, "min_value and max_value"), (5, 1, "max_value"), ("a", None, "min_value")]
)
def test_invalid(lo, hi, match) -> None:
    with pytest.raises(ValueError, match=match):
        NumericAttributePolicy("k", lo, hi)
