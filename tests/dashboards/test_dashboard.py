"""Every metric the Grafana dashboard and the Prometheus alert rules query is one otelkit
really emits (by name, unit and label), checked against a real pipeline run.

``_emit.py`` runs configure() with self-metrics on (adaptive sampler, tail processor, smart
batcher, OTLP/HTTP exporter to a 127.0.0.1 receiver that makes the queue overflow and one
export fail) in a fresh process and reports what an SDK ``InMemoryMetricReader`` collected;
names are converted as the Collector's prometheus exporter converts them (``_promnames.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ._promnames import label_name, metric_name

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboards" / "otelkit.json"
ALERTS = ROOT / "dashboards" / "otelkit-alerts.yaml"
EMIT = Path(__file__).with_name("_emit.py")

# Grafana panel unit -> OTel units its queried metrics may have.
PANEL_UNITS = {
    "cps": {"{span}", "{trace}", "1"}, "short": {"{span}", "{trace}", "1"}, "percentunit": {"{span}", "1"},
    "bytes": {"By"}, "Bps": {"By"}, "s": {"s"}, "µs": {"us"},
}
_PROM_LABELS = {"job", "instance", "le"}
_FUNCS = {"sum", "max", "min", "avg", "rate", "increase", "histogram_quantile", "by", "without", "on", "ignoring",
          "or", "and", "unless", "count", "topk", "bottomk", "vector", "clamp_min", "clamp_max", "abs"}


@pytest.fixture(scope="module")
def emitted() -> dict[str, dict[str, Any]]:
    """Prometheus name -> {unit, kind, labels} of every series family a real run emits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    run = subprocess.run([sys.executable, str(EMIT)], capture_output=True, text=True, timeout=90, env=env,
                         check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["received"] > 0  # the workload really went through the exporter to the receiver
    out: dict[str, dict[str, Any]] = {}
    for m in report["metrics"]:
        base = metric_name(m["name"], m["unit"], m["kind"], m["monotonic"])
        info = {"otel": m["name"], "unit": m["unit"], "kind": m["kind"],
                "labels": {label_name(k) for k in m["attributes"]} | _PROM_LABELS}
        names = [base + s for s in ("_bucket", "_sum", "_count")] if m["kind"] == "histogram" else [base]
        for name in names:
            out[name] = info
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


def test_every_dashboard_query_uses_emitted_metrics_with_the_panel_unit(emitted: dict[str, Any]) -> None:
    queries = _dashboard_queries()
    assert len(queries) >= 14
    for title, unit, expr in queries:
        for info in _check(expr, emitted):
            assert info["unit"] in PANEL_UNITS[unit], f"{title}: {info['otel']} has unit {info['unit']!r}, panel {unit}"


def test_every_alert_rule_uses_emitted_metrics(emitted: dict[str, Any]) -> None:
    alerts = _alert_queries()
    assert {a for a, _ in alerts} >= {"OtelkitSpansDropped", "OtelkitExportFailing", "OtelkitQueueNearlyFull"}
    for _alert, expr in alerts:
        _check(expr, emitted)


def test_rate_is_only_taken_of_counters(emitted: dict[str, Any]) -> None:
    exprs = [e for _t, _u, e in _dashboard_queries()] + [e for _a, e in _alert_queries()]
    for expr in exprs:
        for name in re.findall(r"rate\(([a-zA-Z_:][a-zA-Z0-9_:]*)", expr):
            info = emitted[name]
            assert name.endswith(("_total", "_bucket")), f"rate() of the gauge {name}"
            assert info["kind"] in {"sum", "histogram"}


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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    run = subprocess.run([sys.executable, "-c", snippet.group(1)], capture_output=True, text=True, timeout=60,
                         env=env, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "'otel.sdk.processor.span.processed'" in run.stdout
