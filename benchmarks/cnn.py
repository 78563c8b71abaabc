"""Issue 22's reference case: a user's own CNN on real MNIST digits, ours against curvlinops, PyHessian and
loss-landscapes, with the wall time and the peak resident memory of every task.

How to run::

    make bench-cnn                                          # builds benchmarks/.venv-peers once, then runs this
    make bench-cnn BENCH_CNN_ARGS="--case tiny"             # a smoke run (a few minutes on 2 cores)
    benchmarks/.venv-peers/bin/python benchmarks/cnn.py --case cnn596k --only ours:hvp,pyhessian --timeout 600

Cases (``--case``, comma-separated; default ``cnn596k,cnn1.2m``): ``models.mnist_cnn`` trained 3 Adam epochs
(batch 100, lr 1e-3, seed 0) on ``data.mnist(seed=0)``'s training images. ``cnn596k``: channels (16, 32),
596,042 parameters, 1,000 images in one batch; ``cnn1.2m``: (32, 64), 1,199,882 parameters, 2,000 images in 4
batches of 500; ``tiny``: (2, 4), 75,242 parameters, 200 images in one batch. Weights and images are cached in
``benchmarks/.cache/`` (tensors only, read with ``weights_only=True``), so no row pays ``data.mnist``'s parse.

Every row (``--only``: ``lib`` or ``lib:task`` items) runs in a fresh subprocess (``--row lib:task`` prints one
JSON line), so its peak resident memory (VmHWM: Python, torch, model, data and task) is its own; a row
past ``--timeout`` seconds is killed and reported as timed out. Threads: torch's default, the same everywhere.
Ours: ``hvp`` (first product, median of 3 later), ``trace()``, ``eigs(3)``, ``density()``, ``grid`` (a 21x21
filter-normalised random plane), ``explorer`` (``NullSpaceExplorer(ls)``: constructor, first 2-D slice, first
full frame, then 5 steps of the first slider, each until the slice is redrawn), ``curve`` (``CurveExplorer`` on a
Bezier curve to a second model, trained with seed 1: the same, 5 steps of t each until the readout changes).
curvlinops ``HessianLinearOperator``: ``hvp``, ``trace`` (``xtrace``,
40 products), ``eigs3`` (scipy ``eigsh(k=3, tol=1e-3)`` on ``to_scipy()``). PyHessian (``dataloader=`` for
several batches): ``trace(maxIter=40)``, ``eigenvalues(top_n=3, maxIter=40)``, ``density()`` at its defaults
(``iter=100, n_v=1``; ``iter=40`` on cnn1.2m). loss-landscapes: ``random_plane(steps=21)`` with a metric
averaging over the batches. Results: ``benchmarks/results-cnn.md`` (``--output``).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run.py's helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from run import Counter, pyhessian_session  # PyHessian's HVP counter and torch.eig patch

import rashomon_widgets as rw

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results-cnn.md"
LOSS = torch.nn.CrossEntropyLoss()  # the same loss module for every library (curvlinops reads .reduction)
TRAIN = {"epochs": 3, "batch_size": 100, "lr": 1e-3, "seed": 0}
# density_iter: PyHessian's density() steps; its default 100 on cnn1.2m, where every product re-runs the forward
# and backward of 4 batches, would outrun the default time limit, so it gets 40 there
CASES = {
    "cnn596k": {"channels": (16, 32), "images": 1000, "batch": 1000, "density_iter": 100},
    "cnn1.2m": {"channels": (32, 64), "images": 2000, "batch": 500, "density_iter": 40},
    "tiny": {"channels": (2, 4), "images": 200, "batch": 200, "density_iter": 100},
}
LIBS = {"ours": ("hvp", "trace", "eigs3", "density", "grid", "explorer", "curve"),
        "curvlinops": ("hvp", "trace", "eigs3"), "pyhessian": ("trace", "eigs3", "density"),
        "loss-landscapes": ("grid",)}
TASKS = LIBS["ours"]
NAMES = {"ours": "ours", "curvlinops": "curvlinops", "pyhessian": "PyHessian", "loss-landscapes": "loss-landscapes"}
MEMORY_TARGET_MIB = 2048
MOVES, MOVE_TIMEOUT = 5, 600  # slider steps timed per explorer row; seconds one may take before the row fails
DEVICE = torch.device("cpu")


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def timed(fn):
    """(seconds, result) of ``fn()``, the device's queued work included."""
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return time.perf_counter() - start, result


