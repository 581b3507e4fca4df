"""Every declared setting is read where it claims to act, through the injected environ, and a
fuzz over every declared variable: ``otelkit config``'s verdict and the runtime agree, and
``configure()`` (or the component reading the variable) never raises."""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otelkit import config
from otelkit import pipeline as pl
from otelkit._warn import reset_warnings
from otelkit.testing import free_port

_BROKER = f"127.0.0.1:{free_port()}"  # nothing listens: Kafka clients are built, never used


class RecordingEnv(Mapping[str, str]):
    """A mapping that remembers every key looked up."""

    def __init__(self, data: Mapping[str, str]) -> None:
        self._data = dict(data)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _pipeline(env: Mapping[str, str]) -> None:
    pl.configure(environ=env, set_global=False).shutdown()


def _asgi(env: Mapping[str, str]) -> None:
    from otelkit.middleware.asgi import ASGITracingMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
        pass

    ASGITracingMiddleware(app, environ=env)


def _aiohttp(env: Mapping[str, str]) -> None:
    from otelkit.middleware.aiohttp import aiohttp_tracing_middleware

    aiohttp_tracing_middleware(environ=env)


def _kafka_process(env: Mapping[str, str]) -> None:
    from otelkit.middleware.kafka_consumer import process_span

    record = SimpleNamespace(topic="t", partition=0, offset=1, key=b"k", headers=[])
    with process_span(record, environ=env):
        pass


def _tail_worker(env: Mapping[str, str]) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otelkit.tailworker.worker import TailWorker

    TailWorker(environ=env, exporter=InMemorySpanExporter())  # reads its settings; connects only in run()


# (context the variable acts in, the code that reads it) by variable prefix; first match wins.
_CONSUMERS: list[tuple[str, dict[str, str], Callable[[Mapping[str, str]], None]]] = [
    ("OTELKIT_SAMPLER_", {"OTEL_TRACES_SAMPLER": "otelkit_adaptive"}, _pipeline),
    ("OTELKIT_RULES", {"OTEL_TRACES_SAMPLER": "otelkit_adaptive"}, _pipeline),
    ("OTEL_TRACES_SAMPLER_ARG", {"OTEL_TRACES_SAMPLER": "otelkit_adaptive"}, _pipeline),
    ("OTELKIT_TAIL_WORKER_", {}, _tail_worker),
    ("OTELKIT_TAIL_", {"OTELKIT_TAIL_ENABLED": "true"}, _pipeline),
    ("OTELKIT_KAFKA_CONSUMER_", {}, _kafka_process),
    ("OTELKIT_KAFKA_", {"OTEL_TRACES_EXPORTER": "otelkit_kafka"}, _pipeline),
    ("OTELKIT_ASGI_", {}, _asgi),
    ("OTEL_PYTHON_ASGI_", {}, _asgi),
    ("OTEL_PYTHON_EXCLUDED_URLS", {}, _asgi),
    ("OTEL_PYTHON_AIOHTTP_", {}, _aiohttp),
    ("OTEL", {}, _pipeline),
]

# Read from os.environ only, by code that takes no environ: proven by behaviour below instead.
_OS_ENVIRON_ONLY = {"OTELKIT_KAFKA_MAX_LINKS"}


def _consumer(name: str) -> tuple[dict[str, str], Callable[[Mapping[str, str]], None]]:
    for prefix, context, run in _CONSUMERS:
        if name.startswith(prefix):
            return {"OTELKIT_KAFKA_BOOTSTRAP_SERVERS": _BROKER, **context}, run
    raise AssertionError(f"no consumer for {name}")  # pragma: no cover


_NAMES = sorted(config.SETTINGS)


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    reset_warnings()
    yield
    reset_warnings()


def test_every_setting_is_declared_in_its_components_settings_module() -> None:
    for name, setting in config.SETTINGS.items():
        home = config._home(name)
        assert home is not None and getattr(importlib.import_module(home), name) is setting, name
        assert getattr(config, name) is setting


@pytest.mark.parametrize("name", [n for n in _NAMES if n not in _OS_ENVIRON_ONLY])
def test_every_setting_is_read_through_the_injected_environ(name: str) -> None:
    context, run = _consumer(name)
    env = RecordingEnv(context)
    run(env)
    assert name in env.read


