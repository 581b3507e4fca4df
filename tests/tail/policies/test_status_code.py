from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from otelkit.tail.policies import StatusCodePolicy
from otelkit.tail.policy import Outcome

E, OK, U = StatusCode.ERROR, StatusCode.OK, StatusCode.UNSET


@pytest.mark.parametrize(
    ("codes", "statuses", "outcome"),
    [
        (["ERROR"], [U, E], Outcome.SAMPLED),
        (["ERROR"], [U, OK], Outcome.NOT_SAMPLED),
        (["error"], [E], Outcome.SAMPLED),
        (["OK"], [U, OK], Outcome.SAMPLED),
        (["OK", "ERROR"], [U, U], Outcome.NOT_SAMPLED),
        (["UNSET"], [U], Outcome.SAMPLED),
        ([StatusCode.OK], [OK], Outcome.SAMPLED),
        ("ERROR", [E], Outcome.SAMPLED),
    ],
)
def test_status_code_table(span, view, codes, statuses, outcome) -> None:
    spans = [span(span_id=i + 1, status=s) for i, s in enumerate(statuses)]
    assert StatusCodePolicy(codes).evaluate(view(spans)).outcome is outcome


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (["X"], 'unknown status code "X", supported: OK, ERROR, UNSET'),
        ([], "status_codes is empty"),
    ],
)
def test_invalid_codes(codes, message) -> None:
    with pytest.raises(ValueError, match=message):
        StatusCodePolicy(codes)
