"""The contract every curvature operator keeps: a matrix known only through its products.

A spectral algorithm (:func:`~.eigensolver.lanczos_eigs`, :func:`~.trace_estimators.trace`,
:func:`~.spectral_density.density`) needs of a matrix ``A`` (m, n) only its shape, the dtype and device of its
vectors, the products ``A v`` and a count of the products spent, which the algorithm reports with its result.
:class:`CurvatureOperator` is that contract as a base class, in the shape of curvlinops' ``_torch_base.py``: a
subclass writes ``_matmat`` (and ``_rmatmat`` for ``A^T``) on blocks of vectors and gets ``@``, one-vector
products, the product count and the scipy ``LinearOperator`` view. :class:`LinearOperatorLike` is the same
contract as a ``typing.Protocol``, for the duck-typed operators a user passes (a test's diagonal matrix, a
wrapper that counts or reports progress).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

__all__ = ["CurvatureOperator", "LinearOperatorLike", "MatrixOperator"]


@runtime_checkable
class LinearOperatorLike(Protocol):
    """What the algorithms read of an operator ``A`` (m, n).

    Attributes:
        shape: ``(m, n)``.
        dtype: the dtype of the vectors it multiplies.
        device: their device.
        num_products: vectors multiplied so far (an algorithm reports the difference it made).
    """

    shape: tuple[int, int]
    dtype: torch.dtype
    device: torch.device
    num_products: int

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """``A v``, counted in ``num_products`` (one per vector).

        Args:
            v: one vector (n,) or a block (n, K).

        Returns:
            (m,) or (m, K), like ``v``.
        """


class CurvatureOperator:
    """A matrix ``A`` (m, n) known through its products, on torch tensors of one dtype and device.

    A subclass implements :meth:`_matmat` (``A V`` for a block V of shape (n, K)) and, where the transpose is
    available, :meth:`_rmatmat`; this class validates the vectors, counts the products in ``num_products`` (one
    per vector, whichever side) and offers ``A @ v``, :meth:`matvec`, :meth:`rmatvec`, :meth:`to_dense` and
    :meth:`as_linear_operator`.

    Args:
        shape: ``(m, n)``.
        dtype: the dtype of the vectors (the point's).
        device: their device.
    """

    def __init__(self, shape: tuple[int, int], dtype: torch.dtype, device: torch.device):
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype, self.device = dtype, device
        self.num_products = 0

    # ------------------------------------------------------------------ what a subclass writes
    def _matmat(self, v: torch.Tensor) -> torch.Tensor:
        """``A V`` for a block V (n, K), K >= 1: the subclass's product."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _matmat")

    def _rmatmat(self, u: torch.Tensor) -> torch.Tensor:
        """``A^T U`` for a block U (m, K): the subclass's transposed product, where it has one."""
        raise NotImplementedError(f"{type(self).__name__} has no transposed product")

    # ------------------------------------------------------------------ what it gets
    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """``A v``.

        Args:
            v: one vector (n,) or a block (n, K), in the operator's dtype and device.

        Returns:
            (m,) or (m, K), like ``v``.
        """
        return self._apply(v, self.shape[1], self._matmat, "v")

    __matmul__ = matvec

    def rmatvec(self, u: torch.Tensor) -> torch.Tensor:
        """``A^T u``.

        Args:
            u: one vector (m,) or a block (m, K).

        Returns:
            (n,) or (n, K), like ``u``.
        """
        return self._apply(u, self.shape[0], self._rmatmat, "u")

    def _apply(self, x: torch.Tensor, n: int, product, name: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim not in (1, 2) or x.shape[0] != n:
            got = f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name}: expected a vector ({n},) or a block ({n}, K), got {got}")
        self.num_products += 1 if x.ndim == 1 else x.shape[1]
        return product(x[:, None])[:, 0] if x.ndim == 1 else product(x)

    def to_dense(self, chunk: int = 256) -> torch.Tensor:
        """The dense matrix (m, n), from n products (``chunk`` columns per block).

        Args:
            chunk: columns multiplied per block.

        Returns:
            (m, n) tensor in the operator's dtype and device.
        """
        n = self.shape[1]
        eye = torch.eye(n, dtype=self.dtype, device=self.device)
        return torch.cat([self.matvec(eye[:, i:i + chunk]) for i in range(0, n, chunk)], dim=1)

    def as_linear_operator(self) -> LinearOperator:
        """This operator as a float64 scipy ``LinearOperator`` (for ``eigsh``, ``cg``, ``lsqr``, ...).

        Its products call :meth:`matvec` and :meth:`rmatvec` (counted like any other), converting numpy
        arrays to the operator's dtype and device and the results back to float64 numpy.

        Returns:
            a ``scipy.sparse.linalg.LinearOperator`` of shape ``(m, n)``.
        """
        def to_torch(x, *shape):
            return torch.as_tensor(np.ascontiguousarray(x), dtype=self.dtype, device=self.device).reshape(*shape)

        def numpy(t: torch.Tensor) -> np.ndarray:
            return t.detach().double().cpu().numpy()

        m, n = self.shape
        return LinearOperator(self.shape, dtype=np.float64,
                              matvec=lambda x: numpy(self.matvec(to_torch(x, n))),
                              matmat=lambda x: numpy(self.matvec(to_torch(x, n, -1))),
                              rmatvec=lambda u: numpy(self.rmatvec(to_torch(u, m))),
                              rmatmat=lambda u: numpy(self.rmatvec(to_torch(u, m, -1))))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype}, device={self.device}, "
                f"num_products={self.num_products})")


class MatrixOperator(CurvatureOperator):
    """A dense matrix as a :class:`CurvatureOperator`: the algorithms written for matrix-free operators
    run unchanged on a Hessian already formed (a small model's), at the cost of matrix products.

    Args:
        matrix: (m, n) tensor.

    Example:
        >>> op = MatrixOperator(torch.diag(torch.tensor([1.0, 2.0])))
        >>> (op @ torch.ones(2)).tolist(), op.num_products
        ([1.0, 2.0], 1)
    """

    def __init__(self, matrix: torch.Tensor):
        super().__init__(tuple(matrix.shape), matrix.dtype, matrix.device)
        self.matrix = matrix

    def _matmat(self, v: torch.Tensor) -> torch.Tensor:
        return self.matrix @ v

    def _rmatmat(self, u: torch.Tensor) -> torch.Tensor:
        return self.matrix.T @ u
