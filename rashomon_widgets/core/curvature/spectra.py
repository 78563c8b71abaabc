"""Hessian spectra: extreme eigenpairs by Lanczos, and the exact spectrum as a :class:`Spectrum`.

A :class:`Spectrum` carries the one near-zero rule of the package: an eigenvalue is *near zero* when
``|lambda| <= tol * max |lambda|`` (``tol`` relative, 1e-6 for float64 models and 1e-4 for float32 by
default). Null spaces, behavioural ranks, the spectrum view and the notebooks all count with it, so a
widget and a notebook can never disagree on a count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import eigsh

from .._threads import solver_threads
from ..validation import check_choice, check_int, check_tolerance
from ._random import rademacher

#: default relative tolerance on Hessian eigenvalues (``|lambda| <= tol * max |lambda|``) per dtype
DEFAULT_TOL = {torch.float64: 1e-6, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-2}


def default_tol(dtype: torch.dtype) -> float:
    """The relative tolerance under which a Hessian eigenvalue counts as zero.

    Args:
        dtype: the model's dtype.

    Returns:
        1e-6 for float64, 1e-4 for float32, 1e-2 for half precision.
    """
    return DEFAULT_TOL.get(dtype, 1e-4)


@dataclass(frozen=True)
class Spectrum:
    """All eigenvalues of a symmetric matrix (ascending), with the rule that says which are zero.

    Attributes:
        values: (P,) eigenvalues, ascending.
        tol: relative tolerance: ``|lambda| <= tol * scale`` is near zero.
        vectors: (P, P) orthonormal eigenvectors (columns, same order), when computed.

    Behaves like its ``values`` where a tensor of eigenvalues was expected: ``len``, indexing,
    iteration and ``numpy.asarray`` work.

    Example:
        >>> s = Spectrum(torch.tensor([0.0, 1e-9, 2.0], dtype=torch.float64), tol=1e-6)
        >>> s.num_near_zero, s.rank
        (2, 1)
    """

    values: torch.Tensor
    tol: float
    vectors: torch.Tensor | None = None

    @property
    def scale(self) -> float:
        """``max |lambda|`` (0 for a zero matrix)."""
        return float(self.values.abs().max()) if self.values.numel() else 0.0

    @property
    def threshold(self) -> float:
        """The absolute cut-off ``tol * scale``."""
        return self.tol * self.scale

    @property
    def near_zero(self) -> torch.Tensor:
        """Boolean mask (P,) of the near-zero eigenvalues."""
        return self.values.abs() <= self.threshold

    @property
    def num_near_zero(self) -> int:
        """How many eigenvalues are near zero (the null space's dimension)."""
        return int(self.near_zero.sum())

    @property
    def rank(self) -> int:
        """How many eigenvalues are not near zero."""
        return len(self) - self.num_near_zero

    def null_vectors(self) -> torch.Tensor:
        """Orthonormal basis (P, d) of the near-zero eigenvectors.

        Returns:
            the columns of ``vectors`` whose eigenvalue is near zero.

        Raises:
            ValueError: the spectrum was computed without vectors.
        """
        if self.vectors is None:
            raise ValueError("Spectrum: no eigenvectors were computed; use ls.spectrum(vectors=True)")
        return self.vectors[:, self.near_zero]

    def with_tol(self, tol: float) -> "Spectrum":
        """The same spectrum with another near-zero tolerance.

        Args:
            tol: relative tolerance in [0, 1).

        Returns:
            a new :class:`Spectrum`.
        """
        return Spectrum(self.values, check_tolerance(tol, "tol"), self.vectors)

    def summary(self) -> str:
        """One line for a notebook or a label.

        Returns:
            e.g. ``"5 of 9 eigenvalues near zero (|lambda| <= 1e-06 x 2.31)"``.
        """
        return (f"{self.num_near_zero:,} of {len(self):,} eigenvalues near zero "
                f"(|lambda| <= {self.tol:.0e} x {self.scale:.3g})")

    def numpy(self) -> np.ndarray:
        """The eigenvalues as a numpy array.

        Returns:
            float64 array (P,), ascending.
        """
        return self.values.detach().double().cpu().numpy()

    def __len__(self) -> int:
        return int(self.values.numel())

    def __getitem__(self, index):
        return self.values[index]

    def __iter__(self):
        return iter(self.values)

    def __array__(self, dtype=None, copy=None):
        out = self.values.detach().cpu().numpy()
        return out.astype(dtype) if dtype is not None else out

    def __repr__(self) -> str:
        return f"Spectrum({self.summary()})"


def spectrum_of(hessian: torch.Tensor, tol: float, *, vectors: bool = False) -> Spectrum:
    """The exact spectrum of a dense symmetric matrix.

    Args:
        hessian: (P, P) symmetric.
        tol: the near-zero tolerance (relative).
        vectors: also compute the eigenvectors.

    Returns:
        a :class:`Spectrum`.
    """
    if vectors:
        values, vecs = torch.linalg.eigh(hessian)
        return Spectrum(values, tol, vecs)
    return Spectrum(torch.linalg.eigvalsh(hessian), tol)


def lanczos_eigs(op, k: int, which: str = "largest", *, tol: float = 1e-6, ncv: int | None = None,
                 maxiter: int | None = None, seed: int = 0):
    """The ``k`` largest or smallest eigenpairs of a symmetric operator, by implicitly restarted
    Lanczos (scipy ``eigsh``, ARPACK) on its products: no dense matrix is formed.

    Args:
        op: a :class:`HessianOperator` (anything with ``shape``, ``dtype``, ``device`` and
            ``as_linear_operator()``).
        k: how many, 1 <= k < P - 1.
        which: ``"largest"`` (algebraically largest, descending) or ``"smallest"`` (ascending).
        tol: ARPACK's relative residual tolerance; eigenvalue errors are about ``tol**2`` relative for
            well separated eigenvalues.
        ncv: Lanczos vectors kept (default ``max(2k + 1, 20)``).
        maxiter: restarts at most (default 100 P).
        seed: the start vector is drawn from it, so results are reproducible.

    Returns:
        ``(values (k,), vectors (P, k))`` in the operator's dtype and device; vectors orthonormal.

    Raises:
        ValueError: ``k`` out of range or ``which`` unknown.
    """
    p = op.shape[0]
    check_int(k, "k", 1, p)
    check_choice(which, "which", ("largest", "smallest"))
    if k >= p - 1:
        raise ValueError(f"k: Lanczos needs k < P - 1 = {p - 1}, got k={k}; use method='dense'")
    v0 = rademacher((p,), seed=seed, dtype=torch.float64, device="cpu").numpy()
    ncv = ncv or min(p, max(2 * k + 1, 20))
    with solver_threads():
        values, vecs = eigsh(op.as_linear_operator(), k=k, which="LA" if which == "largest" else "SA", tol=tol,
                             ncv=ncv, maxiter=maxiter or 100 * p, v0=v0)
    order = np.argsort(values)
    if which == "largest":
        order = order[::-1]
    return (torch.as_tensor(values[order].copy(), dtype=op.dtype, device=op.device),
            torch.as_tensor(vecs[:, order].copy(), dtype=op.dtype, device=op.device))


def dense_eigs(hessian: torch.Tensor, k: int, which: str = "largest"):
    """The ``k`` extreme eigenpairs of a dense symmetric matrix (``eigh``), ordered as
    :func:`lanczos_eigs` orders them.

    Args:
        hessian: (P, P) symmetric.
        k: how many, 1 <= k <= P.
        which: ``"largest"`` (descending) or ``"smallest"`` (ascending).

    Returns:
        ``(values (k,), vectors (P, k))``.
    """
    p = hessian.shape[0]
    check_int(k, "k", 1, p)
    check_choice(which, "which", ("largest", "smallest"))
    values, vectors = torch.linalg.eigh(hessian)
    idx = torch.arange(p - 1, p - 1 - k, -1) if which == "largest" else torch.arange(k)
    return values[idx], vectors[:, idx]
