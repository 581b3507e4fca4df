from __future__ import annotations

import logging

import pytest

from otelkit.sampling._arg import check_range, parse_adaptive_arg


@pytest.mark.parametrize(("arg", "expected", "warned"), [
    ("target=100,tau=5", {"target": 100.0, "tau": 5.0}, []),
    (" target = 2.5 , max_keys=7 ", {"target": 2.5, "max_keys": 7}, []),
    ("keys=http.route;tenant", {"keys": ("http.route", "tenant")}, []),
    ("rules=keep:name=a=b;drop", {"rules": "keep:name=a=b;drop"}, []),
    ("debug=off", {"debug": False}, []),
    ("target=0,tau=1", {"tau": 1.0}, ["'target=0'"]),
    ("target=inf", {}, ["'target=inf'"]),
    ("tau=10000,max_keys=1.5", {}, ["'tau=10000'", "'max_keys=1.5'"]),
    ("keys=;", {}, ["'keys=;'"]),
    ("colour=blue,target=3", {"target": 3.0}, ["'colour=blue'"]),
    ("100", {}, ["'100'"]),
    ("", {}, []),
])
def test_parse_adaptive_arg(arg: str, expected: dict[str, object], warned: list[str],
                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.sampling"):
        assert parse_adaptive_arg(arg) == expected
    for item in warned:
        assert item in caplog.text and "ignoring it" in caplog.text
    if not warned:
        assert not caplog.records


@pytest.mark.parametrize(("value", "inclusive", "ok"), [(0.0, False, False), (0.1, False, True),
                                                          (1.0, True, True), (11.0, True, False)])
def test_check_range(value: float, inclusive: bool, ok: bool) -> None:
    if ok:
        assert check_range(value, "x", 0.0, 10.0, inclusive) == value
    else:
        with pytest.raises(ValueError, match=r"x=.* is invalid: expected a number"):
            check_range(value, "x", 0.0, 10.0, inclusive)
