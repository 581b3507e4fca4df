"""The pytest warning filters in pyproject.toml silence kafka-python's deprecation noise only."""

from __future__ import annotations

import warnings

import pytest
from _pytest.config import parse_warning_filter


def test_kafka_python_read_text_deprecation_is_filtered_narrowly(pytestconfig: pytest.Config) -> None:
    from kafka.protocol.schemas.load_json import load_json  # kafka-python's real code path

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for entry in pytestconfig.getini("filterwarnings"):  # applied as pytest applies them
            warnings.filterwarnings(*parse_warning_filter(entry, escape=False))
        assert load_json("ApiVersionsRequest")["name"] == "ApiVersionsRequest"
        # the same message from anyone else, and any other kafka warning, stay visible
        warnings.warn_explicit("read_text is deprecated", DeprecationWarning, "app.py", 1, module="app")
        warnings.warn_explicit("a real problem", DeprecationWarning, "conn.py", 1, module="kafka.conn")
    assert sorted(str(w.message) for w in caught) == ["a real problem", "read_text is deprecated"]


# --- otelkit's own warning limiter (otelkit._warn) -------------------------------------

import logging  # noqa: E402

from otelkit import _warn  # noqa: E402
from otelkit._warn import MAX_KINDS, RateLimitedLog, WarnLimiter, configure, short, warn_limited  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name]


def test_one_line_per_kind_per_interval_then_the_suppressed_count(caplog: pytest.LogCaptureFixture) -> None:
    log, clock = logging.getLogger("t.limit"), Clock()
    for _ in range(50):
        warn_limited(log, "k", "bad %s", "x", interval=10, clock=clock)
    clock.now += 10
    warn_limited(log, "k", "bad %s", "x", interval=10, clock=clock)
    assert _lines(caplog, "t.limit") == ["bad x", "bad x (49 similar warnings suppressed)"]


def test_interval_comes_from_otelkit_warn_interval_s(caplog: pytest.LogCaptureFixture) -> None:
    log, clock = logging.getLogger("t.env"), Clock()
    assert configure({"OTELKIT_WARN_INTERVAL_S": "2.5"}) == 2.5
    warn_limited(log, "k", "a", clock=clock)
    clock.now += 2.0
    warn_limited(log, "k", "a", clock=clock)  # within 2.5 s: suppressed
    clock.now += 0.6
    warn_limited(log, "k", "a", clock=clock)
    assert len(_lines(caplog, "t.env")) == 2


def test_invalid_interval_falls_back_to_the_default_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert configure({"OTELKIT_WARN_INTERVAL_S": "soon"}) == _warn.DEFAULT_INTERVAL_S
    assert configure({"OTELKIT_WARN_INTERVAL_S": "-1"}) == _warn.DEFAULT_INTERVAL_S
    lines = _lines(caplog, "otelkit.config")
    assert len(lines) == 1 and "OTELKIT_WARN_INTERVAL_S" in lines[0] and "soon" in lines[0]


def test_interval_is_read_from_the_environment_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELKIT_WARN_INTERVAL_S", "42")
    _warn.reset_warnings()
    assert _warn.interval_s() == 42.0


def test_many_distinct_keys_cannot_flood(caplog: pytest.LogCaptureFixture) -> None:
    """Before: every 1,025th new key reset the table, so 10,000 keys logged 10,000 lines."""
    log, clock = logging.getLogger("t.keys"), Clock()
    for i in range(10_000):
        warn_limited(log, f"k{i}", "bad", interval=10, clock=clock)
    for i in range(MAX_KINDS):  # the kinds seen first are still limited: no reset
        warn_limited(log, f"k{i}", "bad", interval=10, clock=clock)
    assert len(_lines(caplog, "t.keys")) == MAX_KINDS + 1


def test_stale_kinds_make_room_for_new_ones() -> None:
    limiter = WarnLimiter(max_kinds=2)
    assert limiter.admit("a", 0.0, 10) == 0 and limiter.admit("b", 0.0, 10) == 0
    assert limiter.admit("c", 5.0, 10) == 0  # table full of fresh kinds: "c" takes the overflow kind
    assert limiter.admit("d", 6.0, 10) is None  # ... which is now limited
    assert limiter.admit("e", 20.0, 10) == 0  # a, b and the overflow are stale: forgotten
    assert limiter.kinds() <= 2


def test_limiter_rejects_a_bad_size() -> None:
    with pytest.raises(ValueError, match="max_kinds"):
        WarnLimiter(max_kinds=0)


@pytest.mark.parametrize(("value", "expected"), [
    ("short", "short"),
    ("x" * 100, "x" * 64 + "...(100 chars)"),
    (b"\xff" * 3, "b'\\xff\\xff\\xff'"),
    (b"ab" * 50, "b'" + "ab" * 32 + "'...(100 bytes)"),
])
def test_short_quotes_a_prefix(value: object, expected: str) -> None:
    assert short(value) == expected


def test_librdkafka_log_is_rate_limited_per_facility(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = RateLimitedLog(logging.getLogger("t.rdkafka"), clock=clock)
    for _ in range(100):
        log.log(40, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "Connect to ipv4#127.0.0.1:1 failed " + "z" * 500)
        log.log(40, "%s [%s] %s", "ERROR", "rdkafka#producer-1", "1/1 brokers are down")
    log.log(40, "unexpected", object())  # odd calls never raise
    lines = _lines(caplog, "t.rdkafka")
    assert len(lines) == 3
    assert lines[0].startswith("FAIL [rdkafka#producer-1] Connect to") and len(lines[0]) < 260
    assert [r.levelno for r in caplog.records if r.name == "t.rdkafka"][:2] == [40, 40]


def test_librdkafka_log_reaches_python_logging_from_a_real_client(caplog: pytest.LogCaptureFixture) -> None:
    """A producer pointed at a closed port: librdkafka's FAIL lines arrive through logging, once."""
    from confluent_kafka import Producer

    from otelkit.testing import free_port

    producer = Producer({"bootstrap.servers": f"127.0.0.1:{free_port()}", "logger": RateLimitedLog(),
                         "reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 20})
    for _ in range(100):  # bounded: until the first line arrives (at most 5 s) ...
        producer.poll(0.05)
        if _lines(caplog, "otelkit.kafka.librdkafka"):
            break
    for _ in range(20):  # ... then long enough for librdkafka to repeat itself
        producer.poll(0.05)
    lines = _lines(caplog, "otelkit.kafka.librdkafka")
    assert 1 <= len(lines) <= 3 and any("FAIL" in line for line in lines)