def peak_mib() -> float:
    """Peak resident memory of this process, MiB: /proc's VmHWM, not ``ru_maxrss``, which Linux carries across
    fork and exec, so that every row would start from the peak of the process that launched it."""
    status = Path("/proc/self/status")
    if status.exists():
        kib = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(kib) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ===================================================================================== the case
def prepare(case: str, seed: int = 0) -> dict:
    """Train the case's CNN once (cached): its weights, the images the libraries see and its accuracies
    (``seed``: of the initialisation and the batches; the curve explorer's second model has seed 1)."""
    cfg, train = CASES[case], {**TRAIN, "seed": seed}
    spec = json.dumps([cfg["channels"], cfg["images"], train, torch.__version__, DEVICE.type])  # what training uses
    path = CACHE / f"cnn-{case}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    log(f"[{case}] training mnist_cnn({cfg['channels']}) on {cfg['images']} images ...")
    split = rw.data.mnist(cfg["images"], 1000, seed=0)
    model = rw.models.mnist_cnn(cfg["channels"], seed=seed).to(DEVICE)
    (X, y), (Xt, yt) = [(a.to(DEVICE), b.to(DEVICE)) for a, b in split]
    rw.models.train(model, LOSS, (X, y), **train)
    with torch.no_grad():
        acc = [rw.models.accuracy(model(a), b) for a, b in ((X, y), (Xt, yt))]
    saved = {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "X": X.cpu(), "y": y.cpu(),
             "train_accuracy": acc[0], "test_accuracy": acc[1]}
    CACHE.mkdir(exist_ok=True)
    torch.save(saved, path.with_suffix(".pt.tmp"))
    path.with_suffix(".pt.tmp").replace(path)
    return saved


def load(case: str, seed: int = 0):
    """The trained model (evaluation mode) and its data as a list of batches, on ``DEVICE``."""
    saved, cfg = prepare(case, seed), CASES[case]
    model = rw.models.mnist_cnn(cfg["channels"], seed=seed)
    model.load_state_dict(saved["state"])
    model.eval().to(DEVICE)
    return model, rw.data.batches(saved["X"].to(DEVICE), saved["y"].to(DEVICE), cfg["batch"])


# ===================================================================================== ours
def ours_hvp(ls, out):
    v = torch.randn(ls.num_params, generator=torch.Generator().manual_seed(0)).to(ls.device)
    out["first"], _ = timed(lambda: ls.hvp(v))  # includes the one-time choice of the HVP form
    out["time"] = statistics.median(timed(lambda: ls.hvp(v))[0] for _ in range(3))
    out["form"] = ls.hvp_form()


def ours_trace(ls, out):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out["time"], est = timed(ls.trace)
    out.update(value=float(est), error=est.error, products=est.num_products, method=est.method,
               warnings=[str(w.message) for w in caught])


def ours_eigs3(ls, out):
    out["time"], pairs = timed(lambda: ls.eigs(3))
    out.update(values=pairs.values.tolist(), products=pairs.num_products)


def ours_density(ls, out):
    out["time"], d = timed(ls.density)
    out.update(products=d.num_products, value=float(d.trace), error=d.trace.error)  # its trace estimate


def ours_grid(ls, out):
    plane = rw.Plane.random(ls, seed=0, normalization="filter")
    out["time"], surf = timed(lambda: ls.surface(plane, span=1.0, resolution=21))
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
    out["import"], explorer_class = timed(lambda: rw.NullSpaceExplorer)  # rw imports its widgets on first use
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
    out["import"], explorer_class = timed(lambda: rw.CurveExplorer)
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
    v = torch.randn(H.shape[1], generator=torch.Generator().manual_seed(0)).to(DEVICE)
    out["first"], _ = timed(lambda: H @ v)
    out["time"] = statistics.median(timed(lambda: H @ v)[0] for _ in range(3))


def curvlinops_trace(model, data, out):
    from curvlinops import xtrace
    torch.manual_seed(0)
    out["time"], value = timed(lambda: xtrace(curvlinops_operator(model, data), 40))
    out.update(value=float(value), products=40)


def curvlinops_eigs3(model, data, out):
    from scipy.sparse.linalg import LinearOperator, eigsh
    products = []

    def run():
        H = curvlinops_operator(model, data).to_scipy(dtype=np.float64)
        counting = LinearOperator(H.shape, matvec=lambda x: products.append(1) or H.matvec(x), dtype=np.float64)
        return eigsh(counting, k=3, which="LA", tol=1e-3, v0=np.random.default_rng(0).standard_normal(H.shape[0]),
                     return_eigenvectors=False)

    out["time"], values = timed(run)
    out.update(values=sorted(values.tolist(), reverse=True), products=len(products))


