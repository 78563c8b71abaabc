"""Hessian spectra: extreme eigenpairs by Lanczos, and the exact spectrum as a :class:`Spectrum`.

A :class:`Spectrum` carries the one near-zero rule of the package: an eigenvalue is *near zero* when
``|lambda| <= tol * max |lambda|`` (``tol`` relative, 1e-6 for float64 models and 1e-4 for float32 by
default). Null spaces, behavioural ranks, the spectrum view and the notebooks all count with it, so a
widget and a notebook can never disagree on a count.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import eigsh

from .._threads import solver_threads
from ..validation import all_finite, check_callable, check_choice, check_int, check_tolerance, describe
from ._random import rademacher
from .linear_operator import LinearOperatorLike
from .near_zero import NearZeroCount

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
        num_products: Hessian-vector products the eigenvalues cost (P for the dense Hessian of
            :meth:`Landscape.spectrum`; 0 where the eigenvalues were given).

    Behaves like its ``values`` where a tensor of eigenvalues was expected: ``len``, indexing,
    iteration and ``numpy.asarray`` work. Answers the questions a
    :class:`~.estimated_spectrum.SpectrumEstimate` answers, exactly: ``nodes`` (the eigenvalues),
    ``counts`` (one each), ``nodes_near_zero``, ``near_zero_count(tol)``, ``count_text()``, ``summary()``.

    Raises:
        TypeError, ValueError: eigenvalues that are not a finite real 1-D tensor, a tolerance outside
            [0, 1), or eigenvectors that are not (P, P) (see :meth:`__post_init__`).

    Example:
        >>> s = Spectrum(torch.tensor([0.0, 1e-9, 2.0], dtype=torch.float64), tol=1e-6)
        >>> s.num_near_zero, s.rank
        (2, 1)
    """

    values: torch.Tensor
    tol: float
    vectors: torch.Tensor | None = None
    num_products: int = 0

    #: the counts are exact (a :class:`~.estimated_spectrum.SpectrumEstimate` says False)
    exact = True

    def __post_init__(self) -> None:
        """Refuse what would make the counts meaningless: non-finite eigenvalues, a bad tolerance, or
        eigenvectors that do not match the eigenvalues.

        Raises:
            TypeError: values that are not a real floating-point tensor, or a tolerance that is not a number.
            ValueError: values that are not 1-D or hold NaN or inf; a tolerance outside [0, 1) or NaN;
                vectors that are not a (P, P) tensor.
        """
        values = self.values
        if not isinstance(values, torch.Tensor) or not values.dtype.is_floating_point:
            raise TypeError(f"values: expected a real floating-point tensor of eigenvalues (P,), got "
                            f"{describe(values)}")
        if values.ndim != 1:
            raise ValueError(f"values: expected a 1-D tensor of eigenvalues (P,), got shape {tuple(values.shape)}")
        if not all_finite(values):
            bad = int((~torch.isfinite(values)).sum())
            raise ValueError(f"values: expected finite eigenvalues, got {bad} of {values.numel()} NaN or inf "
                             "(was the Hessian computed at a point where the loss is not finite?)")
        object.__setattr__(self, "tol", check_tolerance(self.tol, "tol"))
        object.__setattr__(self, "num_products", check_int(self.num_products, "num_products", 0))
        vectors = self.vectors
        if vectors is not None and (not isinstance(vectors, torch.Tensor) or vectors.ndim != 2
                                    or vectors.shape[1] != values.numel()):
            raise ValueError(f"vectors: expected eigenvectors as the columns of a tensor (P, {values.numel()}), "
                             f"got {describe(vectors)}")

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
    def num_params(self) -> int:
        """P, the number of eigenvalues."""
        return len(self)

    @property
    def nodes(self) -> np.ndarray:
        """The eigenvalues as float64 numpy (P,), ascending: each is one node of weight 1/P."""
        return self.numpy()

    @property
    def counts(self) -> np.ndarray:
        """How many eigenvalues each node stands for: one each (P,)."""
        return np.ones(len(self))

    @property
    def nodes_near_zero(self) -> np.ndarray:
        """:attr:`near_zero` as a numpy mask (P,)."""
        return self.near_zero.cpu().numpy()

    def near_zero_count(self, tol: float | None = None) -> NearZeroCount:
        """How many eigenvalues are near zero, exactly.

        Args:
            tol: relative tolerance (default: the spectrum's own ``tol``).

        Returns:
            a :class:`NearZeroCount` whose ``value`` is an int and whose interval is ``(value, value)``.

        Raises:
            ValueError: a tolerance outside [0, 1).

        Example:
            >>> s = Spectrum(torch.tensor([0.0, 1e-5, 2.0], dtype=torch.float64), tol=1e-6)
            >>> s.near_zero_count().value, s.near_zero_count(1e-3).value
            (1, 2)
        """
        spectrum = self if tol is None else self.with_tol(tol)
        n = spectrum.num_near_zero
        return NearZeroCount(n, (n, n), len(self), spectrum.tol, spectrum.threshold, exact=True)

    def count_text(self) -> str:
        """The near-zero count as a person reads it (:meth:`NearZeroCount.text`).

        Returns:
            the exact count, e.g. ``"5"``.
        """
        return self.near_zero_count().text()

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
        return Spectrum(self.values, check_tolerance(tol, "tol"), self.vectors, self.num_products)

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


