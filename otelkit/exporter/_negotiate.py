"""Which ``Content-Encoding`` a receiver takes: fall back when it refuses one, probe it again later.

Receivers differ (see ``docs/exporters.md``): Rotel and older Collectors cannot decode
zstd and answer HTTP 400 (Rotel) or 415. A refused encoding must never cost data, so the
exporter re-sends the same batch with the next encoding of the chain (zstd or deflate ->
gzip -> none) and, once one is accepted, keeps using it for that endpoint, with one warning
naming the endpoint, the refused encoding and the fallback. After ``probe_interval_s`` the
configured encoding is tried again (the receiver may have been upgraded); a renewed refusal
falls back silently.

A 400 answer can also mean a bad payload: an encoding counts as refused only when the same
batch is then accepted with the fallback, so a payload that every encoding gets refused for
never disables compression.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["EncodingChooser", "fallback_chain", "REFUSAL_STATUS"]

_logger = logging.getLogger("otelkit.exporter.http")

REFUSAL_STATUS = frozenset({400, 415})
"""Answers that may mean "cannot decode this Content-Encoding" (415 is the HTTP way, 400 Rotel's)."""

DEFAULT_PROBE_INTERVAL_S = 300.0


def fallback_chain(preferred: str) -> tuple[str, ...]:
    """Encodings to try, best first: ``zstd``/``deflate`` -> ``gzip`` -> ``none``."""
    chain = [preferred]
    if preferred not in ("gzip", "none"):
        chain.append("gzip")
    if preferred != "none":
        chain.append("none")
    return tuple(chain)


class EncodingChooser:
    """The encoding to send with now, for one endpoint. Thread-safe.

    Args:
        preferred: the configured compression (``zstd``, ``gzip``, ``deflate`` or ``none``).
        endpoint: the receiver (safe to log), named in the warning.
        probe_interval_s: how long a refused encoding stays unused before it is tried again.
        clock: monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        preferred: str,
        endpoint: str,
        probe_interval_s: float = DEFAULT_PROBE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not probe_interval_s > 0:
            raise ValueError(f"probe_interval_s={probe_interval_s!r} is invalid: expected seconds > 0")
        self.chain = fallback_chain(preferred)
        self.endpoint = endpoint
        self.probe_interval_s = probe_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._refused_until: dict[str, float] = {}
        self._warned: set[str] = set()
        self.refusals = 0

    def current(self) -> str:
        """The first encoding of the chain not refused recently (``none`` is never refused)."""
        now = self._clock()
        with self._lock:
            for name in self.chain:
                if self._refused_until.get(name, 0.0) <= now:
                    return name
        return self.chain[-1]

    def next_after(self, name: str) -> str | None:
        """The fallback to re-send with after ``name`` was answered with a refusal status."""
        try:
            index = self.chain.index(name)
        except ValueError:
            return None
        return self.chain[index + 1] if index + 1 < len(self.chain) else None

    def refused(self, names: list[str], accepted: str, status: int) -> None:
        """``names`` were refused (with ``status``) and ``accepted`` then worked for the same batch."""
        until = self._clock() + self.probe_interval_s
        with self._lock:
            self.refusals += 1
            for name in names:
                self._refused_until[name] = until
            fresh = [n for n in names if n not in self._warned]
            self._warned.update(names)
        if fresh:
            _logger.warning(
                "%s refused %s-compressed requests (HTTP %d); re-sent them with %s and will keep "
                "using %s, trying %s again every %.0f s. Set OTEL_EXPORTER_OTLP_COMPRESSION=%s to "
                "silence this.",
                self.endpoint, "/".join(fresh), status, accepted, accepted, fresh[0], self.probe_interval_s,
                accepted,
            )
        else:
            _logger.debug("%s still refuses %s; using %s", self.endpoint, "/".join(names), accepted)

    def snapshot(self) -> dict[str, float]:
        """Refused encodings and the monotonic time until which they stay unused."""
        with self._lock:
            return dict(self._refused_until)
