"""A search for a path between two points of a Rashomon set: best-first over a discretised set.

Write-up 3 found paths between minima of one Rashomon set "by discretizing the space and doing a
depth-first search of this Rashomon set". :func:`~rashomon_widgets.core.geometry.paths.null_space_path`
is greedy: it only ever steps toward the target, and stops where the distance to the target has a local
minimum inside the set. :func:`rashomon_search` searches instead, so it can go around obstacles.

The graph searched:

* **nodes** are points of the set ``{theta : loss(theta) <= loss_tol}`` on the behaviour manifold of
  ``theta_a``: every node is retracted to ``theta_a``'s outputs on the data (Gauss-Newton steps, as in
  :func:`~rashomon_widgets.core.geometry.paths.null_space_path`). At a global minimum of a sum-of-squares
  loss, such as the write-ups' XOR nets, that manifold is the zero-loss set itself;
* **edges** are steps of length ``step`` along the manifold's tangent at a node (the Hessian's null
  space for small models, the Jacobian's for large ones), each followed by the retraction. An edge is
  kept only when its end and ``checks`` evenly spaced points on the straight segment to it have
  ``loss <= loss_tol``, so the polygon through the nodes stays in the set (at the checked points). The
  steps tried from a node: along the tangent part of ``theta_b - theta``, along plus and minus every
  vector of a tangent basis, and along ``num_random`` random tangent directions;
* the **discretisation** is a grid of cells of side ``step / 2`` in parameter space: a point whose cell
  already holds a node is dropped, so the search does not circle.

The frontier is ordered best-first. ``strategy="astar"`` orders by ``length so far + weight * distance to
theta_b``: with ``weight=1`` this is A* (the straight distance never overestimates what is left, so the
first path found is close to the shortest on the grid, at the price of expanding every node that might
lie on a shorter one); a larger ``weight`` (weighted A*) expands far fewer nodes for a path at most
``weight`` times as long. ``"greedy"`` orders by the distance alone. The children of a node are
retracted together (one batched Gauss-Newton solve for small models). The search has reached
``theta_b`` when a node lies within ``step`` of it and the straight segment from that node to ``theta_b``
stays in the set (``checks + 1`` points on it).

What a result means: ``reached`` is a proof by example (every point of the path, and every checked point
of its segments, has ``loss <= loss_tol``; :func:`path_in_set` checks a path again, as finely as asked).
Not reached within ``max_nodes`` proves nothing: a larger budget or another ``step`` might still find a
way. That two points lie in different components needs an argument, such as a quantity that no path
inside the set can change.
"""
from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..validation import (
    check_callable,
    check_choice,
    check_flat,
    check_int,
    check_positive,
    check_real,
    check_seed,
    check_tolerance,
    check_vectors,
)
from .paths import PolygonPath
from .retraction import retract_many

__all__ = ["RashomonSearch", "path_in_set", "rashomon_search"]


@dataclass(frozen=True)
class RashomonSearch(PolygonPath):
    """The result of :func:`rashomon_search`.

    Attributes:
        thetas: (M, P) the path, ``thetas[0]`` is ``theta_a``. When ``reached`` the last point is
            ``theta_b`` itself; otherwise the path ends at the node that came closest to ``theta_b``.
        losses: (M,) the loss at every point of the path.
        segment_losses: (M - 1,) the largest loss at the checked points inside each segment (``-inf``
            where ``checks=0``).
        reached: whether the path ends at ``theta_b``.
        reason: why the search stopped, in words.
        nodes_expanded: nodes taken from the frontier and expanded (the budget ``max_nodes`` counts these).
        nodes_tried: candidate points retracted and checked (up to ``2 d + 1 + num_random`` per
            expanded node, d the dimension of the tangent space).
        loss_tol: the loss that defines the set.
        step: the edge length.
        distance: the straight distance ``|theta_b - theta_a|``.
        closest: the smallest distance to ``theta_b`` of any node found (0 when reached).
    """
    thetas: torch.Tensor
    losses: torch.Tensor
    segment_losses: torch.Tensor
    reached: bool
    reason: str
    nodes_expanded: int
    nodes_tried: int
    loss_tol: float
    step: float
    distance: float
    closest: float

    @property
    def max_loss(self) -> float:
        """The largest loss along the path: at its points and at the checked points of its segments."""
        inner = float(self.segment_losses.max()) if self.segment_losses.numel() else -math.inf
        return max(float(self.losses.max()), inner)

    def __repr__(self) -> str:
        return (f"RashomonSearch({len(self)} points, length {self.length:.4g} (straight {self.distance:.4g}), "
                f"max loss {self.max_loss:.3g} (loss_tol {self.loss_tol:.3g}), {self.nodes_expanded} nodes "
                f"expanded, reached={self.reached}: {self.reason})")


