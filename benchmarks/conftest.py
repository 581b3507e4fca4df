"""Benchmark conventions.

Every benchmark group runs the stock SDK piece and the otelkit piece in the same session.
Name benchmarks ``test_<what>[stock]`` / ``test_<what>[otelkit]`` (a ``side`` parameter)
or give them ``extra_info={"side": "stock"|"otelkit"}``; ``benchmarks/ratio.py`` pairs them
by group and prints otelkit/stock median ratios.
"""

from __future__ import annotations

import pytest

SIDES = ("stock", "otelkit")


@pytest.fixture(params=SIDES)
def side(request: pytest.FixtureRequest) -> str:
    """Parametrize a benchmark over the stock SDK piece and the otelkit piece."""
    return str(request.param)
