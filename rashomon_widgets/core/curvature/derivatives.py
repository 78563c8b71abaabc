"""Derivatives of a Landscape's loss and behaviour: gradient, HVP, Hessian, Jacobian and their operators."""
from __future__ import annotations

import warnings

import torch
from torch.func import jacrev, vjp

from ..validation import check_choice, check_finite_loss, check_vectors
from ._attention import math_attention
from .hvp import HVP_FORMS, choose_form, hvp_sum
from .operators import HessianOperator, JacobianOperator
from .probes import rademacher

#: samples of the first batch on which the two HVP forms are cross-checked (see ``Derivatives.hvp_form``)
CROSS_CHECK_SAMPLES = 64
#: bytes a batched Hessian-vector pass holds per vector, in units of the forward's activation bytes (primal,
#: tangent and backward intermediates; see ``Derivatives.hvp_block``)
HVP_BYTES_PER_ACTIVATION = 4


def _size(n: int) -> str:
    """Bytes as a person reads them: ``"1.2 GiB"``, ``"340 MiB"``, ``"12 KiB"``, ``"4 bytes"``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


class MemoryBudgetWarning(UserWarning):
    """One Hessian-vector product on the largest batch would need more memory than the budget allows."""


class Derivatives:
    """Gradient, Hessian-vector products, dense Hessian, Jacobian products and operators: mixed into
    :class:`Landscape`."""

    def grad(self, theta=None) -> torch.Tensor:
        """The gradient of the loss with respect to the parameters.

        Args:
            theta: (P,); default the trained parameters.

        Returns:
            (P,).

        Raises:
            ValueError: the loss is not finite at ``theta``.
        """
        point = self.check_theta(theta).detach()
        total = torch.zeros_like(point)
        with torch.enable_grad():
            for f in self.batch_losses():
                th = point.clone().requires_grad_(True)
                loss = f(th)
                check_finite_loss(float(loss.detach()), "grad")
                (g,) = torch.autograd.grad(loss, th)
                total += g
        return total

    def hvp(self, v: torch.Tensor, theta=None, *, form: str = "auto") -> torch.Tensor:
        """The Hessian-vector product H v at ``theta``. No graph is retained between calls.

        Args:
            v: (P,) or a block (P, K).
            theta: (P,); default the trained parameters.
            form: ``"double_backward"``, ``"forward_over_reverse"`` or ``"auto"``: both forms are
                cross-checked on the first call (if they disagree, double backward is used and a
                warning says why; otherwise the faster is kept).

        Returns:
            H v, shaped like ``v``.

        Raises:
            RuntimeError: the loss cannot be differentiated twice (both forms' errors quoted).
            ValueError: the loss is not finite at ``theta``; a bad ``v`` or ``form``.
        """
        point = self.check_theta(theta)
        v = check_vectors(v, self.num_params, self.dtype, self.device, allow_matrix=True)
        check_choice(form, "form", ("auto",) + HVP_FORMS)
        if form == "auto":
            form = self.hvp_form(point)
        block = self.hvp_block()
        with math_attention():
            if v.ndim == 1 or v.shape[1] <= block:
                return hvp_sum(form, self.batch_losses(), point, v)
            return torch.cat([hvp_sum(form, self.batch_losses(), point, v[:, k:k + block])
                              for k in range(0, v.shape[1], block)], 1)

    def hvp_block(self) -> int:
        """How many vectors one batched Hessian-vector pass may carry within ``memory_budget``.

        A batched pass (``vmap`` of forward-over-reverse, or a batched backward) holds about
        :data:`HVP_BYTES_PER_ACTIVATION` times the model's activations on the largest batch for every
        vector, so a block of K vectors costs K times one product's memory: the block is the most vectors
        whose passes fit ``memory_budget`` together. Larger blocks are multiplied in pieces of this many
        columns.

        Returns:
            an int >= 1.
        """
        return max(1, self.memory_budget // self.product_bytes())

    def product_bytes(self) -> int:
        """About how many bytes one Hessian-vector product holds: :data:`HVP_BYTES_PER_ACTIVATION` times the
        activations of the largest batch, plus two parameter vectors (the batches are taken one at a time).

        Returns:
            an int (an estimate from the layers' output shapes, not a measurement).
        """
        return HVP_BYTES_PER_ACTIVATION * self._profile()[0] + 2 * self.num_params * self._theta.element_size()

    def _check_product_memory(self) -> None:
        """Say before any work starts when one product on the largest batch will not fit in four times
        ``memory_budget`` (2 GiB by default), and how to make it fit."""
        need, limit = self.product_bytes(), 4 * self.memory_budget
        if need > limit:
            largest = max(x.shape[0] for x, _ in self.batches)
            fits = max(1, int(largest * limit / need))
            warnings.warn(
                f"Landscape: one Hessian-vector product on a batch of {largest:,} samples will hold about "
                f"{_size(need)} (more than 4 x memory_budget = {_size(limit)}). Pass the data "
                f"in smaller batches, e.g. rw.data.batches(X, y, {fits}): results are the same and one batch is "
                "held at a time; or raise memory_budget if the machine has the memory.",
                MemoryBudgetWarning, stacklevel=3)

    def hvp_form(self, theta=None) -> str:
        """The HVP form ``hvp(form="auto")`` uses: chosen once per landscape (see :func:`hvp.choose_form`).

        The two forms are cross-checked (four products) on the first :data:`CROSS_CHECK_SAMPLES` samples
        of the first batch, not on all the data: whether forward mode is right is a property of the
        model's layers, not of the data. Each product costs a forward and a backward pass over the data it
        is given, so four products on a slice cost little next to one product on a large data set, where
        the same four on all the data would cost four products more. A model that cannot run on such a slice
        is cross-checked on all the data.

        Args:
            theta: where to cross-check the two forms on the first call.

        Returns:
            ``"double_backward"`` or ``"forward_over_reverse"``.
        """
        if self._hvp_form is None:
            point = self.check_theta(theta)
            with self._lock:
                if self._hvp_form is None:
                    probe = rademacher((self.num_params,), seed=12345, dtype=self.dtype, device=self.device)
                    with math_attention():
                        self._hvp_form = self._cross_check(point, probe)
        return self._hvp_form

    def _cross_check(self, point: torch.Tensor, probe: torch.Tensor) -> str:
        x, y = self.batches[0]
        n = min(x.shape[0], CROSS_CHECK_SAMPLES)
        if len(self.batches) == 1 and n == x.shape[0]:
            return choose_form(self.batch_losses(), point, probe)
        try:
            return choose_form([lambda th: self.loss_on(th, x[:n], y[:n])], point, probe)
        except (RuntimeError, ValueError):  # a model that needs its whole batch (or a NaN loss on the slice)
            return choose_form(self.batch_losses(), point, probe)

    def hessian_operator(self, theta=None, *, reuse_graph: bool | None = None) -> HessianOperator:
        """A matrix-free Hessian for many products at one point; use it in a ``with`` block.

        Args:
            theta: (P,); default the trained parameters.
            reuse_graph: keep each batch's gradient graph for the block (default: when the data is
                one batch, the cheapest) or rebuild it per product (flat memory).

        Returns:
            a :class:`HessianOperator` (``op @ v``, ``op.as_linear_operator()``, ``op.to_dense()``).

        Example:
            >>> with ls.hessian_operator() as op:                     # doctest: +SKIP
            ...     hv = op @ v
        """
        point = self.check_theta(theta)
        if reuse_graph is None:
            reuse_graph = len(self.batches) == 1
        return HessianOperator(self.batch_losses(), point, reuse_graph=reuse_graph,
                               fallback=lambda v: self.hvp(v, point), batched=self._hvp_batched,
                               on_choice=lambda b: setattr(self, "_hvp_batched", b), max_block=self.hvp_block())

    def hessian(self, theta=None) -> torch.Tensor:
        """The dense Hessian, symmetrised.

        Args:
            theta: (P,); default the trained parameters.

        Returns:
            (P, P).

        Raises:
            ValueError: P above ``dense_limit`` (the message names the limit and the alternatives).
        """
        point = self.check_theta(theta)
        self.policy.check_dense("hessian", self.num_params ** 2, self._theta.element_size())
        with self.hessian_operator(point) as op:
            return op.to_dense()

    def _flat_outputs(self, x):
        return lambda theta: self._behaviour(theta, x).reshape(-1)

    def flat_outputs(self, theta: torch.Tensor) -> torch.Tensor:
        """The behaviour on all batches, flat and differentiable: ``outputs(theta).reshape(-1)`` with its
        graph, for ``torch.func`` transforms (``vmap``, ``jacrev``, ``jvp``) and autograd.

        Unlike :meth:`outputs` it neither checks ``theta`` nor detaches: a transform's batched tensors
        pass through it unchanged.

        Args:
            theta: (P,) parameters in the model's dtype and device.

        Returns:
            (K,) tensor, K = ``outputs().numel()``.

        Example:
            >>> torch.vmap(ls.flat_outputs)(points)          # (n, K) for points (n, P)  # doctest: +SKIP
        """
        return torch.cat([self._behaviour(theta, x).reshape(-1) for x, _ in self.batches])

    def jacobian(self, theta=None) -> torch.Tensor:
        """Behavioural gradients: row i is the gradient of scalar output i on the data.

        K counts every scalar output over all samples (``outputs().numel()``), in the order of
        ``outputs().reshape(-1)``. This is G transposed in the write-ups' notation.

        Args:
            theta: (P,); default the trained parameters.

        Returns:
            (K, P).

        Raises:
            ValueError: K x P above ``dense_limit ** 2``.
        """
        point = self.check_theta(theta).detach()
        self.policy.check_dense("jacobian", self.outputs(point).numel() * self.num_params,
                                self._theta.element_size())
        with math_attention():
            return torch.cat([jacrev(self._flat_outputs(x))(point).detach() for x, _ in self.batches])

    def jvp(self, v: torch.Tensor, theta=None) -> torch.Tensor:
        """J v: how the outputs move along parameter direction ``v``.

        Args:
            v: (P,).
            theta: (P,); default the trained parameters.

        Returns:
            (K,).
        """
        point = self.check_theta(theta).detach()
        v = check_vectors(v, self.num_params, self.dtype, self.device)
        return self.jacobian_operator(point).jvp(v)

    def vjp(self, u: torch.Tensor, theta=None) -> torch.Tensor:
        """J^T u: the parameter direction that moves the outputs along ``u``.

        Args:
            u: (K,), one entry per scalar output.
            theta: (P,); default the trained parameters.

        Returns:
            (P,).

        Raises:
            ValueError: ``u`` does not have K entries.
        """
        point = self.check_theta(theta).detach()
        total, start = torch.zeros_like(point), 0
        for x, _ in self.batches:
            out, pullback = vjp(self._flat_outputs(x), point)
            total += pullback(u[start:start + out.numel()])[0].detach()
            start += out.numel()
        if start != u.numel():
            raise ValueError(f"u: expected {start} entries (one per scalar output), got {u.numel()}")
        return total

    def jacobian_operator(self, theta=None) -> JacobianOperator:
        """Matrix-free J at one point for many products: one forward per batch, then each ``J^T u``
        is one backward pass and each ``J v`` one more (through the kept pullback graph). Data in several
        batches whose graphs would not fit ``memory_budget`` together (:meth:`product_bytes` per batch) are
        taken one batch at a time, each product with its own forward.

        Args:
            theta: (P,); default the trained parameters.

        Returns:
            a :class:`JacobianOperator`.
        """
        point = self.check_theta(theta).detach()
        # several batches whose graphs would not fit memory_budget together: one batch's graphs at a time
        keep = len(self.batches) == 1 or self.product_bytes() * (len(self.batches) - 1) <= self.memory_budget
        return JacobianOperator([self._flat_outputs(x) for x, _ in self.batches], point, keep_graphs=keep)
