"""``composite/development`` trees in a configuration file, with otelkit samplers as leaves.

The ``opentelemetry-configuration`` package builds the specification's composable samplers
(``always_on``, ``always_off``, ``probability``, ``parent_threshold``, ``rule_based``) but
refuses any other name inside ``composite/development``. otelkit's head samplers already
have the composable shape (``sampling_intent``: their root threshold; the composite decides
``R >= T`` and writes ``th``), so this walk builds the same tree with otelkit's samplers
allowed as leaves:

* stock leaves and rule predicates are built by the package's own factories;
* ``parent_threshold`` and the top-level composite are otelkit's
  (:mod:`otelkit.sampling.composable`), which work around the SDK's tracestate gaps (the
  tracer passes no ``trace_state``; the SDK composite drops the update on root spans).

:func:`composable_tree` walks one node: it reports problems, describes the tree and, when
building, returns the composable sampler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["composable_tree", "names_plugin", "LeafBuilder"]

LeafBuilder = Callable[[Any, str, int], Any]
"""``leaf(node, where, depth)``: an otelkit sampler named by ``node``, or ``None`` when ``node``
names none (the walk then builds a stock leaf); it reports its own problems."""

_STOCK_LEAVES = ("always_on", "always_off", "probability")


class ComposableWalk:
    """One walk over a composable tree: ``problems`` and ``lines`` are the caller's lists."""

    def __init__(self, *, build: bool, problems: list[str], lines: list[str], leaf: LeafBuilder) -> None:
        self.build = build
        self.problems = problems
        self.lines = lines
        self.leaf = leaf

    def node(self, node: Any, where: str, depth: int) -> Any:
        from opentelemetry.sdk.trace import _sampling_experimental as exp

        from otelkit.sampling.composable import parent_threshold

        if node is None:
            self.problems.append(f"{where}: a composable sampler is required")
            return None
        extra = getattr(node, "additional_properties", None) or {}
        if extra:
            built = self.leaf(node, where, depth)
            if built is not None and not hasattr(built, "sampling_intent"):
                self.problems.append(f"{where}: {type(built).__name__} has no composable shape (sampling_intent)")
                return None
            return built
        if node.parent_threshold is not None:
            self.lines.append("  " * depth + "parent_threshold")
            root = self.node(node.parent_threshold.root, f"{where}.parent_threshold.root", depth + 1)
            return parent_threshold(root) if self.build and root is not None else None
        if node.rule_based is not None:
            return self._rules(node.rule_based, f"{where}.rule_based", depth)
        for name in _STOCK_LEAVES:
            value = getattr(node, name)
            if value is not None:
                ratio = getattr(value, "ratio", None)
                self.lines.append("  " * depth + name + (f" (ratio={ratio})" if ratio is not None else ""))
                if name == "probability" and ratio is not None and not 0.0 <= ratio <= 1.0:
                    self.problems.append(f"{where}.probability.ratio: {ratio!r} is invalid: allowed 0..1")
                    return None
                if not self.build:
                    return None
                if name == "always_on":
                    return exp.composable_always_on()
                if name == "always_off":
                    return exp.composable_always_off()
                return exp.composable_traceid_ratio_based(1.0 if ratio is None else ratio)
        self.problems.append(f"{where}: no composable sampler named; allowed: always_off, always_on, "
                             "parent_threshold, probability, rule_based, otelkit_adaptive, otelkit_consistent, "
                             "otelkit_rules")
        return None

    def _rules(self, config: Any, where: str, depth: int) -> Any:
        from opentelemetry.configuration._tracer_provider import _create_rule_based_sampler_rule_predicate
        from opentelemetry.sdk.trace import _sampling_experimental as exp

        self.lines.append("  " * depth + "rule_based")
        rules = []
        for i, rule in enumerate(config.rules or []):
            self.lines.append("  " * (depth + 1) + f"rule {i}:")
            sampler = self.node(rule.sampler, f"{where}.rules[{i}].sampler", depth + 2)
            if self.build and sampler is not None:
                # the package's own predicate factory: attribute values/patterns, kinds, parent
                rules.append((_create_rule_based_sampler_rule_predicate(rule), sampler))
        if not self.build:
            return None
        return exp.composable_rule_based(rules)


def names_plugin(node: Any) -> bool:
    """Whether a composable tree names anything beyond the package's own samplers (an otelkit
    sampler, or a typo the package would only report when building)."""
    if node is None:
        return False
    if getattr(node, "additional_properties", None):
        return True
    if node.parent_threshold is not None:
        return names_plugin(node.parent_threshold.root)
    if node.rule_based is not None:
        return any(names_plugin(rule.sampler) for rule in node.rule_based.rules or [])
    return False


def composable_tree(node: Any, where: str, depth: int, *, build: bool, problems: list[str],
                    lines: list[str], leaf: LeafBuilder) -> Any:
    """The SDK ``Sampler`` for a ``composite/development`` node (``None`` when checking only
    or when a problem was found)."""
    from otelkit.sampling.composable import composite

    lines.append("  " * depth + "composite/development")
    before = len(problems)
    root = ComposableWalk(build=build, problems=problems, lines=lines, leaf=leaf).node(
        node, f"{where}.composite/development", depth + 1)
    if not build or root is None or len(problems) != before:
        return None
    return composite(root)
