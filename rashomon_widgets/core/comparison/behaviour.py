"""Behavioural gradients (write-up 4): the matrix G, its rank, and the bound on the manifold dimension.

Column i of ``G`` (P, K) is ``g_i = grad_theta f(theta, x_i)``, the gradient of scalar output i on the
data (``G = ls.jacobian().T``). Its rank bounds the dimension of the behaviour manifold through
``theta``: ``dim <= P - rank G`` (claim 2). At a perfect-behaviour global minimum the loss Hessian is the
Gauss-Newton matrix ``G (d^2 l / d f^2) G^T`` (``2 G G^T`` for a sum of squares, claim 3), so ranks
agree whenever the loss's Hessian in the outputs keeps the rank of ``G``.

Ranks use a tolerance relative to the largest singular value. :func:`behaviour_rank` ties it to the
Hessian's: an eigenvalue ``lambda = 2 sigma^2`` of ``2 G G^T`` is near zero (``<= tol * lambda_max``)
exactly when ``sigma <= sqrt(tol) * sigma_max``, so at a global minimum of a sum of squares
``behaviour_rank(ls) == P - count_near_zero(ls.spectrum(), tol)``.
"""
from __future__ import annotations

import math

import torch
from torch.func import jacrev

from ..validation import describe
from ..curvature.spectra import default_tol


def matrix_rank(a: torch.Tensor, rtol: float) -> int:
    """How many singular values of ``a`` exceed ``rtol`` times the largest (0 for a zero matrix).

    Raises:
        ValueError: ``a`` is not a 2-D tensor, or ``rtol`` is not in [0, 1).
    """
    if not isinstance(a, torch.Tensor) or a.ndim != 2:
        raise ValueError(f"a: expected a 2-D tensor, got {describe(a)}")
    if not 0 <= rtol < 1:
        raise ValueError(f"rtol: expected a relative tolerance in [0, 1), got {rtol}")
    if a.numel() == 0:
        return 0
    s = torch.linalg.svdvals(a)
    if float(s.max()) == 0.0:
        return 0
    return int((s > rtol * s.max()).sum())


def behavioural_gradients(ls, theta=None) -> torch.Tensor:
    """``G`` (P, K): column i is the gradient of scalar output i (of the behaviour) on the data."""
    return ls.jacobian(theta).T


def _tol(ls, tol):
    tol = default_tol(ls.dtype) if tol is None else float(tol)
    if not 0 <= tol < 1:
        raise ValueError(f"tol: expected a relative eigenvalue tolerance in [0, 1), got {tol}")
    return tol


def behaviour_rank(ls, theta=None, tol: float | None = None) -> int:
    """``rank G`` with singular values ``<= sqrt(tol) * max`` counted as zero.

    Args:
        tol: the relative tolerance on **Hessian eigenvalues** (default ``default_tol(ls.dtype)``:
            1e-6 for float64); singular values of ``G`` are compared with ``sqrt(tol)``.
    """
    return matrix_rank(ls.jacobian(theta), math.sqrt(_tol(ls, tol)))


def dimension_bound(ls, theta=None, tol: float | None = None) -> int:
    """Claim 2's bound on the behaviour manifold's dimension: ``P - rank G``."""
    return ls.num_params - behaviour_rank(ls, theta, tol)


def hessian_rank(ls, theta=None, tol: float | None = None) -> int:
    """``rank H``: eigenvalues with ``|lambda| > tol * max |lambda|`` (exact, dense)."""
    spectrum = ls.spectrum(theta, tol=_tol(ls, tol))
    return 0 if spectrum.scale == 0.0 else spectrum.rank


def output_hessian(ls, theta=None) -> torch.Tensor:
    """The Hessian of the loss with respect to the model's **raw** outputs (K, K), block-diagonal
    over batches, in the order of ``outputs().reshape(-1)`` without a ``behaviour`` map."""
    t = ls.check_theta(theta).detach()
    blocks = []
    for w, (x, y) in zip(ls.batch_weights, ls.batches):
        with torch.no_grad():
            out = ls.forward(t, x)
        shape = out.shape

        def loss_of(flat, y=y, shape=shape, w=w):
            return w * ls.loss_fn(flat.reshape(shape), y)

        blocks.append(jacrev(jacrev(loss_of))(out.reshape(-1)).detach())  # reverse-over-reverse: K is small
    return torch.block_diag(*blocks)


def raw_jacobian(ls, theta=None) -> torch.Tensor:
    """The Jacobian (K, P) of the model's raw outputs, ignoring any ``behaviour`` map."""
    if ls.behaviour is None:
        return ls.jacobian(theta)
    t = ls.check_theta(theta).detach()
    with torch.no_grad():
        k = sum(ls.forward(t, x).numel() for x, _ in ls.batches)
    ls.policy.check_dense("jacobian", k * ls.num_params)
    return torch.cat([jacrev(lambda u, x=x: ls.forward(u, x).reshape(-1))(t).detach() for x, _ in ls.batches])


def gauss_newton(ls, theta=None) -> torch.Tensor:
    """The Gauss-Newton matrix ``J^T (d^2 l / d f^2) J`` (P, P) in the raw outputs ``f``.

    It equals the loss Hessian where the loss's gradient in the outputs vanishes: at a
    perfect-behaviour global minimum (sum of squares: ``2 G G^T``; cross-entropy against soft targets
    equal to the model's probabilities: ``J^T (diag p - p p^T) J``).
    """
    j = raw_jacobian(ls, theta)
    return j.T @ output_hessian(ls, theta) @ j
