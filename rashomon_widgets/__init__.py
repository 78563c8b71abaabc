"""rashomon-widgets: Jupyter widgets for the geometry of neural-network loss landscapes.

>>> import rashomon_widgets as rw
>>> ls = rw.Landscape(model, loss_fn, (inputs, targets))     # doctest: +SKIP
>>> values, vectors = ls.eigs(5)                             # doctest: +SKIP

The core (``rashomon_widgets.core``) needs only torch, numpy and scipy; widget classes are loaded lazily
on first use, so ``import rashomon_widgets`` does not import ipywidgets.
"""
from __future__ import annotations

import importlib

from .core import (
    BezierCurve,
    Landscape,
    NullSpacePath,
    Plane,
    PolyChain,
    RashomonSearch,
    Surface,
    fit_curve,
    null_space_path,
    rashomon_search,
)

__version__ = "0.1.0"

# name -> module that defines it, imported on first attribute access (PEP 562)
_LAZY = {name: ".widgets" for name in ("CurveExplorer", "NullSpaceExplorer", "PruningExplorer", "SimilarityView",
                                       "SpectrumView", "Surface3DView", "SurfaceView", "StillComputingWarning")}

# subpackages imported on first attribute access; ``widgets`` is reached through the classes of _LAZY
_SUBPACKAGES = ("core", "models", "data", "experiments", "widgets")

__all__ = [
    # core
    "Landscape", "Plane", "Surface", "null_space_path", "NullSpacePath", "rashomon_search", "RashomonSearch",
    "BezierCurve", "PolyChain", "fit_curve",
    # subpackages
    "core", "models", "data", "experiments",
] + sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rashomon_widgets' has no attribute {name!r}")


def __dir__():
    """The public names: ``__all__``, the version and the IPython extension hook (not the module's imports)."""
    return sorted({*__all__, "__version__", "load_ipython_extension"})


def load_ipython_extension(ipython):
    """``%load_ext rashomon_widgets``: registers the ``%rashomon`` line magic."""
    from .magic import register
    register(ipython)
