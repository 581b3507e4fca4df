from __future__ import annotations

import pytest

from otelkit.tail.policies import SpanCountPolicy
from otelkit.tail.policy import Outcome


@pytest.mark.parametrize(
    ("lo", "hi", "n", "outcome"),
    [(2, None, 1, Outcome.NOT_SAMPLED), (2, None, 2, Outcome.SAMPLED), (2, 3, 3, Outcome.SAMPLED),
     (2, 3, 4, Outcome.NOT_SAMPLED), (1, 1, 1, Outcome.SAMPLED)],
)
def test_span_count_table(span, view, lo, hi, n, outcome) -> None:
    spans = [span(span_id=i + 1) for i in range(n)]
    assert SpanCountPolicy(lo, hi).evaluate(view(spans)).outcome is outcome


@pytest.mark.parametrize(("lo", "hi", "field"), [(0, None, "min_spans"), (3, 2, "max_spans"), (1.5, None, "min_spans")])
def test_invalid(lo, hi, field) -> None:
    with pytest.raises(ValueError, match=field):
        SpanCountPolicy(lo, hi)
