from __future__ import annotations

import pytest
from opentelemetry.sdk.resources import Resource

from otelkit.tail.policies import StringAttributePolicy
from otelkit.tail.policy import Outcome

S, N = Outcome.SAMPLED, Outcome.NOT_SAMPLED


@pytest.mark.parametrize(
    ("kwargs", "values", "outcome"),
    [
        ({"values": ["/checkout"]}, ["/checkout"], S),
        ({"values": ["/checkout"]}, ["/health"], N),
        ({"values": ["/a", "/b"]}, ["/x", "/b"], S),
        ({"values": ["/checkout"]}, [7], N),  # not a string
        ({"values": [r"/api/.*"], "enabled_regex_matching": True}, ["/api/v1"], S),
        ({"values": [r"/api"], "enabled_regex_matching": True}, ["/api/v1"], N),  # fullmatch
        ({"values": ["/health"], "invert_match": True}, ["/health"], N),
        ({"values": ["/health"], "invert_match": True}, ["/users"], S),
        ({"values": ["/health"], "invert_match": True}, [None], S),  # attribute missing
    ],
)
def test_string_attribute_table(span, view, kwargs, values, outcome) -> None:
    spans = [span(span_id=i + 1, attributes={} if v is None else {"http.route": v}) for i, v in enumerate(values)]
    assert StringAttributePolicy("http.route", **kwargs).evaluate(view(spans)).outcome is outcome


def test_resource_attributes_match_too(span, view) -> None:
    spans = [span(resource=Resource.create({"deployment.environment": "prod"}))]
    assert StringAttributePolicy("deployment.environment", ["prod"]).evaluate(view(spans)).sampled


@pytest.mark.parametrize(
    ("key", "values", "kwargs", "field"),
    [("", ["a"], {}, "key"), ("k", [], {}, "values"), ("k", ["("], {"enabled_regex_matching": True}, "values"),
     ("k", ["a"], {"invert_match": "yes"}, "invert_match")],
)
def test_invalid(key, values, kwargs, field) -> None:
    with pytest.raises(ValueError, match=field):
        StringAttributePolicy(key, values, **kwargs)
