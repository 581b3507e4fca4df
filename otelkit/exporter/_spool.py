"""A bounded, append-only disk spool of encoded export requests, shared safely by processes.

Layout: ``<dir>/<kind>/`` (``kind`` = ``otlp_http`` or ``kafka``) holds segment files
``<ns>-<pid>-<rand>.seg``. A process appends to its own *active* segment, which it holds
under an exclusive ``flock``; a segment is replayable once no process holds its lock: the
writer rotated it, shut down, or died (the kernel releases a SIGKILLed process's locks).
A replayer claims a segment with ``flock(LOCK_EX | LOCK_NB)`` and checks it is still linked,
so two processes never replay the same segment; it marks each record delivered in place
(one state byte) and unlinks the segment when no record is pending.

Records (:mod:`._spool_format`) carry a CRC-32. A record whose CRC does not match is
skipped and marked; a truncated tail (a writer killed mid-write) is cut off; garbage is
skipped to the next magic. Each is counted in ``corrupt_records`` with a rate-limited
warning, never raised.

fsync policy: every record is written with one ``write`` call (in the OS page cache at once,
so it survives the process being killed), never synced in the append: :mod:`._spool_sync`
``fdatasync``-s it about a second later on its own thread. A power loss can lose the last
second or so of spooled batches, or replay a delivered record once more.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from otelkit._fork import after_fork
from otelkit._warn import warn_limited
from otelkit.exporter._spool_format import (
    CORRUPT,
    CRC,
    DELIVERED,
    DROPPED,
    HEADER,
    MAGIC,
    PENDING,
    Record,
    checksum,
    pack,
)
from otelkit.exporter._spool_sync import Segment, SegmentSyncer

__all__ = ["Spool", "Claim", "Record", "PENDING", "DELIVERED", "DROPPED", "CORRUPT"]

_logger = logging.getLogger("otelkit.exporter.spool")

SEGMENT_BYTES = 4 * 1024 * 1024
CLOSE_SYNC_TIMEOUT_S = 2.0
_SCAN_INTERVAL_S = 1.0
COUNT_KEYS = ("spooled_spans", "spooled_records", "replayed_spans", "expired_spans", "dropped_spans",
              "full_spans", "corrupt_records")


class Spool:
    """The spool of one exporter kind under ``directory``. Thread-safe; counts are exact.

    Args:
        directory: the spool root (``OTELKIT_SPOOL_DIR``); created if missing.
        kind: subdirectory per exporter kind, so each replays only its own requests.
        max_bytes: the directory's size limit; appends that would pass it are refused.
        max_age_s: records older than this are dropped at replay (counted as expired).
        clock: wall clock (Unix seconds) for record ages (tests pass a fake one).
    """

    def __init__(self, directory: str, kind: str, max_bytes: int, max_age_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(directory) / kind
        self.path.mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.max_age_s, self._clock = max_bytes, max_age_s, clock
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNT_KEYS, 0)
        self._syncer = SegmentSyncer()
        self._seg: Segment | None = None  # the active segment
        self._active_size = 0
        self._active_since = 0.0
        self._dir_bytes = 0
        self._scanned_at = -1e18
        self._seen_garbage: set[tuple[int, int]] = set()
        self._claimed: set[int] = set()  # descriptors of segments claimed for replay
        after_fork(self._after_fork)

    def _after_fork(self) -> None:
        # The child must not append to the parent's segment, nor keep the parent's locks alive:
        # a flock lasts while any descriptor of it is open, so close the inherited copies.
        self._lock = threading.Lock()
        if self._seg is not None:
            self._seg.close_inherited()
        for fd in self._claimed:
            try:
                os.close(fd)
            except OSError:
                pass
        self._seg, self._active_size = None, 0
        self._claimed = set()

    # ------------------------------------------------------------------ writing

    def append(self, spans: int, body: bytes, key: bytes | None = None) -> bool:
        """Spool one request; False (counted in ``full_spans``) when it does not fit."""
        record = pack(spans, self._clock(), key, bytes(body))
        with self._lock:
            if self._used_bytes() + len(record) > self.max_bytes:
                self._counts["full_spans"] += spans
                warn_limited(_logger, "spool-full", "spool %s is full (%d bytes, OTELKIT_SPOOL_MAX_BYTES=%d): "
                             "dropping %d spans", self.path, self._used_bytes(), self.max_bytes, spans)
                return False
            try:
                seg = self._active_segment()
                if os.write(seg.fd, record) != len(record):  # disk full mid-record: undo it
                    os.ftruncate(seg.fd, self._active_size)
                    raise OSError("short write (disk full?)")
            except OSError as exc:
                self._counts["full_spans"] += spans
                warn_limited(_logger, "spool-write", "cannot write to spool %s: %s; dropping %d spans",
                             self.path, exc, spans)
                self._retire_active()
                return False
            self._active_size += len(record)
            self._dir_bytes += len(record)
            self._counts["spooled_spans"] += spans
            self._counts["spooled_records"] += 1
            self._syncer.written(seg)  # synced on the syncer's thread, never here
            if self._active_size >= SEGMENT_BYTES:
                self._retire_active()
            return True

    def rotate(self, min_age_s: float = 0.0) -> None:
        """Sync and close the active segment (if it holds records and is ``min_age_s`` old) and
        any the syncer has yet to close, so they are replayable on return; the syncs run in
        the caller's (the replayer's) thread, outside the lock appends take."""
        with self._lock:
            seg = self._seg
            if seg is not None and self._active_size and time.monotonic() - self._active_since >= min_age_s:
                self._seg = None
            else:
                seg = None
        self._syncer.retire(seg, now=True)

    def close(self, timeout_s: float = CLOSE_SYNC_TIMEOUT_S) -> bool:
        """Sync and close every segment written here, waiting at most ``timeout_s`` for the
        syncer's thread; False when that passed first. A later append opens a new segment."""
        with self._lock:
            self._retire_active()
        return self._syncer.flush(timeout_s)

    def _active_segment(self) -> Segment:
        if self._seg is None:
            name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
            tmp = self.path / (name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)  # held while active: nobody replays a segment being written
            os.rename(tmp, self.path / (name + ".seg"))
            self._seg, self._active_size = Segment(fd, self.path / (name + ".seg")), 0
            self._active_since = time.monotonic()
            self._syncer.opened(self._seg)
        return self._seg

    def _retire_active(self) -> None:
        """Under ``self._lock``: the syncer syncs and closes the active segment (then it is replayable)."""
        seg, self._seg = self._seg, None
        if seg is not None:
            self._syncer.retire(seg)

    def _used_bytes(self) -> int:
        now = time.monotonic()
        if now - self._scanned_at >= _SCAN_INTERVAL_S:
            self._dir_bytes = sum(p.stat().st_size for p in self._segments(include_active=True))
            self._scanned_at = now
        return self._dir_bytes

    def _segments(self, include_active: bool = False) -> list[Path]:
        out, active = [], self._seg.path if self._seg is not None else None
        for entry in os.scandir(self.path):
            if entry.name.endswith(".seg") and (include_active or self.path / entry.name != active):
                out.append(Path(entry.path))
        return sorted(out)

    # ------------------------------------------------------------------ replaying

    def claim(self) -> Claim | None:
        """The oldest segment no process holds, locked for this caller; None when there is none."""
        with self._lock:
            candidates = self._segments()
        for path in candidates:
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    raise FileNotFoundError(path)  # replayed and unlinked meanwhile
            except OSError:
                os.close(fd)
                continue
            with self._lock:
                self._claimed.add(fd)
            return Claim(self, path, fd)
        return None

    def released(self, fd: int) -> None:
        """A claim closed ``fd``."""
        with self._lock:
            self._claimed.discard(fd)

    def count(self, key: str, n: int) -> None:
        with self._lock:
            self._counts[key] += n

    def expired(self, record: Record) -> bool:
        return self._clock() - record.created > self.max_age_s

    def garbage(self, inode: int, offset: int, what: str, path: Path) -> None:
        """Count unreadable bytes once per place, with a warning; never raises."""
        with self._lock:
            if (inode, offset) in self._seen_garbage:
                return
            self._seen_garbage.add((inode, offset))
            self._counts["corrupt_records"] += 1
        warn_limited(_logger, "spool-corrupt", "spool segment %s: %s at byte %d; skipped", path, what, offset)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._counts)
            out["bytes"] = self._used_bytes()
        return out


