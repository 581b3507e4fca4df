"""The value parsers every otelkit setting, argument and carrier shares, each defined once.

* :data:`TRUE_WORDS` / :data:`FALSE_WORDS` and :func:`parse_bool` / :func:`is_true`: the one
  truthy set (``true``/``1``/``yes``/``on``, case-insensitive);
* :func:`parse_pairs`: the one ``k1=v1,k2=v2`` list parser (resource attributes, OTLP
  headers, sampler arguments, Kafka producer properties);
* :func:`check_range` / :func:`range_text`: the one range validator, raising ``ValueError``
  naming the value and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

__all__ = [
    "TRUE_WORDS",
    "FALSE_WORDS",
    "parse_bool",
    "is_true",
    "parse_pairs",
    "check_range",
    "range_text",
]

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
"""Words read as true (compared lower-case, surrounding blanks ignored)."""
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
"""Words read as false."""


def parse_bool(raw: str) -> bool:
    """``raw`` as a boolean; raises ValueError for anything outside the two word sets."""
    low = raw.strip().lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise ValueError(f"{raw!r} is invalid: expected true or false")


def is_true(value: object) -> bool:
    """True for ``True`` or a string in :data:`TRUE_WORDS` (attribute and baggage flags)."""
    if value is True:
        return True
    return isinstance(value, (str, bytes)) and (
        (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip().lower() in TRUE_WORDS
    )


def parse_pairs(
    raw: str,
    *,
    sep: str = ",",
    decode: bool = False,
    on_malformed: Callable[[int, str], None] | None = None,
) -> dict[str, str]:
    """``k1=v1,k2=v2`` as a dict (keys and values stripped; a later key wins).

    Args:
        raw: the list; blank items are skipped. A value keeps every ``=`` after the first.
        sep: the item separator.
        decode: URL-decode keys and values (OTLP headers, resource attributes).
        on_malformed: called with the item's 1-based position and its text for an item
            without ``=`` or with an empty key, which is then skipped. Without it such an
            item raises ValueError naming only its position (values may be credentials).
    """
    out: dict[str, str] = {}
    for index, item in enumerate(raw.split(sep), start=1):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            if on_malformed is None:
                raise ValueError(f"item #{index} is malformed: expected key=value items separated by {sep!r}")
            on_malformed(index, item.strip())
            continue
        value = value.strip()
        out[unquote(key) if decode else key] = unquote(value) if decode else value
    return out


def range_text(lo: float | None, hi: float | None, *, integer: bool = False, lo_open: bool = False) -> str:
    """``'an integer >= 1'``, ``'a number from 0 to 1'``, ``'a number > 0'``..."""
    kind = "an integer" if integer else "a number"
    if lo is not None and hi is not None and not lo_open:
        return f"{kind} from {_num(lo)} to {_num(hi)}"
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {_num(lo)}")
    if hi is not None:
        parts.append(f"<= {_num(hi)}")
    return kind + (" " + " and ".join(parts) if parts else "")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def check_range(
    field: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
    lo_open: bool = False,
    joiner: str = "=",
) -> Any:
    """``value`` when it is a finite number (an ``int`` if ``integer``) within the bounds.

    ``lo`` is inclusive unless ``lo_open``; ``hi`` is inclusive. Booleans are not numbers.

    Raises:
        ValueError: ``"{field}{joiner}{value!r} is invalid: expected <what is allowed>"``.
    """
    ok = not isinstance(value, bool) and isinstance(value, int if integer else (int, float))
    if ok:
        # an int is finite however large (math.isfinite would overflow converting it)
        ok = (isinstance(value, int) or math.isfinite(value)) and (
            lo is None or (value > lo if lo_open else value >= lo)
        )
        ok = ok and (hi is None or value <= hi)
    if not ok:
        allowed = range_text(lo, hi, integer=integer, lo_open=lo_open)
        raise ValueError(f"{field}{joiner}{value!r} is invalid: expected {allowed}")
    return value
