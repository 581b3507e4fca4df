from __future__ import annotations

import pytest

from otelkit.tail._cache import DecisionCache


def test_fifo_forgets_the_oldest() -> None:
    cache: DecisionCache[str] = DecisionCache(3)
    for tid in range(1, 6):
        cache.put(tid, f"v{tid}")
    assert len(cache) == 3
    assert 1 not in cache and 2 not in cache
    assert cache.get(5) == "v5"


def test_size_zero_disables() -> None:
    cache: DecisionCache[bool] = DecisionCache(0)
    cache.put(1, True)
    assert 1 not in cache and len(cache) == 0


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_invalid_size(bad) -> None:
    with pytest.raises(ValueError, match="decision cache size"):
        DecisionCache(bad)
