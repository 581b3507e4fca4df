"""Object and buffer pools, each kept on by default only where a benchmark shows it pays.

* :class:`BufferPool` (``otelkit.pool.buffer``): size-classed ``bytearray`` reuse for the
  encoder and compressors.
* :class:`ObjectPool` (``otelkit.pool.objects``): a generic bounded free list for records
  the batcher and tail sampler keep.

Both are imported on first use (PEP 562), so importing one submodule never pulls in the other.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otelkit.pool.buffer import BufferPool
    from otelkit.pool.objects import ObjectPool

__all__ = ["BufferPool", "ObjectPool"]

_HOMES = {"BufferPool": "otelkit.pool.buffer", "ObjectPool": "otelkit.pool.objects"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home), name)
