"""The least-recently-used map behind the per-process Copier caches (`copier_run.lru`)."""

from __future__ import annotations

import threading

from generator.copier_run.lru import Lru


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: Lru[str, int] = Lru()
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.put(key, value, limit=3)
    assert cache.get("a") == 1  # now the most recently used
    cache.put("d", 4, limit=3)
    assert [cache.get(key) for key in "abcd"] == [1, None, 3, 4]
    assert len(cache) == 3


def test_a_put_again_refreshes_and_replaces() -> None:
    cache: Lru[str, int] = Lru()
    cache.put("a", 1, limit=2)
    cache.put("b", 2, limit=2)
    cache.put("a", 10, limit=2)
    cache.put("c", 3, limit=2)
    assert [cache.get(key) for key in "abc"] == [10, None, 3]


def test_a_lower_limit_trims_at_the_next_put_and_clear_empties() -> None:
    cache: Lru[int, int] = Lru()
    for key in range(5):
        cache.put(key, key, limit=5)
    cache.put(5, 5, limit=2)
    assert len(cache) == 2 and cache.get(4) == 4 and cache.get(5) == 5
    cache.put(6, 6, limit=0)
    assert len(cache) == 0
    cache.put(7, 7, limit=4)
    cache.clear()
    assert len(cache) == 0 and cache.get(7) is None


def test_threads_sharing_it_never_leave_more_than_the_limit() -> None:
    cache: Lru[tuple[int, int], int] = Lru()

    def fill(thread: int) -> None:
        for key in range(2000):
            cache.put((thread, key), key, limit=16)
            cache.get((thread, key - 1))

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 16
