"""Losses of many parameter vectors at once: vmap chunks or a loop of forwards, whichever is faster."""
from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.func import vmap

from ..validation import check_choice, check_vectors

_VMAP_FAILURES = (RuntimeError, NotImplementedError, ValueError)
Progress = Callable[[int, int], None]


class ManyLosses:
    """``Landscape.losses``: mixed into :class:`Landscape`."""

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
