"""Write-up 1's "future pathway": a cyclic-learning-rate walk that leaves the ridge and converges back elsewhere.

Garipov et al.'s fast geometric ensembling and Huang et al.'s snapshot ensembles collect models with a
cyclic learning rate: every cycle starts with a large learning rate, which kicks the model out of its
minimum, and decays to a small one, which lets it settle again, somewhere else. The write-up proposed
this to collect models in many directions on the ridge instead of along one curve.

- :func:`cyclic_walk`: run the cycles from a trained minimum and collect the model at the end of each
  cycle, with its train/test loss and accuracy and the highest loss seen during the cycle
  (a :class:`CyclicWalk`). :func:`cycle_schedule` is one cycle's learning rates.
- :func:`directions` and :func:`compare_directions`: how many directions a walk's steps span (their
  participation ratio and the number of singular values holding 90% of their squared length),
  against a curve's steps, with a verdict (:class:`DirectionVerdict`) that a walk along one line or in
  one plane does not pass.
- :func:`pairwise_barriers`: distances and straight-line loss barriers between any set of models.
- :func:`project_onto_plane`: plane coordinates of models and their distance from the plane.

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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..core.validation import check_callable, check_choice, check_int, check_nonnegative, check_positive, describe
from ..models.training import accuracy as _accuracy

__all__ = ["cycle_schedule", "cyclic_walk", "CyclicWalk", "directions", "Directions", "compare_directions",
           "DirectionVerdict", "pairwise_barriers", "Barriers", "project_onto_plane"]


# ----------------------------------------------------------------------------- the walk
def cycle_schedule(steps: int, lr_high: float, lr_low: float) -> np.ndarray:
    """The learning rates of one cycle: cosine annealing from ``lr_high`` down to ``lr_low``.

    ``lr(s) = lr_low + (lr_high - lr_low) (1 + cos(pi s / (steps - 1))) / 2`` for ``s = 0 .. steps - 1``
    (Loshchilov and Hutter's SGDR without the warm-up): the first steps are large and leave the minimum,
    the last ones are small and let the model settle.

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


def _is_pair(data) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(p, torch.Tensor) for p in data)


