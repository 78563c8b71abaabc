"""Two-dimensional slices of parameter space, and the loss surface over a grid on them."""
from __future__ import annotations

import concurrent.futures as cf
import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ..validation import check_callable, check_choice, check_int, check_point, check_positive, check_real, check_seed
from . import _grid

GRID_CHUNK_BYTES = 4 * 2**20  # parameter vectors of the grid built at once by Plane.surface (per worker)


@dataclass(frozen=True)
class Surface:
    """Loss over a grid on a plane: ``loss[i, j]`` is at ``(xs[j], ys[i])`` (rows are y).

    Attributes:
        plane: the :class:`Plane` the grid lies on.
        xs, ys: grid coordinates along ``plane.d1`` and ``plane.d2`` (numpy, float64).
        loss: (len(ys), len(xs)) numpy array of losses.
    """
    plane: "Plane"
    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray

    @property
    def range(self) -> float:
        """max - min of the loss over the grid."""
        return float(self.loss.max() - self.loss.min())


class Plane:
    """A plane ``origin + x * d1 + y * d2`` in parameter space.

    Build one with :meth:`through` (three points, Garipov et al.'s coordinates), :meth:`random`
    (Gaussian directions, filter-normalised as in Li et al. 2018) or :meth:`eigen` (Hessian
    eigenvectors).

    Args:
        origin: (P,) the point at plane coordinates (0, 0).
        d1, d2: (P,) the directions of the x and y axes (same length, dtype and device as ``origin``).
        extent: the default grid range ``((x0, x1), (y0, y1))``; default ``((-1, 1), (-1, 1))``.

    Raises:
        TypeError: vectors that are not floating-point tensors.
        ValueError: vectors of different shapes, dtypes or devices, or non-finite values.
    """

    def __init__(self, origin: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor, *, extent=None):
        self.origin = check_point(origin, "origin")
        self.d1 = check_point(d1, "d1", origin, "origin")
        self.d2 = check_point(d2, "d2", origin, "origin")
        self.extent = extent if extent is not None else ((-1.0, 1.0), (-1.0, 1.0))

    @classmethod
    def through(cls, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, *, margin: float = 0.2) -> "Plane":
        """The plane through three points, orthonormalised: a at (0, 0), b at (|b - a|, 0).

        These are the coordinates of Garipov et al. (2018): ``d1 = (b - a) / |b - a|``, ``d2`` is
        ``c - a`` made orthogonal to ``d1`` and normalised.

        Args:
            a, b, c: (P,) the three points.
            margin: the share of the points' spread added on every side of the default extent.

        Returns:
            a :class:`Plane` whose extent covers the three points.

        Raises:
            ValueError: the points are not distinct or are collinear.
        """
        a = check_point(a, "a")
        b, c = check_point(b, "b", a, "a"), check_point(c, "c", a, "a")
        u = b - a
        if float(u.norm()) == 0:
            raise ValueError("b: expected a point different from a, got the same point")
        u = u / u.norm()
        w = (c - a) - ((c - a) @ u) * u
        if float(w.norm()) <= 1e-12 * float((c - a).norm() + 1e-300):
            raise ValueError("c: expected a point off the line through a and b, got a collinear one")
        w = w / w.norm()
        plane = cls(a, u, w)
        pts = plane.coordinates(torch.stack([a, b, c]))
        lo, hi = pts.min(0), pts.max(0)
        pad = margin * np.maximum(hi - lo, 1e-12)
        plane.extent = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
        return plane

    @classmethod
    def random(cls, ls, *, seed: int = 0, normalization: str | None = "filter", theta=None) -> "Plane":
        """Two Gaussian directions through ``theta`` (default the trained parameters).

        ``normalization="filter"`` (Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing the loss landscape
        of neural nets"): each filter (row along dimension 0) of each
        weight tensor is rescaled to the norm of the same filter of the model, and directions in
        1-D parameters (biases, BatchNorm) are set to zero. ``"layer"`` does the same per tensor;
        ``None`` keeps the raw Gaussian directions scaled to unit norm. A model whose trainable
        parameters are all 1-D (biases or norm scales only) has no filters: each 1-D tensor is then
        scaled like a layer, so a direction is never zero.

        Args:
            ls: the :class:`Landscape` whose parameter space the plane lies in.
            seed: seed of the Gaussian directions.
            normalization: ``"filter"``, ``"layer"`` or None.
            theta: the origin (P,); default the trained parameters.

        Returns:
            a :class:`Plane` through ``theta``.

        Raises:
            ValueError: an unknown normalization, or a direction that normalises to zero (every
                parameter tensor of the model is zero: use ``normalization=None``).
        """
        check_choice(normalization, "normalization", ("filter", "layer", None))
        origin = ls.theta if theta is None else ls.check_theta(theta).clone()
        g = torch.Generator(device=ls.device)
        g.manual_seed(check_seed(seed))
        dirs = []
        for _ in range(2):
            d = torch.randn(ls.num_params, generator=g, dtype=ls.dtype, device=ls.device)
            if normalization is None:
                d = d / d.norm()
            else:
                d = _normalize(d, origin, ls.layout, per_filter=normalization == "filter")
                if float(d.norm()) == 0.0:
                    raise ValueError(
                        f"normalization: {normalization!r} scales each direction by the norms of the "
                        "parameters, which are all zero at this point; use normalization=None")
            dirs.append(d)
        return cls(origin, *dirs)

    @classmethod
    def eigen(cls, ls, which: str = "smallest", *, theta=None, scale: float = 1.0, **eigs_kwargs) -> "Plane":
        """The plane through ``theta`` along the two smallest (or largest) Hessian eigenvectors.

        Args:
            ls: the :class:`Landscape`.
            which: ``"smallest"`` or ``"largest"`` (see :meth:`Landscape.eigs`).
            theta: the origin (P,); default the trained parameters.
            scale: the length of both directions.
            **eigs_kwargs: passed to :meth:`Landscape.eigs` (``method``, ``tol``, ``seed``...).

        Returns:
            a :class:`Plane` through ``theta``.
        """
        origin = ls.theta if theta is None else ls.check_theta(theta).clone()
        _, vectors = ls.eigs(2, which=which, theta=origin, **eigs_kwargs)
        return cls(origin, scale * vectors[:, 0], scale * vectors[:, 1])

    def point(self, x: float, y: float) -> torch.Tensor:
        """The parameter vector at plane coordinates ``(x, y)``.

        Args:
            x, y: the coordinates along ``d1`` and ``d2``.

        Returns:
            (P,) ``origin + x d1 + y d2``.
        """
        return self.origin + x * self.d1 + y * self.d2

    def points(self, xs, ys) -> torch.Tensor:
        """The parameter vectors of the grid ``ys x xs``.

        Args:
            xs, ys: 1-D coordinates along ``d1`` and ``d2``.

        Returns:
            (len(ys) * len(xs), P) in row-major order (rows are y).
        """
        xs = torch.as_tensor(np.asarray(xs), dtype=self.origin.dtype, device=self.origin.device)
        ys = torch.as_tensor(np.asarray(ys), dtype=self.origin.dtype, device=self.origin.device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        return self.at(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1))

    def at(self, xy, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The parameter vectors at plane coordinates ``xy``, one per row: ``origin + x d1 + y d2``.

        Args:
            xy: (M, 2) coordinates (a tensor or an array).
            dtype: the dtype of the computation and of the result (None: the plane's).

        Returns:
            (M, P) tensor.

        Example:
            >>> plane = Plane(torch.zeros(3), torch.tensor([1.0, 0, 0]), torch.tensor([0, 1.0, 0]))
            >>> plane.at([[1.0, 2.0]]).tolist()
            [[1.0, 2.0, 0.0]]
        """
        dtype = self.origin.dtype if dtype is None else dtype
        xy = (xy if isinstance(xy, torch.Tensor) else torch.as_tensor(np.asarray(xy))).to(self.origin.device, dtype)
        xy = xy.reshape(-1, 2)
        origin, d1, d2 = (v.to(dtype)[None, :] for v in (self.origin, self.d1, self.d2))
        return origin + xy[:, :1] * d1 + xy[:, 1:] * d2

    def project(self, points: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The plane coordinates of parameter vectors (:meth:`coordinates`) and their distance from the plane.

        Args:
            points: (M, P) or (P,) parameter vectors.

        Returns:
            ``(coordinates (M, 2), off_plane (M,))``: the least-squares coordinates and
            ``|theta - at(coordinates)|`` (in float64), 0 for points in the plane.

        Example:
            >>> plane = Plane(torch.zeros(3), torch.tensor([1.0, 0, 0]), torch.tensor([0, 1.0, 0]))
            >>> xy, off = plane.project(torch.tensor([[1.0, 2.0, 3.0]]))
            >>> xy.tolist(), off.tolist()
            ([[1.0, 2.0]], [3.0])
        """
        xy = self.coordinates(points)
        pts = points.reshape(-1, self.origin.numel()).double()
        inplane = self.at(xy, torch.float64).to(pts.device)
        return xy, (pts - inplane).norm(dim=1).cpu().numpy()

    def coordinates(self, points: torch.Tensor) -> np.ndarray:
        """The plane coordinates of parameter vectors, by least squares (exact for points in the plane).

        Args:
            points: (M, P) or (P,) parameter vectors.

        Returns:
            (M, 2) numpy array of ``(x, y)``.
        """
        pts = points.reshape(-1, self.origin.numel()) - self.origin
        basis = torch.stack([self.d1, self.d2], 1)
        coef = torch.linalg.lstsq(basis.double().cpu(), pts.double().cpu().T).solution
        return coef.T.numpy()

    def grid(self, span=None, resolution: int = 21):
        """The coordinates of a square grid.

        Every point ``origin + x d1 + y d2`` of the grid must stay representable in the plane's dtype
        with room to square it (a loss squares outputs that grow with the parameters): the farthest
        point's norm bound ``|origin| + max|x| |d1| + max|y| |d2|`` must have a finite square.
        Beyond that every loss on the grid would overflow to inf, a picture of the dtype, not of the
        landscape.

        Args:
            span: None (the plane's extent), a finite number s > 0 (``[-s, s]`` on both axes) or
                ``((x0, x1), (y0, y1))`` of finite numbers.
            resolution: points per axis, an int from 2 to 4096.

        Returns:
            ``(xs, ys)``: numpy arrays of ``resolution`` coordinates each.

        Raises:
            TypeError: a resolution that is not an int, or bounds that are not numbers.
            ValueError: a resolution below 2 (or above 4096), a span that is not positive and finite, not
                a pair of pairs, or so large that the grid's points overflow the plane's dtype.
        """
        resolution = check_int(resolution, "resolution", 2, 4096)
        if span is None:
            name, ((x0, x1), (y0, y1)) = "extent", self.extent
        elif isinstance(span, numbers.Real):
            span = check_positive(span, "span", "a finite positive number")
            name, (x0, x1), (y0, y1) = "span", (-span, span), (-span, span)
        else:
            try:
                (x0, x1), (y0, y1) = span
            except (TypeError, ValueError):
                raise ValueError(f"span: expected a number or ((x0, x1), (y0, y1)), got {span!r}") from None
            name = "span"
        x0, x1, y0, y1 = (check_real(v, f"{name}: {axis}", what="a finite number")
                          for v, axis in zip((x0, x1, y0, y1), ("x0", "x1", "y0", "y1")))
        self._check_reach(name, max(abs(x0), abs(x1)), max(abs(y0), abs(y1)))
        return np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)

    def _check_reach(self, name: str, x: float, y: float) -> None:
        """Refuse a grid whose farthest point's norm has no finite square in the plane's dtype."""
        origin, d1, d2 = (float(t.double().norm()) for t in (self.origin, self.d1, self.d2))
        reach = origin + x * d1 + y * d2
        limit = math.sqrt(torch.finfo(self.origin.dtype).max)
        if not reach <= limit:
            largest = (limit - origin) / max(d1 + d2, 1e-300)
            raise ValueError(
                f"{name}: expected a grid whose points stay finite in {self.origin.dtype}, got coordinates up to "
                f"|x| = {x:.3g}, |y| = {y:.3g}, which put the farthest point {reach:.3g} from 0, beyond "
                f"{limit:.3g}, where every loss overflows to inf; use a smaller span (at most about "
                f"{largest:.3g} on this plane)")

    def surface(self, ls, span=None, resolution: int = 21, *, executor=None, block_rows: int | None = None,
                **losses_kwargs) -> Surface:
        """The loss over a ``resolution x resolution`` grid (see :meth:`grid`), evaluated in
        blocks of rows through :meth:`Landscape.losses`; the grid's parameter vectors are built a few rows
        at a time (at most ``GRID_CHUNK_BYTES`` of them at once). ``progress(done, total)``, if
        given, counts points over the whole grid.

        With ``executor`` (any ``concurrent.futures.Executor``: a ``ProcessPoolExecutor``, a Dask
        cluster's ``client.get_executor()``), the rows are split into blocks of ``block_rows``, one task
        each. Each task carries the pickled landscape and plane (so ``loss_fn``, ``behaviour`` and the
        model must be picklable: module-level functions and classes) and a worker unpickles them once,
        however many blocks it runs; the strategy is settled here (:attr:`Landscape.losses_strategy`)
        and sent along. Workers should use one torch thread each where they share a machine
        (``rw.experiments.default_executor`` does; Dask's ``LocalCluster`` sets it). A
        ``ThreadPoolExecutor`` gets the landscape itself, unpickled.

        Args:
            ls: the :class:`Landscape` of this plane's model.
            span, resolution: the grid (see :meth:`grid`).
            executor: a ``concurrent.futures.Executor`` to evaluate row blocks on, or None (here).
            block_rows: grid rows per block; default with an executor: four near-equal blocks per worker
                (``_max_workers`` of a pool, the threads of a Dask client, else the CPU count); without
                one, as many rows as ``GRID_CHUNK_BYTES`` holds.
            **losses_kwargs: passed to :meth:`Landscape.losses` (``strategy``, ``progress``).

        Returns:
            a :class:`Surface`.

        Raises:
            ValueError: a plane in another model's parameter space, a bad grid (see :meth:`grid`), or a
                worker's block that is not a float array of its rows' shape (the message names the block).
            TypeError: an executor that is not a ``concurrent.futures.Executor``, or, with one, a
                landscape that cannot be pickled (the message says what to change); a ``progress`` that
                is not callable.

        Example:
            >>> surf = ls.surface(rw.Plane.random(ls, seed=0), span=1.0, resolution=21)  # doctest: +SKIP
            >>> surf.loss.shape
            (21, 21)
            >>> with distributed.Client(n_workers=2) as client:                           # doctest: +SKIP
            ...     surf = ls.surface(plane, resolution=41, executor=client.get_executor())
        """
        if self.origin.numel() != ls.num_params or self.origin.dtype != ls.dtype:
            raise ValueError(f"plane: expected a plane in this model's parameter space (P={ls.num_params}, "
                             f"{ls.dtype}), got one with P={self.origin.numel()}, {self.origin.dtype}")
        xs, ys = self.grid(span, resolution)
        if block_rows is not None:
            block_rows = check_int(block_rows, "block_rows", 1)
        progress = check_callable(losses_kwargs.pop("progress", None), "progress", "progress(done, total)",
                                  optional=True)
        if executor is None:
            chunk = GRID_CHUNK_BYTES
            if block_rows is not None:
                chunk = block_rows * len(xs) * self.origin.numel() * self.origin.element_size()
            loss = _grid.rows_losses(ls, self, xs, ys, chunk, progress, **losses_kwargs)
            return Surface(self, xs, ys, loss)
        if not isinstance(executor, cf.Executor):
            raise TypeError(f"executor: expected a concurrent.futures.Executor (a process pool, a Dask client's "
                            f"get_executor()) or None, got {type(executor).__name__}")
        if losses_kwargs.get("strategy", "auto") == "auto":
            losses_kwargs["strategy"] = ls.losses_strategy  # settled once, here, for every worker
        loss = _grid.executor_losses(ls, self, xs, ys, executor, block_rows, GRID_CHUNK_BYTES, progress,
                                     losses_kwargs)
        return Surface(self, xs, ys, loss)


def _normalize(d: torch.Tensor, theta: torch.Tensor, layout, *, per_filter: bool) -> torch.Tensor:
    out = torch.zeros_like(d)
    only_1d = all(len(shape) <= 1 for shape in layout.shapes)
    for name, sl in layout.slices().items():
        shape = layout.shapes[layout.names.index(name)]
        if len(shape) <= 1 and not only_1d:
            continue  # biases and BatchNorm: zero, as in Li et al.
        rows = shape[0] if (per_filter and len(shape) > 1) else 1  # no filters anywhere: one per tensor
        di, wi = d[sl].view(rows, -1), theta[sl].view(rows, -1)
        out[sl] = (di * (wi.norm(dim=1, keepdim=True) / (di.norm(dim=1, keepdim=True) + 1e-10))).reshape(-1)
    return out
