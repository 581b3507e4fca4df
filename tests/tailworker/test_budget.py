"""Fleet-wide budgets: every partition's policies get 1/N of each rate budget."""

from __future__ import annotations

import pytest

from otelkit.tail import RateLimitingPolicy, StatusCodePolicy, build_policies
from otelkit.tail.policies import CompositePolicy
from otelkit.tailworker._budget import PolicySource, scale, specs_of

RATE = "errors=status_code(status_codes=ERROR);budget=rate_limiting(spans_per_second=40)"


def test_rate_budget_is_split_by_the_partition_count() -> None:
    source = PolicySource(RATE, environ={})
    shared = source.shared[1]
    assert isinstance(shared, RateLimitingPolicy) and shared.limit == 40
    parts = [source.for_partition(4) for _ in range(4)]
    limits = [p[1].limit for p in parts if isinstance(p[1], RateLimitingPolicy)]
    assert limits == [10, 10, 10, 10]
    assert len({id(p[1]) for p in parts}) == 4  # each partition owns its policies (and its bucket)


def test_budget_from_the_environment_and_nested_composite_are_split() -> None:
    spec = [{"type": "composite", "name": "c", "max_total_spans_per_second": 90,
             "composite_sub_policy": [{"type": "rate_limiting", "name": "r", "traces_per_second": 30},
                                      {"type": "always_sample", "name": "all"}]}]
    scaled = scale(spec, 1 / 3)
    assert scaled[0]["max_total_spans_per_second"] == 30
    assert scaled[0]["composite_sub_policy"][0]["traces_per_second"] == 10
    assert spec[0]["max_total_spans_per_second"] == 90  # the configuration itself is untouched
    source = PolicySource(None, environ={"OTELKIT_TAIL_POLICIES": RATE})
    (policy,) = [p for p in source.for_partition(2) if isinstance(p, RateLimitingPolicy)]
    assert policy.limit == 20
    (built,) = build_policies(scaled)
    assert isinstance(built, CompositePolicy) and built.total == 30
    assert specs_of(RATE)[1] == {"type": "rate_limiting", "name": "budget", "spans_per_second": 40}


def test_policy_objects_are_shared_unscaled_and_bad_shares_are_rejected() -> None:
    given = [StatusCodePolicy(["ERROR"], name="errors")]
    source = PolicySource(given, environ={})
    assert source.for_partition(8) is source.shared
    with pytest.raises(ValueError, match="share"):
        scale([], 0)
