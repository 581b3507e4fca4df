"""``OTEL_TRACES_SAMPLER_ARG`` for ``otelkit_adaptive``: the parser and the entry-point factory.

Grammar: ``key=value`` items separated by ``,``. Keys: ``target`` (traces/s > 0), ``tau``
(seconds, 0.1..3600), ``keys`` (attribute names separated by ``;``), ``max_keys`` (integer
>= 1), ``rules`` (compact rules or a rules file path; the rest of the item after the first
``=``), ``debug`` (true/false). Example::

    target=100,tau=5,keys=http.route;http.request.method,max_keys=500,rules=drop:http.route=/health

Invalid items are logged (rate-limited) and ignored, each on its own, as the specification
requires for an invalid sampler argument; the valid ones still apply.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace.sampling import Sampler

from otelkit import config
from otelkit._warn import warn_limited
from otelkit.sampling._rule_parse import load_rules

__all__ = ["adaptive_sampler_factory", "parse_adaptive_arg", "check_range", "ALLOWED_KEYS"]

_logger = logging.getLogger("otelkit.sampling")
_NO_ARG = object()


def _positive(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(raw)
    return value


def _tau(raw: str) -> float:
    value = float(raw)
    if not 0.1 <= value <= 3600.0:
        raise ValueError(raw)
    return value


def _max_keys(raw: str) -> int:
    value = int(raw, 10)
    if not 1 <= value <= 100000:
        raise ValueError(raw)
    return value


def _keys(raw: str) -> tuple[str, ...]:
    names = tuple(k.strip() for k in raw.split(";") if k.strip())
    if not names:
        raise ValueError(raw)
    return names


def _bool(raw: str) -> bool:
    low = raw.lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise ValueError(raw)


_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "target": (_positive, "a number of traces per second > 0"),
    "tau": (_tau, "seconds from 0.1 to 3600"),
    "keys": (_keys, "attribute names separated by ;"),
    "max_keys": (_max_keys, "an integer from 1 to 100000"),
    "rules": (str, "sampling rules (see docs/sampling.md)"),
    "debug": (_bool, "true or false"),
}
ALLOWED_KEYS = tuple(_PARSERS)


def parse_adaptive_arg(arg: str) -> dict[str, Any]:
    """The valid options in ``arg``; each invalid item warns and is skipped."""
    out: dict[str, Any] = {}
    for item in arg.split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        spec = _PARSERS.get(key)
        if not sep or spec is None:
            warn_limited(
                _logger,
                "adaptive-arg:" + key[:32],
                "OTEL_TRACES_SAMPLER_ARG item %r is invalid: expected key=value with key one of %s; ignoring it",
                item.strip()[:80],
                ", ".join(ALLOWED_KEYS),
            )
            continue
        parser, allowed = spec
        try:
            out[key] = parser(raw.strip())
        except (ValueError, TypeError):
            warn_limited(
                _logger,
                "adaptive-arg:" + key,
                "OTEL_TRACES_SAMPLER_ARG item %r is invalid: %s must be %s; ignoring it",
                item.strip()[:80],
                key,
                allowed,
            )
    return out


def check_range(value: float, name: str, lo: float, hi: float, inclusive: bool = False) -> float:
    """``value`` as a float if within bounds (exclusive ``lo`` unless ``inclusive``), else ValueError."""
    ok = (lo <= value <= hi) if inclusive else (lo < value <= hi)
    if not ok or math.isnan(value):
        bound = f"from {lo:g} to {hi:g}" if inclusive else f"> {lo:g}"
        raise ValueError(f"{name}={value!r} is invalid: expected a number {bound}")
    return float(value)


def adaptive_sampler_factory(arg: object = _NO_ARG) -> Sampler:
    """Entry point ``otelkit_adaptive`` (groups ``opentelemetry_traces_sampler`` and ``opentelemetry_sampler``).

    Args:
        arg: ``OTEL_TRACES_SAMPLER_ARG`` (``target=100,tau=5,...``) or None. Called with no
            argument (declarative configuration), it reads ``OTEL_TRACES_SAMPLER_ARG`` itself
            when ``OTEL_TRACES_SAMPLER`` is ``otelkit_adaptive``. Invalid items are logged and
            ignored; ``OTELKIT_SAMPLER_*`` fill in what the argument leaves out.
    """
    if arg is _NO_ARG:
        chosen = config.OTEL_TRACES_SAMPLER.get().strip().lower() == "otelkit_adaptive"
        arg = config.OTEL_TRACES_SAMPLER_ARG.raw() if chosen else None
    options = parse_adaptive_arg(str(arg)) if arg is not None else {}
    rules = options.pop("rules", None)
    if rules is not None:
        options["rules"] = load_rules(rules, "OTEL_TRACES_SAMPLER_ARG rules")
    from otelkit.sampling.adaptive import AdaptiveSampler  # the sampler module imports this one

    return AdaptiveSampler(**options)
