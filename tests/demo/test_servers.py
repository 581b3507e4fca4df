"""The demo's server launcher: pipeline environments, CPU readings, the examples' location."""

from __future__ import annotations

import os

import pytest

from otelkit.demo.servers import examples_root, pipeline_env, process_cpu_seconds

URL = "http://127.0.0.1:1/v1/traces"


def test_stock_pipeline_is_ratio_sampled_gzip_and_stock_everything() -> None:
    p = pipeline_env("stock", URL, target=50, rate=200)
    assert p.env == {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": URL,
        "OTELKIT_EXAMPLE_TRACING": "stock",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
    }


@pytest.mark.parametrize("target, rate, arg", [(50, 200, "0.25"), (500, 200, "1"), (1, 3, "0.3333")])
def test_stock_ratio_aims_at_the_same_volume_as_the_adaptive_target(target: float, rate: float, arg: str) -> None:
    assert pipeline_env("stock", URL, target=target, rate=rate).env["OTEL_TRACES_SAMPLER_ARG"] == arg


def test_otelkit_pipeline_asks_for_every_otelkit_part() -> None:
    p = pipeline_env("otelkit", URL, target=50, rate=200)
    env = p.env
    assert env["OTEL_TRACES_SAMPLER"] == "otelkit_adaptive"
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "target=50"
    assert (env["OTELKIT_PROCESSOR"], env["OTELKIT_TAIL_ENABLED"]) == ("smart", "true")
    assert env["OTELKIT_BATCH_FRESHNESS_MS"] == "1000"  # batches big enough to compress well
    assert env["OTELKIT_TAIL_DECISION_WAIT_MS"] == "0"  # no stragglers: decide in batches
    # zstd only with the otelkit exporter; the stock one would silently send it uncompressed
    pairs = {("otelkit_otlp", "zstd"), ("otlp", "gzip")}
    assert (env["OTEL_TRACES_EXPORTER"], env["OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"]) in pairs
    assert (env["OTEL_TRACES_EXPORTER"] == "otlp") == any("otelkit_otlp" in n for n in p.notes)
    assert pipeline_env("otelkit", URL, target=50, rate=200, tail=False).env["OTELKIT_TAIL_ENABLED"] == "false"


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'fast' is invalid; allowed: otelkit, stock"):
        pipeline_env("fast", URL, target=1, rate=1)


def test_process_cpu_seconds_reads_proc() -> None:
    for _ in range(200_000):
        pass
    assert process_cpu_seconds(os.getpid()) > 0
    assert process_cpu_seconds(2**22 + 12345) is None  # above the kernel's pid_max


def test_examples_sit_next_to_the_package() -> None:
    assert (examples_root() / "examples" / "liveroom" / "app.py").is_file()


def test_otelkit_tail_keeps_the_head_sampled_target_plus_errors_and_slow_traces() -> None:
    from otelkit.tail.policies import HeadSampledPolicy, LatencyPolicy, StatusCodePolicy
    from otelkit.tail.policy_config import policies_from_string

    env = pipeline_env("otelkit", URL, target=50, rate=200).env
    policies = policies_from_string(env["OTELKIT_TAIL_POLICIES"])
    assert [type(p) for p in policies] == [StatusCodePolicy, LatencyPolicy, HeadSampledPolicy]
    assert "OTELKIT_TAIL_POLICIES" not in pipeline_env("otelkit", URL, target=50, rate=200, tail=False).env