def pyhessian_run(model, data, method, **kwargs):
    """``pyhessian.hessian(model, ...).<method>(**kwargs)``, its constructor included, torch seeded; returns
    (seconds, result, products). One batch goes in as ``data=``, several as ``dataloader=`` (whose products,
    ``dataloader_hv_product``, are counted here; run.py's session counts the single-batch ones)."""
    counter = Counter()
    with pyhessian_session(SimpleNamespace(X=data[0][0]), counter) as ph:
        original = ph.hessian.dataloader_hv_product

        def counting(self, v):
            counter.n += 1
            return original(self, v)

        ph.hessian.dataloader_hv_product = counting
        source = {"data": data[0]} if len(data) == 1 else {"dataloader": data}
        torch.manual_seed(0)
        try:
            seconds, result = timed(lambda: getattr(ph.hessian(model, LOSS, cuda=DEVICE.type == "cuda", **source),
                                                    method)(**kwargs))
        finally:
            ph.hessian.dataloader_hv_product = original
    return seconds, result, counter.n


def pyhessian_trace(model, data, out):
    out["time"], samples, out["products"] = pyhessian_run(model, data, "trace", maxIter=40)
    out["value"] = float(np.mean(samples))
    out["error"] = float(1.96 * np.std(samples, ddof=1) / np.sqrt(len(samples))) if len(samples) > 1 else None


def pyhessian_eigs3(model, data, out):
    out["time"], (values, _), out["products"] = pyhessian_run(model, data, "eigenvalues", top_n=3, maxIter=40)
    out["values"] = [float(v) for v in values]


def pyhessian_density(model, data, out):
    steps = CASES[out["case"]]["density_iter"]
    out["time"], _, out["products"] = pyhessian_run(model, data, "density", iter=steps, n_v=1)
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
    if DEVICE.type == "cuda":
        model, data = model.cpu(), [(x.cpu(), y.cpu()) for x, y in data]
        out["note"] = "on the CPU"
    torch.manual_seed(0)
    out["time"], grid = timed(lambda: loss_landscapes.random_plane(model, BatchLoss(), distance=1, steps=21,
                                                                   normalization="filter", deepcopy_model=True))
    out["points"] = int(grid.size)


# ===================================================================================== one row, in its own process
def emit(out: dict) -> None:
    """Print the row's result so far as one JSON line (the parent keeps the last one)."""
    out["peak_mib"] = peak_mib()
    if DEVICE.type == "cuda":
        out["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out), flush=True)


def run_row(lib: str, task: str, case: str) -> int:
    out = {"lib": lib, "task": task, "case": case, "threads": torch.get_num_threads()}
    try:
        model, data = load(case)
        inputs = (rw.Landscape(model, LOSS, data),) if lib == "ours" else (model, data)
        out["setup_mib"] = peak_mib()
        globals()[f"{lib.replace('-', '_')}_{task}"](*inputs, out)
    except Exception as exc:  # reported in the table, the other rows go on
        traceback.print_exc()
        out["failed"] = f"{type(exc).__name__}: {exc}"
    emit(out)
    return 1 if "failed" in out else 0


def spawn(lib: str, task: str, case: str, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--row", f"{lib}:{task}", "--case", case,
           "--device", DEVICE.type]
    status = None
    try:
        stdout = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=timeout).stdout
    except subprocess.TimeoutExpired as exc:
        stdout, status = exc.stdout, f"timed out ({timeout:.0f} s)"
    lines = [line for line in (stdout or b"").decode().splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"failed": "no result (killed?)"}
    if status:
        result["failed"] = status
    return result


# ===================================================================================== the report
def sec(x) -> str:
    return "?" if x is None else f"{x:.1f} s"