def _segment_points(a: torch.Tensor, b: torch.Tensor, checks: int, *, ends: bool = False) -> torch.Tensor:
    """``checks`` evenly spaced points strictly inside the segment a -> b (with both ends if ``ends``)."""
    n = checks + 1
    ts = torch.arange(0 if ends else 1, n + 1 if ends else n, dtype=a.dtype, device=a.device) / n
    return a + ts[:, None] * (b - a)


def path_in_set(ls, thetas: torch.Tensor, loss_tol: float, *, checks: int = 4,
                max_step: float | None = None) -> tuple[bool, float, str]:
    """Check that a polygonal path lies in the set ``loss <= loss_tol``.

    Evaluates the loss at every point of the path and at ``checks`` evenly spaced points inside every
    segment; with ``max_step``, also refuses segments longer than that.

    Args:
        ls: the :class:`~rashomon_widgets.Landscape`.
        thetas: (M, P) the points of the path, M >= 1.
        loss_tol: the loss that defines the set (a positive number).
        checks: points checked inside each segment (0: the points of the path only).
        max_step: the longest allowed segment, or None.

    Returns:
        ``(ok, worst, why)``: whether every checked point has ``loss <= loss_tol`` (and every segment is
        short enough), the largest loss seen (NaN if any loss was NaN), and in words what failed ("" when
        ok). A NaN loss is never inside the set: ``ok`` is False and ``why`` names the point, or the
        segment and the checked point, where the loss was NaN.

    Raises:
        TypeError / ValueError: a path of the wrong shape, dtype or device, or bad options.

    Example:
        >>> found = rw.core.rashomon_search(ls, theta_a, theta_b)              # doctest: +SKIP
        >>> rw.core.path_in_set(ls, found.thetas, found.loss_tol, checks=16)   # doctest: +SKIP
        (True, 1.9e-09, '')
    """
    thetas = check_vectors(thetas, ls.num_params, ls.dtype, ls.device, name="thetas", rows=True)
    if thetas.shape[0] == 0:
        raise ValueError("thetas: expected at least one point (M >= 1), got none")
    loss_tol = check_positive(loss_tol, "loss_tol")
    checks = check_int(checks, "checks", 0, 10**4)
    if max_step is not None:
        max_step = check_positive(max_step, "max_step")
    point_losses = _losses(ls, thetas)
    worst, why = float(point_losses.max()), ""
    bad = torch.nonzero(~(point_losses <= loss_tol)).flatten()  # NaN is never inside the set
    if bad.numel():
        i = int(bad[0])
        why = (f"point {i} has a NaN loss (not a number: never inside the set)" if bool(point_losses[i].isnan())
               else f"point {i} has loss {float(point_losses[i]):.3g} > loss_tol={loss_tol:.3g}")
    if thetas.shape[0] > 1:
        lengths = (thetas[1:] - thetas[:-1]).norm(dim=1)
        if max_step is not None and not why and bool((lengths > max_step).any()):
            i = int(torch.nonzero(lengths > max_step).flatten()[0])
            why = f"segment {i} is {float(lengths[i]):.3g} long > max_step={max_step:.3g}"
        if checks:
            inner = torch.cat([_segment_points(a, b, checks) for a, b in itertools.pairwise(thetas)])
            inner_losses = _losses(ls, inner).view(-1, checks)
            inner_worst = float(inner_losses.max())  # NaN if any is
            worst = math.nan if math.isnan(worst) or math.isnan(inner_worst) else max(worst, inner_worst)
            seg_bad = torch.nonzero((~(inner_losses <= loss_tol)).any(dim=1)).flatten()
            if seg_bad.numel() and not why:
                i = int(seg_bad[0])
                where = f"segment {i} (between points {i} and {i + 1})"
                nans = torch.nonzero(inner_losses[i].isnan()).flatten()
                if nans.numel():
                    j = int(nans[0])
                    why = (f"{where} has a NaN loss (not a number: never inside the set) at its checked point "
                           f"{j + 1} of {checks} (t={(j + 1) / (checks + 1):.3g} along it)")
                else:
                    why = f"{where} reaches loss {float(inner_losses[i].max()):.3g} > loss_tol={loss_tol:.3g}"
    return not why, worst, why