def _batches(data, ls, name: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``data`` (an (inputs, targets) pair or an iterable of pairs) as checked batches on the model's device."""
    parts = [data] if _is_pair(data) else list(data) if isinstance(data, (tuple, list)) else None
    if not parts or not all(_is_pair(p) for p in parts):
        raise TypeError(f"{name}: expected an (inputs, targets) pair of tensors or a list of such pairs, got "
                        f"{describe(data)}")
    out = []
    for x, y in parts:
        if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError(f"{name}: expected inputs and targets with the same, non-zero number of samples, got "
                             f"shapes {tuple(x.shape)} and {tuple(y.shape)}")
        x = x.to(ls.device, ls.dtype) if x.dtype.is_floating_point else x.to(ls.device)
        y = y.to(ls.device, ls.dtype) if y.dtype.is_floating_point else y.to(ls.device)
        out.append((x, y))
    return out


def _evaluate(ls, theta: torch.Tensor, batches) -> tuple[float, float]:
    """Loss over ``batches`` (averaged or summed as the Landscape does) and accuracy (NaN where it has no meaning)."""
    n = sum(x.shape[0] for x, _ in batches)
    total, outs, targets = 0.0, [], []
    with torch.no_grad():
        for x, y in batches:
            out = ls.forward(theta, x)
            total += (x.shape[0] / n if ls.reduction == "mean" else 1.0) * float(ls.loss_fn(out, y))
            outs.append(out)
            targets.append(y)
    out, y = torch.cat(outs), torch.cat(targets)
    classes = out.ndim == 2 and out.shape[1] >= 2 and y.ndim == 1 and not y.dtype.is_floating_point
    return total, (_accuracy(out, y) if classes else math.nan)


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
    test = _batches(test_data, ls, "test_data") if test_data is not None else None
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
    train = [_evaluate(ls, t, ls.batches) for t in torch.cat([start[None, :], thetas])]
    tests = ([_evaluate(ls, t, test) for t in torch.cat([start[None, :], thetas])] if test is not None
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


# ----------------------------------------------------------------------------- how many directions
@dataclass(frozen=True)
class Directions:
    """How many directions a set of vectors spans, by the spread of its singular values.

    Attributes:
        participation: the participation ratio ``(sum s_i^2)^2 / sum s_i^4``: k for k orthogonal vectors
            of equal length, 1 for vectors along one line, between 1 and the rank otherwise.
        count: the fewest singular values holding ``share`` of ``sum s_i^2``.
        share: the share used for ``count``.
        rank: the numerical rank (singular values above ``rtol`` times the largest).
        energy: the shares ``s_i^2 / sum s_j^2``, largest first.
    """

    participation: float
    count: int
    share: float
    rank: int
    energy: np.ndarray


def directions(vectors: torch.Tensor, *, share: float = 0.9, rtol: float = 1e-4) -> Directions:
    """The effective number of directions of the rows of ``vectors``.

    Args:
        vectors: (M, P) one vector per row (computed in float64).
        share: the share of the squared length that ``count`` directions must hold, in (0, 1].
        rtol: relative threshold of the numerical rank.

    Returns:
        a :class:`Directions`.

    Raises:
        TypeError: not a tensor.
        ValueError: not 2-D, non-finite, all zero, or ``share``/``rtol`` out of range.

    Example:
        >>> d = directions(torch.eye(3, 5))
        >>> round(d.participation, 6), d.count, d.rank
        (3.0, 3, 3)
    """
    if not isinstance(vectors, torch.Tensor):
        raise TypeError(f"vectors: expected a tensor (M, P), got {describe(vectors)}")
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"vectors: expected a 2-D tensor (M, P) with M >= 1, got shape {tuple(vectors.shape)}")
    if not (0 < share <= 1) or not (0 < rtol < 1):
        raise ValueError(f"share, rtol: expected 0 < share <= 1 and 0 < rtol < 1, got {share}, {rtol}")
    v = vectors.detach().double().cpu()
    if not bool(torch.isfinite(v).all()):
        raise ValueError("vectors: expected finite values, got NaN or inf")
    s = torch.linalg.svdvals(v)
    if float(s[0]) == 0:
        raise ValueError("vectors: expected at least one non-zero vector, got only zeros")
    lam = (s ** 2).numpy()
    energy = lam / lam.sum()
    count = int(np.searchsorted(np.cumsum(energy), share - 1e-12) + 1)
    return Directions(participation=float(lam.sum() ** 2 / (lam ** 2).sum()), count=min(count, len(lam)),
                      share=float(share), rank=int((s > rtol * s[0]).sum()), energy=energy)


@dataclass(frozen=True)
class DirectionVerdict:
    """Does a walk span more directions than a curve? (:func:`compare_directions`).

    Attributes:
        walk: :class:`Directions` of the walk's steps ``theta_i - theta_{i-1}`` (``theta_0`` the start).
        curve: :class:`Directions` of the curve's steps between consecutive points.
        displacements: :class:`Directions` of ``theta_i - start`` (for reference: a random walk's
            displacements are dominated by their first principal direction even when every step goes
            somewhere new, so they are not what the verdict uses).
        bound: the number of directions the curve spans: the numerical rank of its steps (2 for a
            quadratic Bezier curve, 1 for a straight line).
        more: ``walk.participation > bound and walk.count > bound``.
    """

    walk: Directions
    curve: Directions
    displacements: Directions
    bound: int
    more: bool

    def line(self) -> str:
        """The verdict as one printable line.

        Returns:
            a string starting with ``"Verdict:"``.
        """
        numbers = (f"the walk's {len(self.walk.energy)} steps have participation ratio {self.walk.participation:.2f} "
                   f"and need {self.walk.count} directions for {100 * self.walk.share:.0f}% of their squared length; "
                   f"the curve's steps span {self.bound} (participation ratio {self.curve.participation:.2f})")
        if self.more:
            return f"Verdict: the walk spans more directions than the curve: {numbers}."
        return f"Verdict: the walk does not span more directions than the curve: {numbers}."


def compare_directions(walk_points: torch.Tensor, start: torch.Tensor, curve_points: torch.Tensor, *,
                       share: float = 0.9) -> DirectionVerdict:
    """Decide whether a walk's collected models span more directions than a curve's points.

    The walk's steps ``theta_i - theta_{i-1}`` (from ``theta_0 = start``) have the same span as its
    displacements ``theta_i - start`` but weigh every cycle's move alike; the curve's steps are the
    differences of consecutive points. The walk spans more directions when both its participation ratio
    and its ``share``-count exceed the number of directions the curve spans (the rank of its steps):
    steps along one line or inside one plane through the start never pass against a curve in a plane.

    Args:
        walk_points: (M, P) the collected models, in the order visited.
        start: (P,) where the walk began.
        curve_points: (K, P) points along the curve in order of t, K >= 2.
        share: the share of squared length for the counts.

    Returns:
        a :class:`DirectionVerdict`.

    Raises:
        TypeError: non-tensors.
        ValueError: mismatched shapes, fewer than 2 curve points, or all-zero steps.

    Example:
        >>> a = torch.zeros(4)
        >>> line = torch.outer(torch.arange(1.0, 4.0), torch.tensor([1.0, 1.0, 0.0, 0.0]))
        >>> compare_directions(line, a, torch.eye(4)[:3]).more
        False
        >>> compare_directions(torch.eye(4)[:3].cumsum(0), a, torch.eye(4)[:2]).more
        True
    """
    for name, value in (("walk_points", walk_points), ("start", start), ("curve_points", curve_points)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: expected a tensor, got {describe(value)}")
    if walk_points.ndim != 2 or start.shape != walk_points.shape[1:]:
        raise ValueError(f"walk_points, start: expected shapes (M, P) and (P,), got {tuple(walk_points.shape)} "
                         f"and {tuple(start.shape)}")
    if curve_points.ndim != 2 or curve_points.shape[0] < 2 or curve_points.shape[1] != start.shape[0]:
        raise ValueError(f"curve_points: expected (K, {start.shape[0]}) with K >= 2, got {tuple(curve_points.shape)}")
    walk_points, start, curve_points = walk_points.double(), start.double(), curve_points.double()
    walk = directions(torch.diff(torch.cat([start[None, :], walk_points]), dim=0), share=share)
    curve = directions(torch.diff(curve_points, dim=0), share=share)
    displacements = directions(walk_points - start[None, :], share=share)
    bound = curve.rank
    more = walk.participation > bound and walk.count > bound
    return DirectionVerdict(walk=walk, curve=curve, displacements=displacements, bound=bound, more=bool(more))


# ----------------------------------------------------------------------------- barriers and planes
@dataclass(frozen=True)
class Barriers:
    """Pairwise distances and straight-line loss barriers (:func:`pairwise_barriers`).

    Attributes:
        names: a label per model.
        loss: (n,) each model's loss.
        distance: (n, n) ``|theta_i - theta_j|``.
        peak: (n, n) the highest loss on the segment between i and j (endpoints included).
        barrier: (n, n) ``peak`` minus the mean of the two endpoints' losses (0 on the diagonal).
        barrier_max: (n, n) ``peak`` minus the larger endpoint loss: above 0 only where the segment
            rises above both ends.
    """

    names: list
    loss: np.ndarray
    distance: np.ndarray
    peak: np.ndarray
    barrier: np.ndarray
    barrier_max: np.ndarray


def pairwise_barriers(ls, points: torch.Tensor, *, names=None, num: int = 17) -> Barriers:
    """Distances and straight-line barriers between every pair of models.

    Args:
        ls: the :class:`rashomon_widgets.Landscape` whose loss is measured.
        points: (n, P) the models, n >= 2.
        names: n labels (default ``"0"``, ``"1"``...).
        num: points per segment, endpoints included, at least 3.

    Returns:
        a :class:`Barriers`.

    Raises:
        TypeError, ValueError: points of the wrong shape, names of the wrong length, ``num`` below 3.

    Example:
        >>> b = pairwise_barriers(ls, torch.stack([theta_a, theta_b]), names=["a", "b"])   # doctest: +SKIP
        >>> b.barrier[0, 1]                                                                # doctest: +SKIP
    """
    if not isinstance(points, torch.Tensor):
        raise TypeError(f"points: expected a tensor (n, P), got {describe(points)}")
    if points.ndim != 2 or points.shape[0] < 2:
        raise ValueError(f"points: expected a tensor (n, P) with n >= 2, got shape {tuple(points.shape)}")
    points = torch.stack([ls.check_theta(p) for p in points])
    n = points.shape[0]
    names = [str(i) for i in range(n)] if names is None else [str(v) for v in names]
    if len(names) != n:
        raise ValueError(f"names: expected {n} labels, got {len(names)}")
    num = check_int(num, "num", 3)
    loss = np.asarray(ls.losses(points).double().cpu().numpy(), dtype=np.float64)
    s = torch.linspace(0, 1, num, dtype=points.dtype, device=points.device)[1:-1, None]
    distance = torch.cdist(points.double(), points.double()).cpu().numpy()
    peak = np.diag(loss).astype(np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            inner = ls.losses((1 - s) * points[i][None, :] + s * points[j][None, :]).double().cpu().numpy()
            peak[i, j] = peak[j, i] = max(float(inner.max()), loss[i], loss[j])
    barrier = peak - 0.5 * (loss[:, None] + loss[None, :])
    barrier_max = peak - np.maximum(loss[:, None], loss[None, :])
    np.fill_diagonal(distance, 0.0)
    return Barriers(names=names, loss=loss, distance=distance, peak=peak, barrier=barrier, barrier_max=barrier_max)


def project_onto_plane(plane, points: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Plane coordinates of parameter vectors and their distance from the plane.

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
    xy = plane.coordinates(points)
    pts = points.reshape(-1, plane.origin.numel()).double()
    tensor = torch.as_tensor(xy, dtype=torch.float64, device=pts.device)
    inplane = plane.origin.double()[None, :] + tensor[:, :1] * plane.d1.double()[None, :] + \
        tensor[:, 1:] * plane.d2.double()[None, :]
    return xy, (pts - inplane).norm(dim=1).cpu().numpy()
