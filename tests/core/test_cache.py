import threading

import pytest

from rashomon_widgets.core.cache import LRUCache


def test_the_least_recently_used_entry_goes_first():
    cache = LRUCache(2)
    cache["a"], cache["b"] = 1, 2
    assert cache["a"] == 1            # reading "a" makes "b" the oldest
    cache["c"] = 3
    assert sorted(cache) == ["a", "c"] and len(cache) == 2
    cache["a"] = 10                   # writing counts as a use too
    cache["d"] = 4
    assert dict(cache.items()) == {"a": 10, "d": 4}


def test_membership_and_iteration_do_not_count_as_use():
    cache = LRUCache(2)
    cache[1], cache[2] = "x", "y"
    assert 1 in cache and 3 not in cache
    assert list(cache) == [1, 2] and list(cache.values()) == ["x", "y"]
    cache[3] = "z"
    assert list(cache) == [2, 3]


def test_mapping_methods_and_missing_keys():
    cache = LRUCache(3)
    assert cache.setdefault("k", []) == [] and cache.get("missing") is None
    with pytest.raises(KeyError):
        cache["missing"]
    del cache["k"]
    assert len(cache) == 0 and "3 entries" in repr(cache)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (2.5, TypeError), ("3", TypeError)])
def test_a_bad_size_is_refused(bad, error):
    with pytest.raises(error, match="maxsize"):
        LRUCache(bad)


def test_threads_never_grow_it_beyond_its_size():
    cache = LRUCache(5)

    def fill(offset):
        for i in range(2000):
            cache[offset + i % 50] = i
            cache.get(offset + (i * 7) % 50)

    threads = [threading.Thread(target=fill, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 5
