"""Issue 22's reference case: a user's own CNN on real MNIST digits, ours against curvlinops, PyHessian and
loss-landscapes, with the wall time and the peak resident memory of every task.

How to run::

    make bench-cnn                                          # builds benchmarks/.venv-peers once, then runs this
    make bench-cnn BENCH_CNN_ARGS="--case tiny"             # a smoke run (a few minutes on 2 cores)
    benchmarks/.venv-peers/bin/python -m benchmarks.cnn --case cnn596k --only ours:hvp,pyhessian --timeout 600

from the repository root. This module is the command line and runs every row in a process of its own;
``cnn_case`` trains the case, ``cnn_tasks`` holds the rows, ``cnn_report`` writes the tables.

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
import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

import rashomon_widgets as rw

from . import cnn_tasks, timing
from .cnn_case import CASES, LOSS, load, prepare
from .cnn_report import cell, machine_info, render
from .cnn_tasks import LIBS, emit, peak_mib
from .timing import log

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results-cnn.md"


def run_row(lib: str, task: str, case: str) -> int:
    out = {"lib": lib, "task": task, "case": case, "threads": torch.get_num_threads()}
    try:
        model, data = load(case)
        inputs = (rw.Landscape(model, LOSS, data),) if lib == "ours" else (model, data)
        out["setup_mib"] = peak_mib()
        getattr(cnn_tasks, f"{lib.replace('-', '_')}_{task}")(*inputs, out)
    except Exception as exc:  # reported in the table, the other rows go on
        traceback.print_exc()
        out["failed"] = f"{type(exc).__name__}: {exc}"
    emit(out)
    return 1 if "failed" in out else 0


def spawn(lib: str, task: str, case: str, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.cnn", "--row", f"{lib}:{task}", "--case", case,
           "--device", timing.DEVICE.type]
    status = None
    try:
        stdout = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=timeout, cwd=REPO).stdout
    except subprocess.TimeoutExpired as exc:
        stdout, status = exc.stdout, f"timed out ({timeout:.0f} s)"
    lines = [line for line in (stdout or b"").decode().splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"failed": "no result (killed?)"}
    if status:
        result["failed"] = status
    return result


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
    timing.use_device(args.device)
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
        sys.exit(f"benchmarks.cnn: missing peer libraries {missing}: run `make bench-cnn`, which installs them "
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
