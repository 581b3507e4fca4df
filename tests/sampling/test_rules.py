from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from otelkit.pipeline import build_sampler
from otelkit.sampling.rules import RuleSet, RulesSampler, parse_rule, parse_rules, rules_sampler_factory
from otelkit.sampling.threshold import MAX_THRESHOLD, RANDOMNESS_MASK, probability_to_threshold

KEEP_ALL = (0x77 << 56) | RANDOMNESS_MASK  # R = 2^56 - 1: kept at any probability > 0
DROP_ALL = 0x77 << 56  # R = 0: kept only at probability 1


@pytest.mark.parametrize(("text", "action", "ratio", "conditions"), [
    ("keep", "keep", 1.0, []),
    ("drop:name=/health", "drop", 0.0, [("name", "/health", False)]),
    ("keep:http.route=/api/payment*", "keep", 1.0, [("http.route", "/api/payment", True)]),
    ("ratio(0.1):kind=client", "ratio", 0.1, [("kind", "client", False)]),
    (" RATIO( 0.5 ) : kind=SERVER & http.request.method=GET ", "ratio", 0.5,
     [("kind", "server", False), ("http.request.method", "GET", False)]),
    ("keep:user.id=*", "keep", 1.0, [("user.id", "", True)]),
])
def test_parse_valid(text: str, action: str, ratio: float, conditions: list[tuple[str, str, bool]]) -> None:
    rule = parse_rule(text)
    assert (rule.action, rule.ratio) == (action, ratio)
    assert [(c.field, c.value, c.prefix) for c in rule.conditions] == conditions