def cell(r: dict | None) -> str:
    if r is None:
        return "not run"
    if "failed" in r:
        partial = f" (constructor returned at {sec(r['constructor'])}" if "constructor" in r else ""
        partial += f", first slice at {sec(r['first_slice'])})" if "first_slice" in r else (")" if partial else "")
        partial += f"; peak {r['peak_mib']:.0f} MiB when last reported" if "peak_mib" in r else ""
        return f"**{r['failed'][:120]}**{partial}".replace("|", "\\|")
    mem = f" / {r['peak_mib']:.0f} MiB" + (f" (GPU {r['gpu_peak_mib']:.0f})" if "gpu_peak_mib" in r else "")
    if r["task"] in ("explorer", "curve"):
        grids = r.get("grids", ["?"])
        what = "slice" if r["task"] == "explorer" else "readout"
        moves = ", ".join(sec(m) for m in r.get("moves", []))
        return (f"constructor {sec(r['constructor'])}, first slice ({grids[0]}x{grids[0]}) {sec(r['first_slice'])}, "
                f"refined ({grids[-1]}x{grids[-1]}) {sec(r['refined_slice'])}, full frame {sec(r['first_frame'])}; "
                f"{MOVES} steps, {what} redrawn in {moves}; after the last, every panel in {sec(r['move_all'])}"
                + mem)
    text = f"{r['time']:.3g} s" + (f" (first {r['first']:.3g} s)" if "first" in r else "") + mem
    error = f" ± {r['error']:.2g}" if r.get("error") is not None else ""
    value = f"{r['value']:.4g}{error}" if "value" in r else ""
    extras = [value, ", ".join(f"{v:.4g}" for v in r.get("values", [])), r.get("note", ""),
              f"{r['products']} HVPs" if "products" in r else "", f"{r['points']} points" if "points" in r else ""]
    return "; ".join([text] + [e for e in extras if e])


def ok(r: dict | None) -> bool:
    return r is not None and "failed" not in r


def targets(rows: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met?) for issue 22's targets on one case; None: not measured."""
    ours = {task: rows.get(("ours", task)) for task in TASKS}
    peaks = {t: r["peak_mib"] for t, r in ours.items() if ok(r)}
    unmeasured = f" ({len(TASKS) - len(peaks)} of {len(TASKS)} rows not measured)" if len(peaks) < len(TASKS) else ""
    over = any(m > MEMORY_TARGET_MIB for m in peaks.values())
    h, tr = ours["hvp"], ours["trace"]

    out = [(f"every row of ours peaks within {MEMORY_TARGET_MIB} MiB resident (issue 22: on cnn1.2m)",
            ", ".join(f"{t} {m:.0f} MiB" for t, m in peaks.items()) + unmeasured,
            False if over else (None if unmeasured else True)),
           ("first HVP <= 1.5 x a later one",
            f"{h['first']:.3g} s vs {h['time']:.3g} s ({h['first'] / h['time']:.2f}x)" if ok(h) else "",
            h["first"] <= 1.5 * h["time"] if ok(h) else None),
           ("trace: error <= \\|value\\| (or a warning)",
            f"{tr['value']:.4g} ± {tr['error']:.2g}, {len(tr['warnings'])} warning(s)" if ok(tr) else "",
            (tr["error"] <= abs(tr["value"]) or bool(tr["warnings"])) if ok(tr) else None)]
    for task, what in (("explorer", "2-D slice (coarse grid)"), ("curve", "loss readout and marker")):
        ex = ours[task] or {}  # a row that timed out still carries what it measured before
        for name, key, limit, note in (
                ("constructor returns", "constructor", 10, ""),
                ("first 2-D slice", "first_slice", 30, f" (coarse; refined {sec(ex.get('refined_slice'))})"),
                (f"slowest of {MOVES} slider steps redrawn", "move_slice", 5,
                 f" ({what}; after the last step every panel in {sec(ex.get('move_all'))})")):
            value = ex.get(key)
            out.append((f"`{task}`: {name} <= {limit} s", "" if value is None else sec(value) + note,
                        None if value is None else value <= limit))
    return out


