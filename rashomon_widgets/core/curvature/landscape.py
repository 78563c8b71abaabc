"""`Landscape`: a trained model, its loss and its data, evaluated at any flat parameter vector."""
from __future__ import annotations

import copy
import threading
import warnings
from collections.abc import Callable

import torch

from ..batches import as_batches, takes_indices
from ..validation import check_finite_loss, check_int, check_seed, check_vectors, describe
from ._losses import ManyLosses
from ._params import FunctionalModel
from ._setup import BatchStatisticsWarning, batch_statistics_modules, reduction_of
from .derivatives import Derivatives
from .policy import SizePolicy
from .queries import CurvatureQueries

__all__ = ["Landscape", "BatchStatisticsWarning"]


class Landscape(ManyLosses, Derivatives, CurvatureQueries):
    """The loss landscape of a trained PyTorch model over its data.

    The model is copied and evaluated in **evaluation mode** (BatchNorm uses its running statistics,
    Dropout is off) through ``torch.func.functional_call``: the user's model is never mutated and no
    train-mode randomness enters any result. Every tensor follows the model's dtype and device;
    floating-point data are cast to the model's dtype, and so are integer inputs (``uint8`` pixels, 0/1
    features) unless the model holds an ``Embedding`` (its integer inputs are token ids, kept;
    ``input_indices`` says which). Integer targets (class labels) are kept as they are.

    Losses alone (``loss``, ``losses(strategy="loop")``) skip ``functional_call``: the parameter vector is
    written in place into a second private copy whose parameters are views of one flat tensor, and the
    copy runs a plain forward. ``losses_strategy`` says how ``losses`` evaluates many points (a fixed
    rule on the model's size, kind and device).

    A Landscape can be shared by any number of threads (an explorer's worker and a notebook cell):
    each thread evaluates its own private copies of the model, so results equal single-threaded ones.
    It pickles (for ``surface(executor=...)``'s workers) without its locks, per-thread copies and
    one-time choices, which are made again where it is unpickled.

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
        memory_budget: bytes one chunk of batched (vmap) loss evaluation, or one batched pass of
            Hessian-vector products (:meth:`hvp_block`), may use.
        behaviour: optional map from the model's outputs to the behaviour whose Jacobian defines the
            Rashomon tangent (``outputs``, ``jacobian``, ``jvp``, ``vjp``, ``project_tangent``), e.g.
            ``lambda z: z.softmax(-1)`` for a classifier (write-up 4's cross-entropy caveat). Default:
            the raw outputs.

    Raises:
        TypeError: a model, loss or data of the wrong kind (the message says what was expected):
            half-precision parameters (use ``model.float()`` or ``model.double()``), or a loss that is
            not a real floating-point tensor (complex, integer).
        ValueError: a loss that is not a scalar, does not depend on the parameters, or is not finite;
            a ``reduction`` that contradicts the loss module's; data with mismatched sizes or NaN/inf
            values; inputs the model rejects on the first batch (its shape named, torch's message quoted).

    Warns:
        BatchStatisticsWarning: a BatchNorm layer without running statistics and several batches.
        HVPFormWarning: the two forms of Hessian-vector product disagree on this model (checked here, once:
            double backward is used).
        MemoryBudgetWarning: one Hessian-vector product on the largest batch would hold more than four times
            ``memory_budget`` (the message names a batch size that fits).

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
        self.reduction = reduction_of(loss_fn, reduction)
        self.policy = SizePolicy(dense_limit, small_limit)
        self.memory_budget = int(memory_budget)
        if behaviour is not None and not callable(behaviour):
            raise TypeError(f"behaviour: expected a callable outputs -> behaviour, got {describe(behaviour)}")
        self.behaviour = behaviour
        self.dtype, self.device, self.num_params = layout.dtype, layout.device, layout.num_params
        self.input_indices = takes_indices(model)  # integer inputs are token ids (kept), else numbers (cast)
        self.batches = as_batches(data, self.device, self.dtype, indices=self.input_indices)
        self.num_samples = sum(x.shape[0] for x, _ in self.batches)
        self._theta = layout.flatten(model)
        if not bool(torch.isfinite(self._theta).all()):
            raise ValueError("model: expected finite parameters, got NaN or inf")
        self._weights = tuple(x.shape[0] / self.num_samples if self.reduction == "mean" else 1.0
                              for x, _ in self.batches)
        self._lock = threading.Lock()        # guards the one-time choices below
        self._local = threading.local()      # per-thread bookkeeping (the deprecated last_num_products)
        self._hvp_form: str | None = None
        self._hvp_batched: bool | None = None  # blocks of products in one batched pass, measured once
        self._losses_strategy: str | None = None   # the fixed rule's answer (see losses_strategy)
        self._forward_profile: tuple[int, int] | None = None
        self._check_loss()
        stats = batch_statistics_modules(self._f.module)
        if stats and len(self.batches) > 1:
            warnings.warn(
                f"data: {', '.join(stats)} normalise{'s' if len(stats) == 1 else ''} with the statistics "
                f"of each batch, so results over these {len(self.batches)} batches differ from full-batch "
                "results. Pass the data as one (inputs, targets) batch for exact full-batch values.",
                BatchStatisticsWarning, stacklevel=2)
        check_finite_loss(self.loss(), "Landscape")
        self._check_product_memory()
        self._choose_hvp_form()

    def _choose_hvp_form(self) -> None:
        """Choose the HVP form now (:meth:`hvp_form`: four products on ``CROSS_CHECK_SAMPLES`` samples), so
        that the first product costs what later ones do: the choice, and torch's one-time work behind it
        (importing its forward-mode decompositions, once per process), is paid where the model is
        wrapped. A model that cannot be differentiated twice is still a landscape (losses, surfaces): its
        first product says why it cannot have one."""
        try:
            self.hvp_form()
        except (RuntimeError, ValueError, NotImplementedError):
            self._hvp_form = None

    def _check_loss(self) -> None:
        """Run the model and the loss once on the first batch, and say what is wrong in the user's terms.

        Raises:
            ValueError: the model or the loss raised on the first batch (torch's message is quoted, after
                the shapes that came), a loss that is not a scalar or does not depend on the parameters.
            TypeError: a loss that is not a real floating-point tensor (complex, integer, bool).
        """
        x, y = self.batches[0]
        theta = self._theta.clone().requires_grad_(True)
        with torch.enable_grad():
            try:
                out = self._f(theta, x)
            except torch.OutOfMemoryError:
                raise
            except RuntimeError as exc:
                raise ValueError(
                    f"data: the model rejected the inputs of batch 0 ({describe(x)}); expected inputs the "
                    "model takes (as many features as its first layer expects, in the layout it expects). "
                    f"torch said: {exc}") from exc
            try:
                first = self.loss_fn(out, y)  # = self.loss_on(theta, x, y)
            except torch.OutOfMemoryError:
                raise
            except RuntimeError as exc:
                out_text = describe(out) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(
                    f"loss_fn: rejected the model's outputs ({out_text}) with the targets of batch 0 "
                    f"({describe(y)}); expected targets that loss_fn(outputs, targets) accepts. torch said: "
                    f"{exc}") from exc
        if not isinstance(first, torch.Tensor) or first.ndim != 0:
            raise ValueError("loss_fn: expected a scalar (0-dim) tensor, got "
                             f"{describe(first)}; reduce it with .mean() or .sum()")
        if not first.dtype.is_floating_point:
            raise TypeError(f"loss_fn: expected a real floating-point loss, got dtype {first.dtype}; curvature "
                            "needs a real-valued loss (take .abs() or .real of a complex one, or compute it "
                            "in floating point)")
        if not first.requires_grad:
            raise ValueError("loss_fn: the loss does not depend on the parameters (no gradient flows from it "
                             "to theta); expected loss_fn(outputs, targets) computed from the outputs. Did a "
                             ".detach(), .item(), .numpy() or torch.no_grad() slip into the model or the loss?")

    _CACHES = ("_hvp_form", "_hvp_batched", "_losses_strategy", "_forward_profile")

    def __getstate__(self) -> dict:
        """What pickling keeps: everything but the lock, the per-thread state and the one-time choices
        (made again where the landscape is unpickled, e.g. on a worker of ``surface(executor=...)``).

        Returns:
            the state dict.
        """
        state = self.__dict__.copy()
        del state["_lock"], state["_local"]
        for name in self._CACHES:
            state[name] = None
        return state

    def __setstate__(self, state: dict) -> None:
        """Restore a pickled landscape with a new lock and per-thread state.

        Args:
            state: what :meth:`__getstate__` returned.
        """
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._local = threading.local()

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
        """Deprecated: the products of this thread's last spectral call; read the result's ``num_products``.

        Every result carries its own count (``ls.eigs(k).num_products``, ``ls.trace().num_products``,
        ``ls.density().num_products``, ``ls.spectrum().num_products``), which no other call or thread can
        overwrite. This per-thread copy of the last one warns and will be removed.
        """
        warnings.warn("Landscape.last_num_products is deprecated: read the result's own num_products "
                      "(ls.eigs(k).num_products, ls.trace().num_products, ls.density().num_products, ...)",
                      DeprecationWarning, stacklevel=2)
        return getattr(self._local, "last_num_products", None)

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
        point = self.check_theta(theta)
        with torch.no_grad():
            return float(self._loss_in_place(point))

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

    def subsample(self, n: int, *, seed: int = 0) -> Landscape:
        """The same model, loss and settings on ``n`` of the samples, drawn without replacement.

        For the expensive parts of a large model's picture (Hessian eigenvectors, the spectrum) where a
        stated subsample is enough; losses and surfaces stay on all the data. With ``reduction="sum"``
        the subsample's loss (and curvature) is a part of the whole, not an estimate of it.

        Args:
            n: samples to keep, 1 <= n; ``n >= num_samples`` returns this landscape itself.
            seed: seed of the draw.

        Returns:
            a :class:`Landscape` with one batch of ``n`` samples (in their original order).

        Raises:
            TypeError, ValueError: ``n`` or ``seed`` not an int >= 1 (>= 0 for the seed).

        Example:
            >>> ls.subsample(256).num_samples                 # doctest: +SKIP
            256
        """
        n = check_int(n, "n", 1)
        if n >= self.num_samples:
            return self
        g = torch.Generator().manual_seed(check_seed(seed))
        keep = torch.randperm(self.num_samples, generator=g)[:n].sort().values.to(self.device)
        inputs = torch.cat([x for x, _ in self.batches])[keep]
        targets = torch.cat([y for _, y in self.batches])[keep]
        module = copy.deepcopy(self._f._template)   # evaluation mode, parameters frozen: thaw theta's own
        params = dict(module.named_parameters())
        with torch.no_grad():
            for name, value in self.layout.unflatten(self._theta).items():
                params[name].copy_(value)
                params[name].requires_grad_(True)
        return Landscape(module, self.loss_fn, (inputs, targets), reduction=self.reduction,
                         dense_limit=self.policy.dense_limit, small_limit=self.policy.small_limit,
                         memory_budget=self.memory_budget, behaviour=self.behaviour)

    def surface(self, plane, span: float | tuple = 1.0, resolution: int = 21, *, executor=None,
                block_rows: int | None = None, **kwargs):
        """Loss over a grid on ``plane``, here or on workers. See :meth:`Plane.surface`.

        Args:
            plane: an :class:`rw.Plane` in this model's parameter space.
            span: a number s (``[-s, s]`` on both axes) or ``((x0, x1), (y0, y1))``.
            resolution: grid points per axis.
            executor: any ``concurrent.futures.Executor`` (a process pool, a Dask cluster's
                ``client.get_executor()``): the grid's rows are split into blocks evaluated by its
                workers, each of which unpickles this landscape once. None: evaluate here.
            block_rows: grid rows per block (default: four near-equal blocks per worker with an executor;
                here, as many rows as fit in ``GRID_CHUNK_BYTES`` of parameter vectors).
            **kwargs: passed to :meth:`Landscape.losses` (``strategy``, ``progress``).

        Returns:
            an :class:`rw.Surface`.
        """
        return plane.surface(self, span=span, resolution=resolution, executor=executor, block_rows=block_rows,
                             **kwargs)

    def __repr__(self) -> str:
        return (f"Landscape({type(self._f.module).__name__}, P={self.num_params}, "
                f"samples={self.num_samples} in {len(self.batches)} batch(es), {self.dtype}, "
                f"{self.device}, loss={self.loss():.4g})")
