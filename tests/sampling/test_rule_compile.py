from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from otelkit.sampling._rule_compile import attribute_text, compile_rules
from otelkit.sampling._rule_parse import Condition, Rule, parse_rules
from otelkit.sampling.threshold import MAX_THRESHOLD


@pytest.mark.parametrize("hostile", [
    'a"); import os; os._exit(3) #',
    "a'\n    return 0\n#",
    "{__import__('os')}",
    "\\",
])
def test_rule_text_is_data_never_code(hostile: str) -> None:
    # any text can arrive through a rules file; build the rule directly to use all of it
    rule = Rule("drop", 0.0, (Condition("name", hostile), Condition(hostile, hostile)), hostile)
    match = compile_rules([rule])
    assert match(hostile, SpanKind.INTERNAL, {hostile: hostile}) == MAX_THRESHOLD
    assert match("a", SpanKind.INTERNAL, {hostile: "a"}) is None


def test_catch_all_ends_the_rule_list() -> None:
    match = compile_rules(parse_rules("keep:name=a;drop;keep:name=b"))
    assert match("a", SpanKind.SERVER, None) == 0
    assert match("b", SpanKind.SERVER, None) == MAX_THRESHOLD


def test_attributes_absent_or_empty() -> None:
    match = compile_rules(parse_rules("keep:k=*;drop:kind=client"))
    assert match("n", SpanKind.SERVER, None) is None
    assert match("n", SpanKind.SERVER, {}) is None
    assert match("n", SpanKind.SERVER, {"k": ""}) == 0
    assert match("n", SpanKind.CLIENT, {"other": 1}) == MAX_THRESHOLD


@pytest.mark.parametrize(("value", "text"), [("s", "s"), (True, "true"), (False, "false"), (3, "3"), (2.5, "2.5")])
def test_attribute_text(value: object, text: str) -> None:
    assert attribute_text(value) == text
