from __future__ import annotations

import pytest

from otelkit.tail._verdict import combine_thresholds, evaluate
from otelkit.tail.policy import DROPPED, NOT_SAMPLED, SAMPLED, Decision, Outcome


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [([0], 0), ([7, 0, None], 0), ([7, 3], 3), ([7, None], None), ([None], None)],
)
def test_combine_thresholds(thresholds, expected) -> None:
    assert combine_thresholds(thresholds) == expected


class Fixed:
    def __init__(self, name: str, decision: Decision) -> None:
        self.name, self.decision = name, decision

    def evaluate(self, trace):
        return self.decision


@pytest.mark.parametrize(
    ("decisions", "verdict"),
    [
        ([NOT_SAMPLED, NOT_SAMPLED], (False, "no_match", None)),
        ([NOT_SAMPLED, Decision(Outcome.SAMPLED, 9)], (True, "p1", 9)),
        ([Decision(Outcome.SAMPLED, 9), SAMPLED], (True, "p0", 0)),  # first keeper names it
        ([SAMPLED, DROPPED], (False, "p1", None)),  # a veto beats an earlier keep
        ([Decision(Outcome.SAMPLED, 5, via="sub")], (True, "p0/sub", 5)),
    ],
)
def test_evaluate_table(span, view, decisions, verdict) -> None:
    policies = [Fixed(f"p{i}", d) for i, d in enumerate(decisions)]
    assert evaluate(policies, view([span()])) == verdict
