"""SignalFlush: flush in front of the previous handler, chain it, bounded, counted."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from otelkit import pipeline as pl
from otelkit._shutdown import SignalFlush, _Rearm, flush_on_signals, span_outcomes
from otelkit.receiver import OtlpReceiver
from otelkit.testing import scrubbed_env

SIG = signal.SIGUSR1

TAIL_STATS = {
    "sampler": {"kept": 3},
    "processor0": {
        "traces_kept": 2, "buffered_spans": 4, "awaiting_decision_spans": 1,
        "downstream": {"spans_exported": 10, "spans_failed": 1, "dropped_queue_full": 2,
                       "dropped_shutdown": 0, "queue_size": 3},
    },
    "exporter0": {"spans_exported": 10},  # the same spans again: must not be counted twice
}


@pytest.fixture
def restore_sig() -> Iterator[None]:
    saved = signal.getsignal(SIG)
    yield
    signal.signal(SIG, saved)


def test_span_outcomes_follow_the_tail_downstream_and_skip_exporters() -> None:
    assert span_outcomes(TAIL_STATS) == (10, 3, 8)
    assert span_outcomes({"processor0": {"queue_size": 2}}) is None  # nothing exported reported
    assert span_outcomes({}) is None


class FakePipeline:
    def __init__(self, pending: int = 5) -> None:
        self.pending = pending
        self.exported = 0
        self.flushes: list[int] = []

    def force_flush(self, timeout_millis: int) -> bool:
        self.flushes.append(timeout_millis)
        self.exported += self.pending
        self.pending = 0
        return True

    def stats(self) -> dict[str, Any]:
        return {"processor0": {"spans_exported": self.exported, "queue_size": self.pending}}


def test_signal_flushes_then_calls_the_previous_handler(restore_sig: None, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    p = FakePipeline()
    signal.signal(SIG, lambda s, f: calls.append(f"previous:{p.exported}"))
    guard = SignalFlush(p.force_flush, p.stats, timeout_s=2, signals=[SIG])
    assert guard.install()
    with caplog.at_level(logging.INFO, logger="otelkit.shutdown"):
        signal.raise_signal(SIG)
    assert calls == ["previous:5"]  # flushed before the previous handler ran
    assert p.flushes == [2000]
    assert guard.last_report is not None
    assert (guard.last_report.flushed, guard.last_report.lost, guard.last_report.completed) == (5, 0, True)
    assert [r.getMessage() for r in caplog.records if "flushed 5 spans, lost 0" in r.getMessage()]


def test_a_repeat_signal_with_nothing_to_flush_logs_nothing_more(restore_sig: None, caplog: pytest.LogCaptureFixture) -> None:
    signal.signal(SIG, lambda s, f: None)
    p = FakePipeline()
    SignalFlush(p.force_flush, p.stats, signals=[SIG]).install()
    with caplog.at_level(logging.INFO, logger="otelkit.shutdown"):
        signal.raise_signal(SIG)
        signal.raise_signal(SIG)
    assert len([r for r in caplog.records if r.levelno >= logging.INFO]) == 1
    assert len(p.flushes) == 2


def test_flush_blocked_by_a_lock_the_main_thread_holds_is_abandoned_at_the_deadline(restore_sig: None) -> None:
    calls: list[int] = []
    signal.signal(SIG, lambda s, f: calls.append(s))
    lock = threading.Lock()

    def flush(timeout_millis: int) -> bool:
        with lock:  # held by the interrupted main thread: would deadlock if run inline
            return True

    def stats() -> dict[str, Any]:
        with lock:  # stats() takes the processors' locks too
            return {}

    guard = SignalFlush(flush, stats, timeout_s=0.2, signals=[SIG])
    guard.install()
    with lock:
        signal.raise_signal(SIG)
    assert calls == [SIG]
    assert guard.last_report is not None
    assert (guard.last_report.completed, guard.last_report.flushed, guard.last_report.lost) == (False, None, None)


def test_ignored_signal_stays_ignored_and_uninstall_restores(restore_sig: None) -> None:
    signal.signal(SIG, signal.SIG_IGN)
    p = FakePipeline()
    guard = SignalFlush(p.force_flush, p.stats, signals=[SIG])
    guard.install()
    assert signal.getsignal(SIG) is signal.SIG_IGN

    def previous(s: int, f: object) -> None:
        return None

    signal.signal(SIG, previous)
    guard.install()
    assert signal.getsignal(SIG) == guard._handle
    guard.uninstall()
    assert signal.getsignal(SIG) is previous


def test_handlers_reset_in_a_forked_worker_are_put_back_in_front_at_the_next_span(restore_sig: None) -> None:
    calls: list[str] = []
    p = FakePipeline()
    guard = SignalFlush(p.force_flush, p.stats, signals=[SIG])
    guard.install()
    guard._after_fork()  # what the at-fork hook does in a child
    signal.signal(SIG, lambda s, f: calls.append(f"worker:{p.exported}"))  # e.g. gunicorn's init_signals
    _Rearm(guard).on_start(None)  # type: ignore[arg-type]
    assert not guard.pending
    signal.raise_signal(SIG)
    assert calls == ["worker:5"]


def test_install_off_the_main_thread_stays_pending(restore_sig: None) -> None:
    p = FakePipeline()
    guard = SignalFlush(p.force_flush, p.stats, signals=[SIG])
    out: list[bool] = []
    t = threading.Thread(target=lambda: out.append(guard.install()))
    t.start()
    t.join()
    assert out == [False] and guard.pending


@pytest.mark.parametrize("timeout_s", [0, -1, float("inf"), float("nan"), "5"])
def test_bad_timeout_is_rejected(timeout_s: Any) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        SignalFlush(lambda t: True, dict, timeout_s=timeout_s)


def test_a_pipeline_that_is_not_global_gets_no_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pl.configure(environ={"OTEL_TRACES_EXPORTER": "none"}, set_global=False) as p:
        assert flush_on_signals(p) is None
    assert signal.getsignal(signal.SIGTERM) is before


APP = """
import os, signal, logging
logging.basicConfig(level=logging.INFO)
import otelkit
p = otelkit.configure(service_name="sig")
tracer = p.tracer("t")
for i in range(5):
    with tracer.start_as_current_span("job", attributes={"job.index": i}):
        pass
