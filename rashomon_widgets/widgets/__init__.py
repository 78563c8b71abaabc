"""Thin ipywidgets / bqplot / ipyvolume views over core results."""
from ._base import StillComputingWarning
from .curve_explorer import CurveExplorer
from .null_space_explorer import NullSpaceExplorer
from .pruning_explorer import PruningExplorer
from .similarity_view import SimilarityView
from .spectrum_view import SpectrumView
from .surface3d_view import Surface3DView
from .surface_view import SurfaceView

__all__ = ["CurveExplorer", "NullSpaceExplorer", "PruningExplorer", "SimilarityView", "SpectrumView", "Surface3DView",
           "SurfaceView", "StillComputingWarning"]
