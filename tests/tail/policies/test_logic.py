"""and / not / drop: the logical policies (one table each)."""

from __future__ import annotations

import pytest

from otelkit.tail.policies import AndPolicy, DropPolicy, NotPolicy
from otelkit.tail.policy import DROPPED, NOT_SAMPLED, SAMPLED, Decision, Outcome


class Fixed:
    def __init__(self, decision: Decision, name: str = "fixed") -> None:
        self.name = name
        self.decision = decision

    def evaluate(self, trace):
        return self.decision


def sampled(th):
    return Decision(Outcome.SAMPLED, th)


@pytest.mark.parametrize(
    ("subs", "outcome", "threshold"),
    [
        ([SAMPLED, SAMPLED], Outcome.SAMPLED, 0),
        ([SAMPLED, NOT_SAMPLED], Outcome.NOT_SAMPLED, None),
        ([sampled(5), sampled(9), SAMPLED], Outcome.SAMPLED, 9),  # R >= 5 and R >= 9 -> R >= 9
        ([sampled(5), sampled(None)], Outcome.SAMPLED, None),
        ([DROPPED], Outcome.NOT_SAMPLED, None),
    ],
)
def test_and_table(span, view, subs, outcome, threshold) -> None:
    decision = AndPolicy([Fixed(d) for d in subs]).evaluate(view([span()]))
    assert (decision.outcome, decision.threshold) == (outcome, threshold)


@pytest.mark.parametrize(
    ("sub", "outcome"), [(SAMPLED, Outcome.NOT_SAMPLED), (NOT_SAMPLED, Outcome.SAMPLED), (sampled(7), Outcome.NOT_SAMPLED)]
)
def test_not_table(span, view, sub, outcome) -> None:
    assert NotPolicy(Fixed(sub)).evaluate(view([span()])).outcome is outcome


@pytest.mark.parametrize(
    ("subs", "outcome"),
    [([SAMPLED], Outcome.DROPPED), ([SAMPLED, SAMPLED], Outcome.DROPPED), ([SAMPLED, NOT_SAMPLED], Outcome.NOT_SAMPLED)],
)
def test_drop_table(span, view, subs, outcome) -> None:
    assert DropPolicy([Fixed(d) for d in subs]).evaluate(view([span()])).outcome is outcome


@pytest.mark.parametrize(
    ("factory", "match"),
    [(lambda: AndPolicy([]), "and_sub_policy"), (lambda: DropPolicy([]), "drop_sub_policy"),
     (lambda: NotPolicy(object()), "not_sub_policy")],  # type: ignore[arg-type]
)
def test_invalid(factory, match) -> None:
    with pytest.raises(ValueError, match=match):
        factory()
