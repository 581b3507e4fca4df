"""Parsing of sampling rules: the compact string grammar and JSON/YAML files.

Compact grammar (``OTELKIT_RULES``, ``rules=`` in the adaptive sampler's argument)::

    rules     := rule (';' rule)*
    rule      := action [':' condition ('&' condition)*]
    action    := 'keep' | 'drop' | 'ratio(' probability ')'
    condition := field '=' value
    field     := 'name' | 'kind' | <attribute key>
    value     := text ending in '*' for a prefix match, '*' alone for "present"

Example: ``keep:http.route=/api/payment*;drop:http.route=/health;ratio(0.1):kind=client``.
A rule without conditions matches every root span (a catch-all). ``kind`` takes
``internal``, ``server``, ``client``, ``producer`` or ``consumer``.

File form (``.json``, ``.yaml`` or ``.yml``): a list of objects such as
``{"action": "ratio", "ratio": 0.1, "when": {"kind": "client"}}``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.trace import SpanKind

from otelkit import config
from otelkit._warn import warn_limited
from otelkit.sampling.threshold import MAX_THRESHOLD, probability_to_threshold

__all__ = ["Condition", "Rule", "parse_rule", "parse_rules", "load_rules", "is_rules_file", "resolve_rules"]

_logger = logging.getLogger("otelkit.sampling")

ACTIONS = "keep, drop or ratio(P) with 0 <= P <= 1"
_KINDS = {k.name.lower(): k for k in SpanKind}
_RATIO_RE = re.compile(r"^ratio\(\s*([^()]*)\s*\)$")
_FILE_SUFFIXES = (".json", ".yaml", ".yml")

FIELD_NAME = 0
FIELD_KIND = 1
FIELD_ATTRIBUTE = 2


@dataclass(frozen=True)
class Condition:
    """``field=value``: span name, span kind or an attribute, exact or prefix (``*``)."""

    field: str
    value: str
    prefix: bool = False
    kind: SpanKind | None = None

    @property
    def code(self) -> int:
        if self.field == "name":
            return FIELD_NAME
        if self.field == "kind":
            return FIELD_KIND
        return FIELD_ATTRIBUTE


@dataclass(frozen=True)
class Rule:
    """One rule: an action (keep/drop/ratio) applied when every condition matches."""

    action: str
    ratio: float
    conditions: tuple[Condition, ...]
    text: str

    @property
    def threshold(self) -> int:
        """The rejection threshold the rule's action stands for (0 keeps, 2^56 drops)."""
        if self.action == "keep":
            return 0
        if self.action == "drop":
            return MAX_THRESHOLD
        return probability_to_threshold(self.ratio)


def _bad(rule: str, why: str) -> ValueError:
    return ValueError(f"sampling rule {rule!r} is invalid: {why}")


def _action(rule: str, text: str) -> tuple[str, float]:
    low = text.strip().lower()
    if low in ("keep", "drop"):
        return low, 1.0 if low == "keep" else 0.0
    match = _RATIO_RE.match(low)
    if match:
        try:
            ratio = float(match.group(1))
        except ValueError:
            ratio = -1.0
        if 0.0 <= ratio <= 1.0:
            return "ratio", ratio
    raise _bad(rule, f"action {text.strip()!r} is not one of {ACTIONS}")


def _condition(rule: str, field: str, value: str) -> Condition:
    field = field.strip()
    value = value.strip()
    if not field:
        raise _bad(rule, "a condition has no field; expected name=..., kind=... or <attribute>=...")
    if not value:
        raise _bad(rule, f"condition {field!r} has no value; use {field}=* to match any value")
    if field == "kind":
        kind = _KINDS.get(value.lower())
        if kind is None:
            raise _bad(rule, f"kind {value!r} is unknown; expected one of {', '.join(_KINDS)}")
        return Condition(field, value.lower(), False, kind)
    prefix = value.endswith("*")
    return Condition(field, value[:-1] if prefix else value, prefix)


