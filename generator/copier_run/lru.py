"""A map that keeps its most recently used entries, for the caches of one process.

The Copier caches (`clone_cache`, `config_cache`, the proofs of `worker`) each keep a few
results for the rest of the process; threads (a fleet update's workers) share them. Each
`put` names the most entries to keep, so a module's limit can be changed while it runs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["Lru"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """Entries by key, least recently used out first once there are more than a limit."""

    def __init__(self) -> None:
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The entry for `key`, now the most recently used; None when there is none."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V, limit: int) -> None:
        """Keep `value` for `key` and drop the least recently used beyond `limit` entries."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > max(0, limit):
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
