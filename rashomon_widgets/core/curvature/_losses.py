"""Losses of many parameter vectors at once: vmap chunks or a loop of in-place forwards, by a fixed rule.

The rule (:attr:`ManyLosses.losses_strategy`) looks only at the model and its device, never at a clock,
so it gives the same answer in every process on every machine, however loaded:

1. a model with a layer ``torch.vmap`` cannot batch (``torch.nn.LSTM``, ``GRU``, ``RNN``), or one on
   which a two-point ``vmap`` probe fails (e.g. a layer forced into batch statistics), gets ``"loop"``;
2. on a GPU (any non-CPU device), ``"vmap"``: one batched pass removes the per-point launch overhead;
3. on a CPU, ``"vmap"`` for models of at most :data:`VMAP_MAX_MACS` multiply-adds per loss evaluation
   (a static count over all the data, from the layers' weight shapes: see :func:`forward_profile`),
   where per-point Python overhead dominates; ``"loop"`` above it, where one plain forward per point is
   already at the matrix-multiply floor and vmap's batched kernels are slower (timings in
   ``benchmarks/results.md``).

The loop writes each parameter vector in place into this thread's private copy of the model
(:meth:`FunctionalModel.at`) and runs a plain forward under ``torch.no_grad()``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import vmap

from ..validation import check_callable, check_choice, check_vectors

_VMAP_FAILURES = (RuntimeError, NotImplementedError, ValueError)
Progress = Callable[[int, int], None]

VMAP_MAX_MACS = 3_000_000
"""On a CPU, the largest multiply-add count of one loss evaluation (all data) that ``"auto"`` batches with vmap."""

UNBATCHABLE = (torch.nn.RNNBase,)
"""Layer types that ``torch.vmap`` cannot batch: ``"auto"`` uses the loop for models containing them."""

LOOP_CHUNK = 16  # points between progress reports in the loop


def forward_profile(module: torch.nn.Module, forward: Callable[[], object], num_samples: int,
                    batch_size: int) -> tuple[int, int]:
    """One forward with hooks: bytes of all module outputs, and an estimate of multiply-adds.

    Multiply-adds: a layer with a weight of 2 or more dimensions (``Linear``, ``Conv*``) counts
    ``weight.numel() * output.numel() / weight.shape[0]`` (exact for linear and convolution layers);
    any other layer with parameters counts the larger of its output size and its parameter count times
    the batch size. The count is scaled from the batch to ``num_samples``. It depends only on shapes.

    Args:
        module: the module whose layers are hooked (the one ``forward`` runs).
        forward: runs one forward of ``module`` on a batch of ``batch_size`` samples.
        num_samples: the samples of all the data.
        batch_size: the samples of the batch ``forward`` uses.

    Returns:
        ``(activation bytes of the batch, multiply-adds over all the data)``.
    """
    sizes, macs = [], [0]

    def hook(m, _inputs, out):
        if isinstance(out, (tuple, list)):
            out = next((o for o in out if isinstance(o, torch.Tensor)), None)
        if not isinstance(out, torch.Tensor):
            return
        sizes.append(out.numel() * out.element_size())
        direct = list(m.parameters(recurse=False))
        if not direct:
            return
        weight = getattr(m, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.ndim >= 2 and weight.shape[0] > 0:
            macs[0] += weight.numel() * out.numel() // weight.shape[0]
        else:
            macs[0] += max(out.numel(), sum(p.numel() for p in direct) * batch_size)

    hooks = [m.register_forward_hook(hook) for m in module.modules()]
    try:
        with torch.no_grad():
            forward()
    finally:
        for h in hooks:
            h.remove()
    return int(sum(sizes)) + 1, int(round(macs[0] * num_samples / max(1, batch_size)))


class ManyLosses:
    """``Landscape.losses`` and its strategy: mixed into :class:`Landscape`."""

    def losses(self, thetas: torch.Tensor, *, strategy: str = "auto",
               progress: Progress | None = None) -> torch.Tensor:
        """Losses of many parameter vectors, without touching the model.

        ``strategy="vmap"`` evaluates chunks of points at once with ``torch.vmap`` (chunked to
        ``memory_budget``): it removes per-point overhead, which dominates for tiny models and on GPUs.
        ``"loop"`` writes each point in place into this thread's private copy of the model and runs one
        plain forward: on a CPU that is at the matrix-multiply floor for larger models. ``"auto"`` uses
        :attr:`losses_strategy`, a fixed rule on the model's size, kind and device (no timing).

        Args:
            thetas: (M, P) parameter vectors.
            strategy: ``"auto"``, ``"vmap"`` or ``"loop"``.
            progress: ``progress(done, total)`` after every chunk.

        Returns:
            (M,) losses.

        Raises:
            ValueError: ``strategy="vmap"`` on a model vmap cannot batch (the message names ``"loop"``).
            TypeError: a ``progress`` that is not callable (and see :func:`check_vectors` for ``thetas``).
        """
        check_choice(strategy, "strategy", ("auto", "vmap", "loop"))
        check_callable(progress, "progress", "progress(done, total)", optional=True)
        thetas = check_vectors(thetas, self.num_params, self.dtype, self.device, name="thetas", rows=True)
        if strategy == "auto":
            strategy = self.losses_strategy
        m = thetas.shape[0]
        out = torch.empty(m, dtype=self.dtype, device=self.device)
        chunk = self._vmap_chunk() if strategy == "vmap" else LOOP_CHUNK
        with torch.no_grad():
            for start in range(0, m, chunk):
                block = thetas[start:start + chunk]
                if strategy == "vmap":
                    out[start:start + chunk] = self._vmap_losses(block)
                else:  # one write per chunk, not per point
                    out[start:start + chunk] = torch.stack([self._loss_in_place(theta) for theta in block])
                if progress is not None:
                    progress(min(start + chunk, m), m)
        return out

    @property
    def losses_strategy(self) -> str:
        """What ``losses(strategy="auto")`` (and so ``surface``) uses: ``"vmap"`` or ``"loop"``.

        A fixed rule on the model, never a timing, so it is the same in every process and under any
        load: ``"loop"`` for models vmap cannot batch (recurrent layers, or a failed two-point probe);
        ``"vmap"`` on a GPU; on a CPU ``"vmap"`` up to :data:`VMAP_MAX_MACS` multiply-adds per loss
        evaluation over all the data (see :func:`forward_profile`), ``"loop"`` above. Decided once.
        """
        if self._losses_strategy is None:
            with self._lock:
                if self._losses_strategy is None:
                    self._losses_strategy = self._strategy_rule()
        return self._losses_strategy

    def _strategy_rule(self) -> str:
        if any(isinstance(m, UNBATCHABLE) for m in self._f.module.modules()):
            return "loop"
        if self.device.type == "cpu" and self._profile()[1] > VMAP_MAX_MACS:
            return "loop"
        try:  # a deterministic check, not a timing: some layers fail under vmap
            with torch.no_grad():
                self._vmap_losses(torch.stack([self._theta, self._theta]))
        except ValueError:
            return "loop"
        return "vmap"

    def _loss_in_place(self, theta: torch.Tensor) -> torch.Tensor:
        """The loss at ``theta`` by a plain forward of this thread's copy, theta written in place (no grad)."""
        module = self._f.at(theta)
        if len(self.batches) == 1 and self._weights[0] == 1.0:  # the usual case: no arithmetic on the loss
            x, y = self.batches[0]
            return self.loss_fn(module(x), y)
        total = 0.0
        for w, (x, y) in zip(self._weights, self.batches):
            total = total + w * self.loss_fn(module(x), y)
        return total

    def _vmap_losses(self, block: torch.Tensor) -> torch.Tensor:
        try:
            return vmap(self._total_loss)(block)
        except _VMAP_FAILURES as exc:
            raise ValueError(f"losses: torch.vmap cannot batch this model ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0]}); use strategy='loop' or 'auto'") from exc

    def _vmap_chunk(self) -> int:
        bytes_per_point = self._profile()[0] + 2 * self.num_params * self._theta.element_size()
        return max(1, self.memory_budget // bytes_per_point)

    def forward_cost(self) -> int:
        """Multiply-adds of one forward pass over all the data (counted once from the layers' shapes): what
        a loss, one grid point of a surface, costs (compared with :data:`~.policy.HEAVY_FORWARD`).

        Returns:
            an int.
        """
        return int(self._profile()[1])

    def _profile(self) -> tuple[int, int]:
        """(activation bytes of the largest batch, multiply-adds over all data), measured once by shapes."""
        if self._forward_profile is None:
            x = max((b[0] for b in self.batches), key=lambda t: t.shape[0])
            self._forward_profile = forward_profile(self._f.module, lambda: self._f(self._theta, x),
                                                    self.num_samples, x.shape[0])
        return self._forward_profile
