"""A bounded mapping that forgets the least recently used entry: the one cache of the package.

Widgets keep recent surfaces and spectra, the skeleton study recent fine-tunings, each in an
:class:`LRUCache`: reading or writing an entry makes it the most recent, and writing beyond ``maxsize``
entries drops the oldest (the policy of :func:`functools.lru_cache`, for values computed elsewhere).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, MutableMapping
from typing import Generic, TypeVar

from .validation import check_int

__all__ = ["LRUCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(MutableMapping, Generic[K, V]):
    """A mapping of at most ``maxsize`` entries that drops the least recently used one first.

    ``cache[key]`` and ``cache[key] = value`` mark the key as used; ``key in cache``, iteration and
    ``values()`` do not. Each operation holds a lock, so a widget's worker thread and the user's code may
    share a cache.

    Args:
        maxsize: the most entries kept, an int >= 1.

    Raises:
        TypeError, ValueError: a ``maxsize`` that is not an int >= 1.

    Example:
        >>> cache = LRUCache(2)
        >>> cache["a"], cache["b"] = 1, 2
        >>> _ = cache["a"]          # "a" is now the most recent
        >>> cache["c"] = 3          # so "b" goes
        >>> sorted(cache)
        ['a', 'c']
    """

    def __init__(self, maxsize: int):
        self.maxsize = check_int(maxsize, "maxsize", 1)
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: K) -> V:
        with self._lock:
            self._data.move_to_end(key)
            return self._data[key]

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        with self._lock:
            del self._data[key]

    def __contains__(self, key) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"LRUCache({len(self)} of at most {self.maxsize} entries)"
