"""Side-by-side benchmarks: rashomon_widgets against PyHessian, curvlinops and loss-landscapes.

How to run::

    make bench                                   # builds benchmarks/.venv-peers once, then runs this
    benchmarks/.venv-peers/bin/python benchmarks/run.py --quick            # a smoke run (~1-2 min)
    benchmarks/.venv-peers/bin/python benchmarks/run.py --only xor,mlp     # a subset of the models

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
import contextlib
import copy
import datetime
import gc
import hashlib
import json
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from scipy.sparse.linalg import LinearOperator, eigsh
from torch.func import functional_call

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import rashomon_widgets as rw
from rashomon_widgets.core.curvature import _lanczos, _random, spectral_density

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results.md"
TOP_K = 5
#: where the models, data and products live (``--device``); the spectral-estimate study and the Dask rows
#: always run on the CPU
DEVICE = torch.device("cpu")


def sync() -> None:
    """Wait for the device's queued work, so that a timer stops when the work is done (CUDA is asynchronous)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# ===================================================================================== timing helpers
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


def seeded_runs(fn, *, repeats: int, warmup: int = 1, after=None):
    """``fn(seed)`` for the randomised estimators: ``warmup`` untimed calls (seeds 1000, ...), then one timed
    call per seed 0 .. repeats - 1. Returns (median seconds, [results]): the repeats of the timing also
    sample the estimator's randomness, so errors are reported as medians over seeds. ``after(seed,
    result)``, if given, post-processes each result outside the timed region."""
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
        results.append(after(seed, result) if after else result)
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
    def __init__(self):
        self.n = 0


# ===================================================================================== models and data
class LossModule(nn.Module):
    """A loss function as an ``nn.Module`` with the ``reduction`` attribute curvlinops reads; every
    library gets the same one. (The package's losses spell squares out: ``nn.MSELoss`` fails under
    ``torch.func.jvp(grad(...))`` on torch 2.13, which curvlinops uses)."""

    def __init__(self, fn, reduction: str):
        super().__init__()
        self.fn, self.reduction = fn, reduction

    def forward(self, outputs, targets):
        return self.fn(outputs, targets)


@dataclass
class Case:
    """One model, its loss (an ``nn.Module`` with ``reduction``: every library gets the same one) and data."""

    key: str
    title: str
    model: nn.Module
    loss: nn.Module
    X: torch.Tensor
    y: torch.Tensor
    repeats: int
    warmup: int
    grids: tuple[int, ...]
    grid_repeats: int
    density_steps: int
    trace_products: int

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for t in [*self.model.state_dict().values(), self.X, self.y]:
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        h.update(torch.__version__.encode())
        return h.hexdigest()[:16]

    def to(self, device: torch.device) -> "Case":
        """The same case with its model and data on ``device`` (built and trained on the CPU first)."""
        self.model.to(device)
        self.X, self.y = self.X.to(device), self.y.to(device)
        return self

    def landscape(self) -> rw.Landscape:
        return rw.Landscape(self.model, self.loss, (self.X, self.y), reduction=self.loss.reduction)

    def peer_model(self) -> nn.Module:
        """A private copy for a peer library (PyHessian writes ``.grad``; loss-landscapes moves weights)."""
        return copy.deepcopy(self.model).eval()


def build_xor(quick: bool) -> Case:
    model = rw.models.xor_minimum(seed=0)  # sigmoid 2-2-1, float64, sum of squares < 1e-10
    X, y = rw.data.xor(torch.float64)
    return Case("xor", "XOR 2-2-1 (`models.xor_minimum()`: sigmoid, sum of squares, float64, at a global "
                "minimum)", model, LossModule(rw.models.sum_of_squares, "sum"), X, y,
                repeats=3 if quick else 7, warmup=1, grids=(21, 41), grid_repeats=3 if quick else 7,
                density_steps=9, trace_products=18)


def build_mlp(quick: bool) -> Case:
    split = rw.data.digits(seed=0)
    X, y = torch.cat([split.train[0], split.test[0]]), torch.cat([split.train[1], split.test[1]])
    model = rw.models.digits_mlp(seed=0)  # 64-128-128-10, tanh, float32
    rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=5, batch_size=64, lr=3e-3, seed=0)
    return Case("mlp", "Digits MLP 64-128-128-10 (`models.digits_mlp()`: tanh, cross-entropy, float32, all "
                "1797 digits, 5 Adam epochs)", model, LossModule(rw.models.cross_entropy, "mean"), X, y,
                repeats=2 if quick else 5, warmup=1, grids=(21, 41), grid_repeats=1 if quick else 3,
                density_steps=100, trace_products=40)


def build_resnet(quick: bool) -> Case:
    X, y = rw.data.synthetic_cifar(64, seed=0)
    model = rw.models.preresnet20(seed=0)
    # a few full-batch steps, so that BatchNorm's running statistics are not the defaults
    rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=10, lr=1e-3, seed=0)
    return Case("resnet", "PreResNet20 (`models.preresnet20()`: cross-entropy, float32, eval mode, "
                "`data.synthetic_cifar(64)`, 10 Adam steps)", model, LossModule(rw.models.cross_entropy, "mean"),
                X, y, repeats=1, warmup=0, grids=(11,) if quick else (21,), grid_repeats=1,
                density_steps=20 if quick else 30, trace_products=40)


BUILDERS = {"xor": build_xor, "mlp": build_mlp, "resnet": build_resnet}


# ===================================================================================== references
class ReferenceHessian:
    """Exact H v by double backward through a plain ``functional_call``, written here independently of
    rashomon_widgets' HVP code, with the gradient graph kept for all products; used only for references."""

    def __init__(self, case: Case):
        self.model = case.peer_model()
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.theta = torch.cat([p.detach().reshape(-1) for _, p in named])
        self.case = case
        self.t = self.theta.clone().requires_grad_(True)
        (self.g,) = torch.autograd.grad(self.loss_at(self.t), self.t, create_graph=True)

    def loss_at(self, t):
        params = {n: c.view(s) for n, c, s in zip(self.names, torch.split(t, self.numels), self.shapes)}
        return self.case.loss(functional_call(self.model, params, (self.case.X,)), self.case.y)

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        return torch.autograd.grad(self.g, self.t, grad_outputs=v, retain_graph=True)[0].detach()

    def dense(self) -> torch.Tensor:
        h = torch.func.hessian(self.loss_at)(self.theta.detach())
        return (h + h.T) / 2


