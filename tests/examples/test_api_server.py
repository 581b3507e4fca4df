"""The example API server on real uvicorn/aiohttp servers on 127.0.0.1: responses and trace shape."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from examples.api_server.store import Store, make_pool, render_json_list
from otelkit.demo.servers import API_APP, ExampleServer, examples_root, start_example
from otelkit.receiver import OtlpReceiver
from otelkit.testing import ManagedProcess, free_port, scrubbed_env, wait_for_port


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as rx:
        yield rx


def _traced_env(rx: OtlpReceiver, **extra: str) -> dict[str, str]:
    return {
        "OTELKIT_EXAMPLE_TRACING": "otelkit",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rx.endpoint,
        "OTELKIT_EXAMPLE_ERROR_RATE": "0",
        "OTELKIT_EXAMPLE_SLOW_RATE": "0",
        **extra,
    }


@pytest.fixture(scope="module")
def api(receiver: OtlpReceiver) -> Iterator[ExampleServer]:
    server = start_example(API_APP, _traced_env(receiver), name="test-api")
    try:
        yield server
    finally:
        server.stop()


def test_health(api: ExampleServer) -> None:
    assert _call(api.base_url, "GET", "/health") == (200, {"status": "ok"})


@pytest.mark.parametrize("kind, body", [("users", {"name": "ada", "email": "ada@example.test"}), ("products", {"name": "pen", "price": 2})])
def test_create_list_get(api: ExampleServer, kind: str, body: dict[str, Any]) -> None:
    status, created = _call(api.base_url, "POST", f"/{kind}", body)
    assert status == 201
    assert {k: created[k] for k in body} == body
    assert _call(api.base_url, "GET", f"/{kind}/{created['id']}") == (200, created)
    status, listed = _call(api.base_url, "GET", f"/{kind}?limit=100")
    assert status == 200 and created in listed


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("POST", "/users", {"name": "x"}, 400),
        ("POST", "/products", ["not", "an", "object"], 400),
        ("GET", "/users/999999", None, 404),
        ("GET", "/products/999999", None, 404),
        ("POST", "/checkout", {"product_ids": []}, 400),
        ("POST", "/checkout", {"product_ids": [999999]}, 404),
        ("POST", "/payment", {"amount": "ten"}, 400),
    ],
)
def test_bad_requests(api: ExampleServer, method: str, path: str, body: Any, status: int) -> None:
    assert _call(api.base_url, method, path, body)[0] == status


def test_checkout_is_one_trace_with_child_spans(api: ExampleServer, receiver: OtlpReceiver) -> None:
    status, paid = _call(api.base_url, "POST", "/checkout", {"product_ids": [1, 2]})
    assert (status, paid["status"], paid["items"]) == (200, "paid", 2)
    assert _call(api.base_url, "POST", "/_otelkit/flush")[0] == 200
    spans = [s.span for s in receiver.spans() if s.resource.get("service.name") == "example-api"]
    authorize = [s for s in spans if s.name == "payment.authorize" and s.attributes[0].value.double_value == 68.5]
    assert len(authorize) == 1
    trace = {s.name: s for s in spans if s.trace_id == authorize[0].trace_id}
    assert sorted(trace) == ["POST /checkout", "inventory.reserve", "payment.authorize"]
    assert trace["inventory.reserve"].parent_span_id == trace["POST /checkout"].span_id
    assert trace["payment.authorize"].parent_span_id == trace["POST /checkout"].span_id


def test_stats_endpoint_counts_spans_and_cpu(api: ExampleServer) -> None:
    _call(api.base_url, "GET", "/products/1")
    status, stats = _call(api.base_url, "GET", "/_otelkit/stats")
    assert status == 200
    assert stats["mode"] == "otelkit" and stats["pid"] == api.pid
    assert stats["spans_created"] >= 1 and stats["spans_sampled"] >= 1
    assert stats["cpu_seconds"] > 0


def test_error_rate_one_fails_every_fault_injected_endpoint(receiver: OtlpReceiver) -> None:
    server = start_example(API_APP, _traced_env(receiver, OTELKIT_EXAMPLE_ERROR_RATE="1.0"), name="test-api-err")
    try:
        for method, path, body in (
            ("GET", "/products/1", None),
            ("POST", "/payment", {"amount": 5}),
            ("POST", "/checkout", {"product_ids": [1]}),
        ):
            status, payload = _call(server.base_url, method, path, body)
            assert (status, payload) == (500, {"error": "injected failure"})
        assert _call(server.base_url, "GET", "/products")[0] == 200
        stats_faults = _call(server.base_url, "GET", "/_otelkit/stats")[1]["faults"]
        _call(server.base_url, "POST", "/_otelkit/flush")
    finally:
        server.stop()
    assert stats_faults == {"error": 3, "slow": 0}
    failed = [s.span for s in receiver.spans() if s.attributes.get("example.fault") == "error"]
    assert len(failed) == 3
    assert {s.status.code for s in failed} == {2}  # STATUS_CODE_ERROR: 5xx marks the server span


def test_slow_requests_are_marked(receiver: OtlpReceiver) -> None:
    env = _traced_env(receiver, OTELKIT_EXAMPLE_SLOW_RATE="1", OTELKIT_EXAMPLE_SLOW_MS="10")
    server = start_example(API_APP, env, name="test-api-slow")
    try:
        assert _call(server.base_url, "GET", "/products/2")[0] == 200
        _call(server.base_url, "POST", "/_otelkit/flush")
    finally:
        server.stop()
    slow = [s for s in receiver.spans() if s.attributes.get("example.fault") == "slow"]
    assert len(slow) == 1
    assert slow[0].span.kind == 2  # SPAN_KIND_SERVER: the request's own span carries the mark
    assert slow[0].span.name.startswith("GET /products/")


def test_tracing_off_records_nothing() -> None:
    server = start_example(API_APP, {"OTELKIT_EXAMPLE_TRACING": "off"}, name="test-api-off")
    try:
        _call(server.base_url, "GET", "/products")
        status, stats = _call(server.base_url, "GET", "/_otelkit/stats")
    finally:
        server.stop()
    assert (status, stats["mode"], stats["spans_created"]) == (200, "off", 0)


def test_aiohttp_variant_serves_the_same_api(receiver: OtlpReceiver) -> None:
    port = free_port()
    env = scrubbed_env({"PYTHONPATH": str(examples_root()), **_traced_env(receiver)})
    argv = [sys.executable, "-m", "examples.api_server.aiohttp_app", "--port", str(port)]
    with ManagedProcess(argv, env, "test-aiohttp") as proc:
        wait_for_port(port, 20, proc.proc)
        base = f"http://127.0.0.1:{port}"
        status, user = _call(base, "POST", "/users", {"name": "bo", "email": "bo@example.test"})
        assert status == 201
        assert _call(base, "GET", f"/users/{user['id']}") == (200, user)
        assert _call(base, "GET", "/products/999")[0] == 404
        assert _call(base, "POST", "/payment", {"amount": 3})[0] == 200
        status, stats = _call(base, "GET", "/_otelkit/stats")
        assert status == 200 and stats["spans_created"] >= 3


@pytest.mark.parametrize("n", [0, 1, 3])
def test_render_json_list_reuses_pooled_buffers(n: int) -> None:
    pool = make_pool(2)
    items = [{"id": i, "name": f"n{i}"} for i in range(n)]
    assert json.loads(render_json_list(pool, items)) == items
    buf = pool.acquire()
    assert len(buf) == 0  # released buffers come back cleared


def test_store_stays_bounded() -> None:
    store = Store()
    for i in range(10_050):
        store.add_user({"name": f"u{i}", "email": "e"})
    assert len(store.users) == 10_000
