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

from ..curvature.spectra import default_tol
from ..validation import check_tolerance, describe


def matrix_rank(a: torch.Tensor, rtol: float) -> int:
    """The numerical rank of a matrix: singular values above ``rtol`` times the largest.

    Args:
        a: a 2-D tensor.
        rtol: the relative cut-off, in [0, 1).

    Returns:
        how many singular values of ``a`` exceed ``rtol * max`` (0 for a zero or empty matrix).

    Raises:
        ValueError: ``a`` is not a 2-D tensor, or ``rtol`` is not in [0, 1).
    """
    if not isinstance(a, torch.Tensor) or a.ndim != 2:
        raise ValueError(f"a: expected a 2-D tensor, got {describe(a)}")
    rtol = check_tolerance(rtol, "rtol")
    if a.numel() == 0:
        return 0
    s = torch.linalg.svdvals(a)
    if float(s.max()) == 0.0:
        return 0
    return int((s > rtol * s.max()).sum())


def behavioural_gradients(ls, theta=None) -> torch.Tensor:
    """The behavioural gradients ``G = ls.jacobian(theta).T``.

    Args:
        ls: the :class:`Landscape`.
        theta: (P,); default the trained parameters.

    Returns:
        (P, K): column i is the gradient of scalar output i (of the behaviour) on the data.
    """
    return ls.jacobian(theta).T


def _tol(ls, tol) -> float:
    if tol is None:
        return default_tol(ls.dtype)
    return check_tolerance(tol, "tol", what="a relative eigenvalue tolerance")


def behaviour_rank(ls, theta=None, tol: float | None = None) -> int:
    """``rank G`` with singular values ``<= sqrt(tol) * max`` counted as zero.

    Args:
        ls: the :class:`Landscape`.
        theta: (P,); default the trained parameters.
        tol: the relative tolerance on **Hessian eigenvalues** (default ``default_tol(ls.dtype)``:
            1e-6 for float64); singular values of ``G`` are compared with ``sqrt(tol)``.

    Returns:
        the rank, an int.
    """
    return matrix_rank(ls.jacobian(theta), math.sqrt(_tol(ls, tol)))


def dimension_bound(ls, theta=None, tol: float | None = None) -> int:
    """Claim 2's bound on the behaviour manifold's dimension: ``P - rank G``.

    Args:
        ls, theta, tol: as for :func:`behaviour_rank`.

    Returns:
        the bound, an int.
    """
    return ls.num_params - behaviour_rank(ls, theta, tol)


def hessian_rank(ls, theta=None, tol: float | None = None) -> int:
    """``rank H``: eigenvalues with ``|lambda| > tol * max |lambda|`` (exact, dense).

    Args:
        ls: the :class:`Landscape`.
        theta: (P,); default the trained parameters.
        tol: the relative tolerance on eigenvalues (default ``default_tol(ls.dtype)``).

    Returns:
        the rank, an int (0 for a zero Hessian).
    """
    spectrum = ls.spectrum(theta, tol=_tol(ls, tol))
    return 0 if spectrum.scale == 0.0 else spectrum.rank


def output_hessian(ls, theta=None) -> torch.Tensor:
    """The Hessian of the loss with respect to the model's **raw** outputs (K, K), block-diagonal
    over batches, in the order of ``outputs().reshape(-1)`` without a ``behaviour`` map.

    Args:
        ls: the :class:`Landscape`.
        theta: (P,); default the trained parameters.

    Returns:
        (K, K).
    """
    point = ls.check_theta(theta).detach()
    blocks = []
    for w, (x, y) in zip(ls.batch_weights, ls.batches):
        with torch.no_grad():
            out = ls.forward(point, x)
        shape = out.shape

        def loss_of(flat, y=y, shape=shape, w=w):
            return w * ls.loss_fn(flat.reshape(shape), y)

        blocks.append(jacrev(jacrev(loss_of))(out.reshape(-1)).detach())  # reverse-over-reverse: K is small
    return torch.block_diag(*blocks)


def raw_jacobian(ls, theta=None) -> torch.Tensor:
    """The Jacobian of the model's raw outputs, ignoring any ``behaviour`` map.

    Args:
        ls: the :class:`Landscape`.
        theta: (P,); default the trained parameters.

    Returns:
        (K, P).

    Raises:
        ValueError: K x P above the dense limit (see :class:`SizePolicy`).
    """
    if ls.behaviour is None:
        return ls.jacobian(theta)
    point = ls.check_theta(theta).detach()
    with torch.no_grad():
        k = sum(ls.forward(point, x).numel() for x, _ in ls.batches)
    ls.policy.check_dense("jacobian", k * ls.num_params)
    return torch.cat([jacrev(lambda u, x=x: ls.forward(u, x).reshape(-1))(point).detach() for x, _ in ls.batches])


def gauss_newton(ls, theta=None) -> torch.Tensor:
    """The Gauss-Newton matrix ``J^T (d^2 l / d f^2) J`` (P, P) in the raw outputs ``f``.

    By the chain rule the loss Hessian is ``H = J^T (d^2 l / d f^2) J + sum_k (d l / d f_k) d^2 f_k / d theta^2``
    (Schraudolph 2002, "Fast curvature matrix-vector products for second-order gradient descent", for
    the generalised Gauss-Newton matrix), so the two are equal where the loss's gradient in the outputs
    vanishes: at a perfect-behaviour global minimum (sum of squares: ``2 G G^T``; cross-entropy against
    soft targets equal to the model's probabilities: ``J^T (diag p - p p^T) J``).

    Args:
        ls: the :class:`Landscape`.
        theta: (P,); default the trained parameters.

    Returns:
        (P, P).

    Raises:
        ValueError: the raw Jacobian would exceed the dense limit (see :class:`SizePolicy`).
    """
    j = raw_jacobian(ls, theta)
    return j.T @ output_hessian(ls, theta) @ j
