"""The ``otelkit.debug`` override: who may force a span to be kept, and how often.

Forcing a keep is a way to multiply a service's tracing cost, so the override trusts only
what the application itself says and rations the rest:

* the span-start **attribute** ``otelkit.debug`` = ``true``/``1``/``yes``/``on`` is set by
  the application's own code: honoured while the override is enabled
  (``OTELKIT_SAMPLER_DEBUG``, default true);
* the **baggage** entry ``otelkit.debug`` arrives with inbound requests, from anyone: it is
  honoured only when a shared token is configured (``OTELKIT_SAMPLER_DEBUG_TOKEN``, unset
  by default, so inbound requests cannot force anything) and the entry's value equals it
  (compared in constant time); ``true`` is not enough;
* every forced keep takes one unit of a token bucket refilled at
  ``OTELKIT_SAMPLER_DEBUG_RATE`` per second (default 10, burst the same); beyond it the
  span gets the normal decision. Forced and refused requests are counted (``stats()`` keys
  ``forced``/``forced_refused``, self-metric ``otelkit.sampler.forced``).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.util.types import Attributes

from otelkit import config
from otelkit._fork import after_fork
from otelkit._warn import warn_limited
from otelkit.sampling._decide import debug_attribute, debug_baggage

__all__ = ["DebugOverride"]

_logger = logging.getLogger("otelkit.sampling")


class DebugOverride:
    """Decides whether a span's ``otelkit.debug`` request forces a keep; owns its bucket and counts.

    Args:
        enabled: honour the override at all (attribute and baggage).
        token: shared secret the baggage value must equal; ``None``/empty: baggage ignored.
        rate: forced keeps per second, also the burst (>= 0; 0 forces nothing).
        clock: monotonic clock in seconds (tests pass a fake one).

    Raises:
        ValueError: ``rate`` is negative or not a number.
    """

    def __init__(
        self, enabled: bool = True, token: str | None = None, rate: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate >= 0:
            raise ValueError(f"rate={rate!r} is invalid: expected forced keeps per second, >= 0")
        self.enabled = bool(enabled)
        self._token = token.encode() if token else None
        self._rate = float(rate)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = max(1.0, self._rate) if self._rate > 0 else 0.0
        self._last = clock()
        self._forced = 0
        self._refused = 0
        after_fork(self._after_fork)

    @classmethod
    def from_env(cls, enabled: bool | None = None, environ: Mapping[str, str] | None = None) -> DebugOverride:
        """Built from ``OTELKIT_SAMPLER_DEBUG``/``_TOKEN``/``_RATE`` (``enabled`` wins when given)."""
        return cls(
            config.OTELKIT_SAMPLER_DEBUG.resolve(enabled, environ),
            config.OTELKIT_SAMPLER_DEBUG_TOKEN.get(environ) or None,
            config.OTELKIT_SAMPLER_DEBUG_RATE.get(environ),
        )

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._forced = self._refused = 0

    def __bool__(self) -> bool:
        return self.enabled

    def requested(self, ctx: Context | None, attributes: Attributes) -> bool:
        """True when this span must be kept: a trusted request and a unit of the rate left."""
        if not self.enabled:
            return False
        if not debug_attribute(attributes):
            value = debug_baggage(ctx) if self._token is not None else None
            if value is None or self._token is None or not hmac.compare_digest(value.encode(), self._token):
                return False
        with self._lock:
            now = self._clock()
            if self._rate > 0:
                self._tokens = min(max(1.0, self._rate), self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self._forced += 1
                return True
            self._refused += 1
        warn_limited(_logger, "debug-rate", "otelkit.debug override over its rate of %s/s "
                     "(OTELKIT_SAMPLER_DEBUG_RATE); sampling normally", self._rate)
        return False

    def stats(self) -> dict[str, Any]:
        """``forced`` keeps and ``forced_refused`` (trusted requests over the rate)."""
        with self._lock:
            return {"forced": self._forced, "forced_refused": self._refused}
