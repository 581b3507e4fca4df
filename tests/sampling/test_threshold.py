from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.trace import TraceState

from otelkit.sampling import threshold as th

# The specification's 1-in-N table at precision 3, 4 and 5.
SPEC_TABLE = [
    (1, ("0", "0", "0")),
    (2, ("8", "8", "8")),
    (3, ("aab", "aaab", "aaaab")),
    (4, ("c", "c", "c")),
    (5, ("ccd", "cccd", "ccccd")),
    (8, ("e", "e", "e")),
    (10, ("e66", "e666", "e6666")),
    (16, ("f", "f", "f")),
    (100, ("fd71", "fd70a", "fd70a4")),
    (1000, ("ffbe7", "ffbe77", "ffbe76d")),
    (10000, ("fff972", "fff9724", "fff97247")),
    (100000, ("ffff584", "ffff583a", "ffff583a5")),
    (1000000, ("ffffef4", "ffffef39", "ffffef391")),
]


@pytest.mark.parametrize(("n", "expected"), SPEC_TABLE)
def test_spec_table(n: int, expected: tuple[str, str, str]) -> None:
    got = tuple(th.encode_th(th.probability_to_threshold(1 / n, precision)) for precision in (3, 4, 5))
    assert got == expected


@pytest.mark.parametrize(("value", "expected"), [("8", 1 << 55), ("0", 0), ("c", 3 << 54), ("", None),
                                                 ("xyz", None), ("E666", None), ("123456789abcdef", None)])
def test_parse_th(value: str, expected: int | None) -> None:
    assert th.parse_th(value) == expected


@given(st.integers(min_value=0, max_value=th.MAX_THRESHOLD - 1))
def test_th_round_trip(t: int) -> None:
    assert th.parse_th(th.encode_th(t)) == t


@given(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1.0),
       st.integers(min_value=0, max_value=th.RANDOMNESS_MASK))
def test_subset_property(p1: float, p2: float, r: int) -> None:
    lo, hi = sorted((p1, p2))
    if r >= th.probability_to_threshold(lo):
        assert r >= th.probability_to_threshold(hi)


def test_adjusted_count() -> None:
    assert th.adjusted_count(0) == 1.0
    assert th.adjusted_count(1 << 55) == 2.0
    assert th.adjusted_count(th.MAX_THRESHOLD) == float("inf")


def test_rv_takes_precedence_over_trace_id() -> None:
    ot = th.OtValue.parse("rv:00000000000001")
    assert th.randomness((1 << 100) | 0xFFFFFFFFFFFFFF, ot) == 1
    assert th.randomness(0xAB << 56 | 5, th.OtValue()) == 5


def test_with_threshold_preserves_rv_other_keys_and_vendors() -> None:
    state = TraceState([("vendor", "x"), ("ot", "rv:0123456789abcd;foo:bar")])
    new = th.with_threshold(state, th.probability_to_threshold(0.5))
    assert new.get("vendor") == "x"
    assert new.get("ot") == "th:8;rv:0123456789abcd;foo:bar"
    erased = th.with_threshold(new, None)
    assert erased.get("ot") == "rv:0123456789abcd;foo:bar"
    assert th.with_threshold(TraceState([("ot", "th:8")]), None).get("ot") is None


@pytest.mark.parametrize("bad", ["th:zz", "th:", "rv:12", "th:123456789abcdef0"])
def test_malformed_members_are_dropped(bad: str) -> None:
    ot = th.OtValue.parse(bad + ";k:v")
    assert ot.th is None and ot.rv is None and ot.rest == ("k:v",)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_bad_probability_raises(p: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        th.probability_to_threshold(p)
