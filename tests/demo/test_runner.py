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


def test_the_otelkit_pipeline_spools_and_the_others_have_no_spool() -> None:
    env = pipeline_env("otelkit", URL, target=50, rate=200, spool_dir="/tmp/spool").env
    assert env["OTELKIT_SPOOL_DIR"] == "/tmp/spool"
    for mode in ("stock", "fastotel"):
        assert "OTELKIT_SPOOL_DIR" not in pipeline_env(mode, URL, target=50, rate=200, spool_dir="/tmp/spool").env


def test_fastotel_pipeline_is_the_stock_one_with_fastotel_tracing() -> None:
    stock = pipeline_env("stock", URL, target=50, rate=200).env
    fast = pipeline_env("fastotel", URL, target=50, rate=200).env
    assert fast == {**stock, "OTELKIT_EXAMPLE_TRACING": "fastotel"}
    with pytest.raises(ValueError, match="allowed: otelkit, stock, fastotel"):
        pipeline_env("rust", URL, target=50, rate=200)
