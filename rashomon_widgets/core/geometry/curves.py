"""Curves between two minima: Bezier curves and polygonal chains.

Reference: Garipov, Izmailov, Podoprikhin, Vetrov & Wilson (2018), "Loss surfaces, mode connectivity, and
fast ensembling of DNNs".

A curve joins two parameter vectors ``theta_a`` (t = 0) and ``theta_b`` (t = 1) through ``num_bends``
free control points, the *bends*. Both kinds are linear in their control points,
``curve(t) = sum_i w_i(t) c_i`` with ``c = (theta_a, bend_1, ..., bend_k, theta_b)``:

* :class:`BezierCurve`: Bernstein weights; one bend gives Garipov et al.'s quadratic Bezier curve.
* :class:`PolyChain`: hat weights; straight segments through the bends at t = 1/(k+1), 2/(k+1), ...

:func:`~.fitting.fit_curve` minimises ``E_{t ~ U(0, 1)} L(curve(t))`` over the bends with the
endpoints fixed. Evaluation and geometry are in :class:`~.curve_base.Curve`; saving and loading (files
read with ``torch.load(..., weights_only=True)``) in :mod:`._files`.

Example:
    >>> curve = rw.BezierCurve(theta_a, theta_b, num_bends=1)          # doctest: +SKIP
    >>> rw.fit_curve(ls, curve, steps=300, lr=1e-2)                     # doctest: +SKIP
    >>> ls.losses(curve.points(torch.linspace(0, 1, 21))).max()         # doctest: +SKIP
"""
from __future__ import annotations

import math

import torch

from ..validation import check_curve_ts, describe
from ._files import FORMAT, KINDS, VERSION
from .curve_base import Curve

__all__ = ["Curve", "BezierCurve", "PolyChain", "load_curve", "check_curve_for", "FORMAT", "VERSION"]


class BezierCurve(Curve):
    """A Bezier curve of degree ``num_bends + 1`` from ``theta_a`` to ``theta_b``.

    ``curve(t) = sum_i C(n, i) t^i (1 - t)^(n - i) c_i`` with n = num_bends + 1; one bend gives the
    quadratic curve ``(1 - t)^2 theta_a + 2 t (1 - t) bend + t^2 theta_b`` of Garipov et al. (2018).
    The bends start on the straight line, so an unfitted curve is the straight line.

    Args:
        theta_a, theta_b, num_bends, bends: as for :class:`Curve`.

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
        """The Bernstein weights ``C(n, i) t^i (1 - t)^(n - i)`` of the control points.

        Args:
            ts: a number or M numbers in [0, 1].

        Returns:
            ``(M, num_bends + 2)`` float64 weights.
        """
        t = check_curve_ts(ts)[:, None]
        n = self.num_bends + 1
        i = torch.arange(n + 1, dtype=torch.float64)[None]
        binom = torch.tensor([math.comb(n, k) for k in range(n + 1)], dtype=torch.float64)[None]
        return binom * t ** i * (1 - t) ** (n - i)

    def weight_derivatives(self, ts) -> torch.Tensor:
        """The derivatives of the Bernstein weights, ``n (B_{i-1,n-1}(t) - B_{i,n-1}(t))``.

        Args:
            ts: a number or M numbers in [0, 1].

        Returns:
            ``(M, num_bends + 2)`` float64 derivatives.
        """
        t = check_curve_ts(ts)[:, None]
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

    Args:
        theta_a, theta_b, num_bends, bends: as for :class:`Curve`.

    Raises:
        TypeError, ValueError: as for :class:`BezierCurve`.

    Example:
        >>> chain = PolyChain(torch.zeros(2), torch.ones(2), num_bends=1, bends=torch.tensor([[1.0, 0.0]]))
        >>> chain(0.5)
        tensor([1., 0.])
    """

    kind = "polychain"

    def weights(self, ts) -> torch.Tensor:
        """The hat weights: control point j has weight ``max(0, 1 - |t (k + 1) - j|)``.

        Args:
            ts: a number or M numbers in [0, 1].

        Returns:
            ``(M, num_bends + 2)`` float64 weights.
        """
        t = check_curve_ts(ts)[:, None]
        k = self.num_bends + 1
        j = torch.arange(k + 1, dtype=torch.float64)[None]
        return torch.clamp(1 - (t * k - j).abs(), min=0.0)

    def weight_derivatives(self, ts) -> torch.Tensor:
        """The derivatives of the hat weights: ``-(k + 1)`` and ``k + 1`` on the ends of t's segment.

        Args:
            ts: a number or M numbers in [0, 1].

        Returns:
            ``(M, num_bends + 2)`` float64 derivatives.
        """
        t = check_curve_ts(ts)
        k = self.num_bends + 1
        seg = torch.clamp(torch.floor(t * k).long(), max=k - 1)
        out = torch.zeros(t.shape[0], k + 1, dtype=torch.float64)
        rows = torch.arange(t.shape[0])
        out[rows, seg] = -float(k)
        out[rows, seg + 1] = float(k)
        return out


KINDS.update({"bezier": BezierCurve, "polychain": PolyChain})  # what load_curve can rebuild


def load_curve(path, like=None) -> Curve:
    """Read a :class:`BezierCurve` or :class:`PolyChain` saved with ``curve.save(path)``.

    Args:
        path, like: as for :meth:`Curve.load`.

    Returns:
        the curve, of the kind saved.
    """
    return Curve.load(path, like=like)


def check_curve_for(ls, curve) -> None:
    """Validate a curve for a Landscape: same number of parameters, dtype and device.

    Raises:
        TypeError: not a curve.
        ValueError: a curve for another model, or on another device.
    """
    if not isinstance(curve, Curve):
        raise TypeError(f"curve: expected an rw.BezierCurve or rw.PolyChain, got {describe(curve)}")
    if curve.num_params != ls.num_params or curve.dtype != ls.dtype:
        raise ValueError(f"curve: a curve for another model: it has P={curve.num_params:,} parameters in "
                         f"{curve.dtype}, the Landscape's model has P={ls.num_params:,} in {ls.dtype}")
    if curve.device != ls.device:
        raise ValueError(f"curve: expected a curve on {ls.device} (the model's device), got one on "
                         f"{curve.device}")
