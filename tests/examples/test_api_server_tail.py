"""With the tail-sampling processor on, every error and every slow trace of the example API
arrives whole, even when the head sampler keeps almost nothing.

Needs ``otelkit.tail`` (``OTELKIT_TAIL_ENABLED``) and the ``otelkit_adaptive`` sampler.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

from otelkit.demo.servers import API_APP, start_example
from otelkit.receiver import OtlpReceiver

SLOW_MS = 1100  # above the tail processor's default latency threshold (1 s)


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def test_error_and_slow_traces_are_kept_whole(sink: OtlpReceiver) -> None:
    env = {
        "OTELKIT_EXAMPLE_TRACING": "otelkit",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink.endpoint,
        "OTEL_TRACES_SAMPLER": "otelkit_adaptive",
        "OTEL_TRACES_SAMPLER_ARG": "target=1",
        "OTELKIT_TAIL_ENABLED": "true",
        "OTELKIT_EXAMPLE_ERROR_RATE": "0.25",
        "OTELKIT_EXAMPLE_SLOW_RATE": "0.1",
        "OTELKIT_EXAMPLE_SLOW_MS": str(SLOW_MS),
    }
    server = start_example(API_APP, env, name="test-api-tail")
    try:
        statuses = [_call(server.base_url, "POST", "/checkout", {"product_ids": [1, 2]})[0] for _ in range(60)]
        stats = _call(server.base_url, "GET", "/_otelkit/stats")[1]
        injected = stats["faults"]
        assert injected["error"] == statuses.count(500) > 0 and injected["slow"] > 0
        tail = stats["processor0"]
        assert "traces_kept" in tail and "kept_by_policy" in tail  # the tail processor is in place
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            _call(server.base_url, "POST", "/_otelkit/flush")
            spans = [s.span for s in sink.spans()]
            faults = [s for s in spans if any(kv.key == "example.fault" for kv in s.attributes)]
            if len(faults) >= injected["error"] + injected["slow"]:
                break
            time.sleep(0.3)
    finally:
        server.stop()
    by_trace: dict[bytes, list[Any]] = defaultdict(list)
    for span in sink.spans():
        by_trace[span.span.trace_id].append(span.span)
    fault_of = {
        s.span_id: kv.value.string_value for spans in by_trace.values() for s in spans for kv in s.attributes
        if kv.key == "example.fault"
    }
    kept = defaultdict(int)
    for spans in by_trace.values():
        names = sorted(s.name for s in spans)
        marks = [fault_of[s.span_id].split(",") for s in spans if s.span_id in fault_of]
        assert len(marks) <= 1  # one request per trace
        for mark in marks:
            for kind in mark:
                kept[kind] += 1
            # whole trace: the server span and its children; failed checkouts stop before payment
            expected = ["POST /checkout", "inventory.reserve"] + ([] if "error" in mark else ["payment.authorize"])
            assert names == sorted(expected), names
    # every injected fault's trace arrived (a request can be both slow and failed)
    assert kept["error"] == injected["error"]
    assert kept["slow"] == injected["slow"]
    # and most normal traces were sampled away
    normal = [t for t in by_trace.values() if not any(s.span_id in fault_of for s in t)]
    assert len(normal) < 60 - injected["error"] - injected["slow"]
