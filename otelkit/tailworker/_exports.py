"""Kept traces on their way to the exporter: export, hold on failure, retry.

:class:`KeptExports` owns the exporters and the kept traces whose export failed. Kept spans
are bytes (their wire bytes with ``th`` and the policy attributes spliced in): an exporter
with ``export_encoded`` (``otelkit_otlp``, ``otelkit_kafka``) sends them as they are
(an :class:`~otelkit.exporter._encoded.EncodedBatch`); any other gets ``ReadableSpan``
objects rebuilt from them. A trace's
offsets are released (``release``) only when every exporter acknowledged it; until then it
waits here, retried at most every :data:`RETRY_S` seconds, and its partition is reported by
:meth:`KeptExports.waiting` (the worker pauses it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit._warn import warn_limited
from otelkit.exporter._encoded import EncodedBatch
from otelkit.tailworker._decode import readable
from otelkit.tailworker._partition import Outcome, Partition

__all__ = ["KeptExports", "RETRY_S", "default_exporters"]

_logger = logging.getLogger("otelkit.tailworker")

RETRY_S = 0.5


def default_exporters(environ: Mapping[str, str] | None) -> list[SpanExporter]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names (otelkit's rules: default ``otelkit_otlp``)."""
    from otelkit.pipeline import build_exporters

    exporters = build_exporters(environ)
    if not exporters:
        raise ValueError("no exporter: OTEL_TRACES_EXPORTER names none that loads (e.g. otelkit_otlp)")
    return exporters


class KeptExports:
    """Exports kept traces of many partitions; holds and retries the failed ones."""

    def __init__(self, exporters: Sequence[SpanExporter], count: Callable[[str, int], None]) -> None:
        self.exporters = list(exporters)
        self._count = count
        self._failed: list[tuple[int, list[Outcome]]] = []
        self.due_at = 0.0

    def export(self, number: int, outcomes: list[Outcome], release: Callable[[list[int]], None]) -> bool:
        """Export the spans of ``outcomes`` (partition ``number``); release their offsets on success."""
        spans = [span for outcome in outcomes for span in outcome.spans]
        ok = True
        for exporter in self.exporters:
            try:
                encoded = getattr(exporter, "export_encoded", None)
                if encoded is not None:
                    result = encoded(EncodedBatch([d for d, _ in spans], [r for _, r in spans]))
                else:
                    result = exporter.export([readable(d, r) for d, r in spans])
                ok = result is SpanExportResult.SUCCESS and ok
            except Exception as exc:  # noqa: BLE001 - exporters should not raise; count if one does
                warn_limited(_logger, "tailworker-export", "exporter failed: %r", exc)
                ok = False
        if ok:
            self._count("spans_exported", len(spans))
            for outcome in outcomes:
                release(outcome.offsets)
            return True
        self._count("export_failures", 1)  # offsets stay held: re-read by the next owner if we die
        self._failed.append((number, outcomes))
        self.due_at = time.monotonic() + RETRY_S
        return False

    def retry(self, parts: Mapping[int, Partition], *, only: Collection[int] | None = None, force: bool = False) -> None:
        """Export the held traces again (when due, or ``force``), of ``only`` those partitions."""
        if not self._failed or (not force and time.monotonic() < self.due_at):
            return
        held, self._failed = self._failed, []
        for number, outcomes in held:
            part = parts.get(number)
            if part is None:
                continue  # revoked or lost: its next owner re-reads these spans
            if only is not None and number not in only:
                self._failed.append((number, outcomes))
            else:
                self.export(number, outcomes, part.release)

    def waiting(self) -> set[int]:
        """Partitions with kept traces waiting for a successful export."""
        return {number for number, _ in self._failed}

    def forget(self, assigned: Collection[int]) -> None:
        """Drop the held traces of partitions no longer ``assigned``."""
        self._failed = [(n, o) for n, o in self._failed if n in assigned]

    def shutdown(self) -> None:
        for exporter in self.exporters:
            exporter.shutdown()
