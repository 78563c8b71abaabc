"""The grid benchmark: our ``surface`` and ``losses`` (each strategy) on a filter-normalised random plane against
loss-landscapes' ``random_plane`` and against the floor of plain forwards (a loop, or one chunked ``vmap``)."""
from __future__ import annotations

import copy

import numpy as np
import torch

import rashomon_widgets as rw

from . import timing
from .cases import Case
from .floor import vmap_floor
from .peers import loss_landscapes_plane
from .rows import row
from .timing import timed


def bench_grid(case: Case, ls: rw.Landscape, resolution: int, floor: dict) -> tuple[list[dict], dict]:
    """Our ``surface`` on a filter-normalised random plane (and ``losses`` with each strategy on the same
    points) against loss-landscapes' ``random_plane``. Points/s count the points each really evaluates."""
    m = resolution ** 2
    rows, summary = [], {}

    def surface():
        return ls.surface(rw.Plane.random(ls, seed=0, normalization="filter"), span=1.0, resolution=resolution)

    kw = {"repeats": case.grid_repeats, "warmup": case.warmup}
    # vmap rows: on every XOR grid; on the MLP's smallest only (2x slower than the loop there, and 5 s a
    # run at 41x41); never on PreResNet20 (as slow as the grid itself)
    with_vmap = case.key == "xor" or (case.key == "mlp" and resolution == min(case.grids))
    ls.surface(rw.Plane.random(ls, seed=0), span=1.0, resolution=3)  # warm-up (strategy: a fixed rule, no timing)
    wall, surf = timed(surface, **kw)
    centre = surf.loss[resolution // 2, resolution // 2]
    assert abs(centre - ls.loss()) <= 1e-4 * max(1.0, abs(ls.loss())), (centre, ls.loss())
    plane = rw.Plane.random(ls, seed=0)
    thetas = plane.points(*plane.grid(1.0, resolution))
    loop_wall, vmap_wall = m * floor["forward"], vmap_floor(case, thetas) if with_vmap else None
    floor_wall = min(loop_wall, vmap_wall or np.inf)
    ours = summary["ours"] = {"wall": wall, "pps": m / wall, "floor_ratio": wall / floor_wall,
                              "loop_floor_ratio": wall / loop_wall}
    rows.append(row(f"{resolution}x{resolution} plane", f"**ours** `surface(Plane.random(...), "
                    f"resolution={resolution})`", wall, m, m / wall, None,
                    f"auto picked `{ls.losses_strategy}` (fixed rule); {ours['floor_ratio']:.2f}x the floor's "
                    f"time, {ours['loop_floor_ratio']:.2f}x the loop of forwards"))

    for strategy in (("vmap",) if with_vmap else ()) + (("loop",) if case.key != "resnet" else ()):
        w, _ = timed(lambda: ls.losses(thetas, strategy=strategy), **kw)
        summary[strategy] = {"wall": w, "pps": m / w}
        rows.append(row(f"{resolution}x{resolution} plane", f"ours `losses(thetas, strategy='{strategy}')`",
                        w, m, m / w, None, f"points given; {w / floor_wall:.2f}x the floor's time"))

    # loss-landscapes draws its directions on the CPU (model_parameters.py: torch.randn without a device), so
    # on a GPU it runs on a CPU copy of the case
    ll_case = case if timing.DEVICE.type == "cpu" else copy.deepcopy(case).to(torch.device("cpu"))
    model = ll_case.peer_model()
    wall, (grid, points) = timed(lambda: loss_landscapes_plane(ll_case, model, resolution), **kw)
    summary["loss_landscapes"] = {"wall": wall, "pps": points / wall, "points": points}
    rows.append(row(f"{resolution}x{resolution} plane", f"loss-landscapes `random_plane(steps={resolution})`",
                    wall, points, points / wall, ours["pps"] / (points / wall),
                    "staggered grid, start model not on it"))
    rows.append(row(f"{resolution}x{resolution} plane", "floor: loop of plain forwards (`no_grad`)", loop_wall,
                    m, m / loop_wall, ours["pps"] / (m / loop_wall), "points x median time of one forward"))
    if "forward_loss" in floor:  # what every method must also pay: the loss on the outputs
        loss_wall = m * floor["forward_loss"]
        ours["loss_floor_ratio"] = ours["wall"] / loss_wall   # (``wall`` now holds loss-landscapes' time)
        rows.append(row(f"{resolution}x{resolution} plane", "floor: loop of plain forwards + loss (`no_grad`)",
                        loss_wall, m, m / loss_wall, ours["pps"] / (m / loss_wall),
                        "points x median time of one forward and its loss"))
    if vmap_wall:
        rows.append(row(f"{resolution}x{resolution} plane", "floor: one chunked `vmap` over all points",
                        vmap_wall, m, m / vmap_wall, ours["pps"] / (m / vmap_wall),
                        "plain `functional_call` loss, measured"))
    return rows, summary
