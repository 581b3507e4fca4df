"""Kept spans to the downstream processor, from their held bytes, with no re-encoding.

For each kept trace the decider asks a :class:`KeptTrace` (the decision's label and final
threshold) for each record's output: its bytes with the new ``trace_state`` and the
policy/adjusted-count attributes spliced in (:mod:`otelkit.tail._splice`); the same content
:func:`otelkit.tail._forward.exportable` gives the SDK copy. :class:`Forwarder` hands them
on:

* to otelkit's batcher holding spans as bytes (``SmartBatchSpanProcessor`` whose exporter
  has ``export_encoded``: its ``holds_encoded`` is true): the bytes and the route go
  straight into its queue (``on_end_held``); nothing is encoded twice;
* to any other processor (the SDK's ``BatchSpanProcessor``, a ``SimpleSpanProcessor``, a
  batcher with a stock exporter): a sampled ``ReadableSpan`` rebuilt from those bytes
  (:func:`~otelkit.tail._splice.readable_of`), which encodes to the same bytes. The buffer
  still holds only bytes; only kept spans are rebuilt.

A failure downstream is counted (``spans_forward_failed``), never raised.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import TraceState

from otelkit._warn import warn_limited
from otelkit.sampling._decide import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.tail._forward import POLICY_ATTRIBUTE, Rewrite
from otelkit.tail._record import SpanRecord
from otelkit.tail._splice import attribute_fields, readable_of, splice, state_field

__all__ = ["KeptTrace", "Forwarder"]

_logger = logging.getLogger("otelkit.tail")


class KeptTrace:
    """The output bytes of one kept trace's records (memoised per original tracestate)."""

    __slots__ = ("label", "rewrite", "_memo")

    def __init__(self, label: str, threshold: int | None) -> None:
        self.label = label
        self.rewrite = Rewrite(threshold)
        self._memo: dict[int, tuple[TraceState, TraceState, bytes, dict[bytes, bytes]]] = {}

    def output(self, record: SpanRecord) -> tuple[bytes, TraceState]:
        """``record``'s bytes as forwarded, and its new tracestate."""
        state = record.trace_state
        hit = self._memo.get(id(state))
        if hit is None or hit[0] is not state:
            new, count = self.rewrite.apply(state)
            fields = attribute_fields({POLICY_ATTRIBUTE: self.label, ADJUSTED_COUNT_ATTRIBUTE: count})
            hit = (state, new, state_field(new), fields)
            self._memo[id(state)] = hit
        return splice(record.data, hit[2], hit[3]), hit[1]


class Forwarder:
    """Hands kept records to ``downstream`` as bytes when it takes them, else as spans.

    Args:
        downstream: the tail processor's downstream processor.
        failed: called with the number of spans the downstream refused by raising.
    """

    def __init__(self, downstream: SpanProcessor, failed: Any) -> None:
        self.downstream = downstream
        self._failed = failed
        self._held = getattr(downstream, "on_end_held", None) if getattr(downstream, "holds_encoded", False) else None

    @property
    def as_bytes(self) -> bool:
        """Whether kept spans go downstream as bytes (no span object rebuilt)."""
        return self._held is not None

    def forward(self, records: list[SpanRecord], kept: KeptTrace) -> None:
        held = self._held
        for record in records:
            try:
                data, state = kept.output(record)
                if held is not None:
                    held(data, record.route)
                else:
                    self.downstream.on_end(readable_of(record, data, state))
            except Exception as exc:  # noqa: BLE001 - neither on_end nor the worker may die of it
                warn_limited(_logger, "tail-forward", "downstream processor failed on a kept span: %r", exc)
                self._failed(1)
