"""Sync a :class:`~otelkit.exporter._spool.Spool`'s segments to disk on a thread of their own.

An append only writes (one ``write`` call: in the page cache at once, so it survives the
process being killed); :class:`SegmentSyncer` ``fdatasync``-s what was written about a second
later, on its own daemon thread, so a slow disk never holds up an export past its deadline.

State and owners: a :class:`Segment` is one open segment file; its descriptor holds the
file's ``flock`` (the segment is not replayable while any copy of the descriptor is open).
The spool owns its *active* segment and tells the syncer it was opened, written and retired;
the syncer syncs the open ones and owns a *retired* one until it has synced and closed it.
A segment's own lock serialises its syncs with its close, so a descriptor is never synced
after it was closed (and possibly reused). The thread starts with the first open segment and
ends when none is left. In a forked child each owner closes its inherited descriptors (the
parent's locks must not outlive the parent) and the syncer starts empty, with a new thread
on demand.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from otelkit._fork import after_fork
from otelkit._warn import warn_limited

__all__ = ["Segment", "SegmentSyncer", "SYNC_INTERVAL_S"]

_logger = logging.getLogger("otelkit.exporter.spool")

SYNC_INTERVAL_S = 1.0
"""How long written bytes wait for their sync (seconds): writes in that time share one."""


def _fdatasync(fd: int) -> None:
    os.fdatasync(fd)  # looked up per call, so tests can patch ``os.fdatasync``


class Segment:
    """One segment file open for writing: its descriptor and whether bytes were written to
    it since its last sync (``dirty``, set by the writer after each write)."""

    __slots__ = ("fd", "path", "dirty", "closed", "_ident", "_lock")

    def __init__(self, fd: int, path: Path) -> None:
        st = os.fstat(fd)
        self.fd, self.path, self._ident = fd, path, (st.st_dev, st.st_ino)
        self.dirty = self.closed = False
        self._lock = threading.Lock()

    def sync(self, sync: Callable[[int], None]) -> None:
        """Sync what was written since the last sync, unless closed; warns, never raises."""
        with self._lock:
            if self.closed or not self.dirty:
                return
            self.dirty = False  # a write after this line marks it again for the next sync
            self._call(sync)

    def close(self, sync: Callable[[int], None]) -> None:
        """Sync what is unsynced, then close (which releases the file's lock)."""
        with self._lock:
            if self.closed:
                return
            try:
                if self.dirty:
                    self.dirty = False
                    self._call(sync)
            finally:
                try:
                    os.close(self.fd)
                except OSError:
                    pass
                self.closed = True

    def close_inherited(self) -> None:
        """In a forked child: close the inherited copy of the descriptor (without the lock,
        which a parent's thread may have held at fork time), if it is still this file's."""
        if self.closed:
            return
        try:
            st = os.fstat(self.fd)
            if (st.st_dev, st.st_ino) == self._ident:
                os.close(self.fd)
        except OSError:
            pass
        self.closed = True

    def _call(self, sync: Callable[[int], None]) -> None:
        try:
            sync(self.fd)
        except OSError as exc:  # the bytes stay in the page cache; an OS crash may lose them
            warn_limited(_logger, "spool-sync", "cannot sync spool segment %s: %s", self.path, exc)


class SegmentSyncer:
    """Syncs open segments about ``interval_s`` after they were written, and syncs and
    closes retired ones, on one daemon thread (``otelkit-spool-sync``).

    Args:
        sync: syncs a descriptor's data (default ``os.fdatasync``; tests pass a fake).
        interval_s: longest a write waits for its sync, not counting a sync in progress.
    """

    def __init__(self, sync: Callable[[int], None] | None = None, interval_s: float = SYNC_INTERVAL_S) -> None:
        if not interval_s >= 0:
            raise ValueError(f"interval_s={interval_s!r} is invalid: expected a number of seconds >= 0")
        self._sync = sync if sync is not None else _fdatasync
        self._interval_s = interval_s
        self._fresh()
        after_fork(self._after_fork)

    def _fresh(self) -> None:
        self._lock = threading.Lock()
        self._flushed = threading.Condition(self._lock)
        self._wake = threading.Event()  # a write, a retired segment or a flush is waiting
        self._urgent = threading.Event()  # a retired segment or a flush: no pause
        self._open: list[Segment] = []
        self._retired: list[Segment] = []  # owned here until synced and closed
        self._thread: threading.Thread | None = None
        self._asked = self._done = 0  # flush rounds asked for / completed

    def _after_fork(self) -> None:
        for seg in self._retired:  # the parent's: not ours to sync, but their locks must go
            seg.close_inherited()
        self._fresh()  # the open segment is the spool's to close; the thread did not survive

    # ------------------------------------------------------------------ the spool's side

    def opened(self, seg: Segment) -> None:
        """Watch ``seg`` (the spool's new active segment); starts the thread if none runs."""
        with self._lock:
            self._open.append(seg)
            self._start()

    def written(self, seg: Segment) -> None:
        """Bytes were written to ``seg`` (call after the write): they get synced within
        ``interval_s``. Costs an attribute check; wakes the thread when ``seg`` was clean."""
        if not seg.dirty:
            seg.dirty = True
            self._wake.set()

    def retire(self, seg: Segment | None, now: bool = False) -> None:
        """The spool is done writing ``seg``: sync and close it on the thread (returns at
        once), or with ``now`` in the calling thread, with every retired segment the thread
        has not closed yet (returns when they are all replayable)."""
        with self._lock:
            if seg is not None and seg in self._open:
                self._open.remove(seg)
            if not now:
                if seg is not None:
                    self._retired.append(seg)
                    self._start()
                    self._urgent.set()
                    self._wake.set()
                return
            pending = [*self._retired, *([seg] if seg is not None else [])]
        for each in pending:
            each.close(self._sync)  # at most once: a segment's lock serialises it with the thread
        with self._lock:
            self._retired = [each for each in self._retired if not each.closed]

    def flush(self, timeout_s: float) -> bool:
        """Sync every open segment and close every retired one on the thread, waiting at
        most ``timeout_s``; False when that passed first (the thread then goes on)."""
        with self._lock:
            if self._thread is None:
                return True  # nothing open, nothing retired
            self._asked += 1
            target = self._asked
            self._urgent.set()
            self._wake.set()
            return self._flushed.wait_for(lambda: self._done >= target, timeout_s)

    # ------------------------------------------------------------------ the thread

    def _start(self) -> None:
        if self._thread is None:  # under self._lock
            thread = threading.Thread(target=self._run, name="otelkit-spool-sync", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # at interpreter shutdown: the page cache keeps the bytes
                _logger.debug("cannot start the spool sync thread", exc_info=True)
                return
            self._thread = thread

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if not self._urgent.is_set():
                self._urgent.wait(self._interval_s)  # let a second of writes share one sync
            with self._lock:
                self._wake.clear()
                self._urgent.clear()
                asked, open_, retired = self._asked, list(self._open), list(self._retired)
            for seg in open_:
                self._guarded(seg.sync)
            for seg in retired:
                self._guarded(seg.close)
            with self._lock:
                self._retired = [seg for seg in self._retired if not seg.closed]
                self._done = asked
                self._flushed.notify_all()
                if not self._open and not self._retired and not self._wake.is_set():
                    self._thread = None
                    return

    def _guarded(self, step: Callable[[Callable[[int], None]], None]) -> None:
        try:
            step(self._sync)
        except Exception:  # noqa: BLE001 - the syncer must never die or raise
            _logger.debug("spool sync failed", exc_info=True)
