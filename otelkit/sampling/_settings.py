"""Settings of the head samplers (``OTELKIT_SAMPLER_*``, ``OTELKIT_RULES``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from otelkit.config import bool_setting, environment_check, float_setting, int_setting, str_setting

__all__ = [
    "OTELKIT_SAMPLER_TARGET",
    "OTELKIT_SAMPLER_TAU",
    "OTELKIT_SAMPLER_KEYS",
    "OTELKIT_SAMPLER_MAX_KEYS",
    "OTELKIT_SAMPLER_DEBUG",
    "OTELKIT_SAMPLER_DEBUG_TOKEN",
    "OTELKIT_SAMPLER_DEBUG_RATE",
    "OTELKIT_RULES",
]

OTELKIT_SAMPLER_TARGET = float_setting(
    "OTELKIT_SAMPLER_TARGET",
    100.0,
    "AdaptiveSampler: root traces kept per second per process (`target=` in "
    "OTEL_TRACES_SAMPLER_ARG wins).",
    min=0.001,
    component="sampling",
)

OTELKIT_SAMPLER_TAU = float_setting(
    "OTELKIT_SAMPLER_TAU",
    5.0,
    "AdaptiveSampler: time constant of the per-key arrival-rate average, in seconds "
    "(`tau=` wins). Steps beyond the noise are followed within one ~1 s re-apportioning.",
    min=0.1,
    max=3600.0,
    component="sampling",
)

OTELKIT_SAMPLER_KEYS = str_setting(
    "OTELKIT_SAMPLER_KEYS",
    "",
    "AdaptiveSampler: span attributes forming the fairness key, `;`-separated (`keys=` wins). "
    "Empty: `http.route` + `http.request.method` when present, else the span name.",
    allowed="attribute names separated by ;",
    component="sampling",
)

OTELKIT_SAMPLER_MAX_KEYS = int_setting(
    "OTELKIT_SAMPLER_MAX_KEYS",
    500,
    "AdaptiveSampler: most distinct keys tracked; traffic of further keys shares one overflow "
    "bucket that still counts toward the target (`max_keys=` wins).",
    min=1,
    max=100000,
    component="sampling",
)

OTELKIT_SAMPLER_DEBUG = bool_setting(
    "OTELKIT_SAMPLER_DEBUG",
    True,
    "Head samplers keep spans whose start attribute `otelkit.debug` is true/1, and, only "
    "with OTELKIT_SAMPLER_DEBUG_TOKEN set, whose baggage `otelkit.debug` equals that token "
    "(`debug=` wins).",
    component="sampling",
)
OTELKIT_SAMPLER_DEBUG_TOKEN = str_setting(
    "OTELKIT_SAMPLER_DEBUG_TOKEN",
    "",
    "Shared secret an inbound `otelkit.debug` baggage entry must equal to force a keep; "
    "unset: inbound requests cannot force sampling. Never logged.",
    allowed="any string",
    component="sampling",
    secret=True,
)
OTELKIT_SAMPLER_DEBUG_RATE = float_setting(
    "OTELKIT_SAMPLER_DEBUG_RATE",
    10.0,
    "Most spans per second (and burst) the `otelkit.debug` override may force; beyond it "
    "spans are sampled normally and counted as `forced_refused`.",
    min=0.0,
    component="sampling",
)

OTELKIT_RULES = str_setting(
    "OTELKIT_RULES",
    "",
    "Sampling rules evaluated before the adaptive/rules sampler's own decision: a compact "
    "string such as `keep:http.route=/api/payment*;drop:http.route=/health;ratio(0.1):kind=client` "
    "or a path to a JSON/YAML file (see docs/sampling.md). Invalid rules warn and are skipped.",
    allowed="rules separated by ; or a .json/.yaml file path",
    validate=lambda raw: _rules(raw),
    explain=True,
    component="sampling",
)


def _rules(raw: str) -> object:
    from otelkit.sampling._rule_parse import parse_rules  # lazy: the sampler imports this module

    return parse_rules(raw)


_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio", "otelkit_consistent")


def sampler_arg_problems(sampler: str, arg: str) -> list[str]:
    """Why ``arg`` is invalid for ``sampler`` (empty when it is valid), found with the parsers
    the samplers use at run time."""
    problems: list[str] = []
    if sampler in _RATIO_SAMPLERS:
        try:
            value = float(arg)
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:
            problems.append("expected a probability from 0 to 1")
    elif sampler == "otelkit_adaptive":
        from otelkit.sampling._arg import parse_adaptive_arg

        def strip(message: str) -> None:
            problems.append(message.removeprefix("OTEL_TRACES_SAMPLER_ARG ").removesuffix("; ignoring it"))

        rules = parse_adaptive_arg(arg, on_error=strip).get("rules")
        if rules is not None:
            _collect(rules, problems)
    elif sampler == "otelkit_rules":
        _collect(arg, problems)
    return problems


def _collect(rules: str, problems: list[str]) -> None:
    try:
        _rules(rules)
    except ValueError as exc:
        problems.append(f"rules: {exc}")


@environment_check()
def _check_sampler_arg(environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """``OTEL_TRACES_SAMPLER_ARG`` against the sampler ``OTEL_TRACES_SAMPLER`` names."""
    from otelkit import config

    arg = config.OTEL_TRACES_SAMPLER_ARG.raw(environ)
    if arg is None:
        return
    try:
        sampler = config.OTEL_TRACES_SAMPLER.parse(config.OTEL_TRACES_SAMPLER.raw(environ) or "parentbased_always_on")
    except ValueError:
        return  # reported by OTEL_TRACES_SAMPLER's own check
    sampler = sampler.strip().lower()
    for problem in sampler_arg_problems(sampler, arg.strip()):
        yield "OTEL_TRACES_SAMPLER_ARG", f"OTEL_TRACES_SAMPLER_ARG={arg!r} is invalid for {sampler}: {problem}"
