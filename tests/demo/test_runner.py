"""The stock side's head probability comes from its configuration (the SDK reports none)."""

from __future__ import annotations

import pytest

from otelkit.demo.runner import _fixed_ratio
from otelkit.demo.servers import pipeline_env

URL = "http://127.0.0.1:4318/v1/traces"


def test_stock_ratio_is_the_configured_one_and_otelkit_reports_its_own() -> None:
    assert _fixed_ratio(pipeline_env("stock", URL, target=50, rate=200).env) == 0.25
    assert _fixed_ratio(pipeline_env("otelkit", URL, target=50, rate=200).env) is None


@pytest.mark.parametrize("arg", ["abc", ""])
def test_unparseable_ratio_is_unknown(arg: str) -> None:
    assert _fixed_ratio({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": arg}) is None