os.kill(os.getpid(), signal.SIGTERM)
raise SystemExit("still running after SIGTERM")
"""


def test_sigterm_with_the_default_action_flushes_then_dies_by_the_signal(sink: OtlpReceiver) -> None:
    env = scrubbed_env({
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink.endpoint,
        "OTELKIT_TAIL_ENABLED": "true",
        "OTELKIT_TAIL_DECISION_WAIT_MS": "600000",  # buffered until the flush decides
        "OTELKIT_TAIL_POLICIES": "all=always_sample",
        "OTELKIT_SELF_METRICS": "false",
    })
    proc = subprocess.run([sys.executable, "-c", APP], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert "SIGTERM: flushed 5 spans, lost 0" in proc.stderr
    assert sink.wait_for_spans(5, timeout=10)
    assert sorted(s.attributes["job.index"] for s in sink.spans()) == [0, 1, 2, 3, 4]


LIFECYCLE = """
import signal
import otelkit
before = signal.getsignal(signal.SIGTERM)
p = otelkit.configure(environ={"OTEL_TRACES_EXPORTER": "none"})
during = signal.getsignal(signal.SIGTERM)
p.shutdown()
after = signal.getsignal(signal.SIGTERM)
print(before is signal.SIG_DFL, during is not before, after is signal.SIG_DFL)
"""


def test_the_global_pipeline_installs_handlers_and_gives_them_back_at_shutdown() -> None:
    proc = subprocess.run([sys.executable, "-c", LIFECYCLE], env=scrubbed_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True"]
