"""The SDK span floor (issue 14, "then the floor"): where a span's CPU goes before export.

    python benchmarks/span_floor.py [--spans 4000] [--rounds 9]

1. Per operation of the issue-14 workload on the bare SDK (``ParentBased(ALWAYS_ON)``, no
   processor): ``start_span`` (5 attributes), ``set_attribute`` (x5), ``add_event`` (2
   attributes), ``end``.
2. Whole spans, rounds interleaved in one process: bare SDK; SDK + ``BatchSpanProcessor``
   (no-op exporter); ``otelkit.configure`` (no-op exporter, ``parentbased_always_on``, so
   every span is recorded as in the others); and a *lean* tracer: ``start_span`` rewritten with
   the SDK's internal metrics, ``links`` and non-recording paths left out, a ``_Span``
   subclass that skips the keyword-heavy constructors, an inline attribute path and no
   decorator on ``add_event``. The lean tracer is an upper bound on what a pure-Python
   drop-in span can save; it is not shipped (see ``docs/fast-spans.md``).

Process CPU per span, medians [min-max]; the machine is shared, so compare ratios.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from time import time_ns
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan, Tracer, TracerProvider, _Span
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

START_ATTRS = {"http.request.method": "GET", "url.scheme": "https", "server.address": "shop.example.com",
               "server.port": 443, "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"}


def workload(tracer: Any, n: int) -> None:
    for i in range(n):
        span = tracer.start_span("GET /api/v1/orders/{id}", kind=SpanKind.SERVER, attributes=START_ATTRS)
        span.set_attribute("url.path", f"/api/v1/orders/{i}")
        span.set_attribute("http.route", "/api/v1/orders/{id}")
        span.set_attribute("http.response.status_code", 200)
        span.set_attribute("otelkit.cache_hit", i % 2 == 0)
        span.set_attribute("app.order.total", i * 0.5)
        span.add_event("request.received", {"bytes": i % 10000, "queue": "default"})
        span.end()


def per_operation(tracer: Any, n: int) -> dict[str, float]:
    """µs per call of each operation (thread CPU, timer overhead subtracted)."""
    clock = time.thread_time_ns
    t0 = clock()
    for _ in range(n):
        clock()
    overhead = (clock() - t0) / n
    acc = {"start_span": 0.0, "set_attribute x5": 0.0, "add_event": 0.0, "end": 0.0}
    for i in range(n):
        a = clock()
        span = tracer.start_span("GET /api/v1/orders/{id}", kind=SpanKind.SERVER, attributes=START_ATTRS)
        b = clock()
        span.set_attribute("url.path", f"/api/v1/orders/{i}")
        span.set_attribute("http.route", "/api/v1/orders/{id}")
        span.set_attribute("http.response.status_code", 200)
        span.set_attribute("otelkit.cache_hit", i % 2 == 0)
        span.set_attribute("app.order.total", i * 0.5)
        c = clock()
        span.add_event("request.received", {"bytes": i % 10000, "queue": "default"})
        d = clock()
        span.end()
        e = clock()
        acc["start_span"] += b - a - overhead
        acc["set_attribute x5"] += c - b - overhead
        acc["add_event"] += d - c - overhead
        acc["end"] += e - d - overhead
    return {k: v / n / 1e3 for k, v in acc.items()}


# ---------------------------------------------------------------- the lean upper bound

_UNSET = Status(StatusCode.UNSET)
_SIMPLE = (str, bool, int, float)


class _LeanAttributes(BoundedAttributes):
    def __init__(self, maxlen: int | None, attributes: Any, max_value_len: int | None) -> None:
        self._dict: dict[str, Any] = {}
        self.maxlen, self.dropped, self.max_value_len = maxlen, 0, max_value_len
        self._lock = threading.Lock()
        self._immutable = False
        if attributes:
            for k, v in attributes.items():
                self[k] = v

    def __setitem__(self, key: str, value: Any) -> None:
        if (type(value) in _SIMPLE and type(key) is str and key and not self._immutable
                and (self.max_value_len is None or type(value) is not str)):
            d = self._dict
            with self._lock:
                if key in d or self.maxlen is None or len(d) < self.maxlen:
                    d[key] = value
                    return
        BoundedAttributes.__setitem__(self, key, value)


class _LeanSpan(_Span):
    def __init__(self, name: str, context: SpanContext, parent: Any, resource: Any, attributes: Any,
                 processor: Any, kind: SpanKind, scope: Any, limits: Any, sampler: Any) -> None:
        self._name, self._context, self._kind, self._parent = name, context, kind, parent
        self._instrumentation_info, self._instrumentation_scope = None, scope
        self._start_time = self._end_time = None
        self._resource, self._status, self._sampler, self._trace_config = resource, _UNSET, sampler, None
        self._record_exception = self._set_status_on_exception = True
        self._span_processor, self._limits, self._lock = processor, limits, threading.Lock()
        self._attributes = _LeanAttributes(limits.max_span_attributes, attributes, limits.max_span_attribute_length)
        self._events = BoundedList(limits.max_events)
        self._links = BoundedList(limits.max_links)
        self._record_end_metrics = None

    def set_attribute(self, key: str, value: Any) -> None:
        if self._end_time is None:
            self._attributes[key] = value

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        if self._end_time is None:
            attrs = _LeanAttributes(self._limits.max_event_attributes, attributes, self._limits.max_attribute_length)
            attrs._immutable = True
            self._events.append(Event(name, attrs, timestamp))

    def end(self, end_time: int | None = None) -> None:
        with self._lock:
            if self._end_time is not None:
                return
            self._end_time = end_time if end_time is not None else time_ns()
            self._attributes._immutable = True
        processor = self._span_processor
        processor._on_ending(self)
        out = ReadableSpan.__new__(ReadableSpan)
        out.__dict__.update(
            _name=self._name, _context=self._context, _kind=self._kind, _instrumentation_info=None,
            _instrumentation_scope=self._instrumentation_scope, _parent=self._parent,
            _start_time=self._start_time, _end_time=self._end_time, _attributes=self._attributes,
            _events=self._events, _links=self._links, _resource=self._resource, _status=self._status,
        )
        processor.on_end(out)


class _LeanTracer(Tracer):
    def start_span(self, name: str, context: Any = None, kind: SpanKind = SpanKind.INTERNAL, attributes: Any = None,
                   links: Sequence[Any] | None = (), start_time: int | None = None, record_exception: bool = True,
                   set_status_on_exception: bool = True) -> Any:
        parent = trace_api.get_current_span(context).get_span_context()
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = self.id_generator.generate_trace_id()
            random = self.id_generator.is_trace_id_random()
        else:
            trace_id, random = parent.trace_id, parent.trace_flags.random_trace_id
        result = self.sampler.should_sample(context, trace_id, name, kind, attributes, links)
        flags = (1 if result.decision.is_sampled() else 0) | (TraceFlags.RANDOM_TRACE_ID if random else 0)
        ctx = SpanContext(trace_id, self.id_generator.generate_span_id(), False, TraceFlags(flags), result.trace_state)
        span = _LeanSpan(name, ctx, parent, self.resource, result.attributes, self.span_processor, kind,
                         self._instrumentation_scope, self._span_limits, self.sampler)
        span._start_time = start_time if start_time is not None else time_ns()
        self.span_processor.on_start(span, parent_context=context)
        return span


# ---------------------------------------------------------------- variants


class _Noop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def variants() -> dict[str, tuple[Any, Callable[[], object]]]:
    import otelkit

    out: dict[str, tuple[Any, Callable[[], object]]] = {}
    bare = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    out["SDK, no processor"] = (bare.get_tracer("bench"), lambda: None)
    bsp = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    bsp.add_span_processor(BatchSpanProcessor(_Noop(), max_queue_size=100_000))
    out["SDK + BSP (no-op exporter)"] = (bsp.get_tracer("bench"), bsp.force_flush)
    env = {"OTELKIT_TAIL_ENABLED": "false", "OTELKIT_SELF_METRICS": "false", "OTEL_TRACES_SAMPLER": "parentbased_always_on"}
    p = otelkit.configure(exporters=[_Noop()], set_global=False, environ=env)
    out["otelkit.configure (no-op exporter)"] = (p.provider.get_tracer("bench"), p.force_flush)
    t = bare.get_tracer("bench")
    lean = _LeanTracer(t.sampler, t.resource, t.span_processor, t.id_generator, t.instrumentation_info,
                       t._span_limits, t._instrumentation_scope)
    out["lean tracer (upper bound, not shipped)"] = (lean, lambda: None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="SDK span floor")
    ap.add_argument("--spans", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    tracer = TracerProvider(sampler=ParentBased(ALWAYS_ON)).get_tracer("bench")
    workload(tracer, 2000)
    ops = [per_operation(tracer, args.spans) for _ in range(args.rounds)]
    print("\n| bare SDK operation | µs per call (median [min-max]) |\n|---|---|")
    for key in ops[0]:
        vals = [o[key] for o in ops]
        print(f"| {key} | {statistics.median(vals):.2f} [{min(vals):.2f}-{max(vals):.2f}] |")
    vs = variants()
    results: dict[str, list[float]] = {k: [] for k in vs}
    for tracer, flush in vs.values():
        workload(tracer, 1000)
        flush()
    for _ in range(args.rounds):
        for name, (tracer, flush) in vs.items():
            t0 = time.process_time()
            workload(tracer, args.spans)
            flush()
            results[name].append((time.process_time() - t0) / args.spans * 1e6)
    base = statistics.median(results["SDK, no processor"])
    print("\n| variant | CPU µs per span | / bare SDK |\n|---|---|---|")
    for name, vals in results.items():
        med = statistics.median(vals)
        print(f"| {name} | {med:.1f} [{min(vals):.1f}-{max(vals):.1f}] | {med / base:.2f} |")


if __name__ == "__main__":
    main()
