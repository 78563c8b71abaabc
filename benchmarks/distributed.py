"""Grids on workers: PreResNet20's 41x41 grid in one process against ``surface(executor=...)`` on a Dask
``LocalCluster`` of two worker processes with one torch thread each (on the CPU)."""
from __future__ import annotations

import os
import time

import numpy as np
import torch

import rashomon_widgets as rw

from .cases import build_resnet
from .rows import fmt_time
from .timing import log


def _one_torch_thread() -> None:
    torch.set_num_threads(1)


def bench_distributed(quick: bool) -> list[str]:
    """PreResNet20's 41x41 grid (11x11 with ``--quick``): ``surface`` in this process against
    ``surface(executor=client.get_executor())`` on a Dask ``LocalCluster`` of two worker processes with one
    torch thread each. The cluster is started before the clock; the first executor run includes each
    worker unpickling the landscape, the second finds it cached. Returns the report's Markdown lines."""
    import dask
    from distributed import Client

    from rashomon_widgets.experiments import local_cluster

    case = build_resnet(quick)
    resolution = 11 if quick else 41
    # the loss must be importable on the workers: the package's function, not this script's LossModule
    ls = rw.Landscape(case.model, rw.models.cross_entropy, (case.X, case.y))
    plane = rw.Plane.random(ls, seed=0, normalization="filter")
    m, rows = resolution ** 2, []

    def add(method, wall, notes=""):
        rows.append(f"| {resolution}x{resolution} plane | {method} | {fmt_time(wall)} | {m:,} | "
                    f"{m / wall:,.1f} | {notes} |")
        log(f"[dask] {rows[-1]}")

    log(f"[dask] one process, {torch.get_num_threads()} torch thread(s) ...")
    ls.surface(plane, span=1.0, resolution=3)
    start = time.perf_counter()
    serial = ls.surface(plane, span=1.0, resolution=resolution)
    one = time.perf_counter() - start
    add(f"ours `surface(...)`, one process ({torch.get_num_threads()} torch threads)", one,
        f"strategy `{ls.losses_strategy}`")
    # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in the workers (and leak it into this process's
    # environment), which turns every large torch allocation into an mmap: PreResNet20's forward took
    # 1.4-1.8x longer. Unset for this cluster, as the docs of `Plane.surface` advise.
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
            local_cluster(2, threads_per_worker=1) as cluster, \
            Client(cluster) as client:
        client.run(_one_torch_thread)
        executor = client.get_executor()
        for label in ("first call: workers unpickle the landscape", "second call: landscape cached on the workers"):
            start = time.perf_counter()
            grid = ls.surface(plane, span=1.0, resolution=resolution, executor=executor)
            wall = time.perf_counter() - start
            diff = float(np.abs(grid.loss - serial.loss).max())
            add("ours `surface(..., executor=client.get_executor())`, Dask LocalCluster, 2 workers x 1 thread",
                wall, f"{label}; {one / wall:.2f}x one process; max |difference| {diff:.1e}")
    return ["## Grids on workers: PreResNet20 on a Dask LocalCluster", "",
            f"{case.title}; {resolution}x{resolution} filter-normalised random plane. The cluster's start is not "
            "timed.", "", "| grid | method | wall | points | points/s | notes |", "|---|---|---:|---:|---:|---|",
            *rows, ""]
