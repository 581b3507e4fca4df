"""otelkit samplers as leaves of the SDK's ``composite/development`` shape in a config file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind

from otelkit import cli
from otelkit import pipeline as pl
from otelkit._config_file_pipeline import check_file
from otelkit.sampling.threshold import RANDOMNESS_MASK, read_ot

pytest.importorskip("opentelemetry.configuration")

COMPOSITE = """\
file_format: "1.1"
tracer_provider:
  sampler:
    composite/development:
      parent_threshold:
        root:
          rule_based:
            rules:
              - sampler: {always_on: {}}
                attribute_patterns: {key: http.route, included: ["/api/payment*"]}
              - sampler: {otelkit_consistent: {probability: 0.25}}
                span_kinds: [server]
              - sampler: {otelkit_adaptive: {target: 50}}
  processors: [{simple: {exporter: {console: {}}}}]
"""


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "otel.yaml"
    path.write_text(text)
    return str(path)


def test_composite_tree_with_otelkit_leaves_checks_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_file(_file(tmp_path, COMPOSITE))[1] == []
    assert cli.main(["config", "--file", _file(tmp_path, COMPOSITE)], environ={}) == 0
    out = capsys.readouterr().out
    assert "composite/development\n" in out and "parent_threshold\n" in out
    assert "otelkit_consistent" in out and "otelkit_adaptive (target=50.0)" in out


def test_composite_applies_each_leaf_threshold_and_writes_th(tmp_path: Path) -> None:
    rng = random.Random(7)
    with pl.configure(environ={"OTEL_CONFIG_FILE": _file(tmp_path, COMPOSITE)}, set_global=False) as p:
        assert p.sampler.get_description().startswith("CompositeSampler{")
        payment = p.sampler.should_sample(None, rng.getrandbits(128), "pay", SpanKind.SERVER,
                                          {"http.route": "/api/payment/9"})
        assert payment.decision is Decision.RECORD_AND_SAMPLE
        assert read_ot(payment.trace_state).th == 0
        kept = 0
        for _ in range(2000):
            trace_id = rng.getrandbits(128)
            got = p.sampler.should_sample(None, trace_id, "GET /x", SpanKind.SERVER, {"http.route": "/x"})
            # probability 0.25: rejection threshold 0.75 * 2^56; kept exactly when R >= T
            want = (trace_id & RANDOMNESS_MASK) >= 3 << 54
            assert got.decision.is_sampled() is want
            if want:
                kept += 1
                assert read_ot(got.trace_state).th == 3 << 54
        assert 400 < kept < 600
        # the adaptive leaf decides internal spans; whatever it keeps carries a th its R passes
        for _ in range(200):
            trace_id = rng.getrandbits(128)
            got = p.sampler.should_sample(None, trace_id, "work", SpanKind.INTERNAL, {})
            if got.decision.is_sampled():
                th = read_ot(got.trace_state).th
                assert th is not None and (trace_id & RANDOMNESS_MASK) >= th


def test_typo_inside_a_composite_is_named(tmp_path: Path) -> None:
    text = COMPOSITE.replace("otelkit_adaptive", "otelkit_adaptiv")
    _, problems = check_file(_file(tmp_path, text))
    assert len(problems) == 1, problems
    assert "unknown composable sampler 'otelkit_adaptiv' (did you mean 'otelkit_adaptive'?)" in problems[0]
    assert problems[0].startswith("tracer_provider.sampler.composite/development.parent_threshold.root.rule_based"
                                  ".rules[2].sampler")


def test_bad_value_in_an_otelkit_leaf_is_named(tmp_path: Path) -> None:
    _, problems = check_file(_file(tmp_path, COMPOSITE.replace("probability: 0.25", "probability: 2")))
    assert len(problems) == 1 and "probability" in problems[0] and "2" in problems[0], problems


def test_stock_composite_stays_the_sdks(tmp_path: Path) -> None:
    text = COMPOSITE.split("  sampler:")[0] + """\
  sampler:
    composite/development: {probability: {ratio: 0.5}}
  processors: [{simple: {exporter: {console: {}}}}]
"""
    with pl.configure(environ={"OTEL_CONFIG_FILE": _file(tmp_path, text)}, set_global=False) as p:
        assert type(p.sampler).__module__.startswith("opentelemetry.sdk")