def spectrum_of(hessian: torch.Tensor, tol: float, *, vectors: bool = False, num_products: int = 0) -> Spectrum:
    """The exact spectrum of a dense symmetric matrix.

    Args:
        hessian: (P, P) symmetric.
        tol: the near-zero tolerance (relative).
        vectors: also compute the eigenvectors.
        num_products: the products the dense matrix cost, recorded in the result.

    Returns:
        a :class:`Spectrum`.
    """
    if vectors:
        values, vecs = torch.linalg.eigh(hessian)
        return Spectrum(values, tol, vecs, num_products=num_products)
    return Spectrum(torch.linalg.eigvalsh(hessian), tol, num_products=num_products)


class Eigenpairs(tuple):
    """Extreme eigenpairs that unpack as ``values, vectors = ...``, with the products they cost.

    Args:
        values: (k,) eigenvalues, descending for the largest, ascending for the smallest.
        vectors: (P, k) orthonormal eigenvectors (columns, same order).
        num_products: operator products spent finding them (P for a dense Hessian).

    Example:
        >>> pairs = Eigenpairs(torch.tensor([2.0]), torch.eye(2)[:, :1], num_products=7)
        >>> values, vectors = pairs
        >>> pairs.num_products, values.tolist()
        (7, [2.0])
    """

    def __new__(cls, values: torch.Tensor, vectors: torch.Tensor, *, num_products: int):
        """Pair the eigenvalues and eigenvectors and record their cost (documented on the class)."""
        self = super().__new__(cls, (values, vectors))
        self.num_products = int(num_products)
        return self

    def __getnewargs_ex__(self):
        return (self[0], self[1]), {"num_products": self.num_products}

    @property
    def values(self) -> torch.Tensor:
        """The eigenvalues (k,)."""
        return self[0]

    @property
    def vectors(self) -> torch.Tensor:
        """The eigenvectors (P, k)."""
        return self[1]

    def __repr__(self) -> str:
        return f"Eigenpairs(values={self[0]!r}, num_products={self.num_products})"


class NoConvergence(RuntimeError):
    """:func:`lanczos_eigs` ran out of products before every eigenvalue met the tolerance."""


