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
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.sdk.trace.sampling import Sampler

from otelkit import config
from otelkit._parse import check_range as check_number
from otelkit._parse import parse_bool
from otelkit._warn import warn_limited
from otelkit.sampling._rule_parse import load_rules

__all__ = ["adaptive_sampler_factory", "parse_adaptive_arg", "check_range", "ALLOWED_KEYS"]

_logger = logging.getLogger("otelkit.sampling")
_NO_ARG = object()


def _positive(raw: str) -> float:
    return float(check_number("target", float(raw), lo=0.0, lo_open=True))


def _tau(raw: str) -> float:
    return float(check_number("tau", float(raw), lo=0.1, hi=3600.0))


def _max_keys(raw: str) -> int:
    return int(check_number("max_keys", int(raw, 10), lo=1, hi=100000, integer=True))


def _keys(raw: str) -> tuple[str, ...]:
    names = tuple(k.strip() for k in raw.split(";") if k.strip())
    if not names:
        raise ValueError(raw)
    return names


_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "target": (_positive, "a number of traces per second > 0"),
    "tau": (_tau, "seconds from 0.1 to 3600"),
    "keys": (_keys, "attribute names separated by ;"),
    "max_keys": (_max_keys, "an integer from 1 to 100000"),
    "rules": (str, "sampling rules (see docs/sampling.md)"),
    "debug": (parse_bool, "true or false"),
}
ALLOWED_KEYS = tuple(_PARSERS)


def parse_adaptive_arg(arg: str, on_error: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The valid options in ``arg``; each invalid item warns (or, given ``on_error``, is
    reported to it: ``otelkit config`` checks with this same parser) and is skipped."""

    def report(key: str, msg: str, *args: object) -> None:
        if on_error is not None:
            on_error(msg % args)
        else:
            warn_limited(_logger, "adaptive-arg:" + key[:32], msg, *args)

    out: dict[str, Any] = {}
    for item in arg.split(","):  # item by item (not a dict): an invalid repeat keeps the valid value
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        spec = _PARSERS.get(key)
        if not sep or spec is None:
            report(key, "OTEL_TRACES_SAMPLER_ARG item %r is invalid: expected key=value with key one of %s; "
                   "ignoring it", item.strip()[:80], ", ".join(ALLOWED_KEYS))
            continue
        parser, allowed = spec
        try:
            out[key] = parser(raw.strip())
        except (ValueError, TypeError):
            report(key, "OTEL_TRACES_SAMPLER_ARG item %r is invalid: %s must be %s; ignoring it",
                   item.strip()[:80], key, allowed)
    return out


def check_range(value: float, name: str, lo: float, hi: float, inclusive: bool = False) -> float:
    """``value`` as a float if within bounds (exclusive ``lo`` unless ``inclusive``), else ValueError."""
    return float(check_number(name, value, lo=lo, hi=None if math.isinf(hi) else hi, lo_open=not inclusive))


def adaptive_sampler_factory(arg: object = _NO_ARG, *, environ: Mapping[str, str] | None = None) -> Sampler:
    """Entry point ``otelkit_adaptive`` (groups ``opentelemetry_traces_sampler`` and ``opentelemetry_sampler``).

    Args:
        arg: ``OTEL_TRACES_SAMPLER_ARG`` (``target=100,tau=5,...``) or None. Called with no
            argument (declarative configuration), it reads ``OTEL_TRACES_SAMPLER_ARG`` itself
            when ``OTEL_TRACES_SAMPLER`` is ``otelkit_adaptive``. Invalid items are logged and
            ignored; ``OTELKIT_SAMPLER_*`` fill in what the argument leaves out.
        environ: mapping read instead of ``os.environ`` (``otelkit.configure(environ=...)``).
    """
    if arg is _NO_ARG:
        chosen = config.OTEL_TRACES_SAMPLER.get(environ).strip().lower() == "otelkit_adaptive"
        arg = config.OTEL_TRACES_SAMPLER_ARG.raw(environ) if chosen else None
    options = parse_adaptive_arg(str(arg)) if arg is not None else {}
    rules = options.pop("rules", None)
    if rules is not None:
        options["rules"] = load_rules(rules, "OTEL_TRACES_SAMPLER_ARG rules")
    from otelkit.sampling.adaptive import AdaptiveSampler  # the sampler module imports this one

    return AdaptiveSampler(**options, environ=environ)
