from __future__ import annotations

import pytest

from otelkit.tail.policies import BooleanAttributePolicy
from otelkit.tail.policy import Outcome

S, N = Outcome.SAMPLED, Outcome.NOT_SAMPLED


@pytest.mark.parametrize(
    ("value", "invert", "attr", "outcome"),
    [(True, False, True, S), (True, False, False, N), (False, False, False, S), (True, False, "true", N),
     (True, False, 1, N), (True, True, False, S), (True, True, True, N)],
)
def test_boolean_attribute_table(span, view, value, invert, attr, outcome) -> None:
    spans = [span(attributes={"app.debug": attr})]
    assert BooleanAttributePolicy("app.debug", value, invert_match=invert).evaluate(view(spans)).outcome is outcome


def test_non_bool_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="value 'true' is invalid"):
        BooleanAttributePolicy("k", "true")  # type: ignore[arg-type]