def lanczos_eigs(op: LinearOperatorLike, k: int, which: str = "largest", *, tol: float = 1e-6, ncv: int | None = None,
                 maxiter: int | None = None, seed: int = 0, start: torch.Tensor | None = None,
                 solver: str = "krylov-schur", progress: Callable[[int, int], None] | None = None):
    """The ``k`` largest or smallest eigenpairs of a symmetric operator from its products alone.

    The default solver is Lanczos with full reorthogonalisation, restarted Krylov-Schur style when its
    basis is full (the ``k + (ncv - k) // 2`` wanted Ritz vectors are kept), with the recurrence in
    float64 whatever the model's dtype. It stops after the product at which every wanted Ritz value
    ``theta`` has an error bound ``min(rho, rho**2 / gap)`` of at most ``tol * |theta|``: ``rho`` is the
    Ritz pair's residual norm (free from the recurrence) and ``gap`` the distance to the nearest other
    Ritz value. The limit is never below the products' rounding, ``10 eps * max |theta|`` (eps of the
    model's dtype): a zero eigenvalue is known to that absolute accuracy. ARPACK (``solver="arpack"``, scipy
    ``eigsh``) checks its residuals only once ``ncv`` vectors are built and bounds residuals rather than
    eigenvalue errors, so it needs more products for the same accuracy (counts in ``benchmarks/results.md``).

    One start vector's Krylov space holds one direction of each eigenspace, so a repeated eigenvalue is
    found once. Where that shows (an answer holding a zero eigenvalue, as at a minimum, or two equal
    ones), the extreme eigenvalue on the complement of the vectors found is computed too, from a fresh
    random vector, until it no longer belongs among the wanted ones (at most ``k`` times): the three
    smallest eigenvalues at a minimum come out as three zeros, not one zero and the next two. Like
    every Krylov method it can still miss an eigenvalue whose eigenvector is nearly orthogonal to the
    start vector, or an exactly repeated non-zero one found once; a second ``seed`` is the check.

    Args:
        op: a symmetric operator (:class:`~.linear_operator.LinearOperatorLike`: ``matvec``, ``shape``,
            ``dtype``, ``device``, ``num_products``), such as a :class:`HessianOperator`; ARPACK also needs
            its ``as_linear_operator()``.
        k: how many, 1 <= k < P - 1.
        which: ``"largest"`` (algebraically largest, descending) or ``"smallest"`` (ascending).
        tol: relative accuracy of the eigenvalues (the bound above); for ARPACK its relative residual
            tolerance (eigenvalue errors are then about ``tol**2`` relative when well separated).
        ncv: basis vectors kept (default ``max(2k + 1, 20)``, capped at P); memory is ``ncv x P``
            float64 numbers.
        maxiter: restarts at most (default 100; ARPACK: 100 P).
        seed: the random start vector is drawn from it, so results are reproducible.
        start: warm start: vectors (P,) or (P, j), e.g. the eigenvectors at a nearby point (a slider's
            previous position); Lanczos starts from their sum. Near the previous point the wanted
            eigenvectors nearly span the first ``k`` Krylov vectors, so a few products beyond ``k``
            suffice. Only for the default solver.
        solver: ``"krylov-schur"`` (default) or ``"arpack"``.
        progress: called as ``progress(products_done, products_at_most)`` before each product; it may
            raise to stop the work (an explorer does, when a newer slider value arrives).

    Returns:
        :class:`Eigenpairs` ``(values (k,), vectors (P, k))`` in the operator's dtype and device, vectors
        orthonormal, with the ``num_products`` they cost.

    Raises:
        ValueError: ``k`` out of range, ``which``/``solver`` unknown, ``start`` of the wrong shape.
        TypeError: a ``progress`` that is not callable.
        NoConvergence: ``maxiter`` restarts were not enough (the message gives the worst bound).

    Example:
        >>> h = torch.diag(torch.arange(1.0, 41.0, dtype=torch.float64))
        >>> class Op:
        ...     shape, dtype, device, num_products = (40, 40), torch.float64, "cpu", 0
        ...     def matvec(self, v):
        ...         self.num_products += 1 if v.ndim == 1 else v.shape[1]
        ...         return h @ v
        >>> values, vectors = pairs = lanczos_eigs(Op(), 3)
        >>> values.round(decimals=4).tolist(), pairs.num_products > 0
        ([40.0, 39.0, 38.0], True)
    """
    p = op.shape[0]
    check_int(k, "k", 1, p)
    check_choice(which, "which", ("largest", "smallest"))
    check_choice(solver, "solver", ("krylov-schur", "arpack"))
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    if k >= p - 1:
        raise ValueError(f"k: Lanczos needs k < P - 1 = {p - 1}, got k={k}; use method='dense'")
    ncv = min(p, ncv or max(2 * k + 1, 20))
    if ncv <= k:
        raise ValueError(f"ncv: needs k < ncv <= P (k={k}, P={p}), got ncv={ncv}")
    if solver == "arpack":
        if start is not None:
            raise ValueError("start: a warm start needs solver='krylov-schur' (ARPACK takes one start vector)")
        before = op.num_products
        values, vectors = _arpack_eigs(op, k, which, tol=tol, ncv=ncv, maxiter=maxiter or 100 * p, seed=seed)
        return Eigenpairs(values, vectors, num_products=op.num_products - before)
    if start is not None:
        start = torch.as_tensor(start)
        if start.ndim not in (1, 2) or start.shape[0] != p or start.numel() == 0:
            raise ValueError(f"start: expected vectors (P,) or (P, j) with P={p}, got shape {tuple(start.shape)}")
        v0 = (start if start.ndim == 1 else start.sum(1)).to(device=op.device, dtype=torch.float64)
        if not bool(torch.isfinite(v0).all()) or float(v0.norm()) == 0.0:
            v0 = None  # nothing to start from: a random vector
    else:
        v0 = None
    if v0 is None:
        v0 = rademacher((p,), seed=seed, dtype=torch.float64, device="cpu").to(op.device)
    options = {"tol": check_tolerance(tol, "tol"), "ncv": ncv, "restarts": 100 if maxiter is None else maxiter,
               "progress": progress}
    before = op.num_products
    values, vectors = _krylov_schur(op, k, which == "largest", v0, seed=seed, **options)
    values, vectors = _more_copies(op, values, vectors, which == "largest", seed=seed, **options)
    return Eigenpairs(values.to(op.dtype), vectors.to(op.dtype), num_products=op.num_products - before)


