"""Back-pressure from the export path to the head sampler.

:class:`ExportPressure` is a small object with its own lock. Batch processors report into it
(:meth:`ExportPressure.report_fill` when their queue is looked at, :meth:`ExportPressure.report_drop`
when a span is dropped because the queue is full); the adaptive head sampler reads
:meth:`ExportPressure.factor` when it re-apportions and multiplies its target by it. So when
the export path is saturated, fewer traces are *started* as sampled, with thresholds that
match (their ``th`` and adjusted counts stay exact), instead of sampled spans being dropped
unaccounted for at the end of the pipeline.

The factor halves at most once per ``step`` seconds while the path is saturated (a queue
above ``high_water`` of its capacity, or drops since the last step), down to ``lowest``;
after ``calm`` seconds without saturation it grows by 25 % per ``step`` back to 1.0.

:data:`EXPORT_PRESSURE` is the process-wide instance both sides use by default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from otelkit._fork import after_fork

__all__ = ["ExportPressure", "EXPORT_PRESSURE"]


class ExportPressure:
    """Saturation of the export path, as a target multiplier in ``[lowest, 1]``.

    Args:
        high_water: queue fill (0..1 of capacity) from which the path counts as saturated.
        step: seconds between two changes of the factor.
        calm: seconds without saturation before the factor grows again.
        lowest: the smallest factor (default 1/1024).
        clock: monotonic clock in seconds.

    Raises:
        ValueError: an argument outside its range (named in the message).
    """

    def __init__(
        self,
        high_water: float = 0.8,
        *,
        step: float = 1.0,
        calm: float = 5.0,
        lowest: float = 1.0 / 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 < high_water <= 1.0:
            raise ValueError(f"high_water {high_water!r} is invalid: expected 0 < high_water <= 1")
        if not step > 0.0 or not calm >= 0.0:
            raise ValueError(f"step {step!r} / calm {calm!r} are invalid: expected step > 0 and calm >= 0")
        if not 0.0 < lowest <= 1.0:
            raise ValueError(f"lowest {lowest!r} is invalid: expected 0 < lowest <= 1")
        self._high = high_water
        self._step = step
        self._calm = calm
        self._lowest = lowest
        self._clock = clock
        self._reset()
        after_fork(self._reset)

    def reset(self) -> None:
        """Back to no pressure (after reconfiguring the export path; between tests)."""
        with self._lock:
            self._factor = 1.0
            self._saturated = False
            self._last_saturated = self._last_change = -float("inf")

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._factor = 1.0
        self._saturated = False  # seen since the last change
        self._last_saturated = -float("inf")
        self._last_change = -float("inf")
        self._drops = 0

    def report_fill(self, queued: int, capacity: int) -> None:
        """A batch queue holds ``queued`` of ``capacity`` spans (cheap; call it per batch)."""
        if capacity > 0 and queued >= self._high * capacity:
            self._mark()

    def report_drop(self, spans: int = 1) -> None:
        """``spans`` sampled spans were dropped because a queue was full."""
        with self._lock:
            self._drops += spans
        self._mark()

    def _mark(self) -> None:
        now = self._clock()
        with self._lock:
            self._saturated = True
            self._last_saturated = now

    def factor(self) -> float:
        """The current target multiplier, updated for the time passed (1.0: no pressure)."""
        now = self._clock()
        with self._lock:
            if now - self._last_change < self._step:
                return self._factor
            if self._saturated:
                self._factor = max(self._lowest, self._factor * 0.5)
                self._saturated = False
                self._last_change = now
            elif self._factor < 1.0 and now - self._last_saturated >= self._calm:
                self._factor = min(1.0, self._factor * 1.25)
                self._last_change = now
            return self._factor

    def stats(self) -> dict[str, float]:
        """``factor`` (without updating it) and ``drops`` reported so far."""
        with self._lock:
            return {"factor": self._factor, "drops": float(self._drops)}


EXPORT_PRESSURE = ExportPressure()
"""The process-wide export pressure: batch processors report into it, the adaptive sampler reads it."""
