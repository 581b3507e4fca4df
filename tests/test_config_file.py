"""OTEL_CONFIG_FILE: otelkit's pieces named in a declarative configuration file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from otelkit import cli, config
from otelkit import pipeline as pl
from otelkit._config_file_pipeline import check_file
from otelkit.batch import SmartBatchSpanProcessor
from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.tail import RecordForTailSampler, TailSamplingProcessor

pytest.importorskip("opentelemetry.configuration")

HEAD = 'file_format: "1.1"\ntracer_provider:\n'
ADAPTIVE_TAIL = HEAD + """\
  sampler:
    parent_based:
      root:
        otelkit_adaptive: {target: 20, tau: 2, keys: [http.route, http.request.method]}
  processors:
    - otelkit_tail:
        decision_wait_ms: 250
        policies:
          - {name: errors, type: status_code, status_codes: [ERROR]}
          - {name: head, type: head_sampled}
        processor:
          otelkit_batch:
            max_queue: 4096
            exporter:
              otelkit_otlp: {endpoint: "http://127.0.0.1:9/v1/traces", compression: gzip}
"""


def _file(tmp_path: Path, text: str, name: str = "otel.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _configure(path: str) -> pl.Pipeline:
    return pl.configure(environ={"OTEL_CONFIG_FILE": path}, set_global=False)


def test_file_builds_otelkit_sampler_tail_batcher_and_exporter(tmp_path: Path) -> None:
    with _configure(_file(tmp_path, ADAPTIVE_TAIL)) as p:
        assert isinstance(p.sampler, RecordForTailSampler)  # the tail sees head-dropped spans
        assert "AdaptiveSampler{target=20,tau=2," in p.sampler.get_description()
        assert "ParentBased" in p.sampler.get_description()
        (tail,) = p.processors
        assert isinstance(tail, TailSamplingProcessor)
        assert [pol.name for pol in tail.policies] == ["errors", "head"]
        assert tail.limits.decision_wait_s == pytest.approx(0.25)
        batch = tail.downstream
        assert isinstance(batch, SmartBatchSpanProcessor)
        assert batch.options.max_queue_size == 4096
        assert isinstance(batch._exporter, OtlpHttpSpanExporter)


def test_file_values_win_over_nothing_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # with a file, otelkit's pieces read their settings from the file, not OTELKIT_* variables
    monkeypatch.setenv("OTELKIT_SAMPLER_TARGET", "7")
    path = _file(tmp_path, HEAD + "  sampler: {otelkit_adaptive: {tau: 3}}\n  processors: [{simple: {exporter: {console: {}}}}]\n")
    with _configure(path) as p:
        assert "target=100," in p.sampler.get_description()  # the documented default, not 7


def test_stock_shapes_keep_the_sdk_behaviour(tmp_path: Path) -> None:
    text = HEAD + """\
  sampler: {parent_based: {root: {trace_id_ratio_based: {ratio: 0.25}}}}
  processors:
    - batch: {max_queue_size: 100, max_export_batch_size: 10, exporter: {console: {}}}