def parse_rule(text: str) -> Rule:
    """Parse one compact rule; raises ValueError naming the rule and what is allowed."""
    head, sep, tail = text.strip().partition(":")
    if not head:
        raise _bad(text, f"it has no action; expected {ACTIONS}, then optionally :field=value&...")
    action, ratio = _action(text, head)
    conditions: list[Condition] = []
    if sep:
        for part in tail.split("&"):
            field, eq, value = part.partition("=")
            if not eq:
                raise _bad(text, f"condition {part.strip()!r} is not field=value")
            conditions.append(_condition(text, field, value))
    return Rule(action, ratio, tuple(conditions), text.strip())


def _rule_from_mapping(item: object, index: int) -> Rule:
    label = json.dumps(item, default=str)[:120]
    if not isinstance(item, Mapping):
        raise _bad(label, f"entry {index} is not an object with 'action' and 'when'")
    action = str(item.get("action", "")).strip().lower()
    if action == "ratio":
        action = f"ratio({item.get('ratio', '')})"
    act, ratio = _action(label, action)
    when = item.get("when", {})
    if not isinstance(when, Mapping):
        raise _bad(label, "'when' must be an object of field: value")
    conditions = tuple(_condition(label, str(k), str(v)) for k, v in when.items())
    return Rule(act, ratio, conditions, label)


def is_rules_file(spec: str) -> bool:
    """True when ``spec`` names a rules file (by its .json/.yaml/.yml suffix)."""
    return spec.strip().lower().endswith(_FILE_SUFFIXES)


def _load_file(path: str) -> list[Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"sampling rules file {path!r} cannot be read: {exc.strerror}") from None
    loads = json.loads
    if not path.lower().endswith(".json"):
        try:
            import yaml  # lazy: only YAML rules files need PyYAML
        except ImportError:
            raise ValueError(f"sampling rules file {path!r} needs PyYAML: pip install 'otelkit[yaml]'") from None
        loads = yaml.safe_load
    try:
        data = loads(text)
    except Exception as exc:  # noqa: BLE001 - any parser error becomes one clear message
        raise ValueError(f"sampling rules file {path!r} does not parse: {exc}") from None
    if not isinstance(data, list):
        raise ValueError(f"sampling rules file {path!r} must hold a list of rules")
    return data


def _items(spec: str) -> Iterable[tuple[str, Any]]:
    if is_rules_file(spec):
        return [("file", item) for item in _load_file(spec.strip())]
    return [("text", part) for part in spec.split(";") if part.strip()]


def _parse_item(kind: str, item: Any, index: int) -> Rule:
    return parse_rule(item) if kind == "text" else _rule_from_mapping(item, index)


def parse_rules(spec: str) -> list[Rule]:
    """Parse a compact rules string or a rules file path strictly (ValueError on any bad rule)."""
    return [_parse_item(kind, item, i) for i, (kind, item) in enumerate(_items(spec))]


def load_rules(spec: str, source: str = "OTELKIT_RULES") -> list[Rule]:
    """Parse rules from configuration: a bad rule logs a rate-limited warning and is skipped."""
    try:
        items = list(_items(spec))
    except ValueError as exc:
        warn_limited(_logger, "rules:" + source, "%s=%r: %s; ignoring it", source, spec[:120], exc)
        return []
    rules = []
    for i, (kind, item) in enumerate(items):
        try:
            rules.append(_parse_item(kind, item, i))
        except ValueError as exc:
            label = item if isinstance(item, str) else str(i)
            warn_limited(_logger, f"rules:{source}:{label[:40]}", "%s: %s; skipping it", source, exc)
    return rules


def resolve_rules(rules: str | Sequence[Rule] | None, environ: Mapping[str, str] | None = None) -> list[Rule]:
    """Explicit rules (parsed strictly: ValueError) or, for None, ``OTELKIT_RULES`` (lenient)."""
    if rules is None:
        raw = config.OTELKIT_RULES.raw(environ)  # lenient here: a bad rule is skipped, not all of them
        return load_rules(raw) if raw is not None else []
    if isinstance(rules, str):
        return parse_rules(rules)
    return list(rules)
