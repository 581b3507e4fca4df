"""Build tail-sampling policies from configuration: a compact string, a JSON or YAML file.

Policy file schema (JSON, or YAML with the ``yaml`` extra): a list of policies, or a
mapping with a ``policies`` list. Each policy is a mapping with ``type``, an optional
``name`` (default: the type) and the type's fields, either flat or nested under a key
named like the type (the Collector's layout)::

    policies:
      - {name: errors, type: status_code, status_codes: [ERROR]}
      - name: slow
        type: latency
        latency: {threshold_ms: 1000}
      - {name: rest, type: probabilistic, sampling_percentage: 10}

Types and fields (Collector names): ``always_sample``; ``head_sampled``; ``status_code``
(``status_codes``); ``latency`` (``threshold_ms``, ``upper_threshold_ms``);
``string_attribute`` (``key``, ``values``, ``enabled_regex_matching``, ``invert_match``);
``numeric_attribute`` (``key``, ``min_value``, ``max_value``, ``invert_match``);
``boolean_attribute`` (``key``, ``value``, ``invert_match``); ``span_count`` (``min_spans``,
``max_spans``); ``probabilistic`` (``sampling_percentage``); ``rate_limiting``
(``spans_per_second`` or ``traces_per_second``); ``and`` (``and_sub_policy``: list);
``not`` (``not_sub_policy``: one policy); ``drop`` (``drop_sub_policy``: list);
``composite`` (``max_total_spans_per_second``, ``composite_sub_policy``: list,
``policy_order``: names, ``rate_allocation``: list of ``{policy, percent}`` or a mapping).

Compact string (``OTELKIT_TAIL_POLICIES``): policies separated by ``;``, each
``[name=]type[(field=value,...)]``; values are numbers, ``true``/``false``, strings, or
lists joined by ``|``. Example: ``errors=status_code(status_codes=ERROR);slow=latency(
threshold_ms=1000);rest=probabilistic(sampling_percentage=10)``. Nested types need a file.

Errors name the policy and the field: ``policy "slow" (latency): threshold_ms 'x' is
invalid: expected a finite number >= 0``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from otelkit import config
from otelkit._warn import warn_limited
from otelkit.tail import policies as p
from otelkit.tail.policy import Policy

__all__ = [
    "POLICY_TYPES",
    "build_policy",
    "build_policies",
    "DEFAULT_POLICIES",
    "default_policies",
    "load_policy_file",
    "parse_compact",
    "policies_from_string",
    "policies_from_env",
]

_logger = logging.getLogger("otelkit.tail")
Clock = Callable[[], float]
_Builder = Callable[[str, dict[str, Any], Clock], Policy]


def _subs(field: str, value: Any, parent: str, clock: Clock) -> list[Policy]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{field} {value!r} is invalid: expected a non-empty list of policies")
    return [_nested(f"{field}[{i}]", spec, clock) for i, spec in enumerate(value)]


def _nested(where: str, spec: Any, clock: Clock) -> Policy:
    try:
        return build_policy(spec, clock=clock)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _allocation(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list) and all(isinstance(v, Mapping) and {"policy", "percent"} <= v.keys() for v in value):
        return {str(v["policy"]): v["percent"] for v in value}
    raise ValueError(f"rate_allocation {value!r} is invalid: expected a list of {{policy, percent}}")


def _composite(name: str, f: dict[str, Any], clock: Clock) -> Policy:
    subs = _subs("composite_sub_policy", f.get("composite_sub_policy"), name, clock)
    order = f.get("policy_order")
    if order is not None:
        by_name = {s.name: s for s in subs}
        if not isinstance(order, list) or sorted(order) != sorted(by_name):
            raise ValueError(f"policy_order {order!r} is invalid: expected each of {', '.join(by_name)} once")
        subs = [by_name[n] for n in order]
    return p.CompositePolicy(
        subs, f["max_total_spans_per_second"], _allocation(f.get("rate_allocation")), name=name, clock=clock
    )


POLICY_TYPES: dict[str, tuple[tuple[str, ...], _Builder]] = {
    "always_sample": ((), lambda n, f, c: p.AlwaysSamplePolicy(name=n)),
    "head_sampled": ((), lambda n, f, c: p.HeadSampledPolicy(name=n)),
    "status_code": (("status_codes",), lambda n, f, c: p.StatusCodePolicy(f["status_codes"], name=n)),
    "latency": (
        ("threshold_ms", "upper_threshold_ms"),
        lambda n, f, c: p.LatencyPolicy(f["threshold_ms"], f.get("upper_threshold_ms"), name=n),
    ),
    "string_attribute": (
        ("key", "values", "enabled_regex_matching", "invert_match"),
        lambda n, f, c: p.StringAttributePolicy(
            f["key"], f["values"], enabled_regex_matching=f.get("enabled_regex_matching", False),
            invert_match=f.get("invert_match", False), name=n,
        ),
    ),
    "numeric_attribute": (
        ("key", "min_value", "max_value", "invert_match"),
        lambda n, f, c: p.NumericAttributePolicy(
            f["key"], f.get("min_value"), f.get("max_value"), invert_match=f.get("invert_match", False), name=n
        ),
    ),
    "boolean_attribute": (
        ("key", "value", "invert_match"),
        lambda n, f, c: p.BooleanAttributePolicy(f["key"], f["value"], invert_match=f.get("invert_match", False), name=n),
    ),
    "span_count": (
        ("min_spans", "max_spans"),
        lambda n, f, c: p.SpanCountPolicy(f["min_spans"], f.get("max_spans"), name=n),
    ),
    "probabilistic": (
        ("sampling_percentage",),
        lambda n, f, c: p.ProbabilisticPolicy(f["sampling_percentage"], name=n),
    ),
    "rate_limiting": (
        ("spans_per_second", "traces_per_second"),
        lambda n, f, c: p.RateLimitingPolicy(f.get("spans_per_second"), f.get("traces_per_second"), name=n, clock=c),
    ),
    "and": (("and_sub_policy",), lambda n, f, c: p.AndPolicy(_subs("and_sub_policy", f.get("and_sub_policy"), n, c), name=n)),
    "not": (("not_sub_policy",), lambda n, f, c: p.NotPolicy(_nested("not_sub_policy", f.get("not_sub_policy"), c), name=n)),
    "drop": (("drop_sub_policy",), lambda n, f, c: p.DropPolicy(_subs("drop_sub_policy", f.get("drop_sub_policy"), n, c), name=n)),
    "composite": (
        ("max_total_spans_per_second", "policy_order", "composite_sub_policy", "rate_allocation"),
        _composite,
    ),
}
"""Type name -> (allowed fields, builder)."""

_REQUIRED = {
    "status_code": ("status_codes",), "latency": ("threshold_ms",), "string_attribute": ("key", "values"),
    "numeric_attribute": ("key",), "boolean_attribute": ("key", "value"), "span_count": ("min_spans",),
    "probabilistic": ("sampling_percentage",), "composite": ("max_total_spans_per_second",),
}


def build_policy(spec: Any, *, clock: Clock = time.monotonic) -> Policy:
    """One policy from its mapping; ValueError naming the policy, its type and the field."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"policy {spec!r} is invalid: expected a mapping with a type")
    kind = spec.get("type")
    name = spec.get("name", kind)
    if kind not in POLICY_TYPES:
        raise ValueError(f'policy "{name}": unknown type "{kind}", supported: {", ".join(POLICY_TYPES)}')
    allowed, builder = POLICY_TYPES[kind]
    fields = {k: v for k, v in spec.items() if k not in ("type", "name", kind)}
    nested = spec.get(kind)
    if isinstance(nested, Mapping):
        fields.update(nested)
    prefix = f'policy "{name}" ({kind})'
    for key in fields:
        if key not in allowed:
            raise ValueError(f'{prefix}: unknown field "{key}", supported: {", ".join(allowed) or "none"}')
    for key in _REQUIRED.get(kind, ()):
        if key not in fields:
            raise ValueError(f"{prefix}: field {key} is required")
    try:
        return builder(name, fields, clock)
    except ValueError as exc:
        raise ValueError(f"{prefix}: {exc}") from None
    except TypeError as exc:
        raise ValueError(f"{prefix}: {exc}") from None


