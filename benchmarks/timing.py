"""Timers and counters shared by every benchmark: the device the products run on, the wait for its queued work,
medians of repeated runs (seeded for the randomised estimators), product counters and the progress log."""
from __future__ import annotations

import gc
import statistics
import sys
import time

import torch

#: where the models, data and products live (``--device``, set by :func:`use_device`); the spectral-estimate
#: study and the Dask rows always run on the CPU. Read it as ``timing.DEVICE``: a ``from`` import would keep
#: the CPU it held at import time.
DEVICE = torch.device("cpu")


def use_device(name: str) -> torch.device:
    """Set :data:`DEVICE` (``"cpu"`` or ``"cuda"``) for every benchmark module; returns it."""
    global DEVICE
    DEVICE = torch.device(name)
    return DEVICE


def sync() -> None:
    """Wait for the device's queued work, so that a timer stops when the work is done (CUDA is asynchronous)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def timed(fn, *, repeats: int, warmup: int = 1):
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs; and its result.
    Each run follows a ``gc.collect()``, so it starts with cold CPU caches: sub-millisecond calls (XOR's
    grids) take about 2.5x their back-to-back time here, as in an interactive session."""
    for _ in range(warmup):
        fn()
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        sync()
        start = time.perf_counter()
        result = fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def timed_once(fn):
    """(seconds, result) of one call of ``fn()``, the device's queued work included."""
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return time.perf_counter() - start, result


def seeded_runs(fn, *, repeats: int, warmup: int = 1):
    """``fn(seed)`` for the randomised estimators: ``warmup`` untimed calls (seeds 1000, ...), then one timed
    call per seed 0 .. repeats - 1. Returns (median seconds, [results]): the repeats of the timing also
    sample the estimator's randomness, so errors are reported as medians over seeds."""
    for i in range(warmup):
        fn(1000 + i)
    times, results = [], []
    for seed in range(repeats):
        gc.collect()
        sync()
        start = time.perf_counter()
        result = fn(seed)
        sync()
        times.append(time.perf_counter() - start)
        results.append(result)
    return statistics.median(times), results


def med(values):
    values = list(values)
    return statistics.median(values) if values else None


def med_low(values):
    """Median that is one of the values (HVP counts stay integers)."""
    values = list(values)
    return statistics.median_low(values) if values else None


def median_time(fn, *, min_time: float = 0.2, min_runs: int = 5, max_runs: int = 200) -> float:
    """Median of at least ``min_runs`` runs, more while under ``min_time`` seconds (after one warm-up)."""
    fn()
    sync()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < min_time and len(times) < max_runs):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Counter:
    """A count of products, incremented by the wrappers each library's product function gets."""

    def __init__(self):
        self.n = 0
