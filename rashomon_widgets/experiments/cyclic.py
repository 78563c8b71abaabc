"""Write-up 1's "future pathway": a cyclic-learning-rate walk that leaves the ridge and converges back elsewhere.

Garipov et al.'s fast geometric ensembling (2018, "Loss surfaces, mode connectivity, and fast ensembling
of DNNs") and Huang et al.'s snapshot ensembles (2017, "Snapshot ensembles: train 1, get M for free")
collect models with a cyclic learning rate: every cycle starts with a large learning rate, which kicks
the model out of its minimum, and decays to a small one, which lets it settle again, somewhere else. The
write-up proposed this to collect models in many directions on the ridge instead of along one curve.

- :func:`cyclic_walk`: run the cycles from a trained minimum and collect the model at the end of each
  cycle, with its train/test loss and accuracy and the highest loss seen during the cycle
  (a :class:`CyclicWalk`). :func:`cycle_schedule` is one cycle's learning rates.
- :func:`directions` (in :mod:`rashomon_widgets.core.geometry.direction_count`) and
  :func:`compare_directions` (in :mod:`.walk_verdicts`): how many directions a walk's steps span (their
  participation ratio and the number of singular values holding 90% of their squared length),
  against a curve's steps, with a verdict (:class:`DirectionVerdict`) that a walk along one line or in
  one plane does not pass.
- :func:`pairwise_barriers` (in :mod:`rashomon_widgets.core.geometry.barriers`): distances and
  straight-line loss barriers between any set of models.
- :func:`project_onto_plane`: deprecated, :meth:`Plane.project` gives the plane coordinates of models and
  their distance from the plane
  (:meth:`rashomon_widgets.Plane.project`).

The walk lives here; the geometry in the core; every name above is importable from this module.

Example:
    >>> import torch, rashomon_widgets as rw
    >>> from rashomon_widgets.experiments import cyclic_walk, compare_directions
    >>> split = rw.data.digits()
    >>> model = rw.models.digits_mlp((16,), seed=0)
    >>> _ = rw.models.train(model, rw.models.cross_entropy, split.train, epochs=100, lr=1e-2, seed=0)
    >>> ls = rw.Landscape(model, rw.models.cross_entropy, split.train)
    >>> walk = cyclic_walk(ls, cycles=3, cycle_steps=40, lr_high=1e-2, test_data=split.test)
    >>> walk.thetas.shape
    torch.Size([3, 1210])
    >>> bool(walk.train_loss[-1] < walk.peak_loss[-1])
    True
    >>> verdict = compare_directions(walk.thetas, walk.start, torch.stack([ls.theta, walk.thetas[-1]]))
    >>> verdict.line().startswith("Verdict:")
    True
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..core.batches import as_batches, class_indices, evaluate_batches
from ..core.geometry import Barriers, Directions, directions, pairwise_barriers
from ..core.geometry.diagnostics import classification_accuracy
from ..core.validation import check_callable, check_choice, check_int, check_nonnegative, check_positive, describe
from .walk_verdicts import DirectionVerdict, compare_directions

__all__ = ["cycle_schedule", "cyclic_walk", "CyclicWalk", "directions", "Directions", "compare_directions",
           "DirectionVerdict", "pairwise_barriers", "Barriers", "project_onto_plane"]

# ----------------------------------------------------------------------------- the walk
def cycle_schedule(steps: int, lr_high: float, lr_low: float) -> np.ndarray:
    """The learning rates of one cycle: cosine annealing from ``lr_high`` down to ``lr_low``.

    ``lr(s) = lr_low + (lr_high - lr_low) (1 + cos(pi s / (steps - 1))) / 2`` for ``s = 0 .. steps - 1``
    (one cycle of Loshchilov & Hutter 2017, "SGDR: stochastic gradient descent with warm restarts"): the
    first steps are large and leave the minimum, the last ones are small and let the model settle.

    Args:
        steps: optimiser steps per cycle, at least 2.
        lr_high, lr_low: the first and the last learning rate, ``lr_high >= lr_low > 0``.

    Returns:
        (steps,) float64 array, decreasing from ``lr_high`` to ``lr_low``.

    Raises:
        TypeError: non-numbers.
        ValueError: fewer than 2 steps, a non-positive rate, or ``lr_low > lr_high``.

    Example:
        >>> cycle_schedule(3, 1.0, 0.0001).round(4).tolist()
        [1.0, 0.5, 0.0001]
    """
    steps = check_int(steps, "steps", 2)
    lr_high, lr_low = check_positive(lr_high, "lr_high"), check_positive(lr_low, "lr_low")
    if lr_low > lr_high:
        raise ValueError(f"lr_low: expected at most lr_high={lr_high}, got {lr_low}")
    s = np.arange(steps) / (steps - 1)
    return lr_low + 0.5 * (lr_high - lr_low) * (1.0 + np.cos(np.pi * s))


@dataclass(frozen=True)
class CyclicWalk:
    """The models a cyclic-learning-rate walk collected, one per cycle.

    Attributes:
        start: (P,) where the walk began (a trained minimum).
        thetas: (M, P) the model at the end of each of the M cycles, in order.
        train_loss, train_accuracy: (M,) on the Landscape's data (accuracy NaN without one).
        test_loss, test_accuracy: (M,) on ``test_data`` (NaN without it).
        start_metrics: the start's ``train_loss``, ``train_accuracy``, ``test_loss`` and ``test_accuracy``.
        peak_loss: (M,) the highest full-batch training loss probed during each cycle: how far the
            large learning rate threw the model off the ridge.
        probe_losses: (M, K) the full-batch training loss every ``probe_every`` steps of each cycle.
        schedule: (S,) one cycle's learning rates (:func:`cycle_schedule`).
        settings: the arguments the walk ran with.
    """

    start: torch.Tensor
    thetas: torch.Tensor
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray
    start_metrics: dict
    peak_loss: np.ndarray
    probe_losses: np.ndarray
    schedule: np.ndarray
    settings: dict

    @property
    def start_loss(self) -> float:
        """The start's loss on the Landscape's data."""
        return float(self.start_metrics["train_loss"])

    @property
    def num_cycles(self) -> int:
        """M, the number of collected models."""
        return int(self.thetas.shape[0])

    def steps(self) -> torch.Tensor:
        """The walk's moves: ``theta_i - theta_{i-1}`` with ``theta_0 = start``.

        Returns:
            (M, P) tensor.
        """
        return torch.diff(torch.cat([self.start[None, :], self.thetas]), dim=0)

    def displacements(self) -> torch.Tensor:
        """The collected models relative to the start: ``theta_i - start``.

        Returns:
            (M, P) tensor.
        """
        return self.thetas - self.start[None, :]

    def __repr__(self) -> str:
        return (f"CyclicWalk({self.num_cycles} models of {self.start.numel():,} parameters; train loss "
                f"{self.train_loss.min():.2e}..{self.train_loss.max():.2e}, peak loss per cycle "
                f"{self.peak_loss.min():.2e}..{self.peak_loss.max():.2e})")


def _loss_and_accuracy(ls, theta: torch.Tensor, batches) -> tuple[float, float]:
    """Loss over ``batches`` (averaged or summed as the Landscape does) and accuracy (NaN where it has no meaning)."""
    loss, out, y = evaluate_batches(lambda x: ls.forward(theta, x), ls.loss_fn, batches, reduction=ls.reduction)
    return loss, (classification_accuracy(out, y) if class_indices(out, y) else math.nan)


def cyclic_walk(ls, theta: torch.Tensor | None = None, *, cycles: int = 5, cycle_steps: int = 200,
                lr_high: float = 1e-2, lr_low: float = 1e-5, optimizer: str = "adam", momentum: float = 0.0,
                batch_size: int | None = 64, restart: bool = True, test_data=None, probe_every: int = 10,
                seed: int = 0, progress: Callable[[int, int, float], None] | None = None) -> CyclicWalk:
    """Walk away from a minimum with a cyclic learning rate and collect the model at the end of every cycle.

    Each cycle runs ``cycle_steps`` optimiser steps on mini-batches of the Landscape's data with the
    learning rates of :func:`cycle_schedule` (large first: the model leaves the ridge; small last: it
    converges back, elsewhere). With ``restart`` the optimiser's state (Adam's moment estimates, SGD's
    momentum) is reset at every cycle, as a warm restart: otherwise Adam's second-moment estimate,
    inflated by the first cycle's large gradients, damps every later kick. The walk works on a copy of
    ``theta`` through the Landscape's functional model: the user's model is never changed.

    Args:
        ls: the :class:`rashomon_widgets.Landscape`; its data is the training data.
        theta: (P,) the start (default: the Landscape's trained parameters).
        cycles: the number of cycles M, at least 1.
        cycle_steps: optimiser steps per cycle, at least 2.
        lr_high, lr_low: the first and the last learning rate of every cycle.
        optimizer: ``"adam"`` or ``"sgd"``.
        momentum: SGD momentum (``"sgd"`` only).
        batch_size: samples per step, drawn at random (with a fixed seed); None: the full batch (the
            schedule alone then moves the model).
        restart: reset the optimiser's state at the start of every cycle.
        test_data: optional ``(inputs, targets)`` pair, or a list of pairs, for the test loss and accuracy.
        probe_every: the full-batch training loss is probed every this many steps (and after the last
            step) to find each cycle's peak.
        seed: seed of the mini-batch draws.
        progress: called as ``progress(cycle, cycles, loss)`` after every cycle (``cycle`` from 1).

    Returns:
        a :class:`CyclicWalk`.

    Raises:
        TypeError: a bad ``theta``, data or callback.
        ValueError: numbers out of range, an unknown optimiser, momentum with Adam, or a loss that
            becomes NaN or inf (lower ``lr_high``).

    Example:
        >>> walk = cyclic_walk(ls, cycles=6, test_data=split.test)      # doctest: +SKIP
        >>> walk.peak_loss / walk.start_loss, walk.train_loss           # doctest: +SKIP
    """
    start = ls.check_theta(theta).detach().clone()
    cycles = check_int(cycles, "cycles", 1)
    schedule = cycle_schedule(cycle_steps, lr_high, lr_low)
    optimizer = check_choice(optimizer, "optimizer", ("adam", "sgd"))
    momentum = check_nonnegative(momentum, "momentum")
    if momentum and optimizer != "sgd":
        raise ValueError(f"momentum: only used by optimizer='sgd', got momentum={momentum} "
                         f"with optimizer={optimizer!r}")
    probe_every = check_int(probe_every, "probe_every", 1)
    check_callable(progress, "progress", "progress(cycle, cycles, loss)", optional=True)
    if not isinstance(restart, bool):
        raise TypeError(f"restart: expected True or False, got {describe(restart)}")
    x = torch.cat([bx for bx, _ in ls.batches])
    y = torch.cat([by for _, by in ls.batches])
    n = x.shape[0]
    size = n if batch_size is None else min(check_int(batch_size, "batch_size", 1), n)
    test = (as_batches(test_data, ls.device, ls.dtype, indices=ls.input_indices, name="test_data")
            if test_data is not None else None)
    generator = torch.Generator().manual_seed(check_int(seed, "seed", 0))

    point = start.clone().requires_grad_(True)

    def make():
        if optimizer == "adam":
            return torch.optim.Adam([point], lr=float(schedule[0]))
        return torch.optim.SGD([point], lr=float(schedule[0]), momentum=momentum)

    opt = make()
    collected, probes = [], []
    for cycle in range(cycles):
        if restart and cycle > 0:
            opt = make()
        seen = []
        for s, lr in enumerate(schedule):
            for group in opt.param_groups:
                group["lr"] = float(lr)
            idx = torch.randperm(n, generator=generator)[:size].to(x.device) if size < n else None
            bx, by = (x, y) if idx is None else (x[idx], y[idx])
            opt.zero_grad()
            with torch.enable_grad():
                loss = ls.loss_on(point, bx, by)
                loss.backward()
            opt.step()
            if (s + 1) % probe_every == 0 or s + 1 == len(schedule):
                finite = bool(torch.isfinite(point.detach()).all())
                value = ls.loss(point.detach()) if finite else math.nan
                if not math.isfinite(value):
                    raise ValueError(f"cyclic_walk: the loss became {value} in cycle {cycle + 1}, step {s + 1}; "
                                     f"expected a finite loss (lower lr_high={lr_high})")
                seen.append(value)
        collected.append(point.detach().clone())
        probes.append(seen)
        if progress is not None:
            progress(cycle + 1, cycles, seen[-1])
    thetas = torch.stack(collected)
    train = [_loss_and_accuracy(ls, t, ls.batches) for t in torch.cat([start[None, :], thetas])]
    tests = ([_loss_and_accuracy(ls, t, test) for t in torch.cat([start[None, :], thetas])] if test is not None
             else [(math.nan, math.nan)] * (cycles + 1))
    probe_losses = np.array(probes, dtype=np.float64)
    settings = {"cycles": cycles, "cycle_steps": len(schedule), "lr_high": lr_high, "lr_low": lr_low,
                "optimizer": optimizer, "momentum": momentum, "batch_size": batch_size, "restart": restart,
                "probe_every": probe_every, "seed": seed}
    return CyclicWalk(start=start, thetas=thetas,
                      train_loss=np.array([v[0] for v in train[1:]]),
                      train_accuracy=np.array([v[1] for v in train[1:]]),
                      test_loss=np.array([v[0] for v in tests[1:]]), test_accuracy=np.array([v[1] for v in tests[1:]]),
                      start_metrics={"train_loss": train[0][0], "train_accuracy": train[0][1],
                                     "test_loss": tests[0][0], "test_accuracy": tests[0][1]},
                      peak_loss=probe_losses.max(1), probe_losses=probe_losses, schedule=schedule, settings=settings)


# ----------------------------------------------------------------------------- planes
def project_onto_plane(plane, points: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Deprecated: ``plane.project(points)`` (:meth:`Plane.project`), the one place this is computed.

    Args:
        plane: an :class:`rashomon_widgets.Plane`.
        points: (M, P) or (P,) parameter vectors.

    Returns:
        ``(coordinates (M, 2), off_plane (M,))``: the least-squares coordinates (``plane.coordinates``)
        and ``|theta - (origin + x d1 + y d2)|``, 0 for points in the plane.

    Raises:
        TypeError, ValueError: points of the wrong kind or size (from ``plane.coordinates``).

    Example:
        >>> xy, off = project_onto_plane(curve.plane(), walk.thetas)     # doctest: +SKIP
    """
    warnings.warn("project_onto_plane(plane, points) is deprecated: use plane.project(points)", DeprecationWarning,
                  stacklevel=2)
    return plane.project(points)
