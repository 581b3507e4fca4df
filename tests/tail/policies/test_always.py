from __future__ import annotations

import pytest

from otelkit.tail.policies import AlwaysSamplePolicy
from otelkit.tail.policy import Outcome


def test_keeps_every_trace_with_certainty(span, view) -> None:
    decision = AlwaysSamplePolicy().evaluate(view([span()]))
    assert decision.outcome is Outcome.SAMPLED
    assert decision.threshold == 0


@pytest.mark.parametrize("bad", ["", "  ", 3])
def test_bad_name_is_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="name"):
        AlwaysSamplePolicy(name=bad)  # type: ignore[arg-type]
