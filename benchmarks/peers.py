"""Adapters to the peer libraries, and every patch the benchmarks make to them: PyHessian (product counters, a
stand-in for the ``torch.eig`` it calls, the default dtype), curvlinops (its scipy operator for ``eigsh``; the one
wrapper of its private ``_matmat``, which counts the products of ``xtrace`` / ``hutchpp_trace``) and
loss-landscapes (a counted metric). Each returns its result with the products or points it spent."""
from __future__ import annotations

import contextlib
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn
from scipy.sparse.linalg import LinearOperator, eigsh

from . import timing
from .cases import TOP_K, Case
from .timing import Counter, timed_once


# ===================================================================================== PyHessian
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
        comp = ph.hessian(model, case.loss, data=(case.X, case.y), cuda=timing.DEVICE.type == "cuda")
        result = getattr(comp, method)(**kwargs)
        del comp
        model.zero_grad(set_to_none=True)  # frees the graph PyHessian leaves in .grad
    return result, counter.n


def pyhessian_run(model: nn.Module, loss: nn.Module, data: list, method: str, **kwargs):
    """``pyhessian.hessian(model, loss, ...).<method>(**kwargs)``, its constructor included, torch seeded; returns
    (seconds, result, products). One batch goes in as ``data=``, several as ``dataloader=`` (whose products,
    ``dataloader_hv_product``, are counted here; :func:`pyhessian_session` counts the single-batch ones)."""
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
            seconds, result = timed_once(lambda: getattr(
                ph.hessian(model, loss, cuda=timing.DEVICE.type == "cuda", **source), method)(**kwargs))
        finally:
            ph.hessian.dataloader_hv_product = original
    return seconds, result, counter.n


# ===================================================================================== curvlinops
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


# ===================================================================================== loss-landscapes
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
