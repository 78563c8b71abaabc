"""`Landscape`: a trained model, its loss and its data, evaluated at any flat parameter vector."""
from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable

import torch
from torch.func import jacrev, vjp, vmap

from . import density as _density
from . import nullspace as _nullspace
from . import spectra as _spectra
from . import trace as _trace
from ..validation import check_choice, check_finite_loss, check_tolerance, check_vectors, describe
from ._attention import math_attention
from ._data import as_batches
from ._params import FunctionalModel
from ._random import rademacher
from .hvp import HVP_FORMS, choose_form, hvp_sum
from .operators import HessianOperator, JacobianOperator
from .policy import SizePolicy
from .spectra import Spectrum, default_tol

Progress = Callable[[int, int], None]
_REDUCTIONS = {"mean": "mean", "sum": "sum", "batchmean": "mean"}
_VMAP_FAILURES = (RuntimeError, NotImplementedError, ValueError)


class BatchStatisticsWarning(UserWarning):
    """Batch-statistics normalisation makes results over several batches differ from full-batch ones."""


def _reduction_of(loss_fn, reduction: str | None) -> str:
    """The loss's reduction: the argument, the loss module's own ``.reduction``, or ``"mean"``."""
    own = getattr(loss_fn, "reduction", None)
    if isinstance(own, str):
        if own not in _REDUCTIONS:
            raise ValueError(f"loss_fn: its reduction is {own!r}; expected a loss reduced to a scalar "
                             "('mean' or 'sum'), e.g. torch.nn.MSELoss(reduction='sum')")
        own = _REDUCTIONS[own]
        if reduction is not None and check_choice(reduction, "reduction", ("mean", "sum")) != own:
            raise ValueError(f"reduction: got {reduction!r}, but loss_fn reduces with {own!r} "
                             f"({type(loss_fn).__name__}.reduction); drop the argument or make them agree")
        return own
    if reduction is None:
        return "mean"
    return check_choice(reduction, "reduction", ("mean", "sum"))


def _batch_statistics_modules(module: torch.nn.Module) -> list[str]:
    """Names of normalisation layers that use the statistics of the batch even in eval mode."""
    return [f"{name or 'model'} ({type(m).__name__}, track_running_stats=False)"
            for name, m in module.named_modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is None]