def rashomon_search(ls, theta_a: torch.Tensor, theta_b: torch.Tensor, *, loss_tol: float,
                    step: float | None = None, max_nodes: int = 500, strategy: str = "astar", weight: float = 3.0,
                    num_random: int = 2, checks: int = 4, method: str = "auto", null_tol: float | None = None,
                    seed: int = 0, progress: Callable[[int, int], None] | None = None) -> RashomonSearch:
    """Search the Rashomon set ``loss <= loss_tol`` for a path from ``theta_a`` to ``theta_b``: best-first.

    See the module docstring for the graph searched. Unlike :func:`null_space_path`, which only steps
    toward the target, the search keeps a frontier of points and can go around obstacles. It stops when
    it reaches ``theta_b``, when ``max_nodes`` nodes have been expanded, or when the frontier is empty
    (every node reachable on this grid has been expanded).

    Args:
        ls: the :class:`~rashomon_widgets.Landscape`.
        theta_a, theta_b: (P,) the two ends, both in the set. Minima trained separately can differ by a
            symmetry of the network (a permutation of hidden units, :func:`weight_matching`): align them
            first, or the search looks for a path to a copy that may lie in another component.
        loss_tol: the loss that defines the set (required: the set is yours to define). Points of the path
            are retracted to ``theta_a``'s behaviour and keep its loss; the straight segments between them
            rise above it at second order in ``step``, and ``loss_tol`` bounds that rise.
        step: the edge length in parameter space; default ``|theta_b - theta_a| / 20``.
        max_nodes: the most nodes expanded: the search's budget.
        strategy: ``"astar"`` (priority: length so far + ``weight`` x distance to ``theta_b``) or
            ``"greedy"`` (the distance alone).
        weight: the weight of the distance in ``"astar"``, >= 1 (1: plain A*; the default 3 finds paths at most
            three times the shortest on the grid, expanding far fewer nodes).
        num_random: random tangent directions tried at every node, besides the direction to the target and
            plus and minus every tangent basis vector (``method="hessian"``); with ``"tangent"`` plus and
            minus ``num_random`` random tangent directions are the only other ones.
        checks: points checked inside the straight segment of every edge (``checks + 1`` on the last one).
        method: the tangent: ``"hessian"`` (the dense Hessian's null space, as in the write-up),
            ``"tangent"`` (the Jacobian's null space by :meth:`Landscape.project_tangent`, for large models)
            or ``"auto"`` (hessian for small models, ``ls.policy.is_small``).
        null_tol: the relative eigenvalue tolerance of ``"hessian"`` (default: ``default_tol``).
        seed: seed of the random directions.
        progress: called as ``progress(expanded, max_nodes)`` after every node expanded; it may raise to
            stop the search.

    Returns:
        A :class:`RashomonSearch`: ``reached``, the path (``thetas``, ``length``, ``max_loss``),
        ``nodes_expanded``, ``nodes_tried`` and ``reason``.

    Raises:
        TypeError / ValueError: bad points (wrong shape, dtype, device, non-finite), an end outside the
            set (``loss > loss_tol``), or bad options.

    Example:
        >>> found = rw.rashomon_search(ls, theta_a, theta_b, loss_tol=1e-4, step=0.5)   # doctest: +SKIP
        >>> found.reached, round(found.length, 1), found.max_loss < 1e-4                 # doctest: +SKIP
        (True, 9.96, True)
    """
    theta_a = ls.check_theta(check_flat(theta_a, "theta_a")).detach().clone()
    theta_b = ls.check_theta(check_flat(theta_b, "theta_b")).detach().clone()
    loss_tol = check_positive(loss_tol, "loss_tol")
    max_nodes = check_int(max_nodes, "max_nodes", 1, 10**8)
    check_choice(strategy, "strategy", ("astar", "greedy"))
    weight = check_real(weight, "weight", 1.0, what="a number >= 1")
    num_random = check_int(num_random, "num_random", 0, 10**4)
    checks = check_int(checks, "checks", 0, 10**4)
    check_choice(method, "method", ("auto", "hessian", "tangent"))
    seed = check_seed(seed)
    check_callable(progress, "progress", "progress(expanded, max_nodes)", optional=True)
    if null_tol is not None:
        null_tol = check_tolerance(null_tol, "null_tol")
    if method == "auto":
        method = "hessian" if ls.policy.is_small(ls.num_params) else "tangent"
    ends = _losses(ls, torch.stack([theta_a, theta_b]))
    for name, value in (("theta_a", float(ends[0])), ("theta_b", float(ends[1]))):
        if not value <= loss_tol:
            raise ValueError(f"{name}: expected a point of the set (loss <= loss_tol={loss_tol:.3g}), got loss "
                             f"{value:.3g}; pass a point of the Rashomon set (a minimum), or a larger loss_tol")
    distance = float((theta_b - theta_a).norm())
    step = (distance / 20 if distance > 0 else 1.0) if step is None else check_positive(step, "step")

    search = _Search(ls, theta_a, theta_b, step, loss_tol, strategy, weight, num_random, checks, method, null_tol,
                     seed)
    reached, reason = search.run(max_nodes, progress)
    return search.result(reached, reason, distance)


