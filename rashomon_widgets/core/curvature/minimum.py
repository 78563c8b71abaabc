"""Is a point a minimum? The gradient against the curvature along it: what one Newton step downhill gains."""
from __future__ import annotations

from dataclasses import dataclass

from ..validation import check_fraction

#: a point counts as a minimum when a Newton step down the gradient would lower the loss by at most this share
MINIMUM_RTOL = 1e-3


@dataclass(frozen=True)
class MinimumCheck:
    """What :func:`check_minimum` found.

    Attributes:
        loss: the loss at the point.
        grad_norm: ``|g|``, the gradient's norm.
        curvature: ``g^T H g / |g|^2``, the curvature along the gradient (0 when the gradient is 0).
        decrease: ``|g|^2 / (2 curvature)``, what a Newton step down the gradient gains on the quadratic model;
            ``inf`` when the curvature along it is <= 0 (the loss keeps falling that way).
        at_minimum: ``decrease <= rtol * |loss|`` (or below rounding).
    """

    loss: float
    grad_norm: float
    curvature: float
    decrease: float
    at_minimum: bool

    def summary(self) -> str:
        """One line for a notebook or a widget.

        Returns:
            ``"not at a minimum: |grad| = 0.45; a Newton step down the gradient lowers the loss 0.318 by about
            0.013 (4.0%)"``, or ``"at a minimum as far as the gradient tells (|grad| = 1e-09, loss 0.01)"``.
        """
        if self.at_minimum:
            return f"at a minimum as far as the gradient tells (|grad| = {self.grad_norm:.2g}, loss {self.loss:.4g})"
        if self.curvature <= 0:
            return (f"not at a minimum: |grad| = {self.grad_norm:.2g} and the curvature along the gradient is "
                    f"{self.curvature:.2g} <= 0, so the loss {self.loss:.4g} keeps falling downhill")
        share = self.decrease / abs(self.loss) if self.loss else float("inf")
        return (f"not at a minimum: |grad| = {self.grad_norm:.2g}; a Newton step down the gradient lowers the loss "
                f"{self.loss:.4g} by about {self.decrease:.2g} ({100 * share:.1f}%)")


def check_minimum(ls, theta=None, *, rtol: float = MINIMUM_RTOL) -> MinimumCheck:
    """Whether ``theta`` is (close to) a minimum of the loss: the gradient measured against the curvature along it.

    On the quadratic model, a Newton step down the gradient ``g`` gains ``|g|^4 / (2 g^T H g)``; at a minimum
    that is zero. The point counts as one when the gain is at most ``rtol`` times the loss (or below
    rounding). One gradient and one Hessian-vector product. Flat (null) directions keep the outputs either
    way; what changes away from a minimum is the sharp directions' picture: the loss is not a parabola centred
    on the point.

    Args:
        ls: the :class:`Landscape`.
        theta: (P,); default the trained parameters.
        rtol: the share of the loss a Newton step may gain at a "minimum" (default 0.1%).

    Returns:
        a :class:`MinimumCheck`.

    Example:
        >>> check = rw.core.check_minimum(ls)        # doctest: +SKIP
        >>> check.at_minimum, check.summary()        # doctest: +SKIP
    """
    rtol = check_fraction(rtol, "rtol")
    point = ls.check_theta(theta)
    loss = float(ls.loss(point))
    g = ls.grad(point)
    gg = float(g @ g)
    floor = 1e-12 * max(abs(loss), 1.0)
    if gg == 0.0:
        return MinimumCheck(loss, 0.0, 0.0, 0.0, True)
    curvature = float(g @ ls.hvp(g, point)) / gg
    decrease = gg / (2 * curvature) if curvature > 0 else float("inf")
    return MinimumCheck(loss, gg ** 0.5, curvature, decrease, decrease <= max(rtol * abs(loss), floor))
