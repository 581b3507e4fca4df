"""Rate-limited warnings: telemetry must never flood the host application's logs.

Every place that meets bad input (an env value, a header, a carrier of the wrong type)
warns through :func:`warn_limited`, keyed by a short string: the first occurrence of a
key is logged at once, later ones at most once per ``interval`` seconds with a count of
how many were suppressed in between.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from otelkit._fork import after_fork

__all__ = ["warn_limited", "reset_warnings"]

_DEFAULT_INTERVAL_S = 10.0
_MAX_KEYS = 1024

_lock = threading.Lock()
# key -> [last_emit_monotonic, suppressed_count]
_state: dict[str, list[float]] = {}


def _after_fork() -> None:
    """A forked child gets a fresh lock: another thread may have held it at fork time."""
    global _lock
    _lock = threading.Lock()


after_fork(_after_fork)


def warn_limited(
    logger: logging.Logger,
    key: str,
    msg: str,
    *args: object,
    interval: float = _DEFAULT_INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Log ``msg % args`` at WARNING unless ``key`` warned within ``interval`` seconds.

    Returns True when the message was emitted. Never raises.
    """
    try:
        now = clock()
        with _lock:
            entry = _state.get(key)
            if entry is not None and now - entry[0] < interval:
                entry[1] += 1
                return False
            suppressed = int(entry[1]) if entry is not None else 0
            if entry is None and len(_state) >= _MAX_KEYS:
                _state.clear()
            _state[key] = [now, 0]
        if suppressed:
            logger.warning(msg + " (%d similar warnings suppressed)", *args, suppressed)
        else:
            logger.warning(msg, *args)
        return True
    except Exception:  # pragma: no cover - logging must never hurt the host
        return False


def reset_warnings() -> None:
    """Forget every key (for tests)."""
    with _lock:
        _state.clear()
