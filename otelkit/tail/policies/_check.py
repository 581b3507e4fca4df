"""Shared argument checks for policy constructors (ValueError naming field, value, allowed)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["check_name", "check_number", "check_bool"]


def check_name(name: Any, default: str) -> str:
    """``name`` or ``default``; a non-string or blank name is rejected."""
    if name is None:
        return default
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name {name!r} is invalid: expected a non-empty string")
    return name


def check_number(
    field: str, value: Any, *, lo: float | None = None, hi: float | None = None, optional: bool = False
) -> float | None:
    """``value`` as a finite float within the inclusive bounds; None allowed if ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{field} {value!r} is invalid: expected a finite number{_bounds(lo, hi)}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{field} {value!r} is invalid: expected a number{_bounds(lo, hi)}")
    return float(value)


def check_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field} {value!r} is invalid: expected true or false")
    return value


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if lo is not None:
        return f" >= {lo:g}"
    if hi is not None:
        return f" <= {hi:g}"
    return ""
