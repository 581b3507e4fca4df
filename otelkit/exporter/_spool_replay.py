"""Replay a :class:`~otelkit.exporter._spool.Spool` through an exporter, paced, and know when the
receiver is down.

:class:`Replayer` runs one daemon thread per exporter. It claims the oldest segment no process
holds, sends its records one by one through the exporter's send path for encoded bytes, marks
each delivered, and waits ``spans / spans_per_s`` seconds after each, so the backlog reaches a
recovering receiver at a bounded rate on top of live traffic. A record the receiver refuses
for good (a 4xx) is dropped and counted; a failure that may pass (refused connection, 5xx,
timeout, broker down) stops the segment and backs off (0.5 s doubling to 5 s).

It also owns the exporter's *outage* flag: set when a live export could not be delivered and
went to the spool, cleared when any delivery succeeds. While it is set, exports go straight
to the spool instead of waiting out their timeout against a dead receiver, so the in-memory
queue keeps draining (to disk) and memory stays bounded; replay is then the probe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from otelkit._fork import after_fork, fresh_event
from otelkit.exporter._spool import DELIVERED, DROPPED, Record, Spool

__all__ = ["Replayer", "Delivery"]

_logger = logging.getLogger("otelkit.exporter.spool")

IDLE_S = 0.5
ROTATE_S = 1.0
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 5.0


class Delivery(Protocol):
    """What the exporter's send path reports for one record."""

    @property
    def ok(self) -> bool: ...

    @property
    def rejected(self) -> int: ...

    @property
    def spoolable(self) -> bool: ...


class Replayer:
    """Drain ``spool`` through ``deliver`` on a daemon thread.

    Args:
        spool: the spool to drain (and to write to while the receiver is down).
        deliver: sends one record; never raises.
        spans_per_s: replay pace.
        wait: ``wait(seconds) -> stopped``; default waits on the stop event (tests pass a fake).
        deliver_many: sends several records at once (Kafka pipelines them) and returns the
            outcomes of a prefix of them, stopping at the first that may pass; used instead of
            ``deliver`` for up to ``batch`` records at a time when given.
        batch: records handed to ``deliver_many`` at once.
    """

    def __init__(
        self,
        spool: Spool,
        deliver: Callable[[Record], Delivery],
        spans_per_s: int,
        wait: Callable[[float], bool] | None = None,
        *,
        deliver_many: Callable[[list[Record]], Sequence[Delivery]] | None = None,
        batch: int = 1,
    ) -> None:
        if spans_per_s < 1:
            raise ValueError(f"spans_per_s={spans_per_s!r} is invalid: expected an integer >= 1")
        self.spool = spool
        self._deliver_many = deliver_many or (lambda records: [deliver(r) for r in records[:1]])
        self._batch = max(1, batch) if deliver_many is not None else 1
        self._rate = float(spans_per_s)
        self._stop = threading.Event()
        self._wait = wait if wait is not None else self._stop.wait
        self._lock = threading.Lock()
        self._outage = False
        self._backoff = 0.0
        self._thread: threading.Thread | None = None
        after_fork(self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._thread = None  # threads do not survive fork; start() makes a new one on demand
        # another thread may have held the stop event's lock at fork time: a new one, same state
        waits_on_stop = self._wait == self._stop.wait
        self._stop = fresh_event(self._stop)
        if waits_on_stop:
            self._wait = self._stop.wait

    # ------------------------------------------------------------------ outage flag

    @property
    def outage(self) -> bool:
        with self._lock:
            return self._outage

    def delivered(self) -> None:
        """A delivery succeeded: the receiver is up."""
        with self._lock:
            self._outage, self._backoff = False, 0.0

    def failed(self) -> None:
        """A live delivery failed and went to the spool: the receiver is down."""
        with self._lock:
            self._outage = True

    # ------------------------------------------------------------------ thread

    def start(self) -> None:
        """Start the replay thread unless it runs (again in a forked child: threads do not
        survive fork, so the exporters call this on every export; it is cheap)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="otelkit-spool-replay", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop replaying: no new segment or batch is started; wait at most ``timeout_s`` for
        the thread (0: do not wait; call again to wait later). Records left stay spooled for
        the next process. The spool stays open: its owner, the exporter, closes it when
        nothing more can be written to it."""
        self._stop.set()
        thread = self._thread
        if timeout_s > 0 and thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.run_once()
            except Exception:  # noqa: BLE001 - replay must never die or raise
                _logger.debug("spool replay failed", exc_info=True)
                delay = BACKOFF_MAX_S
            if delay and self._wait(delay):
                return

    def run_once(self) -> float:
        """Replay one segment; seconds to wait before the next call."""
        claim = self.spool.claim()
        if claim is None:
            self.spool.rotate(0.0 if self.outage else ROTATE_S)  # make our own records replayable
            claim = self.spool.claim()
        if claim is None:
            if self.outage:  # nothing spooled to probe with: let live exports probe
                self.delivered()
            return IDLE_S
        try:
            live = []
            for record in claim.records():
                if self.spool.expired(record):
                    claim.mark(record, DROPPED)
                    self.spool.count("expired_spans", record.spans)
                else:
                    live.append(record)
            for start in range(0, len(live), self._batch):
                if self._stop.is_set():
                    return 0.0
                chunk = live[start : start + self._batch]
                spans, failed = 0, False
                for record, result in zip(chunk, self._deliver_many(chunk), strict=False):  # may answer a prefix
                    if result.ok:
                        claim.mark(record, DELIVERED)
                        self.spool.count("replayed_spans", record.spans - result.rejected)
                        self.spool.count("dropped_spans", result.rejected)
                        spans += record.spans
                    elif not result.spoolable:
                        claim.mark(record, DROPPED)
                        self.spool.count("dropped_spans", record.spans)
                    else:
                        failed = True  # stays pending for a later try
                if failed:
                    with self._lock:
                        self._outage = True
                        self._backoff = min(BACKOFF_MAX_S, max(BACKOFF_INITIAL_S, self._backoff * 2))
                        return self._backoff
                if spans:
                    self.delivered()
                if spans and self._wait(spans / self._rate):
                    return 0.0
        finally:
            claim.finish()
        return 0.0