def build_policies(specs: Any, *, clock: Clock = time.monotonic) -> list[Policy]:
    """Policies from a list of specs or a mapping with ``policies``."""
    if isinstance(specs, Mapping):
        specs = specs.get("policies")
    if not isinstance(specs, list) or not specs:
        raise ValueError(f"policies {specs!r} is invalid: expected a non-empty list of policies")
    built = [build_policy(spec, clock=clock) for spec in specs]
    names = [b.name for b in built]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"policy names {dupes!r} are used twice: expected distinct names")
    return built


_NUMBER = re.compile(r"^-?\d+(\.\d*)?([eE][-+]?\d+)?$")


def _value(raw: str) -> Any:
    raw = raw.strip()
    if "|" in raw:
        return [v.strip() for v in raw.split("|") if v.strip()]
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if _NUMBER.match(raw):
        return float(raw) if any(c in raw for c in ".eE") else int(raw)
    return raw


def parse_compact(text: str) -> list[dict[str, Any]]:
    """Specs from the compact ``[name=]type[(field=value,...)];...`` form."""
    specs: list[dict[str, Any]] = []
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        head, paren, rest = item.partition("(")
        if paren and not rest.endswith(")"):
            raise ValueError(f"policy {item!r} is invalid: missing closing parenthesis")
        name, eq, kind = head.partition("=")
        spec: dict[str, Any] = {"type": kind.strip() if eq else name.strip()}
        if eq:
            spec["name"] = name.strip()
        for pair in (a for a in rest[:-1].split(",") if a.strip()) if paren else ():
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f'policy "{spec.get("name", spec["type"])}": field {pair.strip()!r} is invalid: expected field=value')
            spec[key.strip()] = _value(value)
        specs.append(spec)
    return specs


