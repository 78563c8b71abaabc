"""Hessian spectra as results: the exact spectrum (:class:`Spectrum`) and extreme eigenpairs (:class:`Eigenpairs`).

A :class:`Spectrum` carries the one near-zero rule of the package: an eigenvalue is *near zero* when
``|lambda| <= tol * max |lambda|`` (``tol`` relative, 1e-6 for float64 models and 1e-4 for float32 by
default). Null spaces, behavioural ranks, the spectrum view and the notebooks all count with it, so a
widget and a notebook can never disagree on a count.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..validation import all_finite, check_int, check_tolerance, describe
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
    def near_zero_mask(self) -> torch.Tensor:
        """Boolean mask (P,) of the near-zero eigenvalues."""
        return self.values.abs() <= self.threshold

    @property
    def near_zero(self) -> torch.Tensor:
        """Deprecated: :attr:`near_zero_mask` (``near_zero`` is a count everywhere else)."""
        warnings.warn("Spectrum.near_zero is deprecated: use Spectrum.near_zero_mask (the mask) or "
                      "num_near_zero / near_zero_count() (the count)", DeprecationWarning, stacklevel=2)
        return self.near_zero_mask

    @property
    def num_near_zero(self) -> int:
        """How many eigenvalues are near zero (the null space's dimension)."""
        return int(self.near_zero_mask.sum())

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
        """:attr:`near_zero_mask` as a numpy mask (P,)."""
        return self.near_zero_mask.cpu().numpy()

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
        return self.vectors[:, self.near_zero_mask]

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
