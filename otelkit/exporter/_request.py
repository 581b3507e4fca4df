"""Request-assembly helpers shared by the span encoder and the encoded-span path.

``group_spans`` orders spans as the SDK's ``encode_spans`` does (by resource, then
instrumentation scope, in order of first appearance, merging equal objects as its dicts
do); ``write_parts`` copies a request's pieces into a (pooled) buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

__all__ = ["Groups", "group_spans", "write_parts"]

T = TypeVar("T")

Groups = list[tuple[Any, list[tuple[Any, list[T]]]]]
"""``[(resource, [(scope, [member, ...]), ...]), ...]`` in first-seen order."""


def group_spans(items: Sequence[T], keys: Sequence[tuple[Any, Any]]) -> Groups[T]:
    """``items`` grouped by resource then scope; ``keys[i]`` is ``(resource, scope)`` of
    ``items[i]``. Lookups go by identity first (one dict hit per span); a new object is
    merged with an earlier *equal* one, as the SDK's dict-keyed grouping does."""
    by_ids: dict[tuple[int, int], list[T]] = {}
    canon_res: list[Any] = []  # distinct-by-equality resources in first-seen order
    res_groups: dict[int, dict[Any, list[T]]] = {}  # id(canon res) -> scope -> members
    for item, (resource, scope) in zip(items, keys, strict=True):
        scope = scope or None
        key = (id(resource), id(scope))
        members = by_ids.get(key)
        if members is None:
            canon = next((r for r in canon_res if r is resource or r == resource), None)
            if canon is None:
                canon = resource
                canon_res.append(resource)
                res_groups[id(resource)] = {}
            scopes = res_groups[id(canon)]
            members = scopes.get(scope)
            if members is None:
                members = scopes[scope] = []
            by_ids[key] = members
        members.append(item)
    return [(r, list(res_groups[id(r)].items())) for r in canon_res]


def write_parts(parts: Sequence[bytes], buf: bytearray) -> int:
    """Write ``parts`` back to back at the start of ``buf`` (grown if too short, never
    shrunk, so a pooled buffer keeps its allocation); return the total length."""
    total = sum(map(len, parts))
    if total > len(buf):
        buf.extend(bytes(total - len(buf)))
    pos = 0
    with memoryview(buf) as view:  # slice writes through a view: ~4x faster than buf[a:b] = x
        for piece in parts:
            end = pos + len(piece)
            view[pos:end] = piece
            pos = end
    return total
