"""Side-by-side benchmarks: rashomon_widgets against PyHessian, curvlinops and loss-landscapes.

How to run::

    make bench                                   # builds benchmarks/.venv-peers once, then runs this
    benchmarks/.venv-peers/bin/python -m benchmarks.run --quick            # a smoke run (~1-2 min)
    benchmarks/.venv-peers/bin/python -m benchmarks.run --only xor,mlp     # a subset of the models

from the repository root. This module is the command line; the package ``benchmarks`` holds the rest, one
module per concept: ``timing``, ``cases``, ``references``, ``peers``, one module per benchmark (``floor``,
``eigs``, ``trace``, ``density``, ``grid``, ``memory``, ``estimates``, ``distributed``), ``rows`` and
``report``.

The peers (``benchmarks/requirements-peers.txt``) live in their own virtual environment
``benchmarks/.venv-peers``, never in the project's ``.venv``; ``make bench`` creates it with the CPU
torch of ``requirements.lock`` held by a constraint, and without torchvision.

Everything runs in one process, on the same models and data, with the same threads:

* ``xor``: ``models.xor_minimum()``, the 2-2-1 sigmoid XOR network (9 parameters, float64, sum of
  squares) at a global minimum;
* ``mlp``: ``models.digits_mlp()``, 64-128-128-10 tanh (26,122 parameters, float32), trained for 5
  Adam epochs on all 1797 sklearn digits with cross-entropy;
* ``resnet``: ``models.preresnet20()`` (272,282 parameters, float32, evaluation mode) after 10 Adam
  steps on ``data.synthetic_cifar(64)``, a fixed batch of 64 CIFAR-shaped images.

For each model it times (median of a few repeats after a warm-up, ``time.perf_counter``; the repeats
of a randomised method use seeds 0, 1, ... so its error is a median over seeds too), counts
Hessian-vector products (HVPs) and measures the error against a reference:

* ``eigs``: our top-5 Lanczos (Krylov-Schur, to relative accuracy 1e-5; ARPACK; cold and warm-started at a
  point 1% of |theta| away, top 5 and top 1; the products an oracle stop would spend) vs PyHessian
  ``eigenvalues(top_n=5)`` vs curvlinops ``HessianLinearOperator`` + scipy ``eigsh`` (ours' former settings,
  and the cheapest that reaches 1e-5);
* ``trace`` (Krylov-deflated Hutchinson by default, with its error estimate; also ``xtrace`` and
  ``hutch++``) vs PyHessian ``trace()`` and curvlinops' ``xtrace`` / ``hutchpp_trace``; each run's
  reported error is checked against the true error; ``density`` (deflated SLQ at its defaults, and
  plain SLQ) vs PyHessian ``density()``
  (PyHessian 0.1 calls the removed ``torch.eig``: patched here at run time to ``torch.linalg.eigh``),
  with the density's first moment checked against the reference trace;
* ``estimates``: on notebook 01's 2,410-parameter digits MLP (trained, and at initialisation where the
  Hessian has many negative eigenvalues), the density's first moment (seeds 0..9) and the trace estimates
  (seeds 0..19) against the exact trace of the dense Hessian, before (plain SLQ 10 x 80) and after;
* ``surface`` / ``losses`` on 21x21 and 41x41 planes vs loss-landscapes ``random_plane``;
* the cost floor: one forward, one HVP, and the fastest batched forward over all grid points;
* memory: RSS before and after 1,000 HVPs on the MLP;
* ``dask``: PreResNet20's 41x41 grid in one process against ``surface(executor=...)`` on a Dask
  ``LocalCluster`` of two worker processes (one torch thread each).

References: XOR: dense Hessian (``torch.func.hessian``) and ``eigh`` in float64. MLP and PreResNet20:
top-5 eigenvalues from ``eigsh`` with ``tol=1e-10, ncv=40`` on an independent double-backward operator
written here. The MLP's trace is exact: BackPACK's ``DiagHessian`` diagonal, spot-checked against
unit-vector HVPs (the sum over all 26,122 unit-vector HVPs agreed to 3e-8 but takes ~170 s);
PreResNet20's is a Hutch++ estimate with 600 HVPs, reported with its standard error. References are
cached in ``benchmarks/.cache/`` (gitignored), keyed by a fingerprint of parameters and data: the first
run spends about 4 more minutes on them.

Results go to ``benchmarks/results.md`` (a Markdown table with machine info) and to stdout.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import torch

from . import timing
from .cases import BUILDERS
from .density import bench_density
from .distributed import bench_distributed
from .eigs import bench_eigs
from .estimates import bench_estimates
from .floor import bench_floor
from .grid import bench_grid
from .memory import bench_memory
from .references import reference_eigs, reference_trace
from .report import machine_info, render
from .timing import log
from .trace import bench_trace

RESULTS = Path(__file__).resolve().parent / "results.md"


def require_peers() -> None:
    """Exit with a message when a peer library is missing (this interpreter is not benchmarks/.venv-peers)."""
    missing = []
    for module in ("pyhessian", "curvlinops", "loss_landscapes", "psutil"):
        try:
            __import__(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        sys.exit("benchmarks.run: missing peer libraries: " + ", ".join(missing)
                 + ". Run `make bench`, which installs them into benchmarks/.venv-peers.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repeats and small grids: a smoke run")
    parser.add_argument("--only", default="xor,mlp,resnet,estimates,dask",
                        help="comma-separated subset of xor,mlp,resnet,estimates (the 2,410-parameter study),"
                             "dask (PreResNet20's grid on two Dask workers)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the Markdown table")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where the xor/mlp/resnet models, data and products live (estimates and dask stay "
                             "on the CPU; loss-landscapes runs on a CPU copy, since it draws its directions there)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False on this machine")
    timing.use_device(args.device)
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in BUILDERS and k not in ("estimates", "dask")]
    if unknown:
        parser.error(f"--only: unknown model(s) {unknown}; expected some of "
                     f"{sorted(BUILDERS) + ['estimates', 'dask']}")
    require_peers()

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    sections = []
    for key in (k for k in keys if k in BUILDERS):
        log(f"[{key}] building the model ...")
        case = BUILDERS[key](args.quick).to(timing.DEVICE)
        ls = case.landscape()
        s = {"case": case, "rows": [], "grid_rows": [], "summary": {"grids": {}}}
        log(f"[{key}] floor ...")
        s["floor"] = bench_floor(case, ls)
        log(f"[{key}] references ...")
        ref_e, ref_t = reference_eigs(case), reference_trace(case)
        s["refs"] = (ref_e, ref_t)
        for name, fn in (("eigs", lambda: bench_eigs(case, ls, ref_e)),
                         ("trace", lambda: bench_trace(case, ls, ref_t)),
                         ("density", lambda: bench_density(case, ls, ref_e, ref_t))):
            log(f"[{key}] {name} ...")
            rows, s["summary"][name] = fn()
            s["rows"] += rows
        for res in case.grids:
            log(f"[{key}] {res}x{res} grid ...")
            rows, s["summary"]["grids"][res] = bench_grid(case, ls, res, s["floor"])
            s["grid_rows"] += rows
        if key == "mlp" and timing.DEVICE.type == "cpu":  # host RSS says nothing about GPU memory
            log(f"[{key}] memory ...")
            s["memory"] = bench_memory(case, ls, 100 if args.quick else 1000)
        sections.append(s)
        log(f"[{key}] done at {time.perf_counter() - start:.0f} s")

    estimates = bench_estimates(args.quick) if "estimates" in keys else []
    distributed = bench_distributed(args.quick) if "dask" in keys else []
    meta = {"args": "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
            "estimates": estimates, "distributed": distributed,
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "machine": machine_info(), "total": time.perf_counter() - start,
            "load": (load_start, os.getloadavg()[0])}
    md = render(sections, meta)
    args.output.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