def _more_copies(op, values, vectors, largest: bool, *, seed: int, **options):
    """Copies of a repeated eigenvalue that a single start vector cannot see.

    The Krylov space of one vector holds one direction of each eigenspace, so an eigenvalue of
    multiplicity m is found once (the others only by rounding). That is the rule, not the exception, for
    a zero eigenvalue at a minimum (the null space), so when the answer holds an eigenvalue that is zero
    by the package's near-zero rule (:func:`default_tol`), or two equal ones, the extreme eigenvalue of
    the Hessian on the complement of the vectors found is computed from a fresh random vector; while it
    belongs among the wanted ones it replaces the last of them. (An exactly repeated non-zero
    eigenvalue found once gives no such sign and is not searched for.)
    """
    k = len(values)
    for attempt in range(1, k + 1):
        scale = float(values.abs().max())
        limit = _accuracy(values, options["tol"], op.dtype, scale)
        zero = bool((values.abs() <= default_tol(op.dtype) * scale).any())
        equal = k > 1 and bool(((values[1:] - values[:-1]).abs() <= limit[1:] + limit[:-1]).any())
        if not (zero or equal):
            break
        v0 = rademacher((op.shape[0],), seed=seed + 104729 * attempt, dtype=torch.float64,
                        device="cpu").to(vectors.device)
        value, vector = _krylov_schur(op, 1, largest, v0, seed=seed + attempt, locked=vectors, **options)
        gain = (value[0] - values[-1]) if largest else (values[-1] - value[0])
        if float(gain) <= float(limit[-1]):
            break
        values = torch.cat([values[:-1], value])
        vectors = torch.cat([vectors[:, :-1], vector], 1)
        order = torch.argsort(values, descending=largest, stable=True)
        values, vectors = values[order], vectors[:, order]
    return values, vectors


def _accuracy(values: torch.Tensor, tol: float, dtype: torch.dtype, scale: float) -> torch.Tensor:
    """How accurately each eigenvalue is wanted: ``tol`` relative to it, but never below the products' own
    rounding (10 eps of the model's dtype times ``scale``, the largest |eigenvalue| seen), which is how
    accurately a zero eigenvalue can be known."""
    return torch.clamp(tol * values.abs(), min=10 * torch.finfo(dtype).eps * scale)


