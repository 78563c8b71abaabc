"""Matrix-free curvature operators at one point: the Hessian and the Jacobian of the behaviour.

Both are curvature operators (:class:`~.linear_operator.CurvatureOperator`): ``op @ v`` on one vector or a
block, a product count (``num_products``), and a float64 scipy ``LinearOperator`` view
(:meth:`as_linear_operator`), as curvlinops' operators have; they are the inputs of the spectral, null-space
and manifold algorithms.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.func import vjp

from ..validation import check_finite_loss
from ._attention import math_attention
from .linear_operator import CurvatureOperator

LossOfTheta = Callable[[torch.Tensor], torch.Tensor]


class HessianOperator(CurvatureOperator):
    """Matrix-free Hessian at one point, for many products (Lanczos, Hutchinson, SLQ).

    Inside ``with HessianOperator(...) as H`` the gradient graph of each batch's loss is built once and
    differentiated again for every product (``H @ v`` or ``H.matvec(v)``, ``v`` of shape (P,) or
    (P, K)). Leaving the block frees the graphs. ``num_products`` counts vectors multiplied.

    A block of K vectors is multiplied either in one batched backward pass (``is_grads_batched``) or
    as K single products. Which is faster depends on the model and the device (a batched pass saves
    per-call overhead, which dominates for tiny models, but its batched kernels can be slower than
    K plain ones on a CPU), so with ``batched=None`` the first block times both on a few of its vectors
    (best of two) and keeps the faster; ``on_choice`` receives the decision so that a caller can remember it.

    Args:
        batch_losses: functions ``theta -> weighted batch loss``; the loss is their sum.
        theta: the point (P,).
        reuse_graph: keep the gradient graphs alive between products (more memory, fewer passes).
        fallback: a function ``v -> H v`` used when ``reuse_graph`` is off.
        batched: multiply blocks in one batched pass (True), vector by vector (False), or measure (None).
        on_choice: called with the measured choice.
        max_block: vectors one batched pass may carry (its memory grows with them); larger blocks are
            multiplied in pieces (None: no limit).
    """

    def __init__(self, batch_losses: list[LossOfTheta], theta: torch.Tensor, *,
                 reuse_graph: bool, fallback: Callable[[torch.Tensor], torch.Tensor],
                 batched: bool | None = None, on_choice: Callable[[bool], None] | None = None,
                 max_block: int | None = None):
        super().__init__((theta.numel(), theta.numel()), theta.dtype, theta.device)
        self.theta = theta.detach()
        self._batch_losses = batch_losses
        self._reuse = reuse_graph
        self._fallback = fallback
        self._graphs: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self.batched = batched
        self._on_choice = on_choice
        self.max_block = max_block

    def __enter__(self) -> HessianOperator:
        """With ``reuse_graph``, build each batch's gradient graph and check the loss at ``theta``.

        Returns:
            the operator.

        Raises:
            ValueError: the loss at ``theta`` is NaN or inf: its curvature means nothing there (a finite
                product can still come out of a NaN loss, e.g. through ``0 * log(negative)``).
        """
        if self._reuse:
            graphs, total = [], 0.0
            with torch.enable_grad(), math_attention():
                for f in self._batch_losses:
                    t = self.theta.clone().requires_grad_(True)
                    loss = f(t)
                    total += float(loss.detach())
                    (g,) = torch.autograd.grad(loss, t, create_graph=True)
                    graphs.append((t, g))
            check_finite_loss(total, "curvature at theta")
            self._graphs = graphs
        # without reuse_graph every product goes through the fallback (Landscape.hvp), which checks the
        # loss it computes anyway
        return self

    def __exit__(self, *exc) -> None:
        self._graphs = None

    def _matmat(self, v: torch.Tensor) -> torch.Tensor:
        """H V for a block V (P, K) (:meth:`matvec` counts the products)."""
        if self._graphs is None:
            return self._fallback(v[:, 0])[:, None] if v.shape[1] == 1 else self._fallback(v)
        if v.shape[1] == 1:
            return self._product(v[:, 0], batched=False)[:, None]
        if self.batched is None:
            return self._choose(v)
        return self._product(v, batched=self.batched)

    def _rmatmat(self, u: torch.Tensor) -> torch.Tensor:
        """H^T U = H U: the Hessian is symmetric."""
        return self._matmat(u)

    def _product(self, v: torch.Tensor, *, batched: bool) -> torch.Tensor:
        if v.ndim == 2 and not batched:
            return torch.stack([self._product(v[:, k], batched=False) for k in range(v.shape[1])], 1)
        if v.ndim == 2 and self.max_block is not None and v.shape[1] > self.max_block:
            return torch.cat([self._product(v[:, k:k + self.max_block], batched=True)
                              for k in range(0, v.shape[1], self.max_block)], 1)
        total = None
        for t, g in self._graphs:
            if v.ndim == 1:
                (hv,) = torch.autograd.grad(g, t, grad_outputs=v, retain_graph=True)
            else:
                (hv,) = torch.autograd.grad(g, t, grad_outputs=v.T.contiguous(), retain_graph=True,
                                            is_grads_batched=True)
                hv = hv.T
            total = hv if total is None else total + hv
        return total.detach()

    def _choose(self, v: torch.Tensor) -> torch.Tensor:
        """Time both ways on the first (up to) 4 vectors, keep the faster, finish the block with it."""
        probe = v[:, :min(4, v.shape[1])]
        best = {}
        for batched in (True, False, True, False):  # best of two, interleaved
            start = time.perf_counter()
            head = self._product(probe, batched=batched)
            best[batched] = min(best.get(batched, float("inf")), time.perf_counter() - start)
        self.batched = best[True] <= best[False]
        if self._on_choice is not None:
            self._on_choice(self.batched)
        if probe.shape[1] == v.shape[1]:
            return head
        return torch.cat([head, self._product(v[:, probe.shape[1]:], batched=self.batched)], 1)

    def to_dense(self, chunk: int = 256) -> torch.Tensor:
        """The dense Hessian (P, P), symmetrised, from P products (``chunk`` columns per block).

        Args:
            chunk: columns multiplied per block.

        Returns:
            (P, P) tensor in the operator's dtype and device.
        """
        h = super().to_dense(chunk)
        return (h + h.T) / 2


class JacobianOperator(CurvatureOperator):
    """``J`` (K, P): the Jacobian of the behaviour on all data at one point, for repeated products.

    The forward graph of every batch and the graph of the pullback ``u -> J^T u`` are built once; ``J v``
    is the derivative of that linear map with respect to ``u`` in direction ``v`` (the double-backward
    trick: two reverse passes, which reuse the stored graphs, instead of a forward-mode pass that would
    rebuild them). Build one with
    :meth:`Landscape.jacobian_operator`. ``num_products`` counts the vectors multiplied, by ``J`` and by
    ``J^T`` alike.

    Args:
        outputs_of: functions ``theta -> flat behaviour on one batch``, one per batch.
        theta: the point (P,).
        keep_graphs: hold every batch's graphs between products (fast); False: build one batch's graphs
            per product and drop them (one more forward per batch and product, one batch's memory: for
            data in several batches that would not fit together).

    Example:
        >>> jac = ls.jacobian_operator()                          # doctest: +SKIP
        >>> jac.jvp(v).shape == (jac.shape[0],)                   # doctest: +SKIP
        True
    """

    def __init__(self, outputs_of: list[Callable[[torch.Tensor], torch.Tensor]], theta: torch.Tensor, *,
                 keep_graphs: bool = True):
        self._outputs_of, self._theta = outputs_of, theta.detach()
        self._kept = [self._part(f) for f in outputs_of] if keep_graphs else None
        if keep_graphs:
            sizes = [n for n, *_ in self._kept]
        else:
            with torch.no_grad():
                sizes = [f(self._theta).numel() for f in outputs_of]
        self._sizes = sizes
        super().__init__((sum(sizes), theta.numel()), theta.dtype, theta.device)

    def _part(self, f):
        """(outputs, pullback, u, J^T u as a function of u) of one batch."""
        with torch.enable_grad(), math_attention():
            out, pullback = vjp(f, self._theta)
            u = torch.zeros_like(out, requires_grad=True)
            (g,) = pullback(u)
        return out.numel(), pullback, u, g

    def _parts(self):
        """Every batch's graphs: the kept ones, or built one batch at a time."""
        return iter(self._kept) if self._kept is not None else (self._part(f) for f in self._outputs_of)

    def _matmat(self, v: torch.Tensor) -> torch.Tensor:
        """J V for a block V (P, K), one direction at a time."""
        with torch.enable_grad():
            return torch.stack([torch.cat([torch.autograd.grad(g, u, v[:, k], retain_graph=self._kept is not None)[0]
                                           .detach() for _, _, u, g in self._parts()])
                                for k in range(v.shape[1])], 1)

    def _rmatmat(self, u: torch.Tensor) -> torch.Tensor:
        """J^T U for a block U (K, k), one weighting at a time."""
        columns = []
        for j in range(u.shape[1]):
            total, start = None, 0
            for n, pullback, _, _ in self._parts():
                part = pullback(u[start:start + n, j])[0].detach()
                total = part if total is None else total + part
                start += n
            columns.append(total)
        return torch.stack(columns, 1)

    def jvp(self, v: torch.Tensor) -> torch.Tensor:
        """J v.

        Args:
            v: a parameter direction (P,), or a block of them (P, k).

        Returns:
            (K,) or (K, k): how the outputs move along ``v``.
        """
        return self.matvec(v)

    def vjp(self, u: torch.Tensor) -> torch.Tensor:
        """J^T u.

        Args:
            u: one weight per scalar output (K,).

        Returns:
            (P,): the parameter direction that moves the outputs along ``u``.

        Raises:
            ValueError: ``u`` does not have K entries.
        """
        if u.numel() != self.shape[0]:
            raise ValueError(f"u: expected {self.shape[0]} entries (one per scalar output), got {u.numel()}")
        return self.rmatvec(u.reshape(-1))
