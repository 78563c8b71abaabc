"""Does a walk span more directions than a curve? (:func:`compare_directions`, write-up 1's cyclic walk)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.geometry import Directions, directions
from ..core.validation import describe

__all__ = ["DirectionVerdict", "compare_directions"]


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
