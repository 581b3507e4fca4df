"""Flush the global pipeline when the process is told to stop (SIGTERM, SIGINT).

Servers stop in ways that skip ``atexit``: uvicorn installs its own handlers after the app
is imported, shuts down gracefully, restores the handlers it found and raises the signal
again, so a process whose handler was the default dies by the signal and the SDK's
exit-time flush never runs; a gunicorn worker resets every handler after the fork.
:class:`SignalFlush` puts a handler in front of whatever handler is there (chaining it):
on a signal it flushes the pipeline (tail sampler, batcher, exporter) within a deadline,
logs one line with the spans flushed and lost, then calls the previous handler, or, when
that was the default action, restores it and raises the signal again so the process ends
as it would have without otelkit.

Where a server replaced the handlers after the pipeline was built (a forked worker), the
handler is put back in front of the server's own at the first span started on the main
thread (a flag check per span until then). The flush runs on a helper thread that the
handler waits for at most ``timeout_s``: a signal that arrives while the main thread
holds a processor's lock cannot deadlock the process.

Only the global pipeline gets handlers (:func:`flush_on_signals`); pipelines built with
``set_global=False`` (tests, embedded use) leave the process's signals alone. A flush
decides every trace the tail sampler still buffers, so traces still in flight when a
signal arrives are judged on the spans they have so far.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider

from otelkit._fork import after_fork

if TYPE_CHECKING:
    from otelkit.pipeline import Pipeline

__all__ = ["DEFAULT_TIMEOUT_S", "FlushReport", "SignalFlush", "flush_on_signals", "span_outcomes"]

_logger = logging.getLogger("otelkit.shutdown")

DEFAULT_TIMEOUT_S = 5.0
"""Seconds a signal handler waits for the flush before it lets the process go on stopping."""

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_LOST_KEYS = ("spans_failed", "dropped_queue_full", "dropped_shutdown")
_PENDING_KEYS = ("queue_size", "buffered_spans", "awaiting_decision_spans")
_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


@dataclass(frozen=True)
class FlushReport:
    """Outcome of one flush: spans exported during it, spans lost (failed, dropped or still
    pending when the deadline passed), whether it finished in time. ``None``: not reported
    (a processor without ``stats()``, such as the stock ``BatchSpanProcessor``)."""

    flushed: int | None
    lost: int | None
    completed: bool
    seconds: float


def span_outcomes(stats: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """(exported, lost so far, pending) summed over a pipeline's ``processor*`` stats.

    A tail processor's own buffer counts as pending and its ``downstream`` batcher is
    followed, so no span is counted twice; exporters are not read (the batcher above them
    already counts what they took). ``None`` when no processor reports counts.
    """
    totals = [0, 0, 0]
    seen = False

    def walk(part: Mapping[str, Any]) -> None:
        nonlocal seen
        for i, keys in enumerate((("spans_exported",), _LOST_KEYS, _PENDING_KEYS)):
            for key in keys:
                value = part.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[i] += value
                    seen = seen or i == 0
        inner = part.get("downstream")
        if isinstance(inner, Mapping):
            walk(inner)

    for role, part in stats.items():
        if role.startswith("processor") and isinstance(part, Mapping):
            walk(part)
    return (totals[0], totals[1], totals[2]) if seen else None


class SignalFlush:
    """Flush on SIGTERM/SIGINT in front of the handlers already installed.

    Args:
        flush: ``force_flush(timeout_millis) -> bool`` of the pipeline.
        stats: the pipeline's ``stats()`` (for the flushed/lost counts); may raise.
        timeout_s: the most a handler waits for the flush (default 5 s).
        signals: the signals handled (default SIGTERM and SIGINT).

    Raises:
        ValueError: ``timeout_s`` is not a positive finite number.
    """

    def __init__(
        self,
        flush: Callable[[int], bool],
        stats: Callable[[], Mapping[str, Any]],
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        signals: Sequence[signal.Signals] = _SIGNALS,
    ) -> None:
        if not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < float("inf"):
            raise ValueError(f"timeout_s {timeout_s!r} is invalid: expected a number of seconds > 0")
        self._flush = flush
        self._stats = stats
        self.timeout_s = float(timeout_s)
        self.signals = tuple(signals)
        self._previous: dict[int, _Handler] = {}
        self._in_handler = False
        self._logged = False
        self.pending = True  # handlers still to be put in front (checked per span)
        self.last_report: FlushReport | None = None
        after_fork(self._after_fork)

    # -- installing ------------------------------------------------------------------------
    def install(self) -> bool:
        """Put the handler in front of each signal's current one (main thread only).

        Returns False (and stays pending) off the main thread; a signal whose handler is
        ``SIG_IGN`` is left ignored.
        """
        if threading.current_thread() is not threading.main_thread():
            return False
        self.pending = False
        for sig in self.signals:
            try:
                current = signal.getsignal(sig)
                if current == self._handle or current is signal.SIG_IGN:
                    continue
                signal.signal(sig, self._handle)
                self._previous[sig] = current
            except (ValueError, OSError, RuntimeError) as exc:  # e.g. an embedded interpreter
                _logger.debug("cannot handle signal %s: %r", sig, exc)
        return True

    def uninstall(self) -> None:
        """Give each signal back its previous handler where ours is still the current one."""
        self.pending = False
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in list(self._previous.items()):
            try:
                if signal.getsignal(sig) == self._handle:
                    signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError, RuntimeError):  # pragma: no cover - defensive
                pass
        self._previous.clear()

    def _after_fork(self) -> None:
        # A server may reset the handlers in the child (gunicorn workers do): check again.
        self._in_handler = False
        self._logged = False
        self.pending = True

    # -- the handler -----------------------------------------------------------------------
    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self._in_handler:  # a second signal during the flush only chains
            self._in_handler = True
            try:
                self._log(signum, self.flush_now())
            except Exception:  # noqa: BLE001 - never keep the process from stopping
                _logger.debug("flush on signal failed", exc_info=True)
            finally:
                self._in_handler = False
        self._chain(signum, frame)

    def flush_now(self) -> FlushReport:
        """Flush on a helper thread and wait for it at most ``timeout_s``; count the spans.

        The counts are read on the helper thread too: ``stats()`` takes the processors'
        locks, which the interrupted main thread may hold.
        """
        started = time.monotonic()
        done: dict[str, Any] = {}

        def run() -> None:
            done["before"] = self._outcomes()
            try:
                done["ok"] = bool(self._flush(int(self.timeout_s * 1000)))
            except Exception:  # noqa: BLE001 - counted as not completed
                _logger.debug("force_flush raised", exc_info=True)
            done["after"] = self._outcomes()

        worker = threading.Thread(target=run, name="otelkit-signal-flush", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        before, after = done.get("before"), done.get("after")
        flushed = lost = None
        if before is not None and after is not None:
            flushed = after[0] - before[0]
            lost = after[1] - before[1] + after[2]
        report = FlushReport(flushed, lost, bool(done.get("ok")), time.monotonic() - started)
        self.last_report = report
        return report

    def _outcomes(self) -> tuple[int, int, int] | None:
        try:
            return span_outcomes(self._stats())
        except Exception:  # noqa: BLE001 - counts are best effort
            return None

    def _log(self, signum: int, report: FlushReport) -> None:
        moved = bool(report.flushed or report.lost or not report.completed)
        if self._logged and not moved:
            _logger.debug("signal %d: nothing left to flush", signum)
            return
        self._logged = True
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        flushed = "?" if report.flushed is None else str(report.flushed)
        lost = "?" if report.lost is None else str(report.lost)
        level = logging.WARNING if report.lost or not report.completed else logging.INFO
        _logger.log(
            level,
            "otelkit: %s: flushed %s spans, lost %s, in %.2f s (%s, deadline %.1f s)",
            name, flushed, lost, report.seconds,
            "complete" if report.completed else "incomplete", self.timeout_s,
        )

    def _chain(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
            return
        if previous is signal.SIG_IGN:
            return
        # The default action (or a handler set outside Python): end as without otelkit.
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


class _Rearm(SpanProcessor):
    """Puts the handlers back in front at the first span started on the main thread after
    the pipeline was built or the process forked; gives them back at shutdown."""

    def __init__(self, guard: SignalFlush) -> None:
        self._guard = guard

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._guard.pending:
            try:
                self._guard.install()
            except Exception:  # noqa: BLE001 - never raise into the app
                self._guard.pending = False

    def shutdown(self) -> None:
        self._guard.uninstall()


_active_lock = threading.Lock()
_active: SignalFlush | None = None


def flush_on_signals(pipeline: Pipeline, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> SignalFlush | None:
    """Flush ``pipeline`` on SIGTERM/SIGINT if its provider is the global tracer provider.

    Called by :func:`otelkit.configure` and the ``opentelemetry-instrument`` configurator;
    a pipeline that is not global gets nothing (returns None). The previous global
    pipeline's handlers, if any, are given back first.
    """
    global _active
    provider = pipeline.provider
    if not isinstance(provider, TracerProvider) or provider is not trace.get_tracer_provider():
        return None
    guard = SignalFlush(pipeline.force_flush, pipeline.stats, timeout_s=timeout_s)
    with _active_lock:
        old, _active = _active, guard
    if old is not None:
        old.uninstall()
    guard.install()
    provider.add_span_processor(_Rearm(guard))
    return guard