def render(results: dict, meta: dict) -> str:
    lines = ["# Reference case (issue 22): a CNN on real MNIST digits", "",
             f"`benchmarks/cnn.py{meta['args']}`, {meta['date']}, {meta['total']:.0f} s in all.", ""]
    lines += [f"- **{k}**: {v}" for k, v in meta["machine"].items()]
    lines += ["", "Each cell: wall time / peak resident memory of the row's own process (Python, torch, model, "
              "data and task; VmHWM), then what it computed. Ratios: the peer's time / ours "
              "(> 1: ours is faster); for `hvp` the later products. PyHessian's times include its constructor "
              "(the first gradient, with its graph). `explorer`: seconds from the call of `NullSpaceExplorer(ls)` on a "
              "fresh landscape (rashomon_widgets' lazy import of its widgets, done before, is not counted).", ""]
    for case, info in results.items():
        cfg, rows = CASES[case], info["rows"]
        lines += [f"## {case}: `mnist_cnn({cfg['channels']})`, {info['params']:,} parameters, {cfg['images']:,} "
                  f"images in {cfg['images'] // cfg['batch']} batch(es) of {cfg['batch']}", "",
                  f"Trained {TRAIN['epochs']} Adam epochs (batch {TRAIN['batch_size']}, lr {TRAIN['lr']}, seed "
                  f"{TRAIN['seed']}): train accuracy {info['train_accuracy']:.1%}, test accuracy (1,000 other "
                  f"images) {info['test_accuracy']:.1%}.", "",
                  "| task | " + " | ".join(NAMES.values()) + " | " + " | ".join(f"{NAMES[p]} / ours" for p in
                                                                               list(NAMES)[1:]) + " |",
                  "|---" * (2 * len(NAMES)) + "|"]
        for task in TASKS:
            cells = [cell(rows.get((lib, task))) if task in LIBS[lib] else "—" for lib in NAMES]
            ours = rows.get(("ours", task))
            ratios = [f"{rows[(p, task)]['time'] / ours['time']:.2f}x" if ok(ours) and ok(rows.get((p, task)))
                      and task not in ("explorer", "curve") else "" for p in list(NAMES)[1:]]
            lines.append(f"| `{task}` | " + " | ".join(cells + ratios) + " |")
        setup = [r["setup_mib"] for r in rows.values() if "setup_mib" in r]
        if setup:
            lines += ["", f"Resident memory once the model, the data (and our `Landscape`) are loaded, before the "
                      f"task: {min(setup):.0f} to {max(setup):.0f} MiB."]
        if ok(rows.get(("ours", "explorer"))):
            lines += ["", f"The explorer's status line at the end: `{rows[('ours', 'explorer')]['status']}`."]
        lines += ["", "| target (issue 22) | measured | |", "|---|---|---|"]
        for name, measured, met in targets(rows):
            verdict = "not measured" if met is None else ("**met**" if met else "**missed**")
            lines.append(f"| {name} | {measured} | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def machine_info(load_start: float) -> dict:
    import importlib.metadata as md
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    installed = {d.metadata["Name"].lower(): d.version for d in md.distributions()}
    peers = ", ".join(f"{name} {installed.get(name, 'missing')}"
                      for name in ("pyhessian", "curvlinops-for-pytorch", "loss-landscapes"))
    return {"CPU": f"{cpu}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}",
            "device (`--device`)": "CPU" if DEVICE.type == "cpu" else f"CUDA: {torch.cuda.get_device_name(DEVICE)}",
            "load average (1 min)": f"{load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end",
            "versions": f"Python {platform.python_version()}, torch {torch.__version__}, rashomon_widgets "
                        f"{rw.__version__}; {peers}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="cnn596k,cnn1.2m", help=f"comma-separated subset of {list(CASES)}")
    parser.add_argument("--only", default=",".join(LIBS),
                        help="comma-separated libraries or lib:task rows, e.g. ours:hvp,pyhessian (default: all)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a row may run before it is killed")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where models and data live")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the Markdown tables")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # lib:task: run one row here, print one JSON line
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False on this machine")
    global DEVICE
    DEVICE = torch.device(args.device)
    cases = [c.strip() for c in args.case.split(",") if c.strip()]
    if not cases or any(c not in CASES for c in cases):
        parser.error(f"--case: expected some of {list(CASES)}, got {args.case!r}")
    if args.row:
        return run_row(*args.row.split(":", 1), cases[0])

    rows = []
    for item in (i.strip() for i in args.only.split(",") if i.strip()):
        lib, _, task = item.partition(":")
        if lib not in LIBS or (task and task not in LIBS[lib]):
            parser.error(f"--only: unknown row {item!r}; libraries and tasks: {LIBS}")
        rows += [(lib, t) for t in ((task,) if task else LIBS[lib]) if (lib, t) not in rows]
    missing = sorted({lib for lib, _ in rows if lib != "ours" and not importlib.util.find_spec(lib.replace("-", "_"))})
    if missing:
        sys.exit(f"benchmarks/cnn.py: missing peer libraries {missing}: run `make bench-cnn`, which installs them "
                 "into benchmarks/.venv-peers")

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    results = {}
    for case in cases:
        saved = prepare(case)  # trains once, so that no row's time limit pays for it
        if ("ours", "curve") in rows:
            prepare(case, seed=1)  # the curve explorer's second model
        params = sum(t.numel() for t in saved["state"].values())
        results[case] = {"params": params, "train_accuracy": saved["train_accuracy"],
                         "test_accuracy": saved["test_accuracy"], "rows": {}}
        for lib, task in rows:
            log(f"[{case}] {lib}:{task} ...")
            r = results[case]["rows"][(lib, task)] = spawn(lib, task, case, args.timeout)
            log(f"[{case}] {lib}:{task}: {cell(r)}")
    meta = {"args": "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "machine": machine_info(load_start), "total": time.perf_counter() - start}
    md = render(results, meta)
    args.output.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