class Claim:
    """One segment locked for replay: iterate its pending records, mark them, then finish."""

    def __init__(self, spool: Spool, path: Path, fd: int) -> None:
        self.spool, self.path, self.fd = spool, path, fd
        self.inode = os.fstat(fd).st_ino
        self.pending = 0
        self._read = False  # only a segment read whole may be unlinked

    def records(self) -> list[Record]:
        """The pending, intact records in order (all of them: ``pending`` counts what is left
        until each is marked). Damage is counted and marked, never raised."""
        with open(self.fd, "rb", closefd=False) as f:
            data = f.read()
        out = list(self._parse(data))
        self.pending, self._read = len(out), True
        return out

    def _parse(self, data: bytes) -> Iterator[Record]:
        off = 0
        while off < len(data):
            if data[off : off + 4] != MAGIC:
                self.spool.garbage(self.inode, off, "unreadable bytes", self.path)
                nxt = data.find(MAGIC, off + 1)
                if nxt < 0:
                    return
                off = nxt
                continue
            if len(data) - off < HEADER.size:
                self._truncated(off)
                return
            _, state, has_key, _, spans, created, klen, blen = HEADER.unpack_from(data, off)
            end = off + HEADER.size + klen + blen + CRC.size
            if end > len(data):
                self._truncated(off)
                return
            head = data[off : off + HEADER.size]
            k = data[off + HEADER.size : off + HEADER.size + klen]
            body = data[off + HEADER.size + klen : end - CRC.size]
            if checksum(head, k, body) != CRC.unpack_from(data, end - CRC.size)[0]:
                if state != CORRUPT:
                    self.spool.garbage(self.inode, off, "checksum mismatch", self.path)
                    os.pwrite(self.fd, bytes([CORRUPT]), off + 4)
                nxt = data.find(MAGIC, off + 1)
                off = nxt if nxt >= 0 else len(data)
                continue
            if state == PENDING:
                yield Record(off, spans, created, k if has_key else None, body)
            off = end

    def _truncated(self, off: int) -> None:
        self.spool.garbage(self.inode, off, "truncated record (writer stopped mid-write)", self.path)
        os.ftruncate(self.fd, off)

    def mark(self, record: Record, state: int) -> None:
        """Record ``record`` as ``DELIVERED`` or ``DROPPED`` (one byte, in place)."""
        os.pwrite(self.fd, bytes([state]), record.offset + 4)
        self.pending -= 1

    def finish(self) -> None:
        """Unlink the segment when nothing is pending, else sync the marks; then unlock."""
        try:
            if self._read and self.pending <= 0:
                os.unlink(self.path)
            else:
                os.fdatasync(self.fd)
        except OSError as exc:
            warn_limited(_logger, "spool-finish", "spool segment %s: %s", self.path, exc)
        finally:
            self.spool.released(self.fd)
            os.close(self.fd)