def _cache(case: Case, name: str, compute):
    """``compute()`` (a JSON-able dict), cached in benchmarks/.cache/ under the case's fingerprint."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{case.key}-{name}-{case.fingerprint()}.json"
    if path.exists():
        out = json.loads(path.read_text())
        out["cached"] = True
        return out
    start = time.perf_counter()
    out = compute()
    out["seconds"] = time.perf_counter() - start
    path.write_text(json.dumps(out, indent=1))
    out["cached"] = False
    return out


def reference_eigs(case: Case) -> dict:
    def compute():
        ref = ReferenceHessian(case)
        if case.num_params <= 64:
            values = torch.linalg.eigvalsh(ref.dense().double())
            return {"values": values.flip(0)[:TOP_K].tolist(), "how": "dense Hessian (torch.func.hessian), "
                    "eigh in float64"}
        p, count = case.num_params, Counter()

        def matvec(x):
            count.n += 1
            v = torch.as_tensor(np.ascontiguousarray(x).reshape(p), dtype=ref.theta.dtype, device=ref.theta.device)
            return ref.matvec(v).double().cpu().numpy()

        v0 = np.random.default_rng(12345).standard_normal(p)
        values = eigsh(LinearOperator((p, p), matvec=matvec, dtype=np.float64), k=TOP_K, which="LA",
                       tol=1e-10, ncv=40, v0=v0, return_eigenvectors=False)
        return {"values": sorted(values.tolist(), reverse=True), "hvps": count.n,
                "how": "scipy eigsh (tol=1e-10, ncv=40) on an independent double-backward HVP"}

    return _cache(case, "eigs", compute)


def reference_trace(case: Case) -> dict:
    def compute():
        ref = ReferenceHessian(case)
        p = case.num_params
        if p <= 64:
            return {"value": float(torch.diagonal(ref.dense()).sum()), "stderr": 0.0,
                    "how": "exact: dense Hessian diagonal"}
        if case.key == "mlp":
            return _exact_trace_backpack(case, ref)
        # Hutch++ with many products: exact trace on the dominant subspace, Hutchinson on the rest
        n = 600
        g = torch.Generator().manual_seed(777)

        def rademacher(k):
            return torch.randint(0, 2, (p, k), generator=g).to(ref.theta.device, ref.theta.dtype) * 2 - 1

        done = Counter()

        def hv(v):
            done.n += 1
            if done.n % 100 == 0:
                log(f"[{case.key}]   reference trace: {done.n}/{n} HVPs (once; cached afterwards)")
            return ref.matvec(v.contiguous())

        S = rademacher(n // 3)
        Q, _ = torch.linalg.qr(torch.stack([hv(s) for s in S.T], 1))
        exact_part = sum(float(q @ hv(q)) for q in Q.T)
        G = rademacher(n - 2 * (n // 3))
        G = G - Q @ (Q.T @ G)
        samples = np.array([float(z @ hv(z)) for z in G.T])
        return {"value": exact_part + samples.mean(), "stderr": samples.std(ddof=1) / np.sqrt(len(samples)),
                "hvps": n, "how": f"Hutch++ with {n} HVPs (independent implementation, seed 777)"}

    return _cache(case, "trace", compute)


def _exact_trace_backpack(case: Case, ref: ReferenceHessian, checks: int = 128) -> dict:
    """The exact Hessian diagonal of the MLP from BackPACK's ``DiagHessian`` (exact for Linear/Tanh/
    cross-entropy stacks, one backward pass), spot-checked against unit-vector HVPs. (Summing the
    diagonal from all 26,122 unit-vector HVPs takes ~170 s here and agreed with it to 3e-8)."""
    from backpack import backpack, extend
    from backpack.extensions import DiagHessian

    model = extend(case.peer_model())
    loss = extend(nn.CrossEntropyLoss())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "full backward hook is firing ... no inputs require gradients"
        with backpack(DiagHessian()):
            loss(model(case.X), case.y).backward()
    diag = torch.cat([p.diag_h.reshape(-1) for p in model.parameters()]).double()
    idx = torch.randperm(len(diag), generator=torch.Generator().manual_seed(0))[:checks]
    e, worst = torch.zeros(len(diag), dtype=ref.theta.dtype, device=ref.theta.device), 0.0
    floor = 1e-12 * float(diag.abs().max())
    for i in idx.tolist():
        e[i] = 1
        worst = max(worst, abs(float(ref.matvec(e)[i]) - float(diag[i])) / (abs(float(diag[i])) + floor))
        e[i] = 0
    return {"value": float(diag.sum()), "stderr": 0.0,
            "how": f"exact: BackPACK `DiagHessian` diagonal sum; {checks} random diagonal entries checked "
                   f"against unit-vector HVPs (max rel. difference {worst:.1e})"}


def eig_error(values, ref_values) -> float:
    """Max over the top-k of |lambda_i - lambda_i*| / |lambda_i*|, both sorted descending. A reference
    eigenvalue below 1e-6 * lambda_max (a zero eigenvalue, as at XOR's minimum) is measured relative to
    lambda_max instead."""
    values = sorted((float(v) for v in values), reverse=True)[:len(ref_values)]
    lam_max = abs(ref_values[0])
    return max(abs(v - r) / (abs(r) if abs(r) >= 1e-6 * lam_max else lam_max)
               for v, r in zip(values, ref_values))


def oracle_products(ls: rw.Landscape, k: int, ref_values, num_steps: int, *, seed: int = 0, theta=None,
                    start=None, tol: float = 1e-5) -> int | None:
    """The first product after which Lanczos from ``eigs``' own start vector (Rademacher of ``seed``, or
    the sum of ``start``'s columns) holds the top ``k`` eigenvalues within ``tol`` of ``ref_values``
    (:func:`eig_error`): what ours would spend if its stopping rule knew the answer. One run of the
    package's recurrence (``density.lanczos``: full reorthogonalisation, here in float64, no restart) of
    ``num_steps`` products; the m-step Lanczos matrix is the leading m x m block of its tridiagonal, so
    every m is checked from that one run. Whatever ours spends beyond the answer is the price of a rule
    that must decide from the products alone; a target below it needs a different start or method, not a
    better stopping rule. None if ``num_steps`` products are not enough."""
    p = ls.num_params
    v0 = (_random.rademacher((p,), seed=seed, dtype=torch.float64, device="cpu").to(ls.device)
          if start is None else start.reshape(p, -1).sum(1).to(torch.float64))
    with ls.hessian_operator(theta) as op:
        alpha, beta = _lanczos.lanczos(lambda v: op.matvec(v.to(ls.dtype)).to(torch.float64), v0[:, None],
                                       min(num_steps, p))
    alpha, beta = alpha[0], beta[0]
    breakdown = (beta == 0).nonzero()  # an invariant subspace: the run stopped there
    length = int(breakdown[0]) + 1 if len(breakdown) else len(alpha)
    for m in range(k, length + 1):
        ritz = torch.linalg.eigvalsh(_lanczos.tridiagonal(alpha[:m], beta[:m - 1]))
        if eig_error(ritz.flip(0)[:k].tolist(), ref_values[:k]) <= tol:
            return m
    return None


# ===================================================================================== peers
def _eig_via_eigh(T, eigenvectors=False):
    """Stand-in for the removed ``torch.eig`` that PyHessian 0.1's ``density()`` calls: the Lanczos
    matrix is symmetric, so ``eigh`` is exact; values are returned as (n, 2) (real, imaginary)."""
    values, vectors = torch.linalg.eigh(T)
    return torch.stack([values, torch.zeros_like(values)], 1), vectors


@contextlib.contextmanager
def pyhessian_session(case: Case, counter: Counter):
    """PyHessian with an HVP counter, the ``torch.eig`` patch, and the model's default dtype (PyHessian
    draws its random vectors with ``torch.randn`` in the default dtype)."""
    import pyhessian  # noqa: F401 -- imported for its side effect: its __init__ loads pyhessian.hessian
    ph = sys.modules["pyhessian.hessian"]
    original_hvp = ph.hessian_vector_product

    def counting_hvp(gradsH, params, v):
        counter.n += 1
        return original_hvp(gradsH, params, v)

    ph.hessian_vector_product = counting_hvp
    original_eig = getattr(torch, "eig", None)  # torch 2.x keeps a stub that raises
    torch.eig = _eig_via_eigh
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(case.X.dtype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # create_graph=True backward warns of a reference cycle
            yield ph
    finally:
        ph.hessian_vector_product = original_hvp
        if original_eig is None:
            del torch.eig
        else:
            torch.eig = original_eig
        torch.set_default_dtype(default_dtype)


def pyhessian_call(case: Case, model: nn.Module, method: str, *, seed: int, **kwargs):
    """``pyhessian.hessian(model, ...).<method>(**kwargs)`` with torch seeded; returns (result, HVP count)."""
    counter = Counter()
    with pyhessian_session(case, counter) as ph:
        torch.manual_seed(seed)
        model.zero_grad(set_to_none=True)  # its backward(create_graph=True) accumulates into .grad
        comp = ph.hessian(model, case.loss, data=(case.X, case.y), cuda=DEVICE.type == "cuda")
        result = getattr(comp, method)(**kwargs)
        del comp
        model.zero_grad(set_to_none=True)  # frees the graph PyHessian leaves in .grad
    return result, counter.n


def curvlinops_eigs(case: Case, model: nn.Module, *, tol: float, ncv: int, v0: np.ndarray):
    from curvlinops import HessianLinearOperator
    params = [p for p in model.parameters() if p.requires_grad]
    H = HessianLinearOperator(model, case.loss, params, [(case.X, case.y)], check_deterministic=False,
                              num_data=len(case.X)).to_scipy(dtype=np.float64)
    counter = Counter()

    def matvec(x):
        counter.n += 1
        return H.matvec(x)

    lin = LinearOperator(H.shape, matvec=matvec, dtype=np.float64)
    values = eigsh(lin, k=TOP_K, which="LA", tol=tol, ncv=ncv, v0=v0, return_eigenvectors=False)
    return sorted(values.tolist(), reverse=True), counter.n


def loss_landscapes_plane(case: Case, model: nn.Module, steps: int):
    """loss-landscapes' ``random_plane`` (filter-normalised, distance 1); returns (grid, points evaluated)."""
    import loss_landscapes
    import loss_landscapes.metrics

    counter = Counter()

    class CountingLoss(loss_landscapes.metrics.Loss):
        def __call__(self, model_wrapper):
            counter.n += 1
            return super().__call__(model_wrapper)

    torch.manual_seed(0)
    grid = loss_landscapes.random_plane(model, CountingLoss(case.loss, case.X, case.y), distance=1,
                                        steps=steps, normalization="filter", deepcopy_model=True)
    return grid, counter.n


