"""Smart batch span processor: adaptive batch size and wait, bounded queue, exact drop counts.

``SmartBatchSpanProcessor(exporter, **options)`` is a drop-in for the SDK's
``BatchSpanProcessor``; see ``docs/batch.md``.
"""

from __future__ import annotations

from otelkit.batch._options import BatchOptions
from otelkit.batch.processor import SmartBatchSpanProcessor

__all__ = ["SmartBatchSpanProcessor", "BatchOptions"]
