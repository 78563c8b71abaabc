"""Coordinates on the Rashomon manifold around a point (:class:`ManifoldChart`): tangent steps re-projected
onto the manifold, and top Hessian directions for contrast (the explorer's sliders)."""

from collections.abc import Callable

import torch

from ..validation import check_callable, check_int
from .plane import Plane
from .retraction import retract, tangent_basis


class ManifoldChart:
    """Coordinates around a point of the Rashomon manifold: coefficients -> a parameter point.

    The first ``num_null`` coordinates step along an orthonormal tangent basis of the manifold (see
    :func:`~.retraction.tangent_basis`), after which the point is pulled back onto the manifold
    (:func:`~.retraction.retract`): the outputs, and so the loss, stay those of ``theta``. The last
    ``num_top`` step along the top Hessian eigenvectors, for contrast: the loss rises as a parabola,
    ``lambda / 2 * c^2`` to second order. The explorer's sliders are these coefficients.

    Args:
        ls: the :class:`Landscape`.
        theta: the centre (default: the trained parameters).
        num_null, num_top: how many coordinates of each kind.
        exact: dense null space and a full retraction; default for small models (``ls.policy.is_small``).
            Large models get a Jacobian-projected tangent and two matrix-free Gauss-Newton steps.
        seed: seed of the random tangent directions (large models).
        curvature: the landscape whose Hessian gives the top directions (default ``ls``): e.g.
            ``ls.subsample(256)``, a stated subsample, on a model whose Hessian products are slow.
        tangent_on: the landscape whose Jacobian gives the (large-model) tangent directions (default ``ls``),
            e.g. the same subsample: where the Jacobian has a continuum of small singular values, a few lsqr
            iterations remove only its largest directions, on a subsample as well as on all the data, and
            at a fraction of the cost. The retraction always uses ``ls``'s data (the outputs kept are all of them).
        tangent_iter: lsqr iterations per tangent direction (large models).
        progress: called as ``progress(stage, done, total)`` while the chart is built, ``stage`` one of
            ``"tangent directions"`` and ``"top Hessian directions"``.

    Raises:
        ValueError: no direction asked for, counts out of range, or a ``curvature`` landscape of
            another parameter count.

    Example:
        >>> chart = rw.core.ManifoldChart(ls, num_null=2, num_top=1)        # doctest: +SKIP
        >>> chart.names                                                       # doctest: +SKIP
        ['null 1', 'null 2', 'top 1']
        >>> ls.loss(chart.point([1.0, 0.0, 0.0]))   # the loss at the start   # doctest: +SKIP
    """

    def __init__(self, ls, theta: torch.Tensor | None = None, *, num_null: int = 3, num_top: int = 1,
                 exact: bool | None = None, seed: int = 0, curvature=None, tangent_on=None,
                 tangent_iter: int = 20, progress: Callable[[str, int, int], None] | None = None):
        check_int(num_null, "num_null", 0, ls.num_params)
        check_int(num_top, "num_top", 0, ls.num_params)
        check_int(tangent_iter, "tangent_iter", 1)
        check_callable(progress, "progress", "progress(stage, done, total)", optional=True)
        if num_null + num_top == 0:
            raise ValueError("num_null, num_top: expected at least one direction, got 0 and 0")
        curvature = ls if curvature is None else curvature
        tangent_on = ls if tangent_on is None else tangent_on
        for name, other in (("curvature", curvature), ("tangent_on", tangent_on)):
            if getattr(other, "num_params", None) != ls.num_params:
                raise ValueError(f"{name}: expected a Landscape of the same model ({ls.num_params:,} parameters), "
                                 f"got {other!r}")
        self.ls, self.curvature, self.tangent_on = ls, curvature, tangent_on
        self.theta0 = ls.theta if theta is None else ls.check_theta(theta).detach().clone()
        self.exact = ls.policy.is_small(ls.num_params) if exact is None else bool(exact)
        self.behaviour0 = ls.outputs(self.theta0)
        empty = self.theta0[:, None][:, :0]

        def stage(name):
            return None if progress is None else (lambda done, total: progress(name, done, total))

        self.null_dirs = (tangent_basis(ls if self.exact else tangent_on, self.theta0, num_null, seed=seed,
                                        max_iter=tangent_iter,
                                        progress=stage("tangent directions")) if num_null else empty)
        if num_top:
            top_progress = stage("top Hessian directions")
            self.top_values, self.top_dirs = curvature.eigs(
                num_top, "largest", self.theta0, **({} if top_progress is None or self.exact else
                                                    {"progress": top_progress}))
        else:
            self.top_values, self.top_dirs = self.theta0.new_zeros(0), empty
        self.directions = torch.cat([self.null_dirs, self.top_dirs], 1)
        self.names = ([f"null {i + 1}" for i in range(self.null_dirs.shape[1])]
                      + [f"top {i + 1}" for i in range(self.top_dirs.shape[1])])

    @property
    def num_null(self) -> int:
        """How many tangent coordinates there are (fewer than asked when the null space is smaller)."""
        return self.null_dirs.shape[1]

    def explain(self, name: str) -> str:
        """A one-line explanation of coordinate ``name`` (for a control's help text).

        Args:
            name: one of :attr:`names`.

        Returns:
            the explanation, a str.

        Example:
            >>> chart.explain("null 1")                                   # doctest: +SKIP
        """
        i = self.index(name)
        if i < self.num_null and self.exact:
            return (f"{name}: a direction in which the model's outputs do not change; the loss should stay "
                    f"flat however far you go")
        if i < self.num_null:
            on = ("" if self.tangent_on is self.ls else
                  f" on {self.tangent_on.num_samples:,} of {self.ls.num_samples:,} samples")
            return (f"{name}: a direction in which the model's outputs change little (Jacobian-projected{on}); "
                    f"the point is re-projected onto the manifold, where the loss stays, once the sliders rest")
        lam = float(self.top_values[i - self.num_null])
        return (f"{name}: Hessian eigenvector with eigenvalue {lam:.3g}; the loss rises like "
                f"{lam / 2:.3g} c^2")

    def index(self, name: str) -> int:
        """The column of ``directions`` called ``name``.

        Args:
            name: one of :attr:`names`.

        Returns:
            the column index.

        Raises:
            ValueError: an unknown name.
        """
        if name not in self.names:
            raise ValueError(f"direction: expected one of {self.names}, got {name!r}")
        return self.names.index(name)

    def point(self, coefficients, *, retracted: bool | None = None,
              progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """The parameter point at ``coefficients`` (one per name).

        Args:
            coefficients: a sequence of ``len(names)`` finite numbers.
            retracted: pull the tangent step back onto the manifold (default: ``exact``; large models
                can draw a first frame on the tangent step and retract when idle).
            progress: passed to :func:`~.retraction.retract` (it may raise to stop a long retraction).

        Returns:
            (P,) parameters.

        Raises:
            ValueError: the wrong number of coefficients, or non-finite ones.
            TypeError: a ``progress`` that is not callable.
        """
        check_callable(progress, "progress", "progress(done, total)", optional=True)
        c = torch.as_tensor(list(coefficients), dtype=torch.float64)
        if c.shape != (len(self.names),) or not bool(torch.isfinite(c).all()):
            raise ValueError(f"coefficients: expected {len(self.names)} finite numbers ({', '.join(self.names)}), "
                             f"got {list(coefficients)!r}")
        c = c.to(dtype=self.ls.dtype, device=self.ls.device)
        k = self.num_null
        point = self.theta0 + self.null_dirs @ c[:k]
        if (self.exact if retracted is None else retracted) and k and bool(c[:k].abs().max() > 0):
            point, _ = retract(self.ls, point, self.behaviour0, max_steps=10 if self.exact else 2, lsqr_iter=10,
                               progress=progress)
        return point + self.top_dirs @ c[k:]

    def plane(self, point: torch.Tensor, x: str, y: str):
        """The 2-D slice through ``point`` along the coordinates called ``x`` and ``y``.

        Args:
            point: (P,) the slice's centre.
            x, y: two different names of :attr:`names`.

        Returns:
            a :class:`Plane`.

        Raises:
            ValueError: unknown names, or the same one twice.
        """
        ix, iy = self.index(x), self.index(y)
        if ix == iy:
            raise ValueError(f"x axis and y axis: expected two different directions, got {x!r} twice")
        return Plane(point, self.directions[:, ix].clone(), self.directions[:, iy].clone())