def _losses(ls, thetas: torch.Tensor) -> torch.Tensor:
    """Losses of a block of points: batched with vmap for small models (many small blocks: per-call
    overhead dominates), the Landscape's own choice otherwise or where vmap cannot batch the model."""
    if ls.policy.is_small(ls.num_params):
        try:
            return ls.losses(thetas, strategy="vmap")
        except ValueError:
            pass
    return ls.losses(thetas)


_ON_MANIFOLD = 1e-6   # the largest relative behaviour residual of a node (as manifold_walk)


class _Search:
    """The state of one search (nodes, parents, frontier, visited cells)."""

    def __init__(self, ls, theta_a, theta_b, step, loss_tol, strategy, weight, num_random, checks, method,
                 null_tol, seed):
        self.ls, self.a, self.b, self.step, self.loss_tol = ls, theta_a, theta_b, step, loss_tol
        self.strategy, self.weight, self.num_random, self.checks = strategy, weight, num_random, checks
        self.method, self.null_tol = method, null_tol
        self.cell = step / 2
        self.behaviour = ls.outputs(theta_a).reshape(-1)
        self.generator = torch.Generator(device=ls.device)
        self.generator.manual_seed(seed)
        self.nodes: list[torch.Tensor] = [theta_a]
        self.parents: list[int] = [-1]
        self.costs: list[float] = [0.0]
        self.segment_max: list[float] = [-math.inf]   # the checked loss inside the segment from the parent
        self.dists: list[float] = [float((theta_b - theta_a).norm())]
        self.visited: set[tuple[int, ...]] = {self._key(theta_a)}
        self.frontier: list = []
        self.expanded = 0
        self.tried = 0
        self.goal: int | None = None
        self.goal_segment = -math.inf

    def _key(self, theta: torch.Tensor) -> tuple[int, ...]:
        return tuple(torch.floor(theta / self.cell).long().tolist())

    def _priority(self, cost: float, dist: float) -> float:
        return cost + self.weight * dist if self.strategy == "astar" else dist

    # -------------------------------------------------------------- the graph
    def _candidates(self, theta: torch.Tensor) -> torch.Tensor:
        """The tangent steps from ``theta``: toward the target, along +- a basis, along random directions."""
        d = self.b - theta
        noise = torch.randn(self.ls.num_params, self.num_random, generator=self.generator, dtype=self.ls.dtype,
                            device=self.ls.device)
        if self.method == "hessian":
            basis = self.ls.null_space(theta, tol=self.null_tol)
            if basis.shape[1] == 0:   # no tangent directions: nowhere to go
                return theta.new_zeros(0, theta.numel())
            to_target = basis @ (basis.T @ d)
            randoms = basis @ (basis.T @ noise)
            fixed = torch.cat([basis, -basis], 1)
        else:
            projected = self.ls.project_tangent(torch.cat([d[:, None], noise], 1), theta)
            to_target, randoms = projected[:, 0], projected[:, 1:]
            fixed = torch.cat([randoms, -randoms], 1)
            randoms = randoms[:, :0]
        steps = []
        norm = float(to_target.norm())
        if norm > 1e-6 * float(d.norm()) and min(norm, self.step) >= self.cell / 2:
            steps.append(to_target * (min(norm, self.step) / norm))
        units = torch.cat([fixed, randoms], 1)
        norms = units.norm(dim=0)
        keep = norms > 0
        steps.extend((units[:, keep] * (self.step / norms[keep])).T)
        if not steps:
            return theta.new_zeros(0, theta.numel())
        return theta + torch.stack(steps)

    def _expand(self, index: int) -> list[int]:
        """Expand node ``index``: retract and check its candidates; the indices of the new nodes."""
        self.expanded += 1
        origin = self.nodes[index]
        candidates = self._candidates(origin)
        # drop candidates whose cell is already taken before paying for their retraction
        free = [i for i, c in enumerate(candidates) if self._key(c) not in self.visited]
        if not free:
            return []
        candidates = candidates[free]
        self.tried += candidates.shape[0]
        points, residuals = retract_many(self.ls, candidates, self.behaviour)
        edges = (points - origin).norm(dim=1)
        # on the manifold, and not pulled far from the step (a retraction across a fold) nor back to the start
        ok = (torch.isfinite(points).all(dim=1) & (residuals.to(points.device) <= _ON_MANIFOLD)
              & (edges <= 1.5 * self.step) & (edges >= self.cell / 4))
        keys = [self._key(p) if bool(good) else None for p, good in zip(points, ok)]
        chosen, seen = [], set()
        for i, key in enumerate(keys):
            if key is not None and key not in self.visited and key not in seen:
                seen.add(key)
                chosen.append(i)
        if not chosen:
            return []
        points, edges = points[chosen], edges[chosen]
        probes = [points]
        if self.checks:
            probes.append(torch.cat([_segment_points(origin, p, self.checks) for p in points]))
        losses = _losses(self.ls, torch.cat(probes))
        point_losses = losses[:len(points)]
        inner = losses[len(points):].view(len(points), self.checks) if self.checks else None
        inside = point_losses <= self.loss_tol
        if inner is not None:
            inside &= (inner <= self.loss_tol).all(dim=1)
        new = []
        for j in torch.nonzero(inside).flatten().tolist():
            point = points[j]
            self.visited.add(keys[chosen[j]])
            self.nodes.append(point)
            self.parents.append(index)
            self.costs.append(self.costs[index] + float(edges[j]))
            self.segment_max.append(float(inner[j].max()) if inner is not None else -math.inf)
            self.dists.append(float((self.b - point).norm()))
            k = len(self.nodes) - 1
            new.append(k)
            heapq.heappush(self.frontier, (self._priority(self.costs[k], self.dists[k]), k))
        return new

    def _joins_target(self, indices: list[int]) -> int | None:
        """The new node (of ``indices``) whose straight segment to the target stays in the set, if any."""
        near = [i for i in indices if self.dists[i] <= self.step]
        if not near:
            return None
        n = self.checks + 1
        probes = torch.cat([_segment_points(self.nodes[i], self.b, n) for i in near])
        losses = _losses(self.ls, probes).view(len(near), n)
        good = [(self.costs[i] + self.dists[i], i, float(row.max()))
                for i, row in zip(near, losses) if bool((row <= self.loss_tol).all())]
        if not good:
            return None
        _, best, worst = min(good)
        self.goal_segment = worst
        return best

    def run(self, max_nodes: int, progress) -> tuple[bool, str]:
        if self.dists[0] == 0.0:
            self.goal = 0
            return True, "theta_a and theta_b are the same point"
        if self._joins_target([0]) is not None:
            self.goal = 0
            return True, "theta_b is within one step of theta_a and the straight segment stays in the set"
        heapq.heappush(self.frontier, (self._priority(0.0, self.dists[0]), 0))
        while self.frontier:
            if self.expanded >= max_nodes:
                return False, (f"budget exhausted: max_nodes={max_nodes} nodes expanded, {len(self.nodes)} points "
                               f"of the set found, the closest {min(self.dists):.3g} from theta_b (straight distance "
                               f"{self.dists[0]:.3g}); not found within the budget is not a proof that no path "
                               "exists")
            _, index = heapq.heappop(self.frontier)
            new = self._expand(index)
            if progress is not None:
                progress(self.expanded, max_nodes)
            goal = self._joins_target(new)
            if goal is not None:
                self.goal = goal
                return True, (f"reached theta_b: a path of {self._depth(goal) + 1} steps, after {self.expanded} "
                              f"nodes expanded")
        return False, (f"frontier empty: all {len(self.nodes)} points of the set reachable from theta_a with steps "
                       f"of {self.step:.3g} on this grid were expanded, none joins theta_b (closest "
                       f"{min(self.dists):.3g}); a smaller step might still find a way")

    def _depth(self, index: int) -> int:
        depth = 0
        while self.parents[index] >= 0:
            index = self.parents[index]
            depth += 1
        return depth

    def result(self, reached: bool, reason: str, distance: float) -> RashomonSearch:
        end = self.goal if reached else min(range(len(self.nodes)), key=self.dists.__getitem__)
        chain = []
        while end >= 0:
            chain.append(end)
            end = self.parents[end]
        chain.reverse()
        points = [self.nodes[i] for i in chain]
        segments = [self.segment_max[i] for i in chain[1:]]
        if reached and distance > 0:
            points.append(self.b)
            segments.append(self.goal_segment)
        thetas = torch.stack(points)
        return RashomonSearch(thetas=thetas, losses=_losses(self.ls, thetas),
                              segment_losses=torch.tensor(segments, dtype=torch.float64),
                              reached=bool(reached), reason=reason, nodes_expanded=self.expanded,
                              nodes_tried=self.tried, loss_tol=self.loss_tol, step=self.step, distance=distance,
                              closest=0.0 if reached else min(self.dists))
