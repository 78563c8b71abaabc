"""Is a point a minimum? The gradient against the curvature: what one safe step downhill would gain."""
from __future__ import annotations

from dataclasses import dataclass

from ..validation import check_fraction, check_real

#: a point counts as a minimum when one safe gradient step would lower the loss by at most this share of it
MINIMUM_RTOL = 0.01


@dataclass(frozen=True)
class MinimumCheck:
    """What :func:`check_minimum` found.

    Attributes:
        loss: the loss at the point.
        grad_norm: ``|grad L|``.
        top_value: the largest Hessian eigenvalue used (None: not known).
        decrease: ``|grad|^2 / (2 lambda_max)``, the decrease that a step of ``1 / lambda_max`` down the gradient
            achieves to second order at least (the curvature along any direction is at most lambda_max);
            None without ``top_value`` or when lambda_max <= 0.
        at_minimum: ``decrease <= rtol * loss`` (or below rounding); True when it cannot be told.
    """

    loss: float
    grad_norm: float
    top_value: float | None
    decrease: float | None
    at_minimum: bool

    def summary(self) -> str:
        """One line: ``"not at a minimum: |grad| = 0.12, a step of 1/lambda_max downhill lowers the loss
        0.31 by about 0.0094 (3.0%)"``, or ``"at a minimum to within 1% (|grad| = 1e-09)"``."""
        if self.at_minimum or self.decrease is None:
            return f"at a minimum as far as the gradient tells (|grad| = {self.grad_norm:.2g}, loss {self.loss:.4g})"
        share = self.decrease / self.loss if self.loss > 0 else float("inf")
        return (f"not at a minimum: |grad| = {self.grad_norm:.2g}; a step of 1/lambda_max downhill lowers the loss "
                f"{self.loss:.4g} by about {self.decrease:.2g} ({100 * share:.1f}%)")


def check_minimum(ls, theta=None, *, top_value: float | None = None, rtol: float = MINIMUM_RTOL,
                  ls_gradient=None) -> MinimumCheck:
    """Whether ``theta`` is (close to) a minimum of the loss: the gradient measured against the curvature.

    A step of ``1 / lambda_max`` down the gradient lowers the loss by at least ``|g|^2 / (2 lambda_max)`` to
    second order. At a minimum that is zero; the point counts as one when it is at most ``rtol`` times the
    loss (or below rounding). Flat directions keep the outputs either way; what changes away from a
    minimum is the sharp directions' picture (the loss is not a parabola centred on the point).

    Args:
        ls: the :class:`Landscape` (its curvature gave ``top_value``).
        theta: (P,); default the trained parameters.
        top_value: the largest Hessian eigenvalue there (``ls.eigs(1)``); None: only the gradient is reported.
        rtol: the share of the loss a step may gain at a "minimum".
        ls_gradient: the landscape whose loss and gradient are checked (default ``ls``), e.g. the full data
            when ``top_value`` came from a subsample.

    Returns:
        a :class:`MinimumCheck`.

    Example:
        >>> check = rw.core.check_minimum(ls, top_value=float(ls.eigs(1)[0][0]))     # doctest: +SKIP
        >>> check.at_minimum, check.summary()                                          # doctest: +SKIP
    """
    rtol = check_fraction(rtol, "rtol")
    target = ls if ls_gradient is None else ls_gradient
    point = target.check_theta(theta)
    loss = float(target.loss(point))
    grad_norm = float(target.grad(point).norm())
    if top_value is not None:
        top_value = check_real(top_value, "top_value")
    if top_value is None or top_value <= 0:
        return MinimumCheck(loss, grad_norm, top_value, None, True)
    decrease = grad_norm ** 2 / (2 * top_value)
    floor = 1e-12 * max(abs(loss), 1.0)
    return MinimumCheck(loss, grad_norm, top_value, decrease, decrease <= max(rtol * abs(loss), floor))