# ===================================================================================== comparisons
def row(task, method, wall=None, hvps=None, error=None, ratio=None, notes="") -> dict:
    return {"task": task, "method": method, "wall": wall, "hvps": hvps, "error": error, "ratio": ratio,
            "notes": notes}


def bench_floor(case: Case, ls: rw.Landscape) -> dict:
    """Median times of one plain forward (``no_grad``) and of one HVP: ``ls.hvp`` (builds the gradient graph
    each call) and a product inside ``hessian_operator`` (graph reused, as eigs/trace/density do)."""
    model = case.peer_model()
    with torch.no_grad():
        t_fwd = median_time(lambda: model(case.X))
        t_fwd_loss = median_time(lambda: case.loss(model(case.X), case.y))
    v = torch.randn(ls.num_params, generator=torch.Generator().manual_seed(0), dtype=ls.dtype).to(ls.device)
    few = {"min_runs": 3, "max_runs": 3} if case.key == "resnet" else {"max_runs": 20}
    t_hvp = median_time(lambda: ls.hvp(v), **few)
    with ls.hessian_operator() as op:
        t_hvp_reuse = median_time(lambda: op.matvec(v), **few)
    return {"forward": t_fwd, "forward_loss": t_fwd_loss, "hvp": t_hvp, "hvp_reuse": t_hvp_reuse,
            "hvp_form": ls.hvp_form()}