def load_policy_file(path: str | Path) -> Any:
    """Parsed JSON (``.json``) or YAML (``.yaml``/``.yml``, needs the ``yaml`` extra)."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError(f"policy file {str(file)!r} is YAML: install otelkit[yaml]") from None
        return yaml.safe_load(text)
    return json.loads(text)


def policies_from_string(value: str, *, clock: Clock = time.monotonic) -> list[Policy]:
    """Policies from a compact string or a policy file path (``.json``/``.yaml``/``.yml``)."""
    text = value.strip()
    if text.lower().endswith((".json", ".yaml", ".yml")) or Path(text).is_file():
        try:
            data = load_policy_file(text)
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"policy file {text!r} could not be read: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - YAML errors have no common base we import
            raise ValueError(f"policy file {text!r} could not be parsed: {exc}") from None
        return build_policies(data, clock=clock)
    return build_policies(parse_compact(text), clock=clock)


DEFAULT_POLICIES = "errors=status_code(status_codes=ERROR);slow=latency(threshold_ms=1000);head_sampled"
"""The default set as a compact string: errors, traces slower than 1 s, what the head kept."""


def default_policies(clock: Clock = time.monotonic) -> list[Policy]:
    """Keep errors, keep traces slower than 1 s, keep what the head sampler kept.

    Head and tail compose: the head sampler's target holds (its kept traces keep its
    ``th``), and the tail adds every error and slow trace on top (``th:0``). A further
    probabilistic share of the rest is opt-in (``rest=probabilistic(sampling_percentage=10)``
    in ``OTELKIT_TAIL_POLICIES``).
    """
    return [
        p.StatusCodePolicy(["ERROR"], name="errors"),
        p.LatencyPolicy(1000, name="slow"),
        p.HeadSampledPolicy(name="head_sampled"),
    ]


def policies_from_env(environ: Mapping[str, str] | None = None, *, clock: Clock = time.monotonic) -> list[Policy]:
    """``OTELKIT_TAIL_POLICIES`` built; when unset or invalid (warned), the default set."""
    raw = config.OTELKIT_TAIL_POLICIES.raw(environ)
    if raw is None:
        return default_policies(clock)
    try:
        return policies_from_string(raw, clock=clock)
    except ValueError as exc:
        warn_limited(
            _logger,
            "config:OTELKIT_TAIL_POLICIES",
            "OTELKIT_TAIL_POLICIES is invalid: %s; using the default policies (errors, slow > 1 s, head-sampled)",
            exc,
        )
        return default_policies(clock)
