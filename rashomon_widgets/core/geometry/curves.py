"""Curves between two minima (Garipov et al. 2018): Bezier curves and polygonal chains, and their fitting.

A curve joins two parameter vectors ``theta_a`` (t = 0) and ``theta_b`` (t = 1) through ``num_bends``
free control points, the *bends*. Both kinds are linear in their control points,
``curve(t) = sum_i w_i(t) c_i`` with ``c = (theta_a, bend_1, ..., bend_k, theta_b)``:

* :class:`BezierCurve`: Bernstein weights; one bend gives Garipov et al.'s quadratic Bezier curve.
* :class:`PolyChain`: hat weights; straight segments through the bends at t = 1/(k+1), 2/(k+1), ...

:func:`fit_curve` minimises ``E_{t ~ U(0, 1)} L(curve(t))`` over the bends with the endpoints fixed,
evaluating the loss through ``torch.func.functional_call`` (the model is never mutated). Curves are
saved atomically and loaded with ``torch.load(..., weights_only=True)``.

Example:
    >>> curve = rw.BezierCurve(theta_a, theta_b, num_bends=1)          # doctest: +SKIP
    >>> rw.fit_curve(ls, curve, steps=300, lr=1e-2)                     # doctest: +SKIP
    >>> ls.losses(curve.points(torch.linspace(0, 1, 21))).max()         # doctest: +SKIP
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..validation import check_int, check_point, check_vectors, describe
from ._files import atomic_save, device_of, shape_of

FORMAT = "rashomon_widgets.curve"
VERSION = 1


# ---------------------------------------------------------------------------------------- checks
def _check_endpoint(x, name: str, like: torch.Tensor | None = None) -> torch.Tensor:
    return check_point(x, name, like, "theta_a").detach().clone()


def _as_ts(ts, name: str = "ts") -> torch.Tensor:
    """Validate curve parameters: a number or a 1-D sequence in [0, 1] -> float64 tensor (M,)."""
    if isinstance(ts, torch.Tensor):
        arr = ts.detach().double().cpu()
    else:
        try:
            arr = torch.as_tensor(np.asarray(ts, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected numbers in [0, 1], got {describe(ts)}") from None
    if arr.ndim > 1:
        raise ValueError(f"{name}: expected a number or a 1-D sequence of numbers in [0, 1], got shape "
                         f"{tuple(arr.shape)}")
    arr = arr.reshape(-1)
    if arr.numel() == 0:
        raise ValueError(f"{name}: expected at least one value in [0, 1], got none")
    bad = ~torch.isfinite(arr) | (arr < 0) | (arr > 1)
    if bool(bad.any()):
        raise ValueError(f"{name}: expected values in [0, 1] (t = 0 is theta_a, t = 1 is theta_b), got "
                         f"{float(arr[bad][0])!r}")
    return arr


def _check_scalar_t(t) -> float:
    if isinstance(t, torch.Tensor) and t.ndim == 0:
        t = float(t)
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)):
        raise TypeError(f"t: expected a number in [0, 1], got {describe(t)}; use curve.points(ts) for many")
    return float(_as_ts(t, "t")[0])


# ---------------------------------------------------------------------------------------- curves
class Curve:
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
    """

    kind = "curve"

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
        return self.theta_a.dtype

    @property
    def device(self) -> torch.device:
        return self.theta_a.device

    @property
    def control_points(self) -> torch.Tensor:
        """``(num_bends + 2, P)``: theta_a, the bends, theta_b."""
        return torch.cat([self.theta_a[None], self.bends, self.theta_b[None]])

    # ------------------------------------------------------------------ weights (subclasses)
    def weights(self, ts) -> torch.Tensor:
        """``(M, num_bends + 2)`` float64 weights of the control points at each t (rows sum to 1)."""
        raise NotImplementedError

    def weight_derivatives(self, ts) -> torch.Tensor:
        """``(M, num_bends + 2)`` float64 derivatives d w_i / dt."""
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation
    def _combine(self, w: torch.Tensor, bends: torch.Tensor | None = None) -> torch.Tensor:
        w = w.to(self.dtype).to(self.device)
        bends = self.bends if bends is None else bends
        out = w[:, :1] * self.theta_a[None] + w[:, -1:] * self.theta_b[None]
        if self.num_bends:
            out = out + w[:, 1:-1] @ bends
        return out

    def __call__(self, t: float) -> torch.Tensor:
        """The point at ``t`` in [0, 1]: a flat parameter vector (P,)."""
        return self._combine(self.weights(_check_scalar_t(t)))[0]

    def points(self, ts) -> torch.Tensor:
        """Points at every t of ``ts`` (M values in [0, 1]): a tensor (M, P), ready for ``ls.losses``."""
        return self._combine(self.weights(ts))

    def tangent(self, t: float, *, normalize: bool = False) -> torch.Tensor:
        """The derivative d curve / dt at ``t`` (P,); unit length with ``normalize=True``.

        For a :class:`PolyChain` at a bend the derivative of the next segment is returned (of the last
        one at t = 1).
        """
        v = self._combine_derivative(self.weight_derivatives(_check_scalar_t(t)))[0]
        if normalize:
            n = v.norm()
            if float(n) == 0:
                raise ValueError(f"t: the curve does not move at t={t} (zero tangent); no direction to normalise")
            v = v / n
        return v

    def tangents(self, ts) -> torch.Tensor:
        """Derivatives d curve / dt at every t of ``ts``: (M, P)."""
        return self._combine_derivative(self.weight_derivatives(ts))

    def _combine_derivative(self, dw: torch.Tensor) -> torch.Tensor:
        dw = dw.to(self.dtype).to(self.device)
        return dw @ self.control_points

    # ------------------------------------------------------------------ geometry
    def line_direction(self) -> torch.Tensor:
        """Unit vector from theta_a to theta_b: the straight line's direction."""
        d = self.theta_b - self.theta_a
        n = d.norm()
        if float(n) == 0:
            raise ValueError("theta_b: expected a point different from theta_a, got the same point")
        return d / n

    def main_bend(self) -> torch.Tensor:
        """The bend farthest from the straight line (the only one for a quadratic Bezier curve)."""
        if self.num_bends == 0:
            raise ValueError("curve: expected at least one bend, got num_bends=0 (a straight line has no "
                             "detour)")
        u = self.line_direction()
        off = (self.bends - self.theta_a) - ((self.bends - self.theta_a) @ u)[:, None] * u[None]
        return self.bends[int(off.norm(dim=1).argmax())]

    def detour_direction(self) -> torch.Tensor:
        """Unit vector of (main bend - midpoint) made orthogonal to the line direction."""
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

        theta_a is at (0, 0), theta_b at (|theta_b - theta_a|, 0); the extent covers the three points
        with ``margin`` of their spread on every side. A quadratic Bezier curve lies in this plane.
        """
        from .plane import Plane

        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
            raise ValueError(f"margin: expected a non-negative number (the share of the points' spread "
                             f"added on every side), got {margin!r}")
        self.detour_direction()  # a clear error for a curve still on the straight line
        return Plane.through(self.theta_a, self.theta_b, self.main_bend(), margin=float(margin))

    def length(self, num: int = 201) -> float:
        """Arc length, by the polygon through ``num`` evenly spaced points."""
        pts = self.points(torch.linspace(0, 1, check_int(num, "num", 2, 10**6), dtype=torch.float64))
        return float((pts[1:] - pts[:-1]).norm(dim=1).sum())

    # ------------------------------------------------------------------ save / load
    def state(self) -> dict:
        """Everything needed to rebuild the curve, as tensors and plain values (``weights_only``-safe)."""
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, "num_bends": self.num_bends,
                "num_params": self.num_params, "dtype": str(self.dtype),
                "control_points": self.control_points.detach().cpu(),
                "fit_step": int(self.fit_state["step"]),
                "fit_losses": torch.tensor(self.fit_state["losses"], dtype=torch.float64),
                "optimizer": self.fit_state["optimizer"]}

    def save(self, path) -> Path:
        """Write the curve (and its fit state) to ``path`` atomically: a temporary file in the same
        folder, then ``os.replace``; an interrupted save never leaves a half-written file."""
        return atomic_save(self.state(), path)

    @classmethod
    def load(cls, path, like=None) -> "Curve":
        """Read a curve written by :meth:`save` (``torch.load(..., weights_only=True)``: no pickle code).

        Args:
            path: the file.
            like: a :class:`Landscape` or a flat parameter vector: the curve must belong to a model with
                the same number of parameters and dtype (and is moved to its device).

        Raises:
            FileNotFoundError: no such file.
            ValueError: not a curve file, a curve of another kind, or a curve for another model.
        """
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"curve file: expected an existing file, got {str(path)!r}")
        device = device_of(like)
        try:
            state = torch.load(path, map_location=device or "cpu", weights_only=True)
        except Exception as exc:  # unpickling errors come in many types
            raise ValueError(f"curve file {str(path)!r}: expected a curve saved by rashomon_widgets, "
                             f"but it could not be read safely ({type(exc).__name__}: {exc})") from None
        return cls.from_state(state, like=like, source=repr(str(path)))

    @classmethod
    def from_state(cls, state, *, like=None, source: str = "state") -> "Curve":
        """Rebuild a curve from :meth:`state` (validated as :meth:`load` does)."""
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"curve {source}: expected a curve saved by rashomon_widgets "
                             f"(format {FORMAT!r}), got {describe(state) if not isinstance(state, dict) else 'another file'}")
        if state.get("version") != VERSION:
            raise ValueError(f"curve {source}: expected format version {VERSION}, got {state.get('version')!r}")
        kind = state.get("kind")
        klass = _KINDS.get(kind)
        if klass is None or (cls is not Curve and not issubclass(klass, cls)):
            want = cls.kind if cls is not Curve else " or ".join(map(repr, _KINDS))
            raise ValueError(f"curve {source}: expected a {want} curve, got a {kind!r} curve")
        control = state["control_points"]
        p, dtype = int(state["num_params"]), str(state["dtype"])
        if (not isinstance(control, torch.Tensor) or control.ndim != 2 or control.shape[1] != p
                or str(control.dtype) != dtype or control.shape[0] != int(state["num_bends"]) + 2):
            raise ValueError(f"curve {source}: the control points {describe(control)} do not match the "
                             f"header (P={p}, {dtype}, {state['num_bends']} bends); the file is damaged")
        if like is not None:
            want_p, want_dtype, what = shape_of(like)
            if p != want_p or dtype != str(want_dtype):
                raise ValueError(f"curve {source}: a curve for another model: it holds P={p:,} parameters "
                                 f"in {dtype}, but {what} has P={want_p:,} in {want_dtype}")
        curve = klass(control[0], control[-1], int(state["num_bends"]), bends=control[1:-1].clone())
        losses = state.get("fit_losses")
        curve.fit_state = {"step": int(state.get("fit_step", 0)),
                           "losses": [] if losses is None else [float(v) for v in losses],
                           "optimizer": state.get("optimizer")}
        return curve

    def copy(self) -> "Curve":
        """An independent copy (fit state included)."""
        out = type(self)(self.theta_a, self.theta_b, self.num_bends, bends=self.bends)
        out.fit_state = copy.deepcopy(self.fit_state)
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(P={self.num_params:,}, num_bends={self.num_bends}, {self.dtype}, "
                f"{self.device}, fitted steps={self.fit_state['step']})")


class BezierCurve(Curve):
    """A Bezier curve of degree ``num_bends + 1`` from ``theta_a`` to ``theta_b``.

    ``curve(t) = sum_i C(n, i) t^i (1 - t)^(n - i) c_i`` with n = num_bends + 1; one bend gives the
    quadratic curve ``(1 - t)^2 theta_a + 2 t (1 - t) bend + t^2 theta_b`` of Garipov et al. (2018).
    The bends start on the straight line, so an unfitted curve is the straight line.

    Raises:
        TypeError: endpoints that are not floating-point tensors.
        ValueError: endpoints of different lengths, dtypes or devices, non-finite values, a bad
            ``num_bends`` or ``bends``.

    Example:
        >>> a, b = torch.zeros(3), torch.ones(3)
        >>> curve = BezierCurve(a, b, num_bends=1)
        >>> curve(0.5)
        tensor([0.5000, 0.5000, 0.5000])
        >>> curve.points([0.0, 1.0]).shape
        torch.Size([2, 3])
    """

    kind = "bezier"

    def weights(self, ts) -> torch.Tensor:
        t = _as_ts(ts)[:, None]
        n = self.num_bends + 1
        i = torch.arange(n + 1, dtype=torch.float64)[None]
        binom = torch.tensor([math.comb(n, k) for k in range(n + 1)], dtype=torch.float64)[None]
        return binom * t ** i * (1 - t) ** (n - i)

    def weight_derivatives(self, ts) -> torch.Tensor:
        t = _as_ts(ts)[:, None]
        n = self.num_bends + 1
        m = n - 1  # d/dt B_{i,n} = n (B_{i-1,n-1} - B_{i,n-1})
        j = torch.arange(m + 1, dtype=torch.float64)[None]
        binom = torch.tensor([math.comb(m, k) for k in range(m + 1)], dtype=torch.float64)[None]
        low = binom * t ** j * (1 - t) ** (m - j)  # (M, n)
        out = torch.zeros(t.shape[0], n + 1, dtype=torch.float64)
        out[:, 1:] += n * low
        out[:, :-1] -= n * low
        return out


class PolyChain(Curve):
    """A polygonal chain theta_a -> bend_1 -> ... -> bend_k -> theta_b, bend i reached at t = i / (k + 1).

    Garipov et al.'s second curve family; with one bend: two straight segments meeting at t = 0.5.

    Example:
        >>> chain = PolyChain(torch.zeros(2), torch.ones(2), num_bends=1, bends=torch.tensor([[1.0, 0.0]]))
        >>> chain(0.5)
        tensor([1., 0.])
    """

    kind = "polychain"

    def weights(self, ts) -> torch.Tensor:
        t = _as_ts(ts)[:, None]
        k = self.num_bends + 1
        j = torch.arange(k + 1, dtype=torch.float64)[None]
        return torch.clamp(1 - (t * k - j).abs(), min=0.0)

    def weight_derivatives(self, ts) -> torch.Tensor:
        t = _as_ts(ts)
        k = self.num_bends + 1
        seg = torch.clamp(torch.floor(t * k).long(), max=k - 1)
        out = torch.zeros(t.shape[0], k + 1, dtype=torch.float64)
        rows = torch.arange(t.shape[0])
        out[rows, seg] = -float(k)
        out[rows, seg + 1] = float(k)
        return out


_KINDS = {"bezier": BezierCurve, "polychain": PolyChain}


def load_curve(path, like=None) -> Curve:
    """Read a :class:`BezierCurve` or :class:`PolyChain` saved with ``curve.save(path)``; see :meth:`Curve.load`."""
    return Curve.load(path, like=like)


def check_curve_for(ls, curve) -> None:
    if not isinstance(curve, Curve):
        raise TypeError(f"curve: expected an rw.BezierCurve or rw.PolyChain, got {describe(curve)}")
    if curve.num_params != ls.num_params or curve.dtype != ls.dtype:
        raise ValueError(f"curve: a curve for another model: it has P={curve.num_params:,} parameters in "
                         f"{curve.dtype}, the Landscape's model has P={ls.num_params:,} in {ls.dtype}")
    if curve.device != ls.device:
        raise ValueError(f"curve: expected a curve on {ls.device} (the model's device), got one on "
                         f"{curve.device}")
