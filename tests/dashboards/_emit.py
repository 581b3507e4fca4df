"""Run a real otelkit pipeline with self-metrics on and print what it emits, as JSON.

Run as ``python _emit.py`` in a fresh process (the global meter provider can be set once per
process): configure() with the adaptive sampler, the tail processor, the smart batcher (queue
of 64) and the OTLP/HTTP exporter to an :class:`OtlpReceiver` on 127.0.0.1, a workload of
keyed root spans with children and errors, then one collection through an SDK
``InMemoryMetricReader``. The receiver holds every request until the workload is done and
refuses the first one (HTTP 400), so the queue overflows (``error.type=queue_full``) and an
export fails (``error.type=http_400``) on every run, without timing. Prints
``{"received": spans, "metrics": [{"name", "unit", "kind", "monotonic", "attributes"}]}``.
"""

from __future__ import annotations

import json
import threading

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, Histogram, InMemoryMetricReader, Sum
from opentelemetry.trace import StatusCode

import otelkit.pipeline as pl
from otelkit.receiver import OtlpReceiver


def main() -> None:
    done = threading.Event()

    def status(request: int) -> int:
        done.wait(60)
        return 400 if request == 1 else 200  # numbered from 1

    with OtlpReceiver(status_hook=status) as rx:
        out = run(rx.endpoint, done)
        print(json.dumps({"received": rx.stats()["spans"], "metrics": out}))


def run(endpoint: str, done: threading.Event) -> list[dict[str, object]]:
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    env = {
        "OTEL_SERVICE_NAME": "dashboard-test",
        "OTEL_TRACES_SAMPLER": "otelkit_adaptive",
        "OTEL_TRACES_SAMPLER_ARG": "target=50",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
        "OTELKIT_SELF_METRICS": "true",
        "OTELKIT_TAIL_ENABLED": "true",
        "OTELKIT_TAIL_DECISION_WAIT_MS": "1",
        "OTELKIT_BATCH_MAX_QUEUE": "64",
    }
    pipeline = pl.configure(environ=env, set_global=False)
    tracer = pipeline.tracer()
    for i in range(2000):
        route = f"/r{i % 4}"
        with tracer.start_as_current_span(f"GET {route}", attributes={"http.request.method": "GET",
                                                                        "http.route": route}) as root:
            with tracer.start_as_current_span("db"):
                pass
            if i % 10 == 0:
                root.set_status(StatusCode.ERROR)
    pipeline.force_flush(200)  # hands the tail's decided traces on while the receiver holds
    done.set()
    pipeline.force_flush()
    pipeline.shutdown()
    data = reader.get_metrics_data()
    out = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = {Sum: "sum", Gauge: "gauge", Histogram: "histogram"}.get(type(m.data), "other")
                keys = sorted({k for p in m.data.data_points for k in (p.attributes or {})})
                out.append({"name": m.name, "unit": m.unit or "", "kind": kind,
                            "monotonic": bool(getattr(m.data, "is_monotonic", False)), "attributes": keys,
                            "points": len(m.data.data_points)})
    return out


if __name__ == "__main__":
    main()
