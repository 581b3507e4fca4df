"""Object and buffer pools, each kept on by default only where a benchmark shows it pays.

* :class:`BufferPool` (``otelkit.pool.buffer``): size-classed ``bytearray`` reuse for the
  encoder and compressors.
* :class:`ObjectPool` (``otelkit.pool.objects``): a generic bounded free list for records
  the batcher and tail sampler keep.
"""

from __future__ import annotations

from otelkit.pool.buffer import BufferPool
from otelkit.pool.objects import ObjectPool

__all__ = ["BufferPool", "ObjectPool"]
