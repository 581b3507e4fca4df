"""The ``export()`` the exporters that send encoded spans share (OTLP/HTTP, Kafka)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter._encoded import EncodedSpan, encode_each

__all__ = ["export_spans"]


def export_spans(
    spans: Sequence[ReadableSpan],
    shut_down: bool,
    count: Callable[..., None],
    export_encoded: Callable[[Sequence[EncodedSpan]], SpanExportResult],
) -> SpanExportResult:
    """Encode ``spans`` and hand them to the exporter's ``export_encoded``.

    After shutdown nothing is accepted: FAILURE, even for an empty batch (a non-empty one
    is counted failed, ``error="shutdown"``, through ``count``: the exporter's
    ``ExportStats.spans``). A span that cannot be encoded fails alone (``error="encode"``);
    the rest are sent. SUCCESS only if every span was encoded and sent.
    """
    if shut_down:
        if spans:
            count(failed=len(spans), error="shutdown")
        return SpanExportResult.FAILURE
    encoded, failed = encode_each(spans)
    if failed:
        count(failed=failed, error="encode")
    result = export_encoded(encoded)
    return SpanExportResult.FAILURE if failed else result
