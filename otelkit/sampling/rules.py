"""Rule-based head sampling: always keep / never keep / fixed ratio by name, kind or attribute.

Rules are evaluated in order for root spans; the first match decides (see
:mod:`otelkit.sampling._rule_parse` for the grammar). A debug override comes first: a span
whose start attribute or baggage entry ``otelkit.debug`` is ``true``/``1`` is kept.
Non-root spans follow their parent (spec-consistent, ``th`` preserved).

``OTEL_TRACES_SAMPLER=otelkit_rules`` with ``OTEL_TRACES_SAMPLER_ARG`` (or ``OTELKIT_RULES``)
set to e.g. ``keep:http.route=/api/payment*;drop:http.route=/health;ratio(0.1)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace._sampling_experimental import SamplingIntent
from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from otelkit import config
from otelkit.sampling._base import BaseHeadSampler
from otelkit.sampling._debug import DebugOverride
from otelkit.sampling._decide import ThresholdResults
from otelkit.sampling._rule_compile import compile_rules
from otelkit.sampling._rule_parse import (
    Condition,
    Rule,
    load_rules,
    parse_rule,
    parse_rules,
    resolve_rules,
)
from otelkit.sampling.threshold import probability_to_threshold

__all__ = ["Rule", "Condition", "RuleSet", "RulesSampler", "rules_sampler_factory", "parse_rule", "parse_rules"]


class RuleSet:
    """Ordered rules plus the debug override; answers "which threshold, if any?".

    The rules are compiled into one function (:mod:`otelkit.sampling._rule_compile`).

    Args:
        rules: rules in evaluation order.
        debug: the ``otelkit.debug`` override: a :class:`DebugOverride`, or a bool enabling
            one configured from ``environ`` (token and rate; see :mod:`otelkit.sampling._debug`).
        environ: mapping read instead of ``os.environ`` when ``debug`` is a bool.
    """

    __slots__ = ("rules", "debug", "_match")

    def __init__(
        self, rules: Sequence[Rule], debug: bool | DebugOverride = True, environ: Mapping[str, str] | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.debug = debug if isinstance(debug, DebugOverride) else DebugOverride.from_env(debug, environ)
        self._match = compile_rules(self.rules) if self.rules else None

    def __len__(self) -> int:
        return len(self.rules)

    def threshold(
        self, ctx: Context | None, name: str, kind: SpanKind | None, attributes: Attributes
    ) -> int | None:
        """Threshold of the debug override (0) or of the first matching rule; None if none.

        ``ctx`` is the parent context (baggage is read from it for the debug override).
        """
        if self.debug.requested(ctx, attributes):
            return 0
        if self._match is None:
            return None
        return self._match(name, kind if kind is not None else SpanKind.INTERNAL, attributes)


class RulesSampler(BaseHeadSampler):
    """Keep/drop/ratio root spans by rules; parent-based for non-root spans.

    Args:
        rules: a compact rules string, a rules file path (``.json``/``.yaml``), a sequence of
            :class:`Rule`, or None to read ``OTELKIT_RULES`` (bad rules there warn and are
            skipped; given explicitly they raise).
        default_ratio: keep probability for root spans no rule matches (default 1.0).
        debug: honour the ``otelkit.debug`` override; default ``OTELKIT_SAMPLER_DEBUG`` (true).
        environ: mapping read instead of ``os.environ``.

    Raises:
        ValueError: an invalid explicit rule (the message names it and what is allowed) or a
            ``default_ratio`` outside [0, 1].
    """

    _error_key = "rules-error"

    def __init__(
        self,
        rules: str | Sequence[Rule] | None = None,
        *,
        default_ratio: float = 1.0,
        debug: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._default = probability_to_threshold(default_ratio)
        self._default_ratio = default_ratio
        self.rules = RuleSet(resolve_rules(rules, environ), config.OTELKIT_SAMPLER_DEBUG.resolve(debug, environ), environ)
        self._debug = self.rules.debug
        self._results = ThresholdResults()

    def _root(
        self, ctx: Context, trace_id: int, name: str, kind: SpanKind | None, attributes: Attributes
    ) -> SamplingResult:
        threshold = self.rules.threshold(ctx, name, kind, attributes)
        if threshold is None:
            threshold = self._default
        return self._results.decide(trace_id, threshold, attributes)

    def sampling_intent(
        self,
        parent_ctx: Context | None,
        name: str,
        span_kind: SpanKind | None,
        attributes: Attributes,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingIntent:
        """The specification's composable shape (:mod:`otelkit.sampling.composable`): this
        root span's threshold; the composite sampler decides."""
        threshold = self.rules.threshold(parent_ctx, name, span_kind, attributes)
        return SamplingIntent(self._default if threshold is None else threshold)

    def get_description(self) -> str:
        return f"RulesSampler{{rules={len(self.rules)},default={self._default_ratio}}}"

    def stats(self) -> dict[str, Any]:
        """``kept``/``dropped`` span counts, the number of ``rules``, ``forced``/``forced_refused``."""
        with self._lock:
            out = {"kept": self._kept, "dropped": self._dropped, "rules": len(self.rules)}
        return {**out, **self._debug.stats()}


def rules_sampler_factory(arg: object = None, *, environ: Mapping[str, str] | None = None) -> Sampler:
    """Entry point ``otelkit_rules``: ``arg`` is a rules string/file path, or None for ``OTELKIT_RULES``.

    Bad rules are logged (rate-limited) and skipped, as the spec requires for invalid arguments.
    ``environ``: mapping read instead of ``os.environ`` (``otelkit.configure(environ=...)``).
    """
    text = str(arg).strip() if arg is not None else ""
    if not text:
        return RulesSampler(environ=environ)
    return RulesSampler(load_rules(text, "OTEL_TRACES_SAMPLER_ARG"), environ=environ)
