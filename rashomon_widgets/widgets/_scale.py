"""How explorers scale to a large model: when a forward pass is heavy, and the curvature subsample."""
from __future__ import annotations

from ..core.validation import check_int

#: multiply-adds of one forward pass over all the data above which an explorer draws smaller grids (coarse 5,
#: refined 15) and computes curvature on a subsample (a 596k-parameter CNN on 1,000 MNIST images: 3.3e9)
HEAVY_FORWARD = 1e9
#: samples of the curvature subsample of a heavy model (``curvature_samples="auto"``)
CURVATURE_SAMPLES = 256


def curvature_subsample(value, heavy: bool) -> int:
    """The subsample size an explorer's ``curvature_samples`` asks for (a huge number means all the data).

    Args:
        value: ``"auto"`` (:data:`CURVATURE_SAMPLES` on a heavy model, else all), None (all) or an int >= 2.
        heavy: whether one forward pass over the data costs more than :data:`HEAVY_FORWARD`.

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
