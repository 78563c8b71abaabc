"""How explorers scale to a large model: when a forward pass is heavy, their grids, and the curvature subsample."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.curvature.policy import is_heavy
from ..core.validation import check_int

# A heavy model (the core's rule, policy.is_heavy: one forward pass over all the data above HEAVY_FORWARD
# multiply-adds) gets smaller explorer grids (refined 15, coarse 5 or 3) and curvature and tangents on a
# subsample
#: samples of the curvature subsample of a heavy model (``curvature_samples="auto"``)
CURVATURE_SAMPLES = 256
#: seconds the first (coarse) grid of a heavy model is meant to take: 5 x 5 when 25 losses fit, else 3 x 3
FIRST_GRID_SECONDS = 3.0
#: the grid drawn between a heavy model's coarse and refined ones (one loss per point over all the data)
MIDDLE_GRID = 7


@dataclass(frozen=True)
class Scale:
    """An explorer's sizes for one model.

    Attributes:
        heavy: the model is heavy (:func:`~rashomon_widgets.core.curvature.policy.is_heavy`).
        resolution, coarse: the refined and the first grid's points per side.
        curvature_ls: the landscape (all data, or a subsample) for curvature and tangents.
        first_frame_timeout: seconds a displayed explorer waits for its first frame (None: the class's own).
    """

    heavy: bool
    resolution: int
    coarse: int
    curvature_ls: object
    first_frame_timeout: float | None

    @property
    def grids(self) -> tuple[int, ...]:
        """Grid sizes drawn in turn after each move: coarse, (a heavy model's middle grid,) refined."""
        if self.coarse >= self.resolution:
            return (self.resolution,)
        middle = (MIDDLE_GRID,) if self.heavy and self.coarse < MIDDLE_GRID < self.resolution else ()
        return (self.coarse, *middle, self.resolution)


def explorer_scale(ls, exact: bool, *, light: tuple[int, int], resolution, coarse, curvature_samples,
                   loss_at: Callable[[], object]) -> Scale:
    """The grids and curvature subsample an explorer uses on ``ls``.

    Args:
        ls: the :class:`Landscape`.
        exact: whether the explorer is exact (dense): never heavy.
        light: (resolution, coarse) when the model is not heavy.
        resolution, coarse: the user's choice (None: the default).
        curvature_samples: see :func:`curvature_subsample`.
        loss_at: one loss over all the data, timed on a heavy model to size its coarse grid.

    Returns:
        a :class:`Scale`.
    """
    heavy = not exact and is_heavy(ls)
    if heavy:
        start = time.perf_counter()
        loss_at()
        per_loss = time.perf_counter() - start
        default = (15, 5 if 25 * per_loss <= FIRST_GRID_SECONDS else 3)
    else:
        default = light
    return Scale(heavy=heavy,
                 resolution=default[0] if resolution is None else check_int(resolution, "resolution", 2, 401),
                 coarse=default[1] if coarse is None else check_int(coarse, "coarse", 2, 401),
                 curvature_ls=ls.subsample(curvature_subsample(curvature_samples, heavy)),
                 first_frame_timeout=1.0 if heavy else None)


def curvature_subsample(value, heavy: bool) -> int:
    """The subsample size an explorer's ``curvature_samples`` asks for (a huge number means all the data).

    Args:
        value: ``"auto"`` (:data:`CURVATURE_SAMPLES` on a heavy model, else all), None (all) or an int >= 2.
        heavy: whether the model is heavy (:func:`~rashomon_widgets.core.curvature.policy.is_heavy`).

    Returns:
        an int for :meth:`Landscape.subsample`.

    Raises:
        ValueError, TypeError: any other value.
    """
    if value is None:
        return 2**62
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"curvature_samples: expected 'auto', None or an int >= 2, got {value!r}")
        return CURVATURE_SAMPLES if heavy else 2**62
    return check_int(value, "curvature_samples", 2)
