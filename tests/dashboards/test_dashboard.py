"""Every metric the Grafana dashboard and the Prometheus alert rules query is one otelkit
really emits (by name, unit and label), checked against real runs.

Three runs, each reporting what it emitted (names converted as the Collector's prometheus
exporter converts them, ``_promnames.py``):

* ``pipeline``: ``_emit.py`` runs configure() with self-metrics on (adaptive sampler, tail
  processor, smart batcher, OTLP/HTTP exporter to a 127.0.0.1 receiver that makes the queue
  overflow and one export fail) in a fresh process, read by an SDK ``InMemoryMetricReader``;
  it gives the error series (``error_type`` labels) a healthy run has not;
* ``demo``: the real demo (``otelkit.demo.runner.run_once``: example API server, load,
  receiver) with its servers exporting their metrics over OTLP/HTTP to a 127.0.0.1 sink
  (``_metrics_sink.py``) and a disk spool configured;
* ``tailworker``: a real tail worker on a Tansu broker (``_tailworker_run.py``).

Every metric a query names must come from the demo run (the tail worker's from the tail
worker run) with the unit the union of the runs reports, and every label must be on it.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ._metrics_sink import MetricsSink
from ._promnames import label_name, metric_name
from ._tailworker_run import run_tail_worker

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboards" / "otelkit.json"
ALERTS = ROOT / "dashboards" / "otelkit-alerts.yaml"
EMIT = Path(__file__).with_name("_emit.py")
TAIL_WORKER_PREFIX = "otelkit_tailworker_"

# Grafana panel unit -> OTel units its queried metrics may have.
PANEL_UNITS = {
    "cps": {"{span}", "{trace}", "{record}", "{call}", "{message}", "1"},
    "short": {"{span}", "{trace}", "{message}", "{partition}", "1"},
    "percentunit": {"{span}", "1"}, "bytes": {"By"}, "Bps": {"By"}, "s": {"s"},
}
_PROM_LABELS = {"job", "instance", "le"}
_FUNCS = {"sum", "max", "min", "avg", "rate", "increase", "deriv", "histogram_quantile", "by", "without", "on",
          "ignoring", "or", "and", "unless", "count", "topk", "bottomk", "vector", "clamp_min", "clamp_max", "abs"}
Emitted = dict[str, dict[str, Any]]


def _scrubbed_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}


def _prometheus(metrics: list[dict[str, Any]]) -> Emitted:
    """Prometheus name -> {otel, unit, kind, labels} of every series family in ``metrics``."""
    out: Emitted = {}
    for m in metrics:
        base = metric_name(m["name"], m["unit"], m["kind"], m["monotonic"])
        info = {"otel": m["name"], "unit": m["unit"], "kind": m["kind"],
                "labels": {label_name(k) for k in m["attributes"]} | _PROM_LABELS}
        names = [base + s for s in ("_bucket", "_sum", "_count")] if m["kind"] == "histogram" else [base]
        for name in names:
            out[name] = info
    return out


@pytest.fixture(scope="module")
def pipeline_run() -> Emitted:
    run = subprocess.run([sys.executable, str(EMIT)], capture_output=True, text=True, timeout=90,
                         env=_scrubbed_env(), check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["received"] > 0  # the workload really went through the exporter to the receiver
    return _prometheus(report["metrics"])


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Emitted:
    """A short real demo run whose servers export their metrics to a local OTLP sink."""
    from rich.console import Console

    from otelkit.demo.runner import RunOptions, run_once

    spool = tmp_path_factory.mktemp("spool")
    with MetricsSink() as sink:
        server_env = (("OTEL_METRICS_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", sink.endpoint),
                      ("OTEL_METRIC_EXPORT_INTERVAL", "500"), ("OTELKIT_SELF_METRICS", "true"),
                      ("OTELKIT_SPOOL_DIR", str(spool)))
        out = io.StringIO()
        result = run_once("otelkit", RunOptions(duration=3.0, rate=60.0, seed=3, server_env=server_env),
                          Console(file=out, width=140))
        assert result.final.totals.exported, out.getvalue()  # spans really reached the receiver
        return _prometheus(list(sink.metrics().values()))


@pytest.fixture(scope="module")
def tailworker_run(tansu: Any) -> Emitted:
    metrics, stats, received = run_tail_worker(tansu)
    assert stats["kept_by_policy.errors"] > 0 and stats["traces_dropped"] > 0 and received > 0, stats
    return _prometheus(metrics)


@pytest.fixture(scope="module")
def emitted(pipeline_run: Emitted, demo_run: Emitted, tailworker_run: Emitted) -> Emitted:
    """Union of the three runs; a metric reported with two units fails here."""
    out: Emitted = {}
    for run in (pipeline_run, demo_run, tailworker_run):
        for name, info in run.items():
            seen = out.setdefault(name, {**info, "labels": set()})
            assert (seen["unit"], seen["kind"]) == (info["unit"], info["kind"]), (name, seen, info)
            seen["labels"] |= info["labels"]
    return out


def _split(expr: str) -> tuple[list[str], set[str]]:
    """(metric names, label names) used by a PromQL expression."""
    labels: set[str] = set()
    for body in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", body))
    for body in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {x.strip() for x in body.split(",") if x.strip()}
    bare = re.sub(r"\{[^}]*\}|\b(?:by|without)\s*\([^)]*\)|\[[^\]]*\]|\"[^\"]*\"", " ", expr)
    names = [t for t in re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", bare) if t not in _FUNCS]
    return names, labels


def _dashboard_queries() -> list[tuple[str, str, str]]:
    """(panel title, panel unit, expr) of every dashboard query."""
    dash = json.loads(DASHBOARD.read_text())
    return [(p["title"], p["fieldConfig"]["defaults"]["unit"], t["expr"]) for p in dash["panels"] for t in p["targets"]]


def _alert_queries() -> list[tuple[str, str]]:
    yaml = pytest.importorskip("yaml")
    rules = yaml.safe_load(ALERTS.read_text())
    return [(r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"]]


def _check(expr: str, emitted: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    names, labels = _split(expr)
    assert names, expr
    missing = [n for n in names if n not in emitted]
    assert not missing, f"{missing} in {expr!r} are not emitted; emitted: {sorted(emitted)}"
    infos = [emitted[n] for n in names]
    known = set().union(*(i["labels"] for i in infos))
    assert labels <= known, f"labels {labels - known} in {expr!r} are not on {names}"
    return infos


@pytest.mark.peers  # the tail worker run starts Tansu
def test_every_dashboard_query_uses_emitted_metrics_with_the_panel_unit(emitted: dict[str, Any]) -> None:
    queries = _dashboard_queries()
    assert len(queries) >= 26
    for title, unit, expr in queries:
        for info in _check(expr, emitted):
            assert info["unit"] in PANEL_UNITS[unit], f"{title}: {info['otel']} has unit {info['unit']!r}, panel {unit}"


@pytest.mark.peers  # the tail worker run starts Tansu
def test_every_alert_rule_uses_emitted_metrics(emitted: dict[str, Any]) -> None:
    alerts = _alert_queries()
    assert {a for a, _ in alerts} >= {"OtelkitSpansDropped", "OtelkitExportFailing", "OtelkitQueueNearlyFull",
                                      "OtelkitSpoolGrowing", "OtelkitTailWorkerLagGrowing"}
    for _alert, expr in alerts:
        _check(expr, emitted)


def _queried() -> set[str]:
    exprs = [e for _t, _u, e in _dashboard_queries()] + [e for _a, e in _alert_queries()]
    return {n for e in exprs for n in _split(e)[0]}


@pytest.mark.peers  # the tail worker run starts Tansu
def test_the_demo_run_emits_every_queried_metric_with_its_unit(demo_run: Emitted, emitted: Emitted) -> None:
    wanted = {n for n in _queried() if not n.startswith(TAIL_WORKER_PREFIX)}
    assert {"otelkit_exporter_spool_size_bytes", "otelkit_tail_buffered_bytes"} <= wanted
    missing = sorted(wanted - set(demo_run))
    assert not missing, f"the demo run does not emit {missing}"
    for name in wanted:
        assert demo_run[name]["unit"] == emitted[name]["unit"], name


@pytest.mark.peers  # the tail worker run starts Tansu
def test_the_tail_worker_run_emits_every_queried_tail_worker_metric(tailworker_run: Emitted) -> None:
    wanted = {n for n in _queried() if n.startswith(TAIL_WORKER_PREFIX)}
    assert {"otelkit_tailworker_lag", "otelkit_tailworker_traces_total", "otelkit_tailworker_buffered_spans"} <= wanted
    missing = sorted(wanted - set(tailworker_run))
    assert not missing, f"the tail worker run does not emit {missing}"
    assert tailworker_run["otelkit_tailworker_lag"]["unit"] == "{message}"
    assert {"messaging_destination_partition_id"} <= tailworker_run["otelkit_tailworker_lag"]["labels"]


@pytest.mark.peers  # the tail worker run starts Tansu
def test_rate_is_only_taken_of_counters(emitted: dict[str, Any]) -> None:
    exprs = [e for _t, _u, e in _dashboard_queries()] + [e for _a, e in _alert_queries()]
    for expr in exprs:
        for name in re.findall(r"rate\(([a-zA-Z_:][a-zA-Z0-9_:]*)", expr):
            info = emitted[name]
            assert name.endswith(("_total", "_bucket")), f"rate() of the gauge {name}"
            assert info["kind"] in {"sum", "histogram"}


@pytest.mark.peers  # the tail worker run starts Tansu
def test_the_checker_rejects_a_metric_otelkit_does_not_emit(emitted: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="not emitted"):
        _check("rate(otelkit_spool_bytes_total[5m])", emitted)
    with pytest.raises(AssertionError, match="labels"):
        _check('otel_sdk_processor_span_queue_size{policy="x"}', emitted)


@pytest.mark.parametrize(
    ("name", "unit", "kind", "monotonic", "expected"),
    [
        ("http.server.request.duration", "s", "histogram", False, "http_server_request_duration_seconds"),
        ("requests.count", "1", "sum", True, "requests_count_total"),
        ("memory.usage", "By", "gauge", False, "memory_usage_bytes"),
        ("otel.sdk.processor.span.processed", "{span}", "sum", True, "otel_sdk_processor_span_processed_total"),
        ("otelkit.batch.queue.bytes", "By", "sum", False, "otelkit_batch_queue_bytes"),
        ("otelkit.sampler.probability", "1", "gauge", False, "otelkit_sampler_probability_ratio"),
        ("net.io", "By/s", "gauge", False, "net_io_bytes_per_second"),
    ],
)
def test_prometheus_names_follow_the_collector_translator(
    name: str, unit: str, kind: str, monotonic: bool, expected: str
) -> None:
    assert metric_name(name, unit, kind, monotonic) == expected


def test_the_docs_snippet_runs_and_shows_the_standard_metrics() -> None:
    page = (ROOT / "docs" / "self-metrics.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", page, re.S)
    assert snippet is not None
    run = subprocess.run([sys.executable, "-c", snippet.group(1)], capture_output=True, text=True, timeout=60,
                         env=_scrubbed_env(), check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "'otel.sdk.processor.span.processed'" in run.stdout
