"""Combine the policies' decisions on one trace into the processor's verdict."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from otelkit._warn import warn_limited
from otelkit.tail.policy import Outcome, Policy, TraceView

__all__ = ["evaluate", "combine_thresholds", "NO_MATCH"]

_logger = logging.getLogger("otelkit.tail")

NO_MATCH = "no_match"
"""Drop reason when no policy kept the trace."""


def combine_thresholds(thresholds: list[int | None]) -> int | None:
    """Threshold of a trace kept by several policies: consistent decisions on one ``R``
    keep it iff ``R >= min(T)``; a certain keep (0) wins; any unknown makes it unknown."""
    if 0 in thresholds:
        return 0
    if None in thresholds:
        return None
    return min(t for t in thresholds if t is not None)


def evaluate(policies: Sequence[Policy], view: TraceView) -> tuple[bool, str, int | None]:
    """Run every policy on ``view``: a DROPPED veto wins, else the first SAMPLED one keeps.

    Returns (keep, label, threshold): the keeping policy's label (``composite/sub`` for a
    nested decision) and the combined threshold, or (False, the vetoing policy's name or
    ``no_match``, None). A policy that raises is skipped with a rate-limited warning.
    """
    keeper: str | None = None
    veto: str | None = None
    thresholds: list[int | None] = []
    for policy in policies:
        try:
            decision = policy.evaluate(view)
        except Exception as exc:  # noqa: BLE001 - a broken policy must not stop decisions
            warn_limited(_logger, "tail-policy:" + policy.name, "tail policy %r failed: %s", policy.name, exc)
            continue
        if decision.outcome is Outcome.DROPPED:
            veto = policy.name
            break
        if decision.sampled:
            if keeper is None:
                keeper = policy.name if decision.via is None else f"{policy.name}/{decision.via}"
            thresholds.append(decision.threshold)
    if veto is not None or keeper is None:
        return False, veto or NO_MATCH, None
    return True, keeper, combine_thresholds(thresholds)
