from __future__ import annotations

import json
import logging

import pytest

from otelkit.tail import policies as p
from otelkit.tail.policy_config import (
    DEFAULT_POLICIES,
    build_policies,
    parse_compact,
    policies_from_env,
    policies_from_string,
)

COMPACT = "errors=status_code(status_codes=ERROR|UNSET);slow=latency(threshold_ms=1000);rest=probabilistic(sampling_percentage=10)"

FILE_SPEC = {
    "policies": [
        {"name": "errors", "type": "status_code", "status_codes": ["ERROR"]},
        {"name": "slow", "type": "latency", "latency": {"threshold_ms": 1000}},  # Collector layout
        {"name": "no-health", "type": "drop", "drop_sub_policy": [
            {"type": "string_attribute", "key": "http.route", "values": ["/health"]}]},
        {"name": "budget", "type": "composite", "max_total_spans_per_second": 500,
         "policy_order": ["vip", "rest"],
         "composite_sub_policy": [
             {"name": "rest", "type": "always_sample"},
             {"name": "vip", "type": "boolean_attribute", "key": "user.vip", "value": True}],
         "rate_allocation": [{"policy": "vip", "percent": 30}, {"policy": "rest", "percent": 70}]},
        {"name": "big", "type": "and", "and_sub_policy": [
            {"type": "span_count", "min_spans": 10}, {"type": "numeric_attribute", "key": "n", "min_value": 1}]},
        {"name": "not-get", "type": "not", "not_sub_policy": {"type": "string_attribute", "key": "m", "values": ["GET"]}},
        {"name": "rl", "type": "rate_limiting", "traces_per_second": 5},
        {"name": "head", "type": "head_sampled"},
    ]
}


def test_compact_string() -> None:
    built = policies_from_string(COMPACT)
    assert [type(x) for x in built] == [p.StatusCodePolicy, p.LatencyPolicy, p.ProbabilisticPolicy]
    assert [x.name for x in built] == ["errors", "slow", "rest"]
    assert built[1].threshold_ms == 1000 and built[2].sampling_percentage == 10


def test_compact_values_are_typed() -> None:
    [spec] = parse_compact("x=numeric_attribute(key=code,min_value=500,max_value=599.5,invert_match=true)")
    assert spec == {"name": "x", "type": "numeric_attribute", "key": "code", "min_value": 500,
                    "max_value": 599.5, "invert_match": True}


def _check_file_policies(built) -> None:
    assert [x.name for x in built] == ["errors", "slow", "no-health", "budget", "big", "not-get", "rl", "head"]
    composite = built[3]
    assert [s.name for s in composite.policies] == ["vip", "rest"]
    assert composite.shares == pytest.approx([0.3, 0.7])
    assert isinstance(built[2], p.DropPolicy) and isinstance(built[6], p.RateLimitingPolicy)


def test_json_file(tmp_path) -> None:
    path = tmp_path / "policies.json"
    path.write_text(json.dumps(FILE_SPEC))
    _check_file_policies(policies_from_string(str(path)))


def test_yaml_file(tmp_path) -> None:
    import yaml  # the `yaml` extra (in the dev set)
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump(FILE_SPEC))
    _check_file_policies(policies_from_string(str(path)))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("slow=latency(threshold_ms=abc)", r"policy \"slow\" \(latency\): threshold_ms 'abc' is invalid"),
        ("slow=latency(threshold=5)", r'policy "slow" \(latency\): unknown field "threshold", supported: threshold_ms'),
        ("slow=latency", r'policy "slow" \(latency\): field threshold_ms is required'),
        ("x=bogus", r'policy "x": unknown type "bogus", supported: always_sample'),
        ("e=status_code(status_codes=FAIL)", r'policy "e" \(status_code\): unknown status code "FAIL"'),
        ("r=rate_limiting", r'policy "r" \(rate_limiting\): give exactly one'),
        ("a=always_sample;a=always_sample", "used twice"),
        ("p=probabilistic(sampling_percentage=10", "missing closing parenthesis"),
        ("", "expected a non-empty list"),
    ],
)
def test_invalid_compact_names_policy_and_field(spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        policies_from_string(spec)


def test_invalid_nested_policy_names_the_path() -> None:
    spec = [{"name": "outer", "type": "and", "and_sub_policy": [{"name": "inner", "type": "latency", "threshold_ms": -1}]}]
    with pytest.raises(ValueError, match=r'policy "outer" \(and\): and_sub_policy\[0\]: policy "inner" \(latency\): threshold_ms'):
        build_policies(spec)


def test_unreadable_file_is_an_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="could not be read"):
        policies_from_string(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ValueError, match="could not be read"):
        policies_from_string(str(bad))


def test_env_invalid_warns_and_uses_default(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit.tail"):
        built = policies_from_env({"OTELKIT_TAIL_POLICIES": "slow=latency(threshold_ms=-5)"})
    assert [x.name for x in built] == ["errors", "slow", "head_sampled"]
    assert 'policy "slow" (latency): threshold_ms' in caplog.text


def test_env_unset_gives_the_default_set() -> None:
    built = policies_from_env({})
    assert [type(x) for x in built] == [p.StatusCodePolicy, p.LatencyPolicy, p.HeadSampledPolicy]
    assert built[1].threshold_ms == 1000
    # the compact form of the default set builds the same policies
    assert [(type(x), x.name) for x in policies_from_string(DEFAULT_POLICIES)] == [(type(x), x.name) for x in built]
