"""Fixed-size FIFO memory of decided trace IDs (the kept and dropped decision caches)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["DecisionCache"]

V = TypeVar("V")


class DecisionCache(Generic[V]):
    """Remembers the last ``size`` trace IDs with a value; the oldest is forgotten first.

    Args:
        size: capacity in trace IDs (0 disables the cache). Not thread-safe: the
            processor guards it with its lock.
    """

    def __init__(self, size: int) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"decision cache size {size!r} is invalid: expected an integer >= 0")
        self.size = size
        self._items: OrderedDict[int, V] = OrderedDict()

    def put(self, trace_id: int, value: V) -> None:
        if self.size == 0:
            return
        items = self._items
        items[trace_id] = value
        if len(items) > self.size:
            items.popitem(last=False)

    def get(self, trace_id: int) -> V | None:
        return self._items.get(trace_id)

    def __contains__(self, trace_id: object) -> bool:
        return trace_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