def _krylov_schur(op, k: int, largest: bool, v0: torch.Tensor, *, tol: float, ncv: int, restarts: int,
                  seed: int, progress, locked: torch.Tensor | None = None):
    """Restarted Lanczos with full reorthogonalisation (float64); see :func:`lanczos_eigs`. With ``locked``
    (P, j) orthonormal float64 columns, on the complement of their span (H projected onto it)."""
    p, dev = op.shape[0], v0.device

    def deflate(w):
        if locked is not None:
            w = w - locked @ (locked.T @ w)
        return w

    v0 = deflate(deflate(v0))
    basis = torch.zeros(p, ncv + 1, dtype=torch.float64, device=dev)
    proj = torch.zeros(ncv, ncv, dtype=torch.float64)  # Q^T H Q, built column by column
    basis[:, 0] = v0 / v0.norm()
    m, done, budget = 0, 0, ncv + restarts * (ncv - k)
    keep = min(ncv - 1, k + (ncv - k) // 2)
    fresh = 0  # random vectors drawn after a breakdown (an invariant subspace)
    while True:
        if progress is not None:
            progress(done, budget)
        w = deflate(op.matvec(basis[:, m].to(op.dtype)).to(torch.float64))
        done += 1
        q = basis[:, : m + 1]
        h = q.T @ w
        w = deflate(w - q @ h)
        h2 = q.T @ w  # twice is enough
        w = deflate(w - q @ h2)
        h = (h + h2).cpu()
        proj[: m + 1, m] = h
        proj[m, : m + 1] = h
        beta = float(w.norm())
        m += 1
        theta, s = torch.linalg.eigh(proj[:m, :m])
        if largest:
            theta, s = theta.flip(0), s.flip(1)
        scale = float(theta.abs().max()) if m else 0.0
        exhausted = m == p - (0 if locked is None else locked.shape[1])
        if m > k or exhausted:  # one Ritz value beyond the wanted ones, so that each has a gap to the rest
            rho = beta * s[m - 1, :k].abs()
            gaps = (theta[:k, None] - theta[None, :]).abs()
            gaps[torch.arange(k), torch.arange(k)] = float("inf")
            gap = gaps.min(1).values
            bound = torch.minimum(rho, torch.where(torch.isfinite(gap) & (gap > 0), rho ** 2 / gap, rho))
            limit = _accuracy(theta[:k], tol, op.dtype, scale)
            if exhausted or bool((bound <= limit).all()):
                vectors = basis[:, :m] @ s[:, :k].to(dev)
                return theta[:k], vectors
            if done >= budget:
                worst = float((bound / limit).max())
                raise NoConvergence(
                    f"lanczos_eigs: {done} products ({restarts} restarts of ncv={ncv}) left an error bound "
                    f"{worst:.1e} times its limit (tol={tol:g} relative); raise maxiter or ncv, or loosen tol")
        # the Krylov space closed (to float64 rounding; the dropped residual is below 1e-13 of the scale, so
        # the Ritz values keep that accuracy): continue from a random vector orthogonal to it
        if beta <= 1e-13 * max(scale, 1e-300) and not exhausted:
            fresh += 1
            w = rademacher((p,), seed=seed + 7919 * fresh, dtype=torch.float64, device="cpu").to(dev)
            for _ in range(2):
                w = deflate(w - basis[:, :m] @ (basis[:, :m].T @ w))
            beta = float(w.norm())
        basis[:, m] = w / beta
        if m == ncv:  # restart: keep the best Ritz vectors and the residual direction
            basis[:, :keep] = basis[:, :m] @ s[:, :keep].to(dev)
            basis[:, keep] = basis[:, m]
            proj.zero_()
            proj[:keep, :keep] = torch.diag(theta[:keep])
            m = keep


def _arpack_eigs(op, k: int, which: str, *, tol: float, ncv: int, maxiter: int, seed: int):
    """scipy ``eigsh`` (ARPACK, implicitly restarted Lanczos) on the operator's products."""
    p = op.shape[0]
    v0 = rademacher((p,), seed=seed, dtype=torch.float64, device="cpu").numpy()
    with solver_threads():
        values, vecs = eigsh(op.as_linear_operator(), k=k, which="LA" if which == "largest" else "SA", tol=tol,
                             ncv=ncv, maxiter=maxiter, v0=v0)
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
