"""The shared value parsers (otelkit._parse): one k=v list parser, one truthy set, one range check."""

from __future__ import annotations

import math

import pytest

from otelkit._parse import check_range, is_true, parse_bool, parse_pairs, range_text


@pytest.mark.parametrize(("raw", "expected"), [("true", True), (" ON ", True), ("1", True), ("Yes", True),
                                               ("false", False), ("0", False), ("off", False), ("NO", False)])
def test_parse_bool(raw: str, expected: bool) -> None:
    assert parse_bool(raw) is expected


@pytest.mark.parametrize("raw", ["", "maybe", "2", "truee"])
def test_parse_bool_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="expected true or false"):
        parse_bool(raw)


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("TRUE", True), (b"1", True), ("no", False),
                                                 (1, False), (None, False)])
def test_is_true(value: object, expected: bool) -> None:
    assert is_true(value) is expected


def test_parse_pairs_keeps_equals_in_values_and_skips_blanks() -> None:
    assert parse_pairs(" a = 1 ,, b=x=y ,") == {"a": "1", "b": "x=y"}
    assert parse_pairs("k%20ey=v%2C1", decode=True) == {"k ey": "v,1"}
    assert parse_pairs("a=1;b=2", sep=";") == {"a": "1", "b": "2"}


def test_parse_pairs_names_the_position_never_the_text() -> None:
    with pytest.raises(ValueError, match="item #2 is malformed") as info:
        parse_pairs("a=1,s3cret")
    assert "s3cret" not in str(info.value)


def test_parse_pairs_reports_malformed_items_to_the_callback() -> None:
    seen: list[tuple[int, str]] = []
    assert parse_pairs("a=1,broken,=x,b=2", on_malformed=lambda i, item: seen.append((i, item))) == {"a": "1", "b": "2"}
    assert seen == [(2, "broken"), (3, "=x")]


@pytest.mark.parametrize(
    ("kw", "value"),
    [({"lo": 0}, 0), ({"lo": 0, "lo_open": True}, 0.5), ({"lo": 1, "hi": 3, "integer": True}, 3), ({}, -1e300)],
)
def test_check_range_accepts(kw: dict[str, object], value: object) -> None:
    assert check_range("x", value, **kw) == value  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "value", "message"),
    [
        ({"lo": 0}, -1, "x=-1 is invalid: expected a number >= 0"),
        ({"lo": 0, "lo_open": True}, 0, "x=0 is invalid: expected a number > 0"),
        ({"lo": 1, "hi": 3, "integer": True}, 4, "x=4 is invalid: expected an integer from 1 to 3"),
        ({"integer": True}, 1.5, "x=1.5 is invalid: expected an integer"),
        ({"lo": 0}, True, "x=True is invalid"),
        ({"lo": 0}, "1", "x='1' is invalid"),
        ({}, math.nan, "x=nan is invalid"),
        ({}, math.inf, "x=inf is invalid"),
        ({"lo": 0, "joiner": " "}, -2, "x -2 is invalid"),
    ],
)
def test_check_range_rejects_naming_value_and_allowed(kw: dict[str, object], value: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        check_range("x", value, **kw)  # type: ignore[arg-type]


def test_check_range_handles_integers_too_large_for_a_float() -> None:
    # math.isfinite(10**400) raises OverflowError: a constructor must raise ValueError instead
    huge = 10**400
    assert check_range("x", huge, lo=0, integer=True) == huge
    with pytest.raises(ValueError, match=r"^x=1000.* is invalid: expected an integer from 0 to 10"):
        check_range("x", huge, lo=0, hi=10, integer=True)


def test_range_text() -> None:
    assert range_text(0, 1) == "a number from 0 to 1"
    assert range_text(None, 5, integer=True) == "an integer <= 5"
    assert range_text(0, 10, lo_open=True) == "a number > 0 and <= 10"
    assert range_text(None, None) == "a number"
