"""Rate-limited warnings: telemetry must never flood the host application's logs.

Every place that meets bad input (an env value, a header, a carrier of the wrong type)
warns through :func:`warn_limited`, keyed by a short string naming the *kind* of problem:
the first occurrence of a kind is logged at once, later ones at most once per interval
with a count of how many were suppressed in between.

The interval is ``OTELKIT_WARN_INTERVAL_S`` (default 10 s), read once through
:mod:`otelkit.config` on first use; :func:`configure` re-reads it from an injectable
``environ``. Keys must not carry attacker-controlled text, but in case one does, the
number of kinds is bounded: once :data:`MAX_KINDS` are tracked, stale kinds are forgotten
and any further new kind shares one overflow kind, so many distinct keys still log at most
one line per interval. Quote bad values with :func:`short`: a prefix, never the whole value.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from otelkit._fork import after_fork

__all__ = [
    "RateLimitedLog",
    "WarnLimiter",
    "configure",
    "interval_s",
    "limiter",
    "log_limited",
    "reset_warnings",
    "short",
    "warn_limited",
]

DEFAULT_INTERVAL_S = 10.0
MAX_KINDS = 256
"""Most warning kinds tracked at once; beyond it new kinds share :data:`OVERFLOW_KIND`."""
OVERFLOW_KIND = "<other kinds>"
SHORT_CHARS = 64
"""Characters of a bad value a warning quotes."""


def short(value: object, limit: int = SHORT_CHARS) -> str:
    """At most ``limit`` characters of ``value`` (bytes: of their repr), with the full size when cut.

    Never raises.
    """
    try:
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
            text = repr(raw[:limit])
            return text if len(raw) <= limit else f"{text}...({len(raw)} bytes)"
        text = value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - a hostile __str__
        return f"<unprintable {type(value).__name__}>"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text)} chars)"


class WarnLimiter:
    """Which warning kinds may be logged now; owns its lock and a bounded table of kinds.

    Args:
        max_kinds: most kinds tracked at once (> 0).
    """

    def __init__(self, max_kinds: int = MAX_KINDS) -> None:
        if max_kinds < 1:
            raise ValueError(f"max_kinds={max_kinds!r} is invalid: expected an int >= 1")
        self._max = max_kinds
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # kind -> monotonic time of the last line logged
        self._suppressed: dict[str, int] = {}  # kind -> lines suppressed since

    def admit(self, key: str, now: float, interval: float) -> int | None:
        """``None`` to suppress this occurrence, else the count suppressed since the last line."""
        with self._lock:
            if key not in self._last and len(self._last) >= self._max:
                self._forget_stale(now, interval)
                if len(self._last) >= self._max:
                    key = OVERFLOW_KIND
            last = self._last.get(key)
            if last is not None and now - last < interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._suppressed.pop(key, 0)

    def _forget_stale(self, now: float, interval: float) -> None:
        """Drop kinds whose next occurrence would be logged anyway and that owe no count."""
        stale = [k for k, t in self._last.items() if now - t >= interval and k not in self._suppressed]
        for k in stale:
            del self._last[k]

    def kinds(self) -> int:
        """How many kinds are tracked."""
        with self._lock:
            return len(self._last)

    def reset(self) -> None:
        """Forget every kind."""
        with self._lock:
            self._last.clear()
            self._suppressed.clear()

    def after_fork(self) -> None:
        """A forked child gets a fresh lock: another thread may have held it at fork time."""
        self._lock = threading.Lock()


limiter = WarnLimiter()
"""The process-wide limiter behind :func:`warn_limited` (and the carriers' SDK log filter)."""
after_fork(limiter.after_fork)

_interval: float | None = None


def configure(environ: Mapping[str, str] | None = None) -> float:
    """(Re)read ``OTELKIT_WARN_INTERVAL_S`` from ``environ`` (default ``os.environ``); the interval.

    An invalid value warns (rate-limited) and keeps the default; nothing raises.
    """
    global _interval
    _interval = DEFAULT_INTERVAL_S  # set first: the config module may warn through us
    try:
        from otelkit.config import OTELKIT_WARN_INTERVAL_S

        _interval = float(OTELKIT_WARN_INTERVAL_S.get(environ))
    except Exception:  # noqa: BLE001 - a broken config import must not break warnings
        _interval = DEFAULT_INTERVAL_S
    return _interval


def interval_s() -> float:
    """The configured interval in seconds (read from the environment on first use)."""
    return configure() if _interval is None else _interval


def warn_limited(
    logger: logging.Logger,
    key: str,
    msg: str,
    *args: object,
    interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Log ``msg % args`` at WARNING unless kind ``key`` was logged within the interval.

    Args:
        logger: where the line goes.
        key: the kind of problem: a constant, or a constant plus a bounded label; never
            the bad value itself.
        msg: ``%``-format; quote bad values through :func:`short`.
        interval: seconds between two lines of one kind; default ``OTELKIT_WARN_INTERVAL_S``.
        clock: monotonic clock (tests pass a fake one).

    Returns:
        True when the line was logged. Never raises.
    """
    return log_limited(logger, logging.WARNING, key, msg, *args, interval=interval, clock=clock)


def log_limited(
    logger: logging.Logger,
    level: int,
    key: str,
    msg: str,
    *args: object,
    interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """:func:`warn_limited` at any ``level``; True when the line was logged. Never raises."""
    try:
        if not logger.isEnabledFor(level):
            return False
        gap = interval_s() if interval is None else interval
        suppressed = limiter.admit(key, clock(), gap)
        if suppressed is None:
            return False
        if suppressed:
            logger.log(level, msg + " (%d similar warnings suppressed)", *args, suppressed)
        else:
            logger.log(level, msg, *args)
        return True
    except Exception:  # pragma: no cover - logging must never hurt the host
        return False


class RateLimitedLog:
    """A ``logger`` for confluent-kafka's config: librdkafka's log through Python logging.

    Without it librdkafka writes ``%3|...|FAIL|...`` lines to stderr, 2-4 a second for as
    long as a broker is down. Given as ``{"logger": RateLimitedLog()}``, each librdkafka
    facility (``FAIL``, ``ERROR``, ...) logs at most one line per ``OTELKIT_WARN_INTERVAL_S``
    to ``logger`` (default ``otelkit.kafka.librdkafka``), the text cut to 200 characters.
    confluent-kafka delivers these lines from ``poll()``/``flush()``/``consume()``.
    """

    def __init__(self, logger: logging.Logger | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger or logging.getLogger("otelkit.kafka.librdkafka")
        self._clock = clock

    def log(self, level: int, msg: str, *args: object) -> None:
        """confluent-kafka calls ``log(level, "%s [%s] %s", facility, client, text)``."""
        try:
            facility = args[0] if args and isinstance(args[0], str) and len(args[0]) <= 16 else "other"
            try:
                text = str(msg) % args
            except (TypeError, ValueError):
                text = " ".join(map(str, (msg, *args)))
            log_limited(self._logger, int(level), "librdkafka:" + facility, "%s", short(text, 200), clock=self._clock)
        except Exception:  # noqa: BLE001 - called from librdkafka's callback: never raise
            pass


def reset_warnings() -> None:
    """Forget every kind and re-read the interval on next use (for tests)."""
    global _interval
    limiter.reset()
    _interval = None