"""
    with _configure(_file(tmp_path, text)) as p:
        assert isinstance(p.sampler, ParentBased)
        assert isinstance(p.sampler._root, TraceIdRatioBased)
        (proc,) = p.processors
        assert type(proc) is BatchSpanProcessor


def test_otelkit_exporter_inside_the_stock_batch_processor(tmp_path: Path) -> None:
    text = HEAD + "  processors:\n    - batch: {exporter: {otelkit_otlp: {endpoint: 'http://127.0.0.1:9/v1/traces'}}}\n"
    with _configure(_file(tmp_path, text)) as p:
        (proc,) = p.processors
        assert type(proc) is BatchSpanProcessor
        assert isinstance(proc._batch_processor._exporter, OtlpHttpSpanExporter)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("{target: 20, taus: 2}", "tracer_provider.sampler.otelkit_adaptive: unknown key 'taus' (did you mean 'tau'?)"),
        ("{target: -1}", "tracer_provider.sampler.otelkit_adaptive.target: OTELKIT_SAMPLER_TARGET='-1' is invalid: "
                         "expected a number >= 0.001"),
    ],
)
def test_unknown_keys_and_bad_values_name_the_key(tmp_path: Path, fields: str, expected: str) -> None:
    path = _file(tmp_path, HEAD + f"  sampler: {{otelkit_adaptive: {fields}}}\n  processors: [{{simple: {{exporter: "
                 "{console: {}}}}]\n")
    lines, problems = check_file(path)
    assert problems == [expected] or problems[0].startswith(expected), problems


def test_bad_value_message_is_the_env_paths(tmp_path: Path) -> None:
    path = _file(tmp_path, HEAD + "  processors: [{otelkit_batch: {overflow: wait, exporter: {console: {}}}}]\n")
    _, problems = check_file(path)
    with pytest.raises(ValueError) as env_error:
        config.OTELKIT_BATCH_OVERFLOW.parse("wait")
    assert problems == [f"tracer_provider.processors[0].otelkit_batch.overflow: {env_error.value}"]


def test_policy_errors_use_the_policy_model(tmp_path: Path) -> None:
    text = HEAD + "  processors: [{otelkit_tail: {policies: [{name: slow, type: latency}], processor: " \
        "{simple: {exporter: {console: {}}}}}}]\n"
    _, problems = check_file(_file(tmp_path, text))
    assert problems == ['tracer_provider.processors[0].otelkit_tail.policies: policy "slow" (latency): '
                        "field threshold_ms is required"]


def test_runtime_warns_and_applies_the_default(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _file(tmp_path, HEAD + "  sampler: {otelkit_adaptive: {target: -1}}\n  processors: [{simple: {exporter: "
                 "{console: {}}}}]\n")
    with caplog.at_level(logging.WARNING, logger="otelkit"), _configure(path) as p:
        assert "target=100," in p.sampler.get_description()
    assert "OTELKIT_SAMPLER_TARGET='-1' is invalid" in caplog.text


def test_unknown_component_names_the_allowed_ones(tmp_path: Path) -> None:
    text = HEAD + "  processors: [{otelkit_batcher: {exporter: {console: {}}}}]\n"
    _, problems = check_file(_file(tmp_path, text))
    assert problems == ["tracer_provider.processors[0]: unknown processor 'otelkit_batcher' (did you mean "
                        "'otelkit_batch'?); allowed: batch, otelkit_batch, otelkit_tail, simple"]


def test_top_level_typo_is_named(tmp_path: Path) -> None:
    # the schema lets unknown top-level keys through: a misspelt tracer_provider would leave the app untraced
    path = _file(tmp_path, 'file_format: "1.1"\ntracer_provder:\n  processors: [{simple: {exporter: {console: {}}}}]\n')
    _, problems = check_file(path)
    assert len(problems) == 1
    assert problems[0].startswith("(top level): unknown key 'tracer_provder' (did you mean 'tracer_provider'?)")


def test_schema_error_names_the_key_and_configure_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _file(tmp_path, HEAD + "  processor: [{simple: {exporter: {console: {}}}}]\n")
    _, problems = check_file(path)
    assert len(problems) == 1 and "'processor' was unexpected" in problems[0], problems
    with caplog.at_level(logging.WARNING, logger="otelkit"), \
            pl.configure(environ={"OTEL_CONFIG_FILE": path, "OTEL_TRACES_EXPORTER": "console"}, set_global=False) as p:
        assert len(p.exporters) == 1  # the environment pipeline
    assert "OTEL_CONFIG_FILE could not be used" in caplog.text


def test_cli_file_prints_the_pipeline_and_fails_on_a_typo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "--file", _file(tmp_path, ADAPTIVE_TAIL)], environ={}) == 0
    out = capsys.readouterr().out
    assert "otelkit_adaptive (target=20.0, tau=2.0, keys=http.route;http.request.method)" in out
    assert "policies: errors, head" in out and "otelkit_batch (max_queue=4096)" in out
    bad = _file(tmp_path, ADAPTIVE_TAIL.replace("decision_wait_ms", "decision_wait"), "bad.yaml")
    assert cli.main(["config", "--file", bad], environ={}) == 2
    assert "unknown key 'decision_wait' (did you mean 'decision_wait_ms'?)" in capsys.readouterr().err


def test_kafka_exporter_keys_are_checked_by_their_settings(tmp_path: Path) -> None:
    text = HEAD + "  processors: [{otelkit_batch: {exporter: {otelkit_kafka: {topic: spans, compression: brotli, " \
        "bootstrap_servers: ['127.0.0.1:1', '127.0.0.1:2']}}}}]\n"
    lines, problems = check_file(_file(tmp_path, text))
    with pytest.raises(ValueError) as env_error:
        config.OTELKIT_KAFKA_COMPRESSION.parse("brotli")
    assert problems == [f"tracer_provider.processors[0].otelkit_batch.exporter.otelkit_kafka.compression: "
                        f"{env_error.value}"]
    assert any("bootstrap_servers=127.0.0.1:1,127.0.0.1:2" in line for line in lines)


def test_explicit_exporters_join_the_file_pipeline(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    path = _file(tmp_path, HEAD + "  processors: [{simple: {exporter: {console: {}}}}]\n")
    memory = InMemorySpanExporter()
    with pl.configure(environ={"OTEL_CONFIG_FILE": path}, exporters=[memory], set_global=False) as p:
        with p.tracer().start_as_current_span("x"):
            pass
        p.force_flush()
        assert [s.name for s in memory.get_finished_spans()] == ["x"]
        assert len(p.processors) == 2


def test_otelkit_config_checks_the_file_the_environment_names(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = _file(tmp_path, ADAPTIVE_TAIL.replace("max_queue", "max_queue_sise"))
    assert cli.main(["config"], environ={"OTEL_CONFIG_FILE": bad}) == 2
    err = capsys.readouterr().err
    assert "unknown key 'max_queue_sise' (did you mean 'max_queue_size'?)" in err
    assert cli.main(["config"], environ={"OTEL_CONFIG_FILE": _file(tmp_path, ADAPTIVE_TAIL, "good.yaml")}) == 0


def test_missing_package_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry.configuration", None)
    _, problems = check_file(_file(tmp_path, ADAPTIVE_TAIL))
    assert problems == ["OTEL_CONFIG_FILE needs the opentelemetry-configuration package: "
                        "pip install 'otelkit[config-file]'"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  sampler: {otelkit_adaptiv: {target: 5}}\n  processors: [{simple: {exporter: {console: {}}}}]\n",
         "tracer_provider.sampler: unknown sampler 'otelkit_adaptiv' (did you mean 'otelkit_adaptive'?)"),
        ("  processors: [{simple: {exporter: {otelkit_otpl: {}}}}]\n",
         "tracer_provider.processors[0].simple.exporter: unknown exporter 'otelkit_otpl' (did you mean 'otelkit_otlp'?)"),
    ],
)
def test_misspelt_component_names_are_caught_by_the_check(tmp_path: Path, text: str, expected: str) -> None:
    _, problems = check_file(_file(tmp_path, HEAD + text))
    assert len(problems) == 1 and problems[0].startswith(expected), problems
