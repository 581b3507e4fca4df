"""Spec-consistent probability sampling math: thresholds, ``th``/``rv`` and adjusted counts.

Implements the OpenTelemetry "TraceState: Probability Sampling" algorithms:

* randomness ``R`` is the trace ID's low 56 bits, or ``rv`` from ``ot=`` tracestate when present;
* a rejection threshold ``T`` (0 .. 2^56) keeps a trace iff ``R >= T``;
* ``T = (1 - p) * 2^56`` rounded to ``precision`` hex digits after any leading ``f`` digits
  (precision 4 by default: 1/10 -> ``e666``, 1/100 -> ``fd70a``);
* ``th`` is ``T`` in lowercase hex with trailing zeros removed (``0`` for T = 0);
* the adjusted count of a kept item is ``2^56 / (2^56 - T)``; a kept item without ``th``
  has an unknown probability and counts as 1 (:func:`count_of`, the one place otelkit
  derives the ``otelkit.sampling.adjusted_count`` attribute from a tracestate).

Used by the head samplers (:mod:`otelkit.sampling`) and the tail policies (:mod:`otelkit.tail`).
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.trace import TraceState

__all__ = [
    "MAX_THRESHOLD",
    "RANDOMNESS_MASK",
    "OT_KEY",
    "OtValue",
    "probability_to_threshold",
    "threshold_to_probability",
    "adjusted_count",
    "count_of",
    "encode_th",
    "parse_th",
    "randomness",
    "read_ot",
    "with_threshold",
]

MAX_THRESHOLD = 1 << 56
"""Threshold that rejects everything (``p = 0``); not expressible as a ``th`` value."""
RANDOMNESS_MASK = MAX_THRESHOLD - 1
OT_KEY = "ot"
_HEX_DIGITS = 14
_OT_VALUE_LIMIT = 256


def probability_to_threshold(probability: float, precision: int = 4) -> int:
    """Rejection threshold for ``probability`` in [0, 1], rounded to ``precision`` hex digits.

    A probability below 2^-57 (too small for 56 bits) maps to the smallest non-zero one,
    2^-56 (``T = 2^56 - 1``): a positive probability never becomes "never sample" and
    never rounds up to a far larger one.

    Raises ValueError for a probability outside [0, 1] or a precision outside 1..14.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability {probability!r} is outside [0, 1]")
    if not 1 <= precision <= _HEX_DIGITS:
        raise ValueError(f"precision {precision!r} is outside 1..14")
    if probability == 0.0:
        return MAX_THRESHOLD
    exact = MAX_THRESHOLD - round(probability * MAX_THRESHOLD)
    if exact <= 0:
        return 0
    if exact >= MAX_THRESHOLD:
        return MAX_THRESHOLD - 1
    digits = f"{exact:014x}"
    leading_f = len(digits) - len(digits.lstrip("f"))
    keep = min(_HEX_DIGITS, leading_f + precision)
    step = 1 << (4 * (_HEX_DIGITS - keep))
    rounded = ((exact + step // 2) // step) * step
    # Rounding up may reach 2^56 (never sample); stay at the largest expressible threshold.
    return min(rounded, MAX_THRESHOLD - step) if rounded >= MAX_THRESHOLD else rounded


def threshold_to_probability(threshold: int) -> float:
    """Sampling probability that ``threshold`` stands for."""
    return (MAX_THRESHOLD - threshold) / MAX_THRESHOLD


def adjusted_count(threshold: int) -> float:
    """How many items one kept item represents: ``2^56 / (2^56 - T)``; inf for T = 2^56."""
    if threshold >= MAX_THRESHOLD:
        return float("inf")
    return MAX_THRESHOLD / (MAX_THRESHOLD - threshold)


def count_of(trace_state: TraceState | None) -> float:
    """Adjusted count of a kept span with ``trace_state``: from its ``th``, else 1.

    No ``th`` (a parent sampled by a sampler that writes none) means an unknown
    probability; otelkit counts such a span as 1 and documents it as "unknown probability".
    """
    th = read_ot(trace_state).th
    return 1.0 if th is None else adjusted_count(th)


def encode_th(threshold: int) -> str:
    """The ``th`` value for ``threshold`` (0 <= T < 2^56): hex, trailing zeros removed."""
    if not 0 <= threshold < MAX_THRESHOLD:
        raise ValueError(f"threshold {threshold!r} is outside [0, 2^56)")
    if threshold == 0:
        return "0"
    return f"{threshold:014x}".rstrip("0")


def _hex(value: str, max_len: int) -> int | None:
    if not value or len(value) > max_len:
        return None
    for ch in value:
        if ch not in "0123456789abcdef":
            return None
    return int(value, 16)


def parse_th(value: str) -> int | None:
    """Parse a ``th`` value (1-14 lowercase hex digits); None when malformed."""
    parsed = _hex(value, _HEX_DIGITS)
    if parsed is None:
        return None
    return parsed << (4 * (_HEX_DIGITS - len(value)))


def _parse_rv(value: str) -> int | None:
    if len(value) != _HEX_DIGITS:
        return None
    return _hex(value, _HEX_DIGITS)


@dataclass(frozen=True)
class OtValue:
    """The ``ot`` tracestate entry: threshold, explicit randomness and other sub-keys."""

    th: int | None = None
    rv: int | None = None
    rest: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str | None) -> OtValue:
        """Parse ``th:...;rv:...;k:v``; malformed ``th``/``rv`` members are dropped."""
        if not value or len(value) > _OT_VALUE_LIMIT:
            return cls()
        th = rv = None
        rest = []
        for member in value.split(";"):
            if member.startswith("th:"):
                th = parse_th(member[3:])
            elif member.startswith("rv:"):
                rv = _parse_rv(member[3:])
            elif member:
                rest.append(member)
        return cls(th, rv, tuple(rest))

    def serialize(self) -> str:
        parts = []
        if self.th is not None and self.th < MAX_THRESHOLD:
            parts.append("th:" + encode_th(self.th))
        if self.rv is not None:
            parts.append(f"rv:{self.rv:014x}")
        parts.extend(self.rest)
        out = ";".join(parts)
        while len(out) > _OT_VALUE_LIMIT and ";" in out:
            out = out[: out.rfind(";")]
        return out


def read_ot(trace_state: TraceState | None) -> OtValue:
    """The parsed ``ot`` entry of ``trace_state`` (empty when absent)."""
    if not trace_state:
        return OtValue()
    return OtValue.parse(trace_state.get(OT_KEY))


def randomness(trace_id: int, ot: OtValue | None = None) -> int:
    """``R``: ``rv`` when present, else the trace ID's low 56 bits."""
    if ot is not None and ot.rv is not None:
        return ot.rv
    return trace_id & RANDOMNESS_MASK


def with_threshold(trace_state: TraceState | None, threshold: int | None) -> TraceState:
    """``trace_state`` with ``ot.th`` set to ``threshold`` (or erased when None).

    ``rv``, other ``ot`` sub-keys and other vendors' entries are preserved.
    """
    state = trace_state if trace_state is not None else TraceState()
    ot = read_ot(state)
    new = OtValue(threshold, ot.rv, ot.rest).serialize()
    if not new:
        return state.delete(OT_KEY) if OT_KEY in state else state
    return state.update(OT_KEY, new)
