"""Fleet-wide budgets: each partition's policies get ``1 / partitions`` of every rate budget.

A ``rate_limiting`` (``spans_per_second``/``traces_per_second``) or ``composite``
(``max_total_spans_per_second``) budget configured for the tail tier is the whole fleet's.
Every partition's processor builds its own policies from the configuration with the budget
divided by the spans topic's partition count, so a worker holding ``k`` of ``N`` partitions
spends ``k/N`` of it, whatever the rebalances; the policies write the ``th`` of the
probability they applied, so adjusted counts stay right across workers. The split is by
partition, not by traffic: a partition that is quieter than its share leaves budget unused.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from otelkit import config
from otelkit.tail import DEFAULT_POLICIES, Policy, build_policies
from otelkit.tail.policy_config import (
    load_policy_file,
    parse_compact,
    policies_from_env,
    policies_from_string,
)

__all__ = ["PolicySource", "specs_of", "scale"]

_BUDGETS = {
    "rate_limiting": ("spans_per_second", "traces_per_second"),
    "composite": ("max_total_spans_per_second",),
}


def specs_of(value: str) -> Any:
    """The policy specs of a compact string or a policy file (as ``policies_from_string`` reads them)."""
    text = value.strip()
    if text.lower().endswith((".json", ".yaml", ".yml")) or Path(text).is_file():
        return load_policy_file(text)
    return parse_compact(text)


def scale(specs: Any, share: float) -> Any:
    """A copy of ``specs`` with every rate budget multiplied by ``share`` (0 < share <= 1)."""
    if not 0 < share <= 1:
        raise ValueError(f"share {share!r} is invalid: expected 0 < share <= 1")
    out = copy.deepcopy(specs)
    _walk(out, share)
    return out


def _walk(node: Any, share: float) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, share)
    elif isinstance(node, dict):
        for key in _BUDGETS.get(str(node.get("type", "")), ()):
            value = node.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                node[key] = value * share
        for value in node.values():
            _walk(value, share)


class PolicySource:
    """The worker's policies: shared ones (validation, ``TailWorker.policies``) and, when they
    come from a string, the environment or the defaults, fresh per-partition ones with the
    budgets split (:meth:`for_partition`). Policy objects given directly are shared unscaled.
    """

    def __init__(self, policies: str | Sequence[Policy] | None, environ: Mapping[str, str] | None) -> None:
        raw: str | None = None
        if isinstance(policies, str):
            raw = policies
            self.shared: list[Policy] = policies_from_string(policies)
        elif policies is not None:
            self.shared = list(policies)
        else:
            raw = config.OTELKIT_TAIL_POLICIES.raw(environ) or DEFAULT_POLICIES
            self.shared = policies_from_env(environ)
        if not self.shared:
            raise ValueError("policies is empty: expected at least one policy")
        self._specs: Any = None
        if raw is not None:
            try:
                self._specs = specs_of(raw)
                build_policies(self._specs)
            except ValueError:  # an invalid OTELKIT_TAIL_POLICIES: the defaults were used (warned)
                self._specs = parse_compact(DEFAULT_POLICIES)

    def for_partition(self, partitions: int) -> list[Policy]:
        """Policies for one of ``partitions`` partitions: budgets divided by ``partitions``."""
        if self._specs is None:
            return self.shared
        return build_policies(scale(self._specs, 1.0 / max(1, partitions)))