def test_kafka_max_links_caps_the_links_of_a_batch_span(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otelkit.middleware.kafka_consumer import LINKS_DROPPED, process_batch

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    header = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    records = [SimpleNamespace(topic="t", partition=0, offset=i, key=None, headers=header) for i in range(3)]
    monkeypatch.setenv("OTELKIT_KAFKA_MAX_LINKS", "1")
    with process_batch(records, tracer_provider=provider):
        pass
    [span] = exporter.get_finished_spans()
    assert len(span.links) == 1 and (span.attributes or {})[LINKS_DROPPED] == 2


# --- fuzz: otelkit config and the runtime agree ----------------------------------------------

_GENERIC = ["0", "1", "-1", "10", "1.5", "abc", "TRUE", "off", "nan", "1e400", "64KiB", "99999999999999999999",
            " 5 ", "x=1", ",", "a=1,,b"]

# Extra values for free-form variables: (valid ones, invalid ones) as the runtime sees them.
_SPECIFIC: dict[str, list[str]] = {
    "OTEL_TRACES_SAMPLER": ["otelkit_rules", "parentbased_traceidratio", "otelkit_adaptiv", "always_on,always_off"],
    "OTEL_TRACES_SAMPLER_ARG": ["target=5,tau=2", "target=abc", "max_keys=0", "rules=keep:http.route=/a*",
                                "rules=keep:oops", "bogus=1", "keys=;"],
    "OTEL_TRACES_EXPORTER": ["console", "none", "otlp", "otelkit_otpl", "console,otelkit_otpl"],
    "OTEL_PROPAGATORS": ["tracecontext", "baggage,tracecontext", "none", "b3x", "tracecontext,b3x"],
    "OTEL_RESOURCE_ATTRIBUTES": ["team=a,env=b", "team=a,broken", "=x"],
    "OTEL_EXPORTER_OTLP_ENDPOINT": ["http://127.0.0.1:4318", "https://c:4318/", "127.0.0.1:4318", "ftp://x",
                                    "http://", "localhost:4318"],
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ["http://127.0.0.1:4318/v1/traces", "ftp://x", "127.0.0.1:4318"],
    "OTEL_EXPORTER_OTLP_HEADERS": ["api-key=s3cret", "a=1,b=2", "Bearer s3cret", "a=1,=2"],
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS": ["api-key=s3cret", "s3cret"],
    "OTELKIT_KAFKA_PRODUCER_CONFIG": ["linger.ms=20", "sasl.password", "no.such.property=1", "acks=bogus"],
    "OTELKIT_KAFKA_TOPIC": ["spans", "a topic", "x" * 300],
    "OTELKIT_KAFKA_TIMEOUT_MS": ["5", "9", "10", "60000"],
    "OTELKIT_TAIL_POLICIES": ["errors=status_code(status_codes=ERROR)", "errors=status_code(status_codes=EROR)",
                              "slow=latency(threshold_ms=abc)", "nonsense(", "/no/such/policies.json"],
    "OTELKIT_RULES": ["keep:http.route=/pay*;drop:http.route=/health", "keep:oops", "/no/such/rules.yaml"],
    "OTELKIT_SAMPLER_KEYS": ["http.route;http.request.method", ";"],
    "OTELKIT_ASGI_EXCLUDED_PATHS": ["/health,/internal/*"],
    "OTEL_PYTHON_EXCLUDED_URLS": ["health,^/metrics$", "(unclosed", "[a-", "*x"],
    "OTEL_PYTHON_ASGI_EXCLUDED_URLS": ["health", "(unclosed"],
    "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS": ["health", "+x"],
}

# Values that must not reach the network beyond 127.0.0.1.
_NETWORK = {"OTELKIT_KAFKA_BOOTSTRAP_SERVERS": [_BROKER, f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"]}


def _values(name: str, setting: config.Setting[Any]) -> list[str]:
    if name in _NETWORK:
        return _NETWORK[name]
    choices = re.findall(r"[\w/.]+", setting.allowed[len("one of "):]) if setting.allowed.startswith("one of ") else []
    return [*_GENERIC, *choices, str(setting.default), *_SPECIFIC.get(name, [])]


_CASES = [(name, value) for name in _NAMES if name not in _OS_ENVIRON_ONLY
          for value in _values(name, config.SETTINGS[name])]


def test_the_fuzz_covers_every_declared_variable() -> None:
    assert {name for name, _ in _CASES} | _OS_ENVIRON_ONLY == set(config.SETTINGS)
    assert len(_CASES) > 1000


@pytest.mark.parametrize(("name", "value"), _CASES)
def test_config_verdict_and_runtime_agree(name: str, value: str, caplog: pytest.LogCaptureFixture) -> None:
    context, run = _consumer(name)
    env = {**context, name: value}
    verdict = [p.message for p in config.problems(env) if p.name == name]
    reset_warnings()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        run(env)  # never raises
    warned = [r.getMessage() for r in caplog.records if r.name.startswith("otelkit") and name in r.getMessage()]
    assert bool(verdict) == bool(warned), f"otelkit config says {verdict}, the runtime warned {warned}"
    for message in verdict + warned:
        assert "s3cret" not in message


_PRINTABLE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=24)


# Random text never goes into variables that can name a host (only 127.0.0.1 is allowed).
_NO_RANDOM = _OS_ENVIRON_ONLY | set(_NETWORK) | {"OTELKIT_KAFKA_PRODUCER_CONFIG"}


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from([n for n in _NAMES if n not in _NO_RANDOM]),
       value=_PRINTABLE)
def test_random_values_config_and_runtime_agree(name: str, value: str, caplog: pytest.LogCaptureFixture) -> None:
    test_config_verdict_and_runtime_agree(name, value, caplog)
