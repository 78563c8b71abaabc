"""`Landscape`: a trained model, its loss and its data, evaluated at any flat parameter vector."""
from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.func import jacrev, vjp, vmap

from . import nullspace, spectral
from ._checks import check_choice, check_finite_loss, check_vectors, describe
from ._data import as_batches
from ._params import FunctionalModel
from .hvp import HVP_FORMS, HVP_FUNCTIONS, HessianOperator

Progress = Callable[[int, int], None]


class Landscape:
    """The loss landscape of a trained PyTorch model over its data.

    The model is copied and evaluated in **evaluation mode** (BatchNorm uses its running statistics,
    Dropout is off) through ``torch.func.functional_call``: the user's model is never mutated and no
    train-mode randomness enters any result. Every tensor follows the model's dtype and device.

    Args:
        model: a ``torch.nn.Module`` with floating-point parameters on one device.
        loss_fn: ``loss_fn(outputs, targets) -> scalar tensor``.
        data: an ``(inputs, targets)`` pair of tensors, or an iterable of such batches (read once).
            Results over batches equal the full-batch results.
        reduction: ``"mean"`` if ``loss_fn`` averages over samples (the PyTorch default; batch losses
            are then weighted by batch size), ``"sum"`` if it sums (batch losses are added).
        dense_limit: the largest parameter count for which a dense Hessian (P x P) is formed;
            Jacobians are limited to the same number of entries (``dense_limit ** 2``).
        memory_budget: bytes one chunk of batched (vmap) loss evaluation may use.
        behaviour: optional map from the model's outputs to the behaviour whose Jacobian defines the
            Rashomon tangent (``outputs``, ``jacobian``, ``jvp``, ``vjp``, ``project_tangent``), e.g.
            ``lambda z: z.softmax(-1)`` for a classifier (write-up 4's cross-entropy caveat: with
            probabilities as behaviour, rank H = rank G holds). Default: the raw outputs.

    Example:
        >>> import torch, rashomon_widgets as rw
        >>> model = torch.nn.Linear(2, 1)
        >>> X, y = torch.randn(8, 2), torch.randn(8, 1)
        >>> ls = rw.Landscape(model, lambda out, t: ((out - t) ** 2).mean(), (X, y))
        >>> ls.num_params
        3
        >>> ls.hessian().shape
        torch.Size([3, 3])
    """

    def __init__(self, model: torch.nn.Module, loss_fn: Callable, data, *, reduction: str = "mean",
                 dense_limit: int = 4096, memory_budget: int = 512 * 2**20, behaviour: Callable | None = None):
        self._f = FunctionalModel(model)
        layout = self._f.layout
        if not callable(loss_fn):
            raise TypeError(f"loss_fn: expected a callable loss_fn(outputs, targets), got {describe(loss_fn)}")
        self.loss_fn = loss_fn
        self.reduction = check_choice(reduction, "reduction", ("mean", "sum"))
        self.dense_limit = int(dense_limit)
        self.memory_budget = int(memory_budget)
        if behaviour is not None and not callable(behaviour):
            raise TypeError(f"behaviour: expected a callable outputs -> behaviour, got {describe(behaviour)}")
        self.behaviour = behaviour
        self.batches = as_batches(data, layout.device)
        self.num_samples = sum(x.shape[0] for x, _ in self.batches)
        self.dtype, self.device, self.num_params = layout.dtype, layout.device, layout.num_params
        self._theta = layout.flatten(model)
        if not bool(torch.isfinite(self._theta).all()):
            raise ValueError("model: expected finite parameters, got NaN or inf")
        self._weights = [x.shape[0] / self.num_samples if self.reduction == "mean" else 1.0
                         for x, _ in self.batches]
        self._hvp_form: str | None = None
        self._hvp_batched: bool | None = None  # blocks of products in one batched pass, measured once
        self._losses_strategy: str | None = None
        self._bytes_per_point: int | None = None
        first = self._batch_loss(self._theta, *self.batches[0])
        if not isinstance(first, torch.Tensor) or first.ndim != 0:
            raise ValueError("loss_fn: expected a scalar (0-dim) tensor, got "
                             f"{describe(first)}; reduce it with .mean() or .sum()")
        check_finite_loss(self.loss(), "Landscape")

    # ----------------------------------------------------------------- evaluation
    @property
    def theta(self) -> torch.Tensor:
        """A detached copy of the trained parameters as one flat vector (P,)."""
        return self._theta.clone()

    @property
    def layout(self):
        """Names, shapes and slices of the parameters inside ``theta``."""
        return self._f.layout

    def _point(self, theta) -> torch.Tensor:
        if theta is None:
            return self._theta
        return check_vectors(theta, self.num_params, self.dtype, self.device, name="theta")

    def _batch_loss(self, theta, x, y):
        return self.loss_fn(self._f(theta, x), y)

    def _total_loss(self, theta: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for w, (x, y) in zip(self._weights, self.batches):
            total = total + w * self._batch_loss(theta, x, y)
        return total

    def _weighted_batch_losses(self) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        return [lambda t, w=w, x=x, y=y: w * self._batch_loss(t, x, y)
                for w, (x, y) in zip(self._weights, self.batches)]

    def loss(self, theta=None) -> float:
        """The loss at ``theta`` (default: the trained parameters) as a float."""
        with torch.no_grad():
            return float(self._total_loss(self._point(theta)))

    def outputs(self, theta=None) -> torch.Tensor:
        """The behaviour at ``theta``: the model's outputs on all data (mapped by ``behaviour`` if
        given), concatenated over batches."""
        t = self._point(theta)
        with torch.no_grad():
            return torch.cat([self._behaviour(t, x) for x, _ in self.batches])

    def _behaviour(self, theta, x):
        out = self._f(theta, x)
        return out if self.behaviour is None else self.behaviour(out)

    def losses(self, thetas: torch.Tensor, *, strategy: str = "auto",
               progress: Progress | None = None) -> torch.Tensor:
        """Losses of many parameter vectors ``thetas`` (M, P) -> (M,), without touching the model.

        ``strategy="vmap"`` evaluates chunks of points at once with ``torch.vmap`` (chunked to
        ``memory_budget``): it removes per-point overhead, which dominates for tiny models and on GPUs.
        ``"loop"`` runs one plain forward per point: on a CPU that is already at the
        matrix-multiply floor for larger models. ``"auto"`` times both once and keeps the faster.
        ``progress(done, total)`` is called after every chunk.
        """
        check_choice(strategy, "strategy", ("auto", "vmap", "loop"))
        thetas = check_vectors(thetas, self.num_params, self.dtype, self.device, name="thetas", rows=True)
        if strategy == "auto":
            strategy = self._choose_losses_strategy(thetas)
        m = thetas.shape[0]
        out = torch.empty(m, dtype=self.dtype, device=self.device)
        chunk = self._vmap_chunk() if strategy == "vmap" else max(1, min(m, 16))
        with torch.no_grad():
            for start in range(0, m, chunk):
                block = thetas[start:start + chunk]
                if strategy == "vmap":
                    out[start:start + chunk] = vmap(self._total_loss)(block)
                else:
                    for i, t in enumerate(block):
                        out[start + i] = self._total_loss(t)
                if progress is not None:
                    progress(min(start + chunk, m), m)
        return out

    def _vmap_chunk(self) -> int:
        if self._bytes_per_point is None:
            self._bytes_per_point = self._activation_bytes() + 2 * self.num_params * self._theta.element_size()
        return max(1, self.memory_budget // self._bytes_per_point)

    def _activation_bytes(self) -> int:
        """Bytes of all module outputs in one forward over the largest batch (hooks, measured once)."""
        sizes = []
        hooks = [m.register_forward_hook(lambda _m, _i, o: sizes.append(o.numel() * o.element_size())
                                         if isinstance(o, torch.Tensor) else None)
                 for m in self._f.module.modules()]
        try:
            x = max((b[0] for b in self.batches), key=lambda t: t.shape[0])
            with torch.no_grad():
                self._f(self._theta, x)
        finally:
            for h in hooks:
                h.remove()
        return int(sum(sizes)) + 1

    def _choose_losses_strategy(self, thetas: torch.Tensor) -> str:
        if self._losses_strategy is None:
            if thetas.shape[0] < 2:
                return "loop"
            probe = thetas[: min(8, thetas.shape[0], self._vmap_chunk())]
            for name in ("loop", "vmap"):
                self.losses(probe, strategy=name)  # warm-up
            timings = {"loop": float("inf"), "vmap": float("inf")}
            for name in ("loop", "vmap", "loop", "vmap"):  # best of two, interleaved: one timing flips under load
                start = time.perf_counter()
                self.losses(probe, strategy=name)
                timings[name] = min(timings[name], time.perf_counter() - start)
            self._losses_strategy = min(timings, key=timings.get)
        return self._losses_strategy

    # ----------------------------------------------------------------- derivatives
    def grad(self, theta=None) -> torch.Tensor:
        """The gradient of the loss with respect to the parameters (P,)."""
        t = self._point(theta).detach()
        total = torch.zeros_like(t)
        with torch.enable_grad():
            for f in self._weighted_batch_losses():
                tt = t.clone().requires_grad_(True)
                (g,) = torch.autograd.grad(f(tt), tt)
                total += g
        return total

    def hvp(self, v: torch.Tensor, theta=None, *, form: str = "auto") -> torch.Tensor:
        """The Hessian-vector product H v at ``theta``; ``v`` of shape (P,) or (P, K).

        ``form`` is ``"double_backward"``, ``"forward_over_reverse"`` or ``"auto"`` (both are timed
        on the first call and the faster is kept). No graph is retained between calls.
        """
        t = self._point(theta)
        v = check_vectors(v, self.num_params, self.dtype, self.device, allow_matrix=True)
        check_choice(form, "form", ("auto",) + HVP_FORMS)
        if form == "auto":
            if self._hvp_form is None:
                return self._choose_hvp_form(t, v)
            form = self._hvp_form
        fn = HVP_FUNCTIONS[form]
        total = None
        for f in self._weighted_batch_losses():
            hv = fn(f, t, v)
            total = hv if total is None else total + hv
        return total

    def _choose_hvp_form(self, t, v) -> torch.Tensor:
        """Compute H v with each form, keep the faster for later calls, return the product."""
        timings, failed, result = {}, set(), None
        for name in HVP_FORMS + HVP_FORMS:  # best of two, interleaved: one timing flips under load
            if name in failed:
                continue
            try:
                start = time.perf_counter()
                out = self.hvp(v, t, form=name)
                timings[name] = min(timings.get(name, float("inf")), time.perf_counter() - start)
                result = out if result is None else result
            except RuntimeError:  # e.g. F.mse_loss under forward-over-reverse on torch 2.13
                failed.add(name)
        if result is None:
            raise RuntimeError("hvp: neither double backward nor forward-over-reverse could differentiate "
                               "this loss twice; check that loss_fn is twice differentiable")
        self._hvp_form = min(timings, key=timings.get)
        return result

    def hessian_operator(self, theta=None, *, reuse_graph: bool | None = None) -> HessianOperator:
        """A matrix-free Hessian for many products at one point; use it in a ``with`` block.

        By default the gradient graph is kept for the block when the data is a single batch
        (cheapest), and rebuilt per product otherwise (flat memory).
        """
        t = self._point(theta)
        if reuse_graph is None:
            reuse_graph = len(self.batches) == 1
        return HessianOperator(self._weighted_batch_losses(), t, reuse_graph=reuse_graph,
                               fallback=lambda v: self.hvp(v, t), batched=self._hvp_batched,
                               on_choice=lambda b: setattr(self, "_hvp_batched", b))

    def _check_dense(self, what: str, entries: int) -> None:
        limit = self.dense_limit ** 2
        if entries > limit:
            gib = entries * self._theta.element_size() / 2**30
            raise ValueError(
                f"{what}: the dense matrix would have {entries:,} entries ({gib:.1f} GiB); the limit is "
                f"{limit:,} entries (dense_limit={self.dense_limit}, a {self.dense_limit} x "
                f"{self.dense_limit} Hessian). Raise it with rw.Landscape(..., dense_limit=N), or use "
                "the matrix-free methods (hvp, eigs, density, trace, project_tangent).")

    def hessian(self, theta=None) -> torch.Tensor:
        """The dense Hessian (P, P), symmetrised; a ``ValueError`` names the size limit if P is too large."""
        t = self._point(theta)
        self._check_dense("hessian", self.num_params ** 2)
        eye = torch.eye(self.num_params, dtype=self.dtype, device=self.device)
        chunk = 256  # columns per batched product
        with self.hessian_operator(t) as op:
            cols = [op.matvec(eye[:, i:i + chunk]) for i in range(0, self.num_params, chunk)]
        h = torch.cat(cols, dim=1)
        return (h + h.T) / 2

    def _flat_outputs(self, x):
        return lambda t: self._behaviour(t, x).reshape(-1)

    def jacobian(self, theta=None) -> torch.Tensor:
        """Behavioural gradients (K, P): row i is the gradient of scalar output i on the data.

        K counts every scalar output over all samples (``outputs().numel()``), in the order of
        ``outputs().reshape(-1)``. This is G transposed in the write-ups' notation.
        """
        t = self._point(theta).detach()
        self._check_dense("jacobian", self.outputs(t).numel() * self.num_params)
        return torch.cat([jacrev(self._flat_outputs(x))(t).detach() for x, _ in self.batches])

    def jvp(self, v: torch.Tensor, theta=None) -> torch.Tensor:
        """J v (K,): how the outputs move along parameter direction ``v``."""
        t = self._point(theta).detach()
        v = check_vectors(v, self.num_params, self.dtype, self.device)
        return torch.cat([self._jvp_batch(t, x, v) for x, _ in self.batches])

    def _jvp_batch(self, t, x, v):
        # J v as the derivative of the (linear in u) pullback J^T u: two reverse passes, which on a
        # CPU is about 15x faster than torch.func.jvp's forward mode here (digits MLP: 15 vs 270 ms)
        out, pullback = vjp(self._flat_outputs(x), t)
        u = torch.zeros_like(out, requires_grad=True)
        with torch.enable_grad():
            (g,) = pullback(u)
            (jv,) = torch.autograd.grad(g, u, v)
        return jv.detach()

    def vjp(self, u: torch.Tensor, theta=None) -> torch.Tensor:
        """J^T u (P,): the parameter direction that moves the outputs along ``u`` (K,)."""
        t = self._point(theta).detach()
        total, start = torch.zeros_like(t), 0
        for x, _ in self.batches:
            out, pullback = vjp(self._flat_outputs(x), t)
            total += pullback(u[start:start + out.numel()])[0].detach()
            start += out.numel()
        if start != u.numel():
            raise ValueError(f"u: expected {start} entries (one per scalar output), got {u.numel()}")
        return total

    def jacobian_operator(self, theta=None) -> "JacobianOperator":
        """Matrix-free J at one point for many products: one forward per batch, then each ``J^T u``
        is one backward pass and each ``J v`` one more (through the kept pullback graph)."""
        return JacobianOperator(self, self._point(theta).detach())

    # ----------------------------------------------------------------- curvature (see spectral.py)
    def eigs(self, k: int = 5, which: str = "largest", theta=None, **kwargs):
        """The ``k`` largest or smallest Hessian eigenpairs, matrix-free. See :func:`spectral.eigs`."""
        return spectral.eigs(self, k, which, self._point(theta), **kwargs)

    def spectrum(self, theta=None) -> torch.Tensor:
        """All P Hessian eigenvalues, exact (dense ``eigh``), ascending."""
        return spectral.spectrum(self, self._point(theta))

    def density(self, theta=None, **kwargs):
        """Eigenvalue density ``(grid, density)`` by stochastic Lanczos quadrature. See :func:`spectral.density`."""
        return spectral.density(self, self._point(theta), **kwargs)

    def trace(self, theta=None, **kwargs) -> float:
        """Trace of the Hessian (Hutch++ estimate, or exact). See :func:`spectral.trace`."""
        return spectral.trace(self, self._point(theta), **kwargs)

    def null_space(self, theta=None, tol: float | None = None, **kwargs) -> torch.Tensor:
        """Orthonormal basis (P, d) of the zero-curvature directions. See :func:`nullspace.null_space`."""
        return nullspace.null_space(self, self._point(theta), tol, **kwargs)

    def project_tangent(self, v: torch.Tensor, theta=None, **kwargs) -> torch.Tensor:
        """``v - J^T (J J^T)^+ J v``: v projected onto the null space of the Jacobian."""
        return nullspace.project_tangent(self, v, self._point(theta), **kwargs)

    def surface(self, plane, span: float | tuple = 1.0, resolution: int = 21, **kwargs):
        """Loss over a grid on ``plane``: an :class:`rw.Surface`. See :meth:`Plane.surface`."""
        return plane.surface(self, span=span, resolution=resolution, **kwargs)

    def __repr__(self) -> str:
        return (f"Landscape({type(self._f.module).__name__}, P={self.num_params}, "
                f"samples={self.num_samples} in {len(self.batches)} batch(es), {self.dtype}, "
                f"{self.device}, loss={self.loss():.4g})")


class JacobianOperator:
    """``J`` (K, P) of the behaviour at one point, for repeated ``jvp``/``vjp`` products (lsqr).

    The forward graph of every batch and the graph of the pullback ``u -> J^T u`` are built once; ``J v``
    is the derivative of that linear map with respect to ``u`` in direction ``v``.
    """

    def __init__(self, ls: Landscape, theta: torch.Tensor):
        self.shape = (0, ls.num_params)
        self._parts = []
        with torch.enable_grad():
            for x, _ in ls.batches:
                out, pullback = vjp(ls._flat_outputs(x), theta)
                u = torch.zeros_like(out, requires_grad=True)
                (g,) = pullback(u)
                self._parts.append((out.numel(), pullback, u, g))
        k = sum(n for n, *_ in self._parts)
        self.shape = (k, ls.num_params)

    def jvp(self, v: torch.Tensor) -> torch.Tensor:
        """J v (K,)."""
        with torch.enable_grad():
            return torch.cat([torch.autograd.grad(g, u, v, retain_graph=True)[0].detach()
                              for _, _, u, g in self._parts])

    def vjp(self, u: torch.Tensor) -> torch.Tensor:
        """J^T u (P,)."""
        if u.numel() != self.shape[0]:
            raise ValueError(f"u: expected {self.shape[0]} entries (one per scalar output), got {u.numel()}")
        total, start = None, 0
        for n, pullback, _, _ in self._parts:
            part = pullback(u[start:start + n])[0].detach()
            total = part if total is None else total + part
            start += n
        return total
