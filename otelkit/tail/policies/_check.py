"""Shared argument checks for policy constructors (ValueError naming field, value, allowed)."""

from __future__ import annotations

from typing import Any

from otelkit._parse import check_range

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
    return float(check_range(field, value, lo=lo, hi=hi, joiner=" "))


def check_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field} {value!r} is invalid: expected true or false")
    return value