class Landscape:
    """The loss landscape of a trained PyTorch model over its data.

    The model is copied and evaluated in **evaluation mode** (BatchNorm uses its running statistics,
    Dropout is off) through ``torch.func.functional_call``: the user's model is never mutated and no
    train-mode randomness enters any result. Every tensor follows the model's dtype and device;
    floating-point data are cast to the model's dtype.

    A Landscape can be shared by any number of threads (an explorer's worker and a notebook cell):
    each thread evaluates its own private copy of the model, so results equal single-threaded ones.

    Args:
        model: a ``torch.nn.Module`` with floating-point parameters on one device. Frozen parameters
            (``requires_grad=False``) are constants, not part of ``theta``.
        loss_fn: ``loss_fn(outputs, targets) -> scalar tensor``, differentiable in the outputs.
        data: an ``(inputs, targets)`` pair of tensors, or an iterable of such batches (read once).
            Results over batches equal the full-batch results.
        reduction: ``"mean"`` if ``loss_fn`` averages over samples (batch losses are then weighted by
            batch size), ``"sum"`` if it sums (batch losses are added). Default: the loss's own
            ``.reduction`` (``torch.nn`` losses, ``rw.models`` losses), else ``"mean"``.
        dense_limit: the largest parameter count for which a dense Hessian (P x P) is formed on
            request; Jacobians are limited to ``dense_limit ** 2`` entries (see :class:`SizePolicy`).
        small_limit: the largest parameter count answered exactly by default (see :class:`SizePolicy`).
        memory_budget: bytes one chunk of batched (vmap) loss evaluation may use.
        behaviour: optional map from the model's outputs to the behaviour whose Jacobian defines the
            Rashomon tangent (``outputs``, ``jacobian``, ``jvp``, ``vjp``, ``project_tangent``), e.g.
            ``lambda z: z.softmax(-1)`` for a classifier (write-up 4's cross-entropy caveat). Default:
            the raw outputs.

    Raises:
        TypeError: a model, loss or data of the wrong kind (the message says what was expected).
        ValueError: a loss that is not a scalar, does not depend on the parameters, or is not finite;
            a ``reduction`` that contradicts the loss module's; data with mismatched sizes.

    Warns:
        BatchStatisticsWarning: a BatchNorm layer without running statistics and several batches.

    Example:
        >>> import torch, rashomon_widgets as rw
        >>> model = torch.nn.Linear(2, 1)
        >>> X, y = torch.randn(8, 2), torch.randn(8, 1)
        >>> ls = rw.Landscape(model, torch.nn.MSELoss(), (X, y))
        >>> ls.num_params, ls.reduction
        (3, 'mean')
        >>> ls.hessian().shape
        torch.Size([3, 3])
    """

    def __init__(self, model: torch.nn.Module, loss_fn: Callable, data, *, reduction: str | None = None,
                 dense_limit: int = 4096, small_limit: int = 1024, memory_budget: int = 512 * 2**20,
                 behaviour: Callable | None = None):
        self._f = FunctionalModel(model)
        layout = self._f.layout
        if not callable(loss_fn):
            raise TypeError(f"loss_fn: expected a callable loss_fn(outputs, targets), got {describe(loss_fn)}")
        self.loss_fn = loss_fn
        self.reduction = _reduction_of(loss_fn, reduction)
        self.policy = SizePolicy(dense_limit, small_limit)
        self.memory_budget = int(memory_budget)
        if behaviour is not None and not callable(behaviour):
            raise TypeError(f"behaviour: expected a callable outputs -> behaviour, got {describe(behaviour)}")
        self.behaviour = behaviour
        self.dtype, self.device, self.num_params = layout.dtype, layout.device, layout.num_params
        self.batches = as_batches(data, self.device, self.dtype)
        self.num_samples = sum(x.shape[0] for x, _ in self.batches)
        self._theta = layout.flatten(model)
        if not bool(torch.isfinite(self._theta).all()):
            raise ValueError("model: expected finite parameters, got NaN or inf")
        self._weights = tuple(x.shape[0] / self.num_samples if self.reduction == "mean" else 1.0
                              for x, _ in self.batches)
        self._lock = threading.Lock()        # guards the one-time choices below
        self._local = threading.local()      # per-thread bookkeeping (last_num_products)
        self._hvp_form: str | None = None
        self._hvp_batched: bool | None = None  # blocks of products in one batched pass, measured once
        self._losses_strategy: str | None = None
        self._bytes_per_point: int | None = None
        self._check_loss()
        stats = _batch_statistics_modules(self._f.module)
        if stats and len(self.batches) > 1:
            warnings.warn(
                f"data: {', '.join(stats)} normalise{'s' if len(stats) == 1 else ''} with the statistics "
                f"of each batch, so results over these {len(self.batches)} batches differ from full-batch "
                "results. Pass the data as one (inputs, targets) batch for exact full-batch values.",
                BatchStatisticsWarning, stacklevel=2)
        check_finite_loss(self.loss(), "Landscape")

    def _check_loss(self) -> None:
        x, y = self.batches[0]
        theta = self._theta.clone().requires_grad_(True)
        with torch.enable_grad():
            first = self.loss_on(theta, x, y)
        if not isinstance(first, torch.Tensor) or first.ndim != 0:
            raise ValueError("loss_fn: expected a scalar (0-dim) tensor, got "
                             f"{describe(first)}; reduce it with .mean() or .sum()")
        if not first.requires_grad:
            raise ValueError("loss_fn: the loss does not depend on the parameters (no gradient flows from it "
                             "to theta); expected loss_fn(outputs, targets) computed from the outputs. Did a "
                             ".detach(), .item(), .numpy() or torch.no_grad() slip into the model or the loss?")

    # ----------------------------------------------------------------- the public interface of a point
    @property
    def theta(self) -> torch.Tensor:
        """A detached copy of the trained parameters as one flat vector (P,)."""
        return self._theta.clone()

    @property
    def layout(self):
        """Names, shapes and slices of the parameters inside ``theta``."""
        return self._f.layout

    @property
    def dense_limit(self) -> int:
        """The policy's dense limit (see :class:`SizePolicy`)."""
        return self.policy.dense_limit

    @property
    def batch_weights(self) -> tuple[float, ...]:
        """The weight of each batch's loss in the total (its share of the samples, or 1 for ``"sum"``)."""
        return self._weights

    @property
    def last_num_products(self) -> int | None:
        """Hessian-vector products used by this thread's last spectral call (eigs, density, trace...)."""
        return getattr(self._local, "last_num_products", None)

    @last_num_products.setter
    def last_num_products(self, value: int) -> None:
        self._local.last_num_products = value

    def check_theta(self, theta=None) -> torch.Tensor:
        """Validate a parameter vector of this model.

        Args:
            theta: (P,) in the model's dtype and device, finite; None means the trained parameters.

        Returns:
            ``theta`` itself (not a copy), or the trained parameters.

        Raises:
            TypeError, ValueError: what was expected and what came.
        """
        if theta is None:
            return self._theta
        return check_vectors(theta, self.num_params, self.dtype, self.device, name="theta")

    def forward(self, theta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """The model's raw outputs on ``inputs`` at ``theta`` (differentiable in theta; thread-safe).

        Args:
            theta: (P,), not validated (use :meth:`check_theta`).
            inputs: one batch of inputs.

        Returns:
            the model's output tensor.
        """
        return self._f(theta, inputs)

    def loss_on(self, theta: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``loss_fn(model(inputs; theta), targets)`` on one batch, unweighted, differentiable in theta.

        Args:
            theta: (P,).
            inputs, targets: one batch.

        Returns:
            a scalar tensor.
        """
        return self.loss_fn(self._f(theta, inputs), targets)

    def batch_losses(self) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        """One function ``theta -> weighted loss of batch i`` per batch; the loss is their sum.

        Returns:
            a list of callables (what :class:`HessianOperator` and the HVP forms take).
        """
        return [lambda theta, w=w, x=x, y=y: w * self.loss_on(theta, x, y)
                for w, (x, y) in zip(self._weights, self.batches)]

    def _total_loss(self, theta: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for w, (x, y) in zip(self._weights, self.batches):
            total = total + w * self.loss_on(theta, x, y)
        return total

    # ----------------------------------------------------------------- evaluation
    def loss(self, theta=None) -> float:
        """The loss at ``theta``.

        Args:
            theta: (P,); default the trained parameters.

        Returns:
            the loss over all data, as a float.
        """
        with torch.no_grad():
            return float(self._total_loss(self.check_theta(theta)))

    def outputs(self, theta=None) -> torch.Tensor:
        """The behaviour at ``theta``: the model's outputs on all data (mapped by ``behaviour`` if given),
        concatenated over batches.

        Args:
            theta: (P,); default the trained parameters.

        Returns:
            (N, ...) tensor.
        """
        point = self.check_theta(theta)
        with torch.no_grad():
            return torch.cat([self._behaviour(point, x) for x, _ in self.batches])

    def _behaviour(self, theta, x):
        out = self._f(theta, x)
        return out if self.behaviour is None else self.behaviour(out)

    def losses(self, thetas: torch.Tensor, *, strategy: str = "auto",
               progress: Progress | None = None) -> torch.Tensor:
        """Losses of many parameter vectors, without touching the model.

        ``strategy="vmap"`` evaluates chunks of points at once with ``torch.vmap`` (chunked to
        ``memory_budget``): it removes per-point overhead, which dominates for tiny models and on GPUs.
        ``"loop"`` runs one plain forward per point: on a CPU that is already at the matrix-multiply
        floor for larger models. ``"auto"`` times both once and keeps the faster; a model that vmap
        cannot batch (LSTM, GRU) gets the loop.

        Args:
            thetas: (M, P) parameter vectors.
            strategy: ``"auto"``, ``"vmap"`` or ``"loop"``.
            progress: ``progress(done, total)`` after every chunk.

        Returns:
            (M,) losses.

        Raises:
            ValueError: ``strategy="vmap"`` on a model vmap cannot batch (the message names ``"loop"``).
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
                    out[start:start + chunk] = self._vmap_losses(block)
                else:
                    for i, theta in enumerate(block):
                        out[start + i] = self._total_loss(theta)
                if progress is not None:
                    progress(min(start + chunk, m), m)
        return out

    def _vmap_losses(self, block: torch.Tensor) -> torch.Tensor:
        try:
            return vmap(self._total_loss)(block)
        except _VMAP_FAILURES as exc:
            raise ValueError(f"losses: torch.vmap cannot batch this model ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0]}); use strategy='loop' or 'auto'") from exc

    def _vmap_chunk(self) -> int:
        if self._bytes_per_point is None:
            self._bytes_per_point = self._activation_bytes() + 2 * self.num_params * self._theta.element_size()
        return max(1, self.memory_budget // self._bytes_per_point)

    def _activation_bytes(self) -> int:
        """Bytes of all module outputs in one forward over the largest batch (hooks, measured once)."""
        sizes = []
        module = self._f.module
        hooks = [m.register_forward_hook(lambda _m, _i, o: sizes.append(o.numel() * o.element_size())
                                         if isinstance(o, torch.Tensor) else None)
                 for m in module.modules()]
        try:
            x = max((b[0] for b in self.batches), key=lambda t: t.shape[0])
            with torch.no_grad():
                self._f(self._theta, x)
        finally:
            for h in hooks:
                h.remove()
        return int(sum(sizes)) + 1

    def _choose_losses_strategy(self, thetas: torch.Tensor) -> str:
        if self._losses_strategy is not None:
            return self._losses_strategy
        if thetas.shape[0] < 2:
            return "loop"
        with self._lock:
            if self._losses_strategy is None:
                probe = thetas[: min(8, thetas.shape[0], self._vmap_chunk())]
                try:
                    self.losses(probe, strategy="vmap")  # warm-up; fails for models vmap cannot batch
                except ValueError:
                    self._losses_strategy = "loop"
                    return "loop"
                self.losses(probe, strategy="loop")
                timings = {"loop": float("inf"), "vmap": float("inf")}
                for name in ("loop", "vmap", "loop", "vmap"):  # best of two, interleaved
                    start = time.perf_counter()
                    self.losses(probe, strategy=name)
                    timings[name] = min(timings[name], time.perf_counter() - start)
                self._losses_strategy = min(timings, key=timings.get)
        return self._losses_strategy

    # ----------------------------------------------------------------- derivatives
    def grad(self, theta=None) -> torch.Tensor:
        """The gradient of the loss with respect to the parameters.

        Args:
            theta: (P,); default the trained parameters.

        Returns:
            (P,).
        """
        point = self.check_theta(theta).detach()
        total = torch.zeros_like(point)
        with torch.enable_grad():
            for f in self.batch_losses():
                th = point.clone().requires_grad_(True)
                (g,) = torch.autograd.grad(f(th), th)
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
        """
        point = self.check_theta(theta)
        v = check_vectors(v, self.num_params, self.dtype, self.device, allow_matrix=True)
        check_choice(form, "form", ("auto",) + HVP_FORMS)
        if form == "auto":
            form = self.hvp_form(point)
        with math_attention():
            return hvp_sum(form, self.batch_losses(), point, v)

    def hvp_form(self, theta=None) -> str:
        """The HVP form ``hvp(form="auto")`` uses: chosen once per landscape (see :func:`hvp.choose_form`).

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
                        self._hvp_form = choose_form(self.batch_losses(), point, probe)
        return self._hvp_form

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
                               on_choice=lambda b: setattr(self, "_hvp_batched", b))

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
        is one backward pass and each ``J v`` one more (through the kept pullback graph).

        Args:
            theta: (P,); default the trained parameters.

        Returns:
            a :class:`JacobianOperator`.
        """
        point = self.check_theta(theta).detach()
        return JacobianOperator([self._flat_outputs(x) for x, _ in self.batches], point)

    # ----------------------------------------------------------------- curvature
    def eigs(self, k: int = 5, which: str = "largest", theta=None, *, method: str = "auto", **kwargs):
        """The ``k`` largest or smallest Hessian eigenpairs.

        Args:
            k: how many, 1 <= k <= P.
            which: ``"largest"`` (descending) or ``"smallest"`` (ascending).
            theta: (P,); default the trained parameters.
            method: ``"lanczos"`` (matrix-free, :func:`spectra.lanczos_eigs`; ``tol``, ``ncv``,
                ``maxiter``, ``seed`` pass through), ``"dense"`` (``eigh``), or ``"auto"`` (dense for
                small models by :class:`SizePolicy`, or when k >= P - 1).

        Returns:
            ``(values (k,), vectors (P, k))``; vectors orthonormal.

        Raises:
            ValueError: k out of range, an unknown option.

        Example:
            >>> values, vectors = ls.eigs(5)                    # doctest: +SKIP
        """
        point = self.check_theta(theta)
        check_choice(method, "method", ("auto", "lanczos", "dense"))
        if method == "auto":
            method = "dense" if (self.policy.is_small(self.num_params) or k >= self.num_params - 1) else "lanczos"
        if method == "dense":
            result = _spectra.dense_eigs(self.hessian(point), k, which)
            self.last_num_products = self.num_params
            return result
        with self.hessian_operator(point) as op:
            result = _spectra.lanczos_eigs(op, k, which, **kwargs)
            self.last_num_products = op.num_products
        return result

    def spectrum(self, theta=None, *, tol: float | None = None, vectors: bool = False) -> Spectrum:
        """All P Hessian eigenvalues, exact (dense ``eigh``), with the package's near-zero rule.

        Args:
            theta: (P,); default the trained parameters.
            tol: relative near-zero tolerance; default :func:`default_tol` of the model's dtype.
            vectors: also keep the eigenvectors (``Spectrum.null_vectors()``).

        Returns:
            a :class:`Spectrum` (values ascending; ``num_near_zero``, ``near_zero``, ``rank``).

        Raises:
            ValueError: P above ``dense_limit``.
        """
        tol = default_tol(self.dtype) if tol is None else check_tolerance(tol)
        result = _spectra.spectrum_of(self.hessian(theta), tol, vectors=vectors)
        self.last_num_products = self.num_params
        return result

    def density(self, theta=None, **kwargs):
        """Eigenvalue density of the Hessian (stochastic Lanczos quadrature). See :func:`density.density`.

        Args:
            theta: (P,); default the trained parameters.
            **kwargs: passed to :func:`density.density`.

        Returns:
            what :func:`density.density` returns (unpacks as ``(grid, density)``).
        """
        with self.hessian_operator(self.check_theta(theta)) as op:
            result = _density.density(op, **kwargs)
            self.last_num_products = op.num_products
        return result

    def trace(self, theta=None, *, method: str = "auto", **kwargs):
        """The trace of the Hessian. See :func:`trace.trace`.

        Args:
            theta: (P,); default the trained parameters.
            method: ``"auto"`` is ``"exact"`` for small models (:class:`SizePolicy`), else the
                estimator of :func:`trace.trace`.
            **kwargs: passed to :func:`trace.trace`.

        Returns:
            what :func:`trace.trace` returns (a float with an error estimate).
        """
        if method == "auto" and self.policy.is_small(self.num_params):
            method = "exact"
        with self.hessian_operator(self.check_theta(theta)) as op:
            result = _trace.trace(op, method=method, **kwargs)
            self.last_num_products = op.num_products
        return result

    def null_space(self, theta=None, tol: float | None = None, *, method: str = "auto") -> torch.Tensor:
        """Orthonormal basis of the **zero-curvature** directions at ``theta``.

        Args:
            theta: (P,); default the trained parameters.
            tol: relative tolerance (:class:`Spectrum`'s rule); default :func:`default_tol`.
            method: ``"hessian"``: eigenvectors of the dense Hessian with near-zero eigenvalues
                (exact; P <= ``dense_limit``). ``"jacobian"``: the null space of the behaviour's
                Jacobian, the directions that keep every output (equal to the Hessian's null space at a
                global minimum of a sum-of-squares loss; a few sampled Hessian products check that,
                and a :class:`~.nullspace.CurvatureWarning` says when they find curvature).
                ``"auto"``: ``"hessian"``, or a ``ValueError`` above ``dense_limit``.

        Returns:
            (P, d) tensor with orthonormal columns (d may be 0).

        Raises:
            ValueError: ``method="auto"`` or ``"hessian"`` above the dense limit (the message names
                the alternatives), an unknown method or a bad tolerance.
        """
        check_choice(method, "method", ("auto", "hessian", "jacobian"))
        tol = default_tol(self.dtype) if tol is None else check_tolerance(tol)
        point = self.check_theta(theta)
        if method in ("auto", "hessian") and not self.policy.fits_dense(self.num_params ** 2):
            raise ValueError(
                f"null_space: P={self.num_params:,} is above dense_limit={self.dense_limit:,}, and the "
                "Hessian's null space (zero-curvature directions) is only computed exactly. Choose: "
                "rw.Landscape(..., dense_limit=N) with N >= P for the exact answer; "
                "ls.null_space(method='jacobian') for the directions that keep every output (equal to "
                "the Hessian's null space at a global minimum of a sum-of-squares loss; a check warns "
                "otherwise); or ls.project_tangent(v) to project single directions matrix-free.")
        if method in ("auto", "hessian"):
            return self.spectrum(point, tol=tol, vectors=True).null_vectors()
        basis = _nullspace.jacobian_null_space(self.jacobian(point), tol)
        with self.hessian_operator(point) as op:
            if self.policy.is_small(self.num_params) or self.num_params < 4:
                scale = float(torch.linalg.eigvalsh(op.to_dense()).abs().max())
            else:  # the top eigenvalue by magnitude: both ends, loosely (a scale, not an answer)
                scale = max(float(_spectra.lanczos_eigs(op, 1, which, tol=1e-3)[0].abs()[0])
                            for which in ("largest", "smallest"))
            ratio = _nullspace.sampled_curvature(op, basis, scale)
        _nullspace.warn_if_curved(ratio, tol, f"the Jacobian's null space ({basis.shape[1]} directions)")
        return basis

    def project_tangent(self, v: torch.Tensor, theta=None, *, method: str = "auto",
                        tol: float | None = None, max_iter: int = 500) -> torch.Tensor:
        """Project ``v`` onto the null space of the behaviour's Jacobian: ``v - J^T (J J^T)^+ J v``.

        Args:
            v: direction(s), (P,) or (P, K).
            theta: (P,); default the trained parameters.
            method: ``"dense"`` (pseudo-inverse of the dense Jacobian), ``"lsqr"`` (matrix-free: scipy
                ``lsqr`` with one JVP and one VJP per iteration) or ``"auto"`` (dense while J fits the
                dense limit).
            tol: the pseudo-inverse's relative cut-off (dense; default 1e-7 float64, 1e-4 float32), or
                lsqr's stopping tolerance (default 1e-10 / 1e-6).
            max_iter: lsqr iterations at most.

        Returns:
            the projected direction(s), shaped like ``v``; ``ls.jvp(result)`` is (nearly) zero.
        """
        point = self.check_theta(theta)
        v = check_vectors(v, self.num_params, self.dtype, self.device, allow_matrix=True)
        check_choice(method, "method", ("auto", "dense", "lsqr"))
        if method == "auto":
            k = self.outputs(point).numel()
            method = "dense" if self.policy.fits_dense(k * self.num_params) else "lsqr"
        if tol is None:
            f64 = self.dtype == torch.float64
            tol = (1e-7 if f64 else 1e-4) if method == "dense" else (1e-10 if f64 else 1e-6)
        if method == "dense":
            return _nullspace.project_tangent_dense(self.jacobian(point), v, tol)
        return _nullspace.project_tangent_lsqr(self.jacobian_operator(point), v, tol, max_iter)

    def surface(self, plane, span: float | tuple = 1.0, resolution: int = 21, **kwargs):
        """Loss over a grid on ``plane``. See :meth:`Plane.surface`.

        Args:
            plane: an :class:`rw.Plane` in this model's parameter space.
            span: a number s (``[-s, s]`` on both axes) or ``((x0, x1), (y0, y1))``.
            resolution: grid points per axis.
            **kwargs: passed to :meth:`Landscape.losses` (``strategy``, ``progress``).

        Returns:
            an :class:`rw.Surface`.
        """
        return plane.surface(self, span=span, resolution=resolution, **kwargs)

    def __repr__(self) -> str:
        return (f"Landscape({type(self._f.module).__name__}, P={self.num_params}, "
                f"samples={self.num_samples} in {len(self.batches)} batch(es), {self.dtype}, "
                f"{self.device}, loss={self.loss():.4g})")
