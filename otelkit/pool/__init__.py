"""Object and buffer pools, each kept on by default only where a benchmark shows it pays.

* :class:`BufferPool` (``otelkit.pool.buffer``): size-classed ``bytearray`` reuse for the
  encoder and compressors.
* :class:`ObjectPool` (``otelkit.pool.objects``): a generic bounded free list for records
  the batcher and tail sampler keep.

Both are imported on first use (PEP 562), so importing one submodule never pulls in the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit._lazy import lazy_exports

if TYPE_CHECKING:
    from otelkit.pool.buffer import BufferPool
    from otelkit.pool.objects import ObjectPool

__all__ = ["BufferPool", "ObjectPool"]

_HOMES = {"BufferPool": "otelkit.pool.buffer", "ObjectPool": "otelkit.pool.objects"}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOMES)
