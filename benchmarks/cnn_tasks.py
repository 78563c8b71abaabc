"""The rows of ``python -m benchmarks.cnn``, one function ``<lib>_<task>(inputs, out)`` each, run in a process of
its own: ours (``hvp``, ``trace``, ``eigs3``, ``density``, ``grid``, the explorers' first frame and slider steps)
and the peers' (curvlinops, PyHessian, loss-landscapes); each writes what it measured into ``out``, and
:func:`emit` prints it with the process's peak memory."""
from __future__ import annotations

import json
import resource
import statistics
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import rashomon_widgets as rw

from . import timing
from .cnn_case import CASES, LOSS, load
from .peers import pyhessian_run
from .timing import timed_once

LIBS = {"ours": ("hvp", "trace", "eigs3", "density", "grid", "explorer", "curve"),
        "curvlinops": ("hvp", "trace", "eigs3"), "pyhessian": ("trace", "eigs3", "density"),
        "loss-landscapes": ("grid",)}
TASKS = LIBS["ours"]
MOVES, MOVE_TIMEOUT = 5, 600  # slider steps timed per explorer row; seconds one may take before the row fails


def peak_mib() -> float:
    """Peak resident memory of this process, MiB: /proc's VmHWM, not ``ru_maxrss``, which Linux carries across
    fork and exec, so that every row would start from the peak of the process that launched it."""
    status = Path("/proc/self/status")
    if status.exists():
        kib = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(kib) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def emit(out: dict) -> None:
    """Print the row's result so far as one JSON line (the parent keeps the last one)."""
    out["peak_mib"] = peak_mib()
    if timing.DEVICE.type == "cuda":
        out["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out), flush=True)


# ===================================================================================== ours
def ours_hvp(ls, out):
    v = torch.randn(ls.num_params, generator=torch.Generator().manual_seed(0)).to(ls.device)
    out["first"], _ = timed_once(lambda: ls.hvp(v))  # includes the one-time choice of the HVP form
    out["time"] = statistics.median(timed_once(lambda: ls.hvp(v))[0] for _ in range(3))
    out["form"] = ls.hvp_form()


def ours_trace(ls, out):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out["time"], est = timed_once(ls.trace)
    out.update(value=float(est), error=est.error, products=est.num_products, method=est.method,
               warnings=[str(w.message) for w in caught])


def ours_eigs3(ls, out):
    out["time"], pairs = timed_once(lambda: ls.eigs(3))
    out.update(values=pairs.values.tolist(), products=pairs.num_products)


def ours_density(ls, out):
    out["time"], d = timed_once(ls.density)
    out.update(products=d.num_products, value=float(d.trace), error=d.trace.error)  # its trace estimate


def ours_grid(ls, out):
    plane = rw.Plane.random(ls, seed=0, normalization="filter")
    out["time"], surf = timed_once(lambda: ls.surface(plane, span=1.0, resolution=21))
    out["points"] = int(np.asarray(surf.loss).size)


def _drawn_events(explorer):
    """(the list of (time, rows) each time the 2-D slice is drawn, an Event set at each draw)."""
    drawn, event = [], threading.Event()

    def seen(change):
        drawn.append((time.perf_counter(), len(change["new"])))
        event.set()

    explorer.surface2d.heatmap.observe(seen, names="color")
    return drawn, event


def _first_frame(explorer, out, start, drawn):
    """Constructor, first and refined slice and the full first frame, seconds from ``start``."""
    def first_slice(rows=None):
        return next((t - start for t, n in drawn if rows is None or n == rows), None)

    emit(out)  # a timeout from here on still reports the constructor
    while not drawn:   # the first slice, reported as soon as it is drawn (a later timeout keeps it)
        time.sleep(0.05)
    out["first_slice"] = first_slice()
    emit(out)
    explorer.wait(None)
    out["first_frame"] = out["time"] = time.perf_counter() - start
    out["first_slice"], out["refined_slice"] = first_slice(), first_slice(explorer.resolution)
    out["grids"] = list(explorer.grids)
    emit(out)


def _moves(explorer, out, step, redrawn):
    """MOVES slider steps as a user presses a key: each waits until ``redrawn(event)`` says the view answered,
    then the next; the last one is followed to the end (``wait()``)."""
    out["moves"] = []
    for _ in range(MOVES):
        moved = time.perf_counter()
        step()
        if not redrawn():
            raise TimeoutError(f"a slider step was not redrawn within {MOVE_TIMEOUT} s")
        out["moves"].append(time.perf_counter() - moved)
        emit(out)
    explorer.wait(None)
    out["move_all"] = time.perf_counter() - moved
    out["move_slice"] = max(out["moves"])  # the slowest of MOVES: their p90 and more
    out["status"] = explorer.status_html.value


def ours_explorer(ls, out):
    """Seconds from the call of ``NullSpaceExplorer(ls)``: until it returns, until the first 2-D slice (coarse)
    and the refined one are drawn (the heatmap's colours set), until ``wait()`` returns (every panel drawn);
    then MOVES steps of the first slider, each timed until the 2-D slice is redrawn (its first, coarse grid;
    the refinement, 3-D view and spectrum follow), the last until every panel is drawn again."""
    out["import"], explorer_class = timed_once(lambda: rw.NullSpaceExplorer)  # rw imports its widgets on first use
    start = time.perf_counter()
    explorer = explorer_class(ls)
    out["constructor"] = time.perf_counter() - start
    drawn, event = _drawn_events(explorer)
    if explorer.surface2d.surface is not None:  # drawn before we could listen: the constructor's return bounds it
        drawn.append((time.perf_counter(), len(explorer.surface2d.heatmap.color)))
    _first_frame(explorer, out, start, drawn)

    def step():
        event.clear()
        values = list(explorer.coefficients)
        values[0] += explorer.slider_range / 100  # one step of the first slider ("null 1")
        explorer.coefficients = values

    _moves(explorer, out, step, lambda: event.wait(MOVE_TIMEOUT))
    explorer.close()


def ours_curve(ls, out):
    """``CurveExplorer`` between the case's model and a second one (seed 1) on a Bezier curve whose bend is the
    midpoint moved off the straight line: as ``explorer``, and MOVES steps of t, each timed until the loss
    readout of the new t is shown (the surface is cached; the marker moves with the readout)."""
    second, _ = load(out["case"], seed=1)
    theta_b = ls.layout.flatten(second)
    offset = torch.randn(ls.num_params, generator=torch.Generator().manual_seed(0)).to(ls.device, ls.dtype)
    bend = (ls.theta + theta_b) / 2 + 0.1 * offset * float((theta_b - ls.theta).norm() / offset.norm())
    curve = rw.BezierCurve(ls.theta, theta_b, bends=bend[None])
    out["import"], explorer_class = timed_once(lambda: rw.CurveExplorer)
    start = time.perf_counter()
    explorer = explorer_class(ls, curve)
    out["constructor"] = time.perf_counter() - start
    drawn, _ = _drawn_events(explorer)
    _first_frame(explorer, out, start, drawn)
    readout = threading.Event()
    explorer.loss_html.observe(lambda change: readout.set(), names="value")

    def step():
        readout.clear()
        explorer.t = round(explorer.t + 0.01, 2)

    _moves(explorer, out, step, lambda: readout.wait(MOVE_TIMEOUT))
    explorer.close()


# ===================================================================================== peers
def curvlinops_operator(model, data):
    from curvlinops import HessianLinearOperator
    params = [p for p in model.parameters() if p.requires_grad]
    return HessianLinearOperator(model, LOSS, params, data, check_deterministic=False,
                                 num_data=sum(len(x) for x, _ in data))


def curvlinops_hvp(model, data, out):
    H = curvlinops_operator(model, data)
    v = torch.randn(H.shape[1], generator=torch.Generator().manual_seed(0)).to(timing.DEVICE)
    out["first"], _ = timed_once(lambda: H @ v)
    out["time"] = statistics.median(timed_once(lambda: H @ v)[0] for _ in range(3))


def curvlinops_trace(model, data, out):
    from curvlinops import xtrace
    torch.manual_seed(0)
    out["time"], value = timed_once(lambda: xtrace(curvlinops_operator(model, data), 40))
    out.update(value=float(value), products=40)


def curvlinops_eigs3(model, data, out):
    from scipy.sparse.linalg import LinearOperator, eigsh
    products = []

    def run():
        H = curvlinops_operator(model, data).to_scipy(dtype=np.float64)
        counting = LinearOperator(H.shape, matvec=lambda x: products.append(1) or H.matvec(x), dtype=np.float64)
        return eigsh(counting, k=3, which="LA", tol=1e-3, v0=np.random.default_rng(0).standard_normal(H.shape[0]),
                     return_eigenvectors=False)

    out["time"], values = timed_once(run)
    out.update(values=sorted(values.tolist(), reverse=True), products=len(products))


def pyhessian_trace(model, data, out):
    out["time"], samples, out["products"] = pyhessian_run(model, LOSS, data, "trace", maxIter=40)
    out["value"] = float(np.mean(samples))
    out["error"] = float(1.96 * np.std(samples, ddof=1) / np.sqrt(len(samples))) if len(samples) > 1 else None


def pyhessian_eigs3(model, data, out):
    out["time"], (values, _), out["products"] = pyhessian_run(model, LOSS, data, "eigenvalues", top_n=3, maxIter=40)
    out["values"] = [float(v) for v in values]


def pyhessian_density(model, data, out):
    steps = CASES[out["case"]]["density_iter"]
    out["time"], _, out["products"] = pyhessian_run(model, LOSS, data, "density", iter=steps, n_v=1)
    out["note"] = f"iter={steps}, n_v=1" + (" (its defaults)" if steps == 100 else " (defaults: iter=100)")


def loss_landscapes_grid(model, data, out):
    import loss_landscapes
    import loss_landscapes.metrics

    class BatchLoss(loss_landscapes.metrics.Metric):
        """loss-landscapes' ``Loss`` over a list of batches (its own takes one): the mean over all samples."""

        def __call__(self, model_wrapper):
            total = sum(LOSS(model_wrapper.forward(x), y).item() * len(x) for x, y in data)
            return total / sum(len(x) for x, _ in data)

    # it draws its directions on the CPU (torch.randn without a device), so on a GPU it runs on the CPU
    if timing.DEVICE.type == "cuda":
        model, data = model.cpu(), [(x.cpu(), y.cpu()) for x, y in data]
        out["note"] = "on the CPU"
    torch.manual_seed(0)
    out["time"], grid = timed_once(lambda: loss_landscapes.random_plane(model, BatchLoss(), distance=1, steps=21,
                                                                        normalization="filter", deepcopy_model=True))
    out["points"] = int(grid.size)
