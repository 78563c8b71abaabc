"""The Hessian spectrum at one point, exact or estimated, and warm-started along a walk of nearby points.

:func:`spectrum_at` is the one place that decides how a spectrum is computed at a point (the dense
``eigh`` for small models, stochastic Lanczos quadrature otherwise) and with which near-zero tolerance,
so a view and :func:`~rashomon_widgets.core.geometry.diagnostics.along_curve`'s table count alike.
:class:`WarmSpectra` is that call for an explorer whose point moves in small steps: it keeps the last
top eigenvectors and starts the next Lanczos run from them.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from ..validation import check_callable, check_tolerance
from .estimated_spectrum import SpectrumEstimate, spectrum_estimate
from .spectra import Spectrum, default_tol

__all__ = ["ReportingOperator", "WarmSpectra", "default_near_zero_tol", "spectrum_at"]

#: largest eigenvalues :class:`WarmSpectra` computes on a matrix-free model (Lanczos, warm-started)
TOP_K = 3


def default_near_zero_tol(dtype: torch.dtype, exact: bool, near_zero_tol: float | None = None) -> float:
    """The near-zero tolerance of :func:`spectrum_at` and ``along_curve``.

    Args:
        dtype: the model's dtype.
        exact: a dense spectrum (True) or an SLQ estimate.
        near_zero_tol: the caller's choice, returned as given when not None.

    Returns:
        ``near_zero_tol``; else :func:`default_tol` of ``dtype`` when exact, and 1e-3 for an estimate
        (Ritz nodes are coarse: a node near zero stands for a cluster of small eigenvalues).
    """
    if near_zero_tol is not None:
        return near_zero_tol
    return default_tol(dtype) if exact else 1e-3


def spectrum_at(ls, theta, *, exact: bool | None = None, near_zero_tol: float | None = None, slq_vectors: int = 4,
                slq_steps: int = 40, seed: int = 0, top_k: int = 0, start: torch.Tensor | None = None,
                progress: Callable[[int, int], None] | None = None) -> Spectrum | SpectrumEstimate:
    """The Hessian spectrum at ``theta`` with the near-zero rule of :func:`along_curve`'s ``near_zero``.

    With the same settings, ``spectrum_at(ls, curve(t), ...).num_near_zero`` is exactly the number in
    ``along_curve(ls, curve, [t], ...)["near_zero"]``: views that show a spectrum call this, so the
    widget and the table agree.

    Args:
        ls: the :class:`Landscape`.
        theta: (P,) the parameters.
        exact: all P eigenvalues of the dense Hessian (default: small models, ``ls.policy.is_small``).
        near_zero_tol: relative tolerance of the near-zero count; default :func:`default_tol` of the
            model's dtype when exact, else 1e-3 (Ritz nodes are coarse).
        slq_vectors, slq_steps: Rademacher vectors and Lanczos steps of the quadrature (matrix-free).
        seed: seed of the start vectors.
        top_k: matrix-free only: also the ``top_k`` largest eigenpairs (Lanczos,
            :func:`rw.core.curvature.eigensolver.lanczos_eigs`), in ``top_values`` / ``top_vectors``.
        start: warm start of that Lanczos run: the previous point's ``top_vectors``. A slider moves in
            small steps and the top eigenvectors change little, so a Krylov space started from their
            sum holds them after a few products more than ``top_k``.
        progress: called as ``progress(done, total)`` before every Hessian-vector product of the
            quadrature and the Lanczos run (``total = slq_steps + 3 top_k``, an estimate); it may raise
            to stop the work (an explorer does, when a newer slider value arrives).

    Returns:
        exact: a :class:`Spectrum` (``ls.spectrum(theta, tol=...)``); otherwise a
        :class:`SpectrumEstimate` (stochastic Lanczos quadrature). Both have ``num_near_zero``, ``tol``
        and ``scale``.

    Raises:
        TypeError, ValueError: a bad theta, tolerance, count, seed or progress; exact above ``dense_limit``;
            a loss at ``theta`` that is not finite.

    Example:
        >>> s = rw.core.spectrum_at(ls, curve(0.5))                  # doctest: +SKIP
        >>> rw.SpectrumView().show(s) == s.num_near_zero            # doctest: +SKIP
    """
    theta = ls.check_theta(theta)
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    if near_zero_tol is not None:
        near_zero_tol = check_tolerance(near_zero_tol, "near_zero_tol")
    if exact is None:
        exact = ls.policy.is_small(ls.num_params)
    tol = default_near_zero_tol(ls.dtype, exact, near_zero_tol)
    if exact:
        return ls.spectrum(theta, tol=tol)
    with ls.hessian_operator(theta) as op:
        if progress is not None:
            op = ReportingOperator(op, progress, min(slq_steps, ls.num_params) + 3 * top_k)
        return spectrum_estimate(op, num_vectors=slq_vectors, num_steps=slq_steps, seed=seed, tol=tol, top_k=top_k,
                                 start=start, max_vectors=ls.max_vectors())


class ReportingOperator:
    """An operator that calls ``progress(done, total)`` before each product (a caller may stop the work
    by raising there); everything else is the wrapped operator's.

    Args:
        op: the operator (:class:`~.linear_operator.LinearOperatorLike`).
        progress: ``progress(done, total)``.
        total: the products expected (``done`` stays below it).
    """

    def __init__(self, op, progress: Callable[[int, int], None], total: int):
        self._op, self._progress, self._total, self._done = op, progress, total, 0
        self.shape, self.dtype, self.device = op.shape, op.dtype, op.device

    @property
    def num_products(self) -> int:
        """The wrapped operator's product count."""
        return self._op.num_products

    def matvec(self, v):
        """Report progress, then the wrapped operator's ``A v``."""
        self._progress(min(self._done, self._total - 1), self._total)
        self._done += 1
        return self._op.matvec(v)


class WarmSpectra:
    """:func:`spectrum_at` for a point that moves in small steps (an explorer's slider).

    On a matrix-free model each call also computes the :data:`TOP_K` largest eigenpairs by Lanczos,
    started from the previous call's eigenvectors (``start=``): near the previous point they nearly span
    the new ones, so the run converges in a few products. The eigenvectors are kept here
    (:attr:`vectors`) and dropped from the result, so a cache of results holds no P x k block each.

    Args:
        ls: the :class:`~rashomon_widgets.core.Landscape`.
        exact: the dense spectrum (small models) or SLQ plus Lanczos (matrix-free).

    Attributes:
        vectors: (P, TOP_K) the top eigenvectors of the last matrix-free call, or None.

    Example:
        >>> spectra = WarmSpectra(ls, exact=False)          # doctest: +SKIP
        >>> spectra(theta).top_values                        # the 3 largest, by Lanczos  # doctest: +SKIP
    """

    def __init__(self, ls, exact: bool):
        self.ls, self.exact = ls, bool(exact)
        self.vectors: torch.Tensor | None = None

    def __call__(self, theta, **kwargs) -> Spectrum | SpectrumEstimate:
        """The spectrum at ``theta``.

        Args:
            theta: (P,) the point.
            **kwargs: passed to :func:`spectrum_at` (``slq_vectors``, ``slq_steps``, ``progress``...).

        Returns:
            a :class:`Spectrum` (exact) or a :class:`SpectrumEstimate` without ``top_vectors``.
        """
        result = spectrum_at(self.ls, theta, exact=self.exact, top_k=TOP_K, start=self.vectors, **kwargs)
        if isinstance(result, SpectrumEstimate):
            self.vectors = result.top_vectors
            result = dataclasses.replace(result, top_vectors=None)
        return result