@pytest.mark.parametrize(("text", "message"), [
    ("sample:name=x", "action 'sample' is not one of keep, drop or ratio"),
    ("ratio(2):name=x", "action 'ratio(2)' is not one of"),
    ("ratio(abc)", "is not one of"),
    ("keep:name", "condition 'name' is not field=value"),
    ("keep:=x", "has no field"),
    ("keep:name=", "has no value"),
    ("drop:kind=serverish", "kind 'serverish' is unknown; expected one of internal, server, client"),
    (":name=x", "has no action"),
])
def test_parse_invalid_names_rule_and_allowed(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_rule(text)
    assert repr(text.strip()) in str(err.value) and message in str(err.value)


MATCH_TABLE = [
    # (rules, name, kind, attributes, expected threshold or None)
    ("keep:http.route=/api/payment*", "GET", SpanKind.SERVER, {"http.route": "/api/payment/42"}, 0),
    ("keep:http.route=/api/payment*", "GET", SpanKind.SERVER, {"http.route": "/api/pay"}, None),
    ("drop:http.route=/health", "GET", SpanKind.SERVER, {"http.route": "/health"}, MAX_THRESHOLD),
    ("drop:http.route=/health", "GET", SpanKind.SERVER, {"http.route": "/healthz"}, None),
    ("drop:http.route=/health", "GET", SpanKind.SERVER, None, None),
    ("ratio(0.1):kind=client", "x", SpanKind.CLIENT, None, probability_to_threshold(0.1)),
    ("ratio(0.1):kind=internal", "x", None, None, probability_to_threshold(0.1)),
    ("keep:name=batch*&kind=consumer", "batch-7", SpanKind.CONSUMER, None, 0),
    ("keep:name=batch*&kind=consumer", "batch-7", SpanKind.PRODUCER, None, None),
    ("keep:http.response.status_code=500", "x", None, {"http.response.status_code": 500}, 0),
    ("keep:error=true", "x", None, {"error": True}, 0),
    ("keep:user.id=*", "x", None, {"user.id": "u1"}, 0),
    ("drop:name=a;keep:name=a", "a", None, None, MAX_THRESHOLD),  # first match wins
    ("drop:name=a;ratio(0.5)", "b", None, None, probability_to_threshold(0.5)),  # catch-all
]


@pytest.mark.parametrize(("rules", "name", "kind", "attrs", "expected"), MATCH_TABLE)
def test_rule_matching(rules: str, name: str, kind: SpanKind | None, attrs: dict[str, object] | None,
                       expected: int | None) -> None:
    assert RuleSet(parse_rules(rules)).threshold(None, name, kind, attrs) == expected


def test_values_compare_as_text_so_equal_numbers_and_bools_stay_apart() -> None:
    rules = RuleSet(parse_rules("keep:flag=true;drop:flag=1;ratio(0.5):tags=a"))
    assert rules.threshold(None, "x", None, {"flag": True}) == 0
    assert rules.threshold(None, "x", None, {"flag": 1}) == MAX_THRESHOLD
    assert rules.threshold(None, "x", None, {"flag": 1.0}) is None  # "1.0" is not "1"
    assert rules.threshold(None, "x", None, {"tags": ["a"]}) is None  # "['a']" is not "a"
    assert rules.threshold(None, "x", None, {"tags": "a"}) == probability_to_threshold(0.5)


def test_sampler_keeps_drops_and_falls_back_to_default_ratio() -> None:
    sampler = RulesSampler("keep:http.route=/api/payment*;drop:http.route=/health", default_ratio=0.0)
    pay = sampler.should_sample(None, DROP_ALL, "GET", attributes={"http.route": "/api/payment"})
    assert pay.decision is Decision.RECORD_AND_SAMPLE and pay.trace_state.get("ot") == "th:0"
    assert sampler.should_sample(None, KEEP_ALL, "GET", attributes={"http.route": "/health"}).decision is Decision.DROP
    assert sampler.should_sample(None, KEEP_ALL, "GET", attributes={"http.route": "/other"}).decision is Decision.DROP
    assert sampler.stats() == {"kept": 1, "dropped": 2, "rules": 2, "forced": 0, "forced_refused": 0}


def test_rules_apply_to_roots_only_children_follow_the_parent() -> None:
    sampler = RulesSampler("drop:http.route=/health")
    parent = SpanContext(DROP_ALL, 1, True, TraceFlags(TraceFlags.SAMPLED))
    ctx = trace.set_span_in_context(NonRecordingSpan(parent))
    res = sampler.should_sample(ctx, DROP_ALL, "GET", attributes={"http.route": "/health"})
    assert res.decision is Decision.RECORD_AND_SAMPLE


def test_debug_override_by_attribute_and_baggage() -> None:
    sampler = RulesSampler("drop", environ={"OTELKIT_SAMPLER_DEBUG_TOKEN": "1"})
    assert sampler.should_sample(None, KEEP_ALL, "x", attributes={"otelkit.debug": "true"}).decision.is_sampled()
    ctx = baggage.set_baggage("otelkit.debug", "1")
    assert sampler.should_sample(ctx, KEEP_ALL, "x").decision.is_sampled()
    assert not sampler.should_sample(None, KEEP_ALL, "x", attributes={"otelkit.debug": "no"}).decision.is_sampled()
    off = RulesSampler("drop", environ={"OTELKIT_SAMPLER_DEBUG": "false", "OTELKIT_SAMPLER_DEBUG_TOKEN": "1"})
    assert not off.should_sample(ctx, KEEP_ALL, "x").decision.is_sampled()


def test_explicit_invalid_rules_raise() -> None:
    with pytest.raises(ValueError, match="'keep:kind=nope'"):
        RulesSampler("drop:name=x;keep:kind=nope")


def test_env_rules_warn_and_skip_the_bad_one(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.sampling"):
        sampler = RulesSampler(environ={"OTELKIT_RULES": "drop:name=x;bogus:name=y;keep:name=z"})
    assert [r.text for r in sampler.rules.rules] == ["drop:name=x", "keep:name=z"]
    assert "'bogus:name=y'" in caplog.text and "keep, drop or ratio" in caplog.text


RULES_DOC = [
    {"action": "keep", "when": {"http.route": "/api/payment*"}},
    {"action": "drop", "when": {"http.route": "/health"}},
    {"action": "ratio", "ratio": 0.25, "when": {"kind": "client"}},
]


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_rules_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / ("rules" + suffix)
    if suffix == ".json":
        path.write_text(json.dumps(RULES_DOC))
    else:
        import yaml

        path.write_text(yaml.safe_dump(RULES_DOC))
    rules = parse_rules(str(path))
    assert [(r.action, r.ratio) for r in rules] == [("keep", 1.0), ("drop", 0.0), ("ratio", 0.25)]
    assert rules[0].conditions[0].prefix


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot be read"),
    ("{not json", "does not parse"),
    ('{"action": "keep"}', "must hold a list"),
    ('[{"action": "maybe"}]', "is not one of keep, drop or ratio"),
    ('[{"action": "keep", "when": {"kind": "sideways"}}]', "kind 'sideways' is unknown"),
])
def test_bad_rules_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "rules.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        parse_rules(str(path))


def test_factory_and_entry_point(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.sampling"):
        sampler = rules_sampler_factory("drop:name=/health;nonsense")
    assert isinstance(sampler, RulesSampler) and len(sampler.rules) == 1
    assert "nonsense" in caplog.text
    built = build_sampler({"OTEL_TRACES_SAMPLER": "otelkit_rules", "OTEL_TRACES_SAMPLER_ARG": "keep:name=a;drop"})
    assert isinstance(built, RulesSampler) and len(built.rules) == 2
    assert not built.should_sample(None, KEEP_ALL, "b").decision.is_sampled()
    assert built.should_sample(None, DROP_ALL, "a").decision.is_sampled()
