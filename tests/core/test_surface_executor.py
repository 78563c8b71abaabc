"""``surface(..., executor=...)``: row blocks on a thread pool, a process pool and a Dask LocalCluster equal the
serial grid; each worker unpickles the landscape once however many blocks it evaluates."""
from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.geometry import _grid
from rashomon_widgets.experiments import local_cluster


@pytest.fixture(scope="module")
def ls():
    g = torch.Generator().manual_seed(0)
    model = rw.models.digits_mlp((16,), seed=0).double()
    data = (torch.randn(40, 64, generator=g, dtype=torch.float64), torch.randint(0, 10, (40,), generator=g))
    return rw.Landscape(model, torch.nn.CrossEntropyLoss(), data)


def _serial(ls, plane, resolution=7):
    return ls.surface(plane, span=0.8, resolution=resolution)


def test_thread_pool_blocks_equal_the_serial_grid_and_report_progress(ls):
    plane = rw.Plane.random(ls, seed=1)
    seen = []
    with cf.ThreadPoolExecutor(3) as pool:
        surf = ls.surface(plane, span=0.8, resolution=7, executor=pool, block_rows=2,
                          progress=lambda d, n: seen.append((d, n)))
    np.testing.assert_allclose(surf.loss, _serial(ls, plane).loss, rtol=1e-12, atol=0)
    assert len(seen) == 4 and seen[-1] == (49, 49) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_default_blocks_are_near_equal_and_four_per_worker(ls):
    plane = rw.Plane.random(ls, seed=6)
    seen = []
    with cf.ThreadPoolExecutor(2) as pool:
        surf = ls.surface(plane, span=0.8, resolution=9, executor=pool, progress=lambda d, n: seen.append(d))
    np.testing.assert_allclose(surf.loss, _serial(ls, plane, 9).loss, rtol=1e-12, atol=0)
    steps = np.diff([0, *sorted(seen)]) // 9  # rows per finished block
    assert len(seen) == 8 and sorted(steps.tolist()) == [1] * 7 + [2]


def test_serial_block_rows_and_a_wrong_executor(ls):
    plane = rw.Plane.random(ls, seed=2)
    seen = []
    surf = ls.surface(plane, span=0.8, resolution=7, block_rows=3, strategy="loop",
                      progress=lambda d, n: seen.append((d, n)))
    np.testing.assert_allclose(surf.loss, _serial(ls, plane).loss, rtol=1e-12, atol=0)
    assert seen[-1] == (49, 49) and len(seen) >= 3
    with pytest.raises(TypeError, match="executor: expected a concurrent.futures.Executor"):
        ls.surface(plane, resolution=3, executor="dask")
    with pytest.raises(ValueError, match="block_rows: expected an int >= 1"):
        ls.surface(plane, resolution=3, block_rows=0)


def test_an_unpicklable_landscape_is_refused_with_what_to_change():
    model = torch.nn.Linear(2, 1).double()
    ls = rw.Landscape(model, lambda out, t: ((out - t) ** 2).mean(),
                      (torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64)))
    with cf.ProcessPoolExecutor(1) as pool, pytest.raises(TypeError, match="module level.*no lambdas"):
        ls.surface(rw.Plane.random(ls, seed=0), resolution=3, executor=pool)


def test_process_pool_blocks_equal_the_serial_grid(ls):
    plane = rw.Plane.random(ls, seed=3)
    with rw.experiments.default_executor(max_workers=2) as pool:
        surf = ls.surface(plane, span=0.8, resolution=7, executor=pool, block_rows=1)
        loads = sorted(pool.submit(_grid.cache_loads).result() for _ in range(2))
    assert torch.allclose(torch.from_numpy(surf.loss), torch.from_numpy(_serial(ls, plane).loss), rtol=1e-12, atol=0)
    assert max(loads) <= 2  # a landscape and a plane per worker, not one per block (7 blocks)


def test_dask_local_cluster_blocks_equal_the_serial_grid(ls):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    planes = [rw.Plane.random(ls, seed=4), rw.Plane.random(ls, seed=5)]
    with local_cluster(2, threads_per_worker=1) as cluster, \
            distributed.Client(cluster) as client:
        executor = client.get_executor()
        surfs = [ls.surface(p, span=0.8, resolution=7, executor=executor, block_rows=1) for p in planes]
        loads = client.run(_grid.cache_loads)
    for surf, plane in zip(surfs, planes):
        assert torch.allclose(torch.from_numpy(surf.loss), torch.from_numpy(_serial(ls, plane).loss),
                              rtol=1e-12, atol=0)
    assert len(loads) == 2 and sum(loads.values()) >= 3  # both workers evaluated blocks ...
    assert max(loads.values()) <= 3  # ... and each unpickled the landscape once and each plane once
