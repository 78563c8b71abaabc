"""The numerical core: torch, numpy and scipy only (never a widget library).

Sweeps and scripts import this on machines without a browser stack.
"""
from .landscape import Landscape
from .nullspace import count_near_zero, default_tol
from .plane import Plane, Surface

__all__ = [
    # evaluation and curvature
    "Landscape",
    # planes and loss surfaces
    "Plane", "Surface",
    # helpers
    "count_near_zero", "default_tol",
]