def vmap_floor(case: Case, thetas: torch.Tensor) -> float | None:
    """Seconds for one ``torch.vmap`` (chunked to ~256 MiB of activations) of a plain functional loss over
    all points; None for PreResNet20, where it would cost as much as the grid itself and cannot beat
    the loop of forwards on a CPU."""
    if case.key == "resnet":
        return None
    model = case.peer_model()
    named = list(model.named_parameters())
    names, shapes, numels = [n for n, _ in named], [p.shape for _, p in named], [p.numel() for _, p in named]

    def loss_at(t):
        params = {n: c.view(s) for n, c, s in zip(names, torch.split(t, numels), shapes)}
        return case.loss(functional_call(model, params, (case.X,)), case.y)

    # activations of one point: samples x (inputs + every layer's outputs), at most 8 bytes each
    per_point = 8 * case.X.shape[0] * (case.X[0].numel() + sum(p.shape[0] for _, p in named if p.ndim == 2))
    chunk = int(max(1, min(len(thetas), 256 * 2**20 // per_point)))
    with torch.no_grad():
        return median_time(lambda: torch.vmap(loss_at, chunk_size=chunk)(thetas), min_runs=3, max_runs=7)


#: eigsh settings for curvlinops' operator: the ones ours used to pass (ARPACK's residual tol 1e-6, ncv 20), and
#: the cheapest found on these two models that still reaches relative error 1e-5 (a loose residual tol; ncv
#: 11-12 missed an eigenvalue on PreResNet20)
EIGSH_SETTINGS = {"curvlinops": (1e-6, 20), "curvlinops_loose": (1e-3, 2 * TOP_K + 3)}
#: how far the warm start's nearby point is: a step of this share of |theta| along a random unit direction
WARM_STEP = 0.01


def bench_eigs(case: Case, ls: rw.Landscape, ref: dict) -> tuple[list[dict], dict]:
    """Top-5 eigenvalues: ours (Krylov-Schur Lanczos to relative accuracy 1e-5; ARPACK; warm-started at a
    nearby point), PyHessian (power iteration), curvlinops (+ scipy eigsh at two settings)."""
    p, ref_values, kw = ls.num_params, ref["values"], {"repeats": case.repeats, "warmup": case.warmup}
    rows, summary = [], {}

    def add(name, method, fn, notes, *, error=True, task="top-5 eigenvalues"):
        wall, results = seeded_runs(fn, **kw)  # each result: (eigenvalues, HVP count)
        summary[name] = {"wall": wall, "hvps": med_low(h for _, h in results),
                         "max_hvps": max(h for _, h in results),
                         "error": med(eig_error(v, ref_values) for v, _ in results) if error else None}
        ratio = None if name == "ours" else wall / summary["ours"]["wall"]
        rows.append(row(task, method, wall, summary[name]["hvps"], summary[name]["error"], ratio, notes))

    def ours(seed, method="lanczos", **options):
        pairs = ls.eigs(TOP_K, which="largest", method=method, seed=seed, **options)
        return pairs.values.tolist(), pairs.num_products

    add("ours", "**ours** `eigs(5, method='lanczos', tol=1e-5)`", lambda seed: ours(seed, tol=1e-5),
        "Krylov-Schur Lanczos, stops when every eigenvalue's error bound min(ρ, ρ²/gap) <= 1e-5 |θ|")
    add("ours_arpack", "ours `eigs(5, method='lanczos', solver='arpack')`",
        lambda seed: ours(seed, solver="arpack", tol=1e-6),
        f"scipy eigsh, tol=1e-6, ncv={min(p, 20)}: the former default")
    # ours' largest count, and a few more, always hold the oracle's stop (Lanczos without restarts gets there first)
    steps = 3 + summary["ours"]["max_hvps"]
    oracles = [oracle_products(ls, TOP_K, ref_values, steps, seed=seed) for seed in range(case.repeats)]
    summary["oracle"] = {"hvps": med_low(n for n in oracles if n is not None)}
    rows.append(row("top-5 eigenvalues", "ours' Lanczos, stopped by an oracle", hvps=summary["oracle"]["hvps"],
                    notes="the same start vectors, stopped at the first product whose Ritz values are within 1e-5 "
                    "of the reference: what ours would spend if its stopping rule knew the answer (products only)"))
    if p <= 64:
        add("ours_dense", "ours `eigs(5)` (auto: dense `eigh`)", lambda seed: ours(seed, "auto"),
            "what `method='auto'` picks for P <= 32")

    # warm start: at theta + step, from the eigenvectors at theta, against a cold start at the same point; for
    # the top 5 and for the top eigenvalue alone (the sharpness)
    direction = torch.randn(p, generator=torch.Generator().manual_seed(0), dtype=ls.dtype).to(ls.device)
    nearby = ls.theta + WARM_STEP * float(ls.theta.norm()) * direction / direction.norm()
    # the reference there by the other method: ARPACK at a residual tolerance of 1e-10
    near_ref = ls.eigs(TOP_K, theta=nearby, method="lanczos", solver="arpack", tol=1e-10)[0].tolist()
    for k, suffix in ((TOP_K, ""), (1, "_k1")):
        start = ls.eigs(k, method="lanczos", tol=1e-5)[1]

        def at_nearby(seed, warm, k=k, start=start):
            pairs = ls.eigs(k, theta=nearby, method="lanczos", tol=1e-5, seed=seed, start=start if warm else None)
            return pairs.values.tolist(), pairs.num_products

        for name, warm in ((f"nearby_cold{suffix}", False), (f"nearby_warm{suffix}", True)):
            add(name, f"ours `eigs({k})` at a point {WARM_STEP:g} |θ| away, {'warm-started' if warm else 'cold'}",
                lambda seed, w=warm, f=at_nearby: f(seed, w),
                ("`start=` the eigenvectors at θ" if warm else "random start vector")
                + "; error against ARPACK (tol=1e-10) there", error=False,
                task="top-5 eigenvalues" if k == TOP_K else "top eigenvalue")
            summary[name]["error"] = eig_error(at_nearby(0, warm)[0], near_ref[:k])
            rows[-1]["error"] = summary[name]["error"]
            summary[name]["oracle"] = oracle_products(ls, k, near_ref, 3 + summary[name]["hvps"], theta=nearby,
                                                      start=start if warm else None)
            rows[-1]["notes"] += f"; an oracle stop: {summary[name]['oracle']} HVPs (seed 0)"
    model = case.peer_model()

    def pyhessian(seed):
        (values, _), hvps = pyhessian_call(case, model, "eigenvalues", seed=seed, top_n=TOP_K)
        return values, hvps

    add("pyhessian", "PyHessian `eigenvalues(top_n=5)`", pyhessian,
        "power iteration + deflation, its defaults maxIter=100, tol=1e-3")

    for name, (tol, ncv) in EIGSH_SETTINGS.items():
        ncv = min(p, ncv)

        def curvlinops(seed, tol=tol, ncv=ncv):
            v0 = _random.rademacher((p,), seed=seed, dtype=torch.float64, device="cpu").numpy()
            return curvlinops_eigs(case, model, tol=tol, ncv=ncv, v0=v0)

        add(name, f"curvlinops `HessianLinearOperator` + `eigsh(tol={tol:g}, ncv={ncv})`", curvlinops,
            "ours' former eigsh settings" if name == "curvlinops" else "the cheapest eigsh setting found that "
            "still reaches 1e-5 on both models")
    return rows, summary


def _trace_summary(results, exact: float) -> dict:
    """Errors of ``[(estimate, HVPs, reported error or None)]`` against ``exact``: median and max relative
    error, the median reported error (relative), and in how many runs the reported error covered the truth."""
    errs = [abs(e - exact) / abs(exact) for e, _, _ in results]
    reported = [(abs(e - exact), r) for e, _, r in results if r is not None]
    return {"hvps": med_low(h for _, h, _ in results), "error": med(errs), "max_error": max(errs),
            "reported": med(r / abs(exact) for _, r in reported) if reported else None,
            "covered": sum(err <= r for err, r in reported), "runs": len(results),
            "estimate": med(e for e, _, _ in results)}


def _trace_note(summary: dict) -> str:
    note = f"median estimate {summary['estimate']:.6g}; max rel. error {summary['max_error']:.1e}"
    if summary["reported"] is None:
        return note + "; no error estimate"
    return (note + f"; reported error (95%) median {summary['reported']:.1e}, covers the true error in "
            f"{summary['covered']}/{summary['runs']} runs")


def curvlinops_trace(case: Case, model: nn.Module, name: str, num_matvecs: int, *, seed: int):
    """curvlinops' ``xtrace`` / ``hutchpp_trace`` (curvlinops 3: functions of its PyTorch Hessian operator),
    torch seeded; returns (estimate, HVP count), or None when this curvlinops has no such function."""
    import curvlinops
    fn = getattr(curvlinops, name, None)
    if fn is None:
        return None
    params = [p for p in model.parameters() if p.requires_grad]
    H = curvlinops.HessianLinearOperator(model, case.loss, params, [(case.X, case.y)], check_deterministic=False,
                                         num_data=len(case.X))
    counter, matmat = Counter(), H._matmat

    def counting(X):  # X: one tensor per parameter, of shape [*param.shape, K]
        counter.n += X[0].shape[-1]
        return matmat(X)

    H._matmat = counting
    num_matvecs -= num_matvecs % (3 if name == "hutchpp_trace" else 2)  # its divisibility requirements
    torch.manual_seed(seed)
    return float(fn(H, num_matvecs)), counter.n


def bench_trace(case: Case, ls: rw.Landscape, ref: dict) -> tuple[list[dict], dict]:
    """Trace: ours (Krylov-deflated Hutchinson by default, with its error estimate; XTrace; Hutch++) vs
    PyHessian (Hutchinson with its early stop) and curvlinops' XTrace / Hutch++ (no error estimates); ours
    again at PyHessian's budget. Each run's reported error is checked against the true error."""
    exact, kw = ref["value"], {"repeats": case.repeats, "warmup": case.warmup}
    rows, summary = [], {}

    def add(name, method, fn, notes=""):
        wall, results = seeded_runs(fn, **kw)  # each result: (estimate, HVP count, reported error or None)
        if any(r is None for r in results):
            return
        summary[name] = {"wall": wall, **_trace_summary(results, exact)}
        ratio = None if name == "ours" else wall / summary["ours"]["wall"]
        rows.append(row("trace", method, wall, summary[name]["hvps"], summary[name]["error"], ratio,
                        (notes + "; " if notes else "") + _trace_note(summary[name])))

    def ours(seed, method="auto", n=case.trace_products):
        t = ls.trace(method=method, num_products=n, seed=seed)
        return float(t), t.num_products, t.error

    n = case.trace_products
    add("ours", f"**ours** `trace(num_products={n})`", ours,
        "auto: exact for P <= 1,024" if case.num_params <= 1024 else "auto: Krylov-deflated Hutchinson")
    for method in ("krylov", "xtrace", "hutch++"):
        if case.num_params <= 1024 or method != "krylov":
            add(f"ours_{method}", f"ours `trace(method='{method}', num_products={n})`",
                lambda seed, m=method: ours(seed, m))
    model = case.peer_model()

    def pyhessian(seed):
        samples, hvps = pyhessian_call(case, model, "trace", seed=seed)
        return float(np.mean(samples)), hvps, None

    add("pyhessian", "PyHessian `trace()`", pyhessian,
        "Hutchinson; stops once the running mean moves < 1e-3 (HVPs: median over seeds)")
    if n < case.num_params:  # curvlinops' xtrace needs fewer products than the dimension
        for name in ("xtrace", "hutchpp_trace"):
            def peer(seed, name=name):
                out = curvlinops_trace(case, model, name, n, seed=seed)
                return None if out is None else (*out, None)
            add(f"curvlinops_{name}", f"curvlinops `{name}(H, {n - n % (3 if name == 'hutchpp_trace' else 2)})`", peer)
    budget = max(4, int(round(summary["pyhessian"]["hvps"] / 2)) * 2)
    if case.num_params > 1024 and budget != n:
        add("ours_budget", f"ours `trace(num_products={budget})`", lambda seed: ours(seed, n=budget),
            "PyHessian's median HVP count")
    return rows, summary


def bench_density(case: Case, ls: rw.Landscape, ref_eigs: dict, ref_trace: dict) -> tuple[list[dict], dict]:
    """Density: ours at its defaults (deflated SLQ, 800 HVPs) and plain SLQ with one start vector and the same
    number of Lanczos steps in both libraries. Errors: the largest node against lambda_max, and the
    quadrature's trace (P * sum w_i theta_i, the density's first moment) against the reference trace; ours
    reports an error for the latter, checked against the truth."""
    steps, p, kw = min(case.density_steps, ls.num_params), ls.num_params, {"repeats": case.repeats,
                                                                          "warmup": case.warmup}
    lam, tr = ref_eigs["values"][0], ref_trace["value"]
    rows, summary = [], {}

    def add(name, method, fn):
        wall, results = seeded_runs(fn, **kw)  # each result: (nodes, weights, HVP count, reported error)
        top = [abs(np.max(nd) - lam) / abs(lam) for nd, _, _, _ in results]
        first = [(abs(p * np.dot(w, nd) - tr), r) for nd, w, _, r in results]
        summary[name] = {"wall": wall, "hvps": med_low(h for _, _, h, _ in results), "error": med(top),
                         "trace_error": med(e / abs(tr) for e, _ in first),
                         "max_trace_error": max(e / abs(tr) for e, _ in first)}
        note = (f"first moment vs trace: median rel. error {summary[name]['trace_error']:.2g} "
                f"(max {summary[name]['max_trace_error']:.2g})")
        if results[0][3] is not None:
            covered = sum(e <= r for e, r in first)
            summary[name]["covered"] = covered
            note += f"; reported error covers it in {covered}/{len(first)} runs"
        ratio = None if name == "ours" else wall / summary["ours"]["wall"]
        rows.append(row("density (SLQ)", method, wall, summary[name]["hvps"], summary[name]["error"], ratio, note))

    def ours(seed, **kwargs):
        d = ls.density(seed=seed, **kwargs)
        return d.nodes, d.weights, d.num_products, d.trace.error

    model = case.peer_model()

    def pyhessian(seed, n_v=1, iters=steps):
        (nodes, weights), hvps = pyhessian_call(case, model, "density", seed=seed, iter=iters, n_v=n_v)
        return np.concatenate(nodes), np.concatenate(weights) / n_v, hvps, None

    if case.key == "resnet":  # 800 products a seed are minutes on a CPU here: a smaller deflated run
        defaults = {"deflation_steps": 2 * steps, "num_vectors": 4, "num_steps": steps // 2}
        add("ours", f"**ours** `density(deflation_steps={2 * steps}, num_vectors=4, num_steps={steps // 2})`",
            lambda seed: ours(seed, **defaults))
    else:
        add("ours", "**ours** `density()` (deflated SLQ, defaults)", ours)
        add("pyhessian_budget", "PyHessian `density(iter=80, n_v=10)` (our former default, 800 HVPs)",
            lambda seed: pyhessian(seed, 10, min(80, p)))
    add("ours_plain", f"ours `density(num_vectors=1, num_steps={steps}, deflation_steps=0)` (plain SLQ)",
        lambda seed: ours(seed, num_vectors=1, num_steps=steps, deflation_steps=0))
    add("pyhessian", f"PyHessian `density(iter={steps}, n_v=1)` (patched `torch.eig`)", pyhessian)
    return rows, summary


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
    ll_case = case if DEVICE.type == "cpu" else copy.deepcopy(case).to(torch.device("cpu"))
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


def bench_memory(case: Case, ls: rw.Landscape, n: int) -> dict:
    """Resident memory (MiB, after ``gc.collect()``) before and after ``n`` HVPs: ``ls.hvp`` calls, then
    products inside one ``hessian_operator`` block, and after leaving the block."""
    import psutil
    proc = psutil.Process()
    v = torch.randn(ls.num_params, generator=torch.Generator().manual_seed(0), dtype=ls.dtype).to(ls.device)

    def rss():
        gc.collect()
        return proc.memory_info().rss / 2**20

    out = {"n": n}
    for _ in range(10):
        ls.hvp(v)
    out["hvp_before"] = rss()
    for _ in range(n):
        ls.hvp(v)
    out["hvp_after"] = rss()
    with ls.hessian_operator() as op:
        op.matvec(v)
        out["op_before"] = rss()
        for _ in range(n):
            op.matvec(v)
        out["op_after"] = rss()
    out["op_exit"] = rss()
    return out


# ===================================================================================== spectral estimates
def build_small_mlps() -> list[Case]:
    """Notebook 01's ``RASHOMON_SMALL`` model: ``digits_mlp((32,))`` (64-32-10 tanh, 2,410 parameters, float32,
    cross-entropy on the 1,437 training digits), trained for 80 full-batch Adam epochs; and the same network
    at its initialisation, away from any minimum (a Hessian with many negative eigenvalues)."""
    split = rw.data.digits()
    (X, y), out = split.train, []
    for key, epochs in (("mlp2k", 80), ("mlp2k-init", 0)):
        model = rw.models.digits_mlp((32,), seed=0)
        if epochs:
            rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=epochs, lr=1e-2, seed=0)
        title = "trained (80 Adam epochs)" if epochs else "at initialisation"
        out.append(Case(key, f"digits MLP 64-32-10, {title}", model.eval(), LossModule(rw.models.cross_entropy, "mean"),
                        X, y, repeats=1, warmup=0, grids=(), grid_repeats=1, density_steps=80, trace_products=40))
    return out


def reference_spectrum(case: Case) -> dict:
    """The exact spectrum from the dense Hessian (``torch.func.hessian``, independent of ours), in float64."""
    def compute():
        values = torch.linalg.eigvalsh(ReferenceHessian(case).dense().double())
        return {"trace": float(values.sum()), "top": values.flip(0)[:TOP_K].tolist(), "min": float(values[0]),
                "negative_sum": float(values[values < 0].sum()),
                "how": "dense Hessian (torch.func.hessian), eigh in float64"}

    return _cache(case, "spectrum", compute)


def bench_estimates(quick: bool) -> list[str]:
    """First moments of densities and trace estimates against the exact trace of the 2,410-parameter digits
    MLPs, over seeds 0..9 (densities) and 0..19 (traces); our reported errors checked against the truth.
    Returns the report's Markdown lines."""
    density_seeds, trace_seeds = range(3 if quick else 10), range(5 if quick else 20)
    lines = ["## Spectral estimates on the 2,410-parameter digits MLP", "",
             "Against the exact trace (dense Hessian, `eigh` in float64). *before*: plain SLQ with 10 Rademacher "
             "vectors x 80 Lanczos steps, the former default of `density()`; PyHessian's `density` at the same "
             f"budget. Densities: seeds {density_seeds.start}..{density_seeds.stop - 1}; traces: seeds "
             f"{trace_seeds.start}..{trace_seeds.stop - 1}. *covered*: runs whose reported error (95%) is at least "
             "the true error.", "",
             "| model | estimate | HVPs | median rel. error | max rel. error | reported error (median) | covered |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for case in build_small_mlps():
        log(f"[estimates] {case.key}: reference spectrum ...")
        ref = reference_spectrum(case)
        exact, ls, model = ref["trace"], case.landscape(), case.peer_model()
        lines_before = len(lines)

        def table(name, results):
            s = _trace_summary(results, exact)
            reported = "" if s["reported"] is None else f"{s['reported']:.1e}"
            covered = "" if s["reported"] is None else f"{s['covered']}/{s['runs']}"
            lines.append(f"| {case.title} | {name} | {s['hvps']} | {s['error']:.1e} | {s['max_error']:.1e} | "
                         f"{reported} | {covered} |")
            log(f"[estimates] {lines[-1]}")

        def first_moment(nodes, weights):
            return float(np.dot(nodes, weights)) * case.num_params

        def before(seed):
            with ls.hessian_operator() as op:
                nodes, weights = spectral_density.slq(op, num_vectors=10, num_steps=80, seed=seed)
                return first_moment(nodes, weights), op.num_products, None

        def after(seed):
            d = ls.density(seed=seed)
            return float(np.trapezoid(d.grid * d.density, d.grid)) * case.num_params, d.num_products, d.trace.error

        def pyhessian_density(seed):
            (nodes, weights), hvps = pyhessian_call(case, model, "density", seed=seed, iter=80, n_v=10)
            return first_moment(np.concatenate(nodes), np.concatenate(weights) / 10), hvps, None

        log(f"[estimates] {case.key}: densities ...")
        table("density: **ours** `density()` (deflated SLQ)", [after(s) for s in density_seeds])
        table("density: ours before (plain SLQ 10 x 80)", [before(s) for s in density_seeds])
        table("density: PyHessian `density(iter=80, n_v=10)`", [pyhessian_density(s) for s in density_seeds])
        log(f"[estimates] {case.key}: traces ...")
        for method in ("auto", "xtrace", "hutch++"):
            def ours(seed, method=method):
                t = ls.trace(method=method, seed=seed)
                return float(t), t.num_products, t.error
            label = ("**ours** `trace()` (Krylov-deflated Hutchinson)" if method == "auto"
                     else f"ours `trace(method='{method}')`")
            table(f"trace: {label}", [ours(s) for s in trace_seeds])

        def pyhessian_trace(seed):
            samples, hvps = pyhessian_call(case, model, "trace", seed=seed)
            return float(np.mean(samples)), hvps, None

        table("trace: PyHessian `trace()`", [pyhessian_trace(s) for s in trace_seeds])
        for name in ("xtrace", "hutchpp_trace"):
            results = [curvlinops_trace(case, model, name, 40, seed=s) for s in trace_seeds]
            if all(r is not None for r in results):
                table(f"trace: curvlinops `{name}(H, {results[0][1]})`", [(*r, None) for r in results])
        lines.insert(lines_before, f"| {case.title} | exact trace {exact:.6g} (λmax {ref['top'][0]:.4g}, λmin "
                                   f"{ref['min']:.3g}, negative eigenvalues sum to {ref['negative_sum']:.3g}) "
                                   "| | | | | |")
    return lines + [""]


# ===================================================================================== grids on workers
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


# ===================================================================================== report
def fmt_time(x) -> str:
    if x is None:
        return ""
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def fmt_num(x, kind: str) -> str:
    if x is None:
        return ""
    if kind == "error":
        return f"{x:.1e}"
    if kind == "ratio":
        return f"{x:.2f}x"
    if kind == "pps":
        return f"{x:,.0f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def targets(case: Case, summary: dict) -> list[tuple[str, str, bool]]:
    """The issue's targets (reported, never asserted): (target, measured, met)."""
    out = []
    e = summary["eigs"]
    o, ph, orc = e["ours"], e["pyhessian"], e["oracle"]["hvps"] or float("nan")  # nan: no stop within its limit
    out.append(("top-5 eigenvalues: rel. error <= 1e-5", f"{o['error']:.1e}", o["error"] <= 1e-5))
    out.append(("eigs time <= 1/2 PyHessian's", f"{o['wall'] / ph['wall']:.2f} of it", o["wall"] <= ph["wall"] / 2))
    for name in EIGSH_SETTINGS:
        cl = e[name]
        tol, ncv = EIGSH_SETTINGS[name]
        out.append((f"eigs time <= 1/3 curvlinops' (eigsh tol={tol:g}, ncv={min(case.num_params, ncv)})",
                    f"{o['wall'] / cl['wall']:.2f} of it ({o['hvps']} against {cl['hvps']} HVPs; its error "
                    f"{cl['error']:.1e}); stopped by an oracle: {orc} HVPs, about "
                    f"{o['wall'] * orc / o['hvps'] / cl['wall']:.2f} of it", o["wall"] <= cl["wall"] / 3))
    for k, suffix in ((TOP_K, ""), (1, "_k1")):
        cold, warm = e[f"nearby_cold{suffix}"], e[f"nearby_warm{suffix}"]
        if case.num_params > 64:  # XOR's 9 parameters: both runs span the whole space
            out.append((f"warm-started eigs({k}) {WARM_STEP:g} |θ| away: <= 1/3 of a cold start's HVPs",
                        f"{warm['hvps']} against {cold['hvps']} (error {warm['error']:.1e}); stopped by an "
                        f"oracle: {warm['oracle']} against {cold['oracle']}; Rayleigh-Ritz needs at least {k}",
                        3 * warm["hvps"] <= cold["hvps"]))
    t = summary["trace"]
    out.append(("trace within 2% (median over seeds)", f"{100 * t['ours']['error']:.2f}%", t["ours"]["error"] <= 0.02))
    out.append(("trace: HVPs <= 46 (the top of PyHessian's 23-46)", f"{t['ours']['hvps']} (PyHessian: "
                f"{t['pyhessian']['hvps']} in this run)", t["ours"]["hvps"] <= 46))
    if t["ours"]["reported"] is not None:
        out.append(("trace: the reported error covers the true error", f"in {t['ours']['covered']}/"
                    f"{t['ours']['runs']} runs", t["ours"]["covered"] == t["ours"]["runs"]))
    d = summary["density"]["ours"]
    out.append(("density: first moment within 2% of the trace", f"{100 * d['trace_error']:.2f}% median, "
                f"{100 * d['max_trace_error']:.2f}% max, {d['hvps']} HVPs", d["max_trace_error"] <= 0.02))
    out.append(("trace time <= PyHessian's", f"{t['ours']['wall'] / t['pyhessian']['wall']:.2f} of it "
                f"(PyHessian's error {100 * t['pyhessian']['error']:.2f}%)",
                t["ours"]["wall"] <= t["pyhessian"]["wall"]))
    for res, g in summary["grids"].items():
        speedup = g["ours"]["pps"] / g["loss_landscapes"]["pps"]
        if case.num_params < 10_000:
            out.append((f"{res}x{res} grid: >= 30x loss-landscapes' points/s", f"{speedup:.1f}x", speedup >= 30))
        else:
            out.append((f"{res}x{res} grid: >= loss-landscapes' points/s", f"{speedup:.2f}x", speedup >= 1))
            r = g["ours"]["loop_floor_ratio"]
            out.append((f"{res}x{res} grid: <= 1.1x one-forward-per-point floor", f"{r:.2f}x"
                        + (f" ({g['ours']['loss_floor_ratio']:.2f}x the forwards + loss)"
                           if "loss_floor_ratio" in g["ours"] else ""), r <= 1.1))
    return out


def busy(load: tuple[float, float]) -> bool:
    """Whether other work shared the machine: a 1-minute load average above half the CPUs before the run
    starts, or at its end above this run's own torch threads (which it counts) plus half the CPUs."""
    half = 0.5 * (os.cpu_count() or 1)
    return load[0] > half or load[1] > torch.get_num_threads() + half


def render(sections: list[dict], meta: dict) -> str:
    lines = ["# Benchmarks: rashomon_widgets vs PyHessian, curvlinops, loss-landscapes", "",
             f"Generated by `make bench` (`benchmarks/run.py{meta['args']}`) on {meta['date']}.", "",
             "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in meta["machine"].items()]
    lines.append("")
    if busy(meta["load"]):
        lines += [f"**Warning:** the machine was busy (load average {meta['load'][0]:.1f} at start, "
                  f"{meta['load'][1]:.1f} at the end, on {os.cpu_count()} CPUs, of which this run's own "
                  f"{torch.get_num_threads()} torch threads account for up to {torch.get_num_threads()} at the "
                  "end): timings and ratios are distorted; rerun `make bench` on an idle machine before "
                  "quoting them.", ""]
    all_targets = []
    for s in sections:
        case, fl = s["case"], s["floor"]
        lines += [f"## {case.title}", "",
                  f"{case.num_params:,} parameters, {len(case.X):,} samples. Floor: one forward "
                  f"{fmt_time(fl['forward'])}, one HVP {fmt_time(fl['hvp'])} (`ls.hvp`, {fl['hvp_form']}), "
                  f"{fmt_time(fl['hvp_reuse'])} with the gradient graph reused (inside `hessian_operator`). "
                  "The grid tables give the floor of a batched forward over all points.", "",
                  "| task | method | wall (median) | HVPs | error vs reference | peer time / ours | notes |",
                  "|---|---|---:|---:|---:|---:|---|"]
        for r in s["rows"]:
            lines.append(f"| {r['task']} | {r['method']} | {fmt_time(r['wall'])} | {fmt_num(r['hvps'], 'int')} | "
                         f"{fmt_num(r['error'], 'error')} | {fmt_num(r['ratio'], 'ratio')} | {r['notes']} |")
        lines += ["", "| grid | method | wall (median) | points evaluated | points/s | ours / this (points/s) "
                  "| notes |",
                  "|---|---|---:|---:|---:|---:|---|"]
        for r in s["grid_rows"]:
            lines.append(f"| {r['task']} | {r['method']} | {fmt_time(r['wall'])} | {fmt_num(r['hvps'], 'int')} | "
                         f"{fmt_num(r['error'], 'pps')} | {fmt_num(r['ratio'], 'ratio')} | {r['notes']} |")
        ref_e, ref_t = s["refs"]
        lines += ["", f"References: eigenvalues: {ref_e['how']}"
                  + (f", {ref_e['hvps']} HVPs" if "hvps" in ref_e else "")
                  + f" ({'cached' if ref_e['cached'] else 'computed'}); "
                  f"trace {ref_t['value']:.6g}: {ref_t['how']}"
                  + (f", standard error {ref_t['stderr']:.2g} ({100 * ref_t['stderr'] / abs(ref_t['value']):.2f}%)"
                     if ref_t["stderr"] else "")
                  + f" ({'cached' if ref_t['cached'] else 'computed'}). "
                  f"Timing: median of {case.repeats} runs (seeds 0..{case.repeats - 1} for the randomised "
                  f"methods; grids: {case.grid_repeats} runs) after {case.warmup} warm-up run(s).", ""]
        if s.get("memory"):
            m = s["memory"]
            lines += [f"Memory (RSS): {m['n']:,} `ls.hvp` calls: {m['hvp_before']:.0f} -> {m['hvp_after']:.0f} MiB "
                      f"({m['hvp_after'] - m['hvp_before']:+.1f}); {m['n']:,} products inside one "
                      f"`hessian_operator` block: {m['op_before']:.0f} -> {m['op_after']:.0f} MiB "
                      f"({m['op_after'] - m['op_before']:+.1f}), {m['op_exit']:.0f} MiB after the block.", ""]
        all_targets += [(case.key, *t) for t in targets(case, s["summary"])]
    lines += meta.get("estimates", [])
    lines += meta.get("distributed", [])
    lines += ["## Targets (reported, not asserted)", "", "| model | target | measured | met |", "|---|---|---|---|"]
    lines += [f"| {k} | {t} | {v} | {'yes' if ok else '**no**'} |" for k, t, v, ok in all_targets]
    lines += ["", "## Notes", "",
              "- *peer time / ours* > 1 means ours is faster; *ours / this (points/s)* > 1 means ours "
              "evaluates more points per second. HVP counts are Hessian-vector products, counted by wrapping "
              "each library's product function.",
              "- Eigenvalue error: max over the top 5 (sorted) of |λ − λ*| / |λ*|; a reference eigenvalue below "
              "1e-6 λmax (a zero eigenvalue at XOR's minimum) is measured relative to λmax. Density error: "
              "the largest Ritz value against λmax.",
              "- PyHessian 0.1 is called with `cuda=False` on a single batch (it reuses one gradient graph, as "
              "ours does); its `density()` calls `torch.eig`, removed from torch, so the benchmark patches "
              "`torch.eig` at run time with `torch.linalg.eigh` on the (symmetric) Lanczos matrix. Its random "
              "vectors are drawn in the model's dtype (default dtype set for the call).",
              "- curvlinops 3.0.1: `HessianLinearOperator(...).to_scipy()` with `check_deterministic=False`, "
              "then scipy `eigsh` (k=5, which='LA', ours' start vector) at two settings: ours' former one "
              "(tol=1e-6, ncv=min(P, 20)), and the cheapest found that still reaches 1e-5 on both models "
              "(tol=1e-3, ncv=13; ncv 11-12 missed an eigenvalue on PreResNet20). eigsh needs ncv + 1 products "
              "before its first check; ours checks an eigenvalue error bound after every product.",
              "- Oracle stop: ours' Lanczos from the same start vector (full reorthogonalisation, no restart) "
              "stopped at the first product whose top-k Ritz values are within 1e-5 of the reference, which no "
              "rule deciding from the products can know. Ours' count minus the oracle's is what the stopping rule "
              "costs; a target that needs fewer products than the oracle cannot be met by a better stopping "
              "rule, only by cheaper products or a better start.",
              f"- Warm start: `eigs(k, theta=θ + {WARM_STEP:g} |θ| u, start=V)` (k = 5 and 1) for a random unit u, "
              "V the "
              "eigenvectors at θ (what an explorer passes from the previous slider position), against a cold "
              "start at the same point; errors against ARPACK (`solver='arpack', tol=1e-10`) there.",
              "- loss-landscapes 3.0.6 `random_plane` evaluates a staggered grid (every other column runs "
              "backwards) and never puts the start model on it; its points/s count the `steps**2` points it "
              "evaluates. Ours includes drawing the plane (`Plane.random`) in its time.",
              "- Floor: the fastest way found here to evaluate all grid points: a loop of plain "
              "`model(X)` forwards under `no_grad`, or one chunked `torch.vmap` over the points. The 1.1x "
              "target is checked against the loop (one forward per point).",
              "- `losses(strategy='auto')` (and so `surface`) follows `ls.losses_strategy`, a fixed rule (vmap up "
              "to 3M multiply-adds per loss on a CPU, else a loop that writes each point in place into a "
              "private copy of the model): no timing, so the choice cannot flip with the machine's load.",
              f"- Total run time {meta['total']:.0f} s; load average (1 min) {meta['load'][0]:.2f} at start, "
              f"{meta['load'][1]:.2f} at the end (this run's own threads included; other work on this shared "
              "machine skews timings).", ""]
    return "\n".join(lines)


def machine_info() -> dict:
    import importlib.metadata as md
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "missing"

    device = "CPU" if DEVICE.type == "cpu" else f"CUDA: {torch.cuda.get_device_name(DEVICE)}"
    return {"CPU": f"{cpu}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}",
            "device (`--device`)": device + " (the spectral-estimate study and the Dask rows: CPU)",
            "OS / Python": f"{platform.platform()} / Python {platform.python_version()}",
            "torch / numpy / scipy": f"{torch.__version__} / {np.__version__} / {version('scipy')}",
            "peers": f"PyHessian {version('pyhessian')}, curvlinops-for-pytorch {version('curvlinops-for-pytorch')}, "
                     f"loss-landscapes {version('loss-landscapes')}",
            "rashomon_widgets": rw.__version__}


def check_peers() -> None:
    missing = []
    for module in ("pyhessian", "curvlinops", "loss_landscapes", "psutil"):
        try:
            __import__(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        sys.exit("benchmarks/run.py: missing peer libraries: " + ", ".join(missing)
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
    global DEVICE
    DEVICE = torch.device(args.device)
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in BUILDERS and k not in ("estimates", "dask")]
    if unknown:
        parser.error(f"--only: unknown model(s) {unknown}; expected some of "
                     f"{sorted(BUILDERS) + ['estimates', 'dask']}")
    check_peers()

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    sections = []
    for key in (k for k in keys if k in BUILDERS):
        log(f"[{key}] building the model ...")
        case = BUILDERS[key](args.quick).to(DEVICE)
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
        if key == "mlp" and DEVICE.type == "cpu":  # host RSS says nothing about GPU memory
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
