"""OTel metric names as the Collector's prometheus exporter writes them.

The rules of the Collector's translator (``pkg/translator/prometheus``, now
``prometheus/otlptranslator``, with metric suffixes on and UTF-8 escaping): split the name
on characters outside ``[a-zA-Z0-9:]``; append the unit (``s`` -> ``seconds``, ``By`` ->
``bytes`` ...; a unit in braces or ``1`` adds nothing; a unit already among the name's
tokens is not repeated; ``X/Y`` adds ``X_per_Y``); ``total`` for monotonic sums; ``ratio``
for (OTel) gauges of unit ``1``; join with ``_``. Non-monotonic sums are exposed as
Prometheus gauges, without ``ratio``.
Attribute keys become labels with every character outside ``[a-zA-Z0-9_]`` replaced by ``_``.
"""

from __future__ import annotations

import re

__all__ = ["label_name", "metric_name"]

_UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes",
    "GiBy": "gibibytes", "TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes",
    "TBy": "terabytes", "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
    "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
}
_PER = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}


def _clean(unit: str) -> str:
    return "_".join(t for t in re.split(r"[^a-zA-Z0-9]+", unit) if t)


def metric_name(name: str, unit: str, kind: str, monotonic: bool) -> str:
    """The exposed name of an OTel metric; ``kind`` is ``sum``, ``gauge`` or ``histogram``
    (a histogram's series add ``_bucket``, ``_sum`` and ``_count``)."""
    tokens = [t for t in re.split(r"[^a-zA-Z0-9:]+", name) if t]
    main, _, per = unit.partition("/")
    main, per = main.strip(), per.strip()
    main_suffix = "" if not main or "{" in main or "}" in main else _clean(_UNITS.get(main, main))
    per_suffix = "" if not per or "{" in per or "}" in per else "per_" + _clean(_PER.get(per, per))
    if main_suffix in tokens:
        main_suffix = ""
    if per_suffix and per_suffix in tokens:
        per_suffix = ""
    tokens += [s for s in (main_suffix, per_suffix) if s]
    if kind == "sum" and monotonic:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind == "gauge":  # an OTel gauge only, not a non-monotonic sum
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    out = "_".join(tokens)
    return "_" + out if out[:1].isdigit() else out


def label_name(key: str) -> str:
    """The exposed label of an attribute key."""
    out = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    return "key_" + out if out[:1].isdigit() else out
