"""The base class of curves between two minima: a curve ``t -> theta`` linear in its control points.

``curve(t) = sum_i w_i(t) c_i`` with ``c = (theta_a, bend_1, ..., bend_k, theta_b)``; a curve family
(:mod:`.curves`) defines the weights. Saving and loading come from :class:`._files.CurveFiles`.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import torch

from ..validation import check_curve_t, check_int, check_nonnegative, check_point, check_vectors
from ._files import CurveFiles


def _check_endpoint(x, name: str, like: torch.Tensor | None = None) -> torch.Tensor:
    return check_point(x, name, like, "theta_a").detach().clone()


#: points of a curve built at once by :meth:`Curve.arc_length` and :meth:`Curve.plane_path` (each P entries)
CHUNK_POINTS = 16


class Curve(CurveFiles):
    """A curve ``t -> theta`` in parameter space, linear in its control points (base class).

    Args:
        theta_a: the start (t = 0), a flat parameter vector (P,).
        theta_b: the end (t = 1), same length, dtype and device.
        num_bends: free control points between them (0 gives the straight line).
        bends: optional initial bends (num_bends, P); by default they lie on the straight line at
            t = i / (num_bends + 1), so the unfitted curve *is* the straight line.

    Attributes:
        theta_a, theta_b: the fixed endpoints.
        bends: (num_bends, P) tensor, the free control points (what :func:`fit_curve` changes).
        fit_state: ``{"step": steps done, "losses": mean loss of every step, "optimizer": Adam state}``;
            :func:`fit_curve` continues from it.

    Raises:
        TypeError: endpoints that are not floating-point tensors.
        ValueError: endpoints of different lengths, dtypes or devices, non-finite values, a bad
            ``num_bends`` or ``bends``.
    """

    def __init__(self, theta_a: torch.Tensor, theta_b: torch.Tensor, num_bends: int = 1, *,
                 bends: torch.Tensor | None = None):
        self.theta_a = _check_endpoint(theta_a, "theta_a")
        self.theta_b = _check_endpoint(theta_b, "theta_b", self.theta_a)
        self.num_bends = check_int(num_bends, "num_bends", 0, 10_000)
        if bends is None:
            s = torch.arange(1, self.num_bends + 1, dtype=torch.float64) / (self.num_bends + 1)
            s = s.to(self.dtype).to(self.device)[:, None]
            bends = (1 - s) * self.theta_a[None, :] + s * self.theta_b[None, :]
        else:
            bends = check_vectors(bends, self.num_params, self.dtype, self.device, name="bends", rows=True)
            if bends.shape[0] != self.num_bends:
                raise ValueError(f"bends: expected {self.num_bends} rows (num_bends, P), got shape "
                                 f"{tuple(bends.shape)}")
        self.bends = bends.detach().clone()
        self.fit_state: dict = {"step": 0, "losses": [], "optimizer": None}

    # ------------------------------------------------------------------ basic properties
    @property
    def num_params(self) -> int:
        """P, the length of every point on the curve."""
        return self.theta_a.numel()

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of every point on the curve (the endpoints')."""
        return self.theta_a.dtype

    @property
    def device(self) -> torch.device:
        """The device of every point on the curve (the endpoints')."""
        return self.theta_a.device

    @property
    def control_points(self) -> torch.Tensor:
        """``(num_bends + 2, P)``: theta_a, the bends, theta_b."""
        return torch.cat([self.theta_a[None], self.bends, self.theta_b[None]])

    # ------------------------------------------------------------------ weights (subclasses)
    def weights(self, ts) -> torch.Tensor:
        """The control points' weights at each t: the curve point is ``w @ control_points``.

        Args:
            ts: a number or M numbers in [0, 1].

        Returns:
            ``(M, num_bends + 2)`` float64 weights; every row sums to 1.

        Raises:
            NotImplementedError: on the base class (a curve family defines its weights).
        """
        raise NotImplementedError

    def weight_derivatives(self, ts) -> torch.Tensor:
        """The derivatives ``d w_i / dt`` of :meth:`weights`.

        Args:
            ts: a number or M numbers in [0, 1].

        Returns:
            ``(M, num_bends + 2)`` float64 derivatives; every row sums to 0.

        Raises:
            NotImplementedError: on the base class (a curve family defines its weights).
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation
    def combine(self, w: torch.Tensor, bends: torch.Tensor | None = None) -> torch.Tensor:
        """The points ``sum_i w[:, i] * control_point_i``: the ends ``theta_a`` and ``theta_b`` and the bends.

        Args:
            w: (T, num_bends + 2) basis weights (:meth:`weights` of some ts).
            bends: (num_bends, P) bends to use instead of the curve's own (the fit differentiates
                through them).

        Returns:
            (T, P) the points.
        """
        w = w.to(self.dtype).to(self.device)
        bends = self.bends if bends is None else bends
        out = w[:, :1] * self.theta_a[None] + w[:, -1:] * self.theta_b[None]
        if self.num_bends:
            out = out + w[:, 1:-1] @ bends
        return out

    def __call__(self, t: float) -> torch.Tensor:
        """The point at ``t``: a flat parameter vector (P,).

        Args:
            t: the curve parameter, a number in [0, 1] (0 is theta_a, 1 is theta_b).
        """
        return self.combine(self.weights(check_curve_t(t)))[0]

    def points(self, ts) -> torch.Tensor:
        """The points at every t of ``ts``, ready for ``ls.losses``.

        Args:
            ts: a number or M numbers in [0, 1].

        Returns:
            (M, P) parameter vectors, one row per t.
        """
        return self.combine(self.weights(ts))

    def tangent(self, t: float, *, normalize: bool = False) -> torch.Tensor:
        """The derivative d curve / dt at ``t``.

        For a :class:`PolyChain` at a bend the derivative of the next segment is returned (of the last
        one at t = 1).

        Args:
            t: the curve parameter, a number in [0, 1].
            normalize: return a unit vector.

        Returns:
            (P,) the tangent (unit length with ``normalize=True``).

        Raises:
            ValueError: ``normalize=True`` where the curve does not move (a zero tangent).
        """
        v = self._combine_derivative(self.weight_derivatives(check_curve_t(t)))[0]
        if normalize:
            n = v.norm()
            if float(n) == 0:
                raise ValueError(f"t: the curve does not move at t={t} (zero tangent); no direction to normalise")
            v = v / n
        return v

    def tangents(self, ts) -> torch.Tensor:
        """The derivatives d curve / dt at every t of ``ts``.

        Args:
            ts: a number or M numbers in [0, 1].

        Returns:
            (M, P), one row per t.
        """
        return self._combine_derivative(self.weight_derivatives(ts))

    def _combine_derivative(self, dw: torch.Tensor) -> torch.Tensor:
        dw = dw.to(self.dtype).to(self.device)
        return dw @ self.control_points

    # ------------------------------------------------------------------ geometry
    def line_direction(self) -> torch.Tensor:
        """The straight line's direction.

        Returns:
            (P,) the unit vector from theta_a to theta_b.

        Raises:
            ValueError: theta_a and theta_b are the same point.
        """
        d = self.theta_b - self.theta_a
        n = d.norm()
        if float(n) == 0:
            raise ValueError("theta_b: expected a point different from theta_a, got the same point")
        return d / n

    def main_bend(self) -> torch.Tensor:
        """The bend farthest from the straight line (the only one for a quadratic Bezier curve).

        Returns:
            (P,) a row of ``bends``.

        Raises:
            ValueError: the curve has no bends, or theta_a and theta_b are the same point.
        """
        if self.num_bends == 0:
            raise ValueError("curve: expected at least one bend, got num_bends=0 (a straight line has no "
                             "detour)")
        u = self.line_direction()
        off = (self.bends - self.theta_a) - ((self.bends - self.theta_a) @ u)[:, None] * u[None]
        return self.bends[int(off.norm(dim=1).argmax())]

    def detour_direction(self) -> torch.Tensor:
        """The direction of the detour: (main bend - midpoint), orthogonal to the line direction.

        Returns:
            (P,) a unit vector.

        Raises:
            ValueError: no bends, or bends still on the straight line (an unfitted curve).
        """
        u = self.line_direction()
        d = self.main_bend() - (self.theta_a + self.theta_b) / 2
        d = d - (d @ u) * u
        n = d.norm()
        if float(n) <= 1e-12 * float((self.theta_b - self.theta_a).norm()):
            raise ValueError("curve: the bends lie on the straight line (not fitted yet?); there is no "
                             "detour direction")
        return d / n

    def plane(self, margin: float = 0.2):
        """The plane through theta_a, theta_b and the main bend (Garipov et al.'s contour plane).

        theta_a is at (0, 0), theta_b at (|theta_b - theta_a|, 0). A quadratic Bezier curve lies in
        this plane.

        Args:
            margin: the share of the three points' spread added on every side of the plane's extent.

        Returns:
            an :class:`rw.Plane`.

        Raises:
            TypeError: ``margin`` is not a number.
            ValueError: a negative margin, or a curve without a detour (see :meth:`detour_direction`).
        """
        from .plane import Plane

        margin = check_nonnegative(margin, "margin", "a non-negative number (the share of the points' "
                                                     "spread added on every side)")
        self.detour_direction()  # a clear error for a curve still on the straight line
        return Plane.through(self.theta_a, self.theta_b, self.main_bend(), margin=margin)

    def plane_path(self, plane, ts) -> np.ndarray:
        """The curve's points at ``ts`` in the coordinates of ``plane`` (for drawing it on a slice), built
        :data:`CHUNK_POINTS` at a time: all of them at once would hold ``len(ts) x P`` numbers, which grows
        with both the path and the model.

        Args:
            plane: a :class:`Plane`.
            ts: curve parameters in [0, 1].

        Returns:
            (len(ts), 2) float64 numpy array.

        Example:
            >>> curve.plane_path(curve.plane(), np.linspace(0, 1, 101)).shape     # doctest: +SKIP
            (101, 2)
        """
        ts = np.asarray(ts, dtype=float)
        return np.concatenate([plane.coordinates(self.points(ts[k:k + CHUNK_POINTS]))
                               for k in range(0, len(ts), CHUNK_POINTS)])

    def arc_length(self, num: int = 201) -> float:
        """The arc length, by the polygon through ``num`` evenly spaced points.

        Args:
            num: points of the polygon, 2 or more.

        Returns:
            the length in parameter space.
        """
        ts = torch.linspace(0, 1, check_int(num, "num", 2, 10**6), dtype=torch.float64)
        total = 0.0
        for k in range(0, num - 1, CHUNK_POINTS):  # a few points of P entries at a time, each chunk sharing its last
            pts = self.points(ts[k:k + CHUNK_POINTS + 1])
            total += float((pts[1:] - pts[:-1]).norm(dim=1).sum())
        return total

    def length(self, num: int = 201) -> float:
        """Deprecated: :meth:`arc_length` (``length`` is a number, not a method, on the paths).

        Args:
            num: points of the polygon, 2 or more.

        Returns:
            ``arc_length(num)``.
        """
        warnings.warn("Curve.length(num) is deprecated: use Curve.arc_length(num)", DeprecationWarning, stacklevel=2)
        return self.arc_length(num)

    def copy(self) -> "Curve":
        """An independent copy.

        Returns:
            a curve of the same class, with copies of the bends and the fit state.
        """
        out = type(self)(self.theta_a, self.theta_b, self.num_bends, bends=self.bends)
        out.fit_state = copy.deepcopy(self.fit_state)
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(P={self.num_params:,}, num_bends={self.num_bends}, {self.dtype}, "
                f"{self.device}, fitted steps={self.fit_state['step']})")
