"""Geometry in parameter space: planes and loss surfaces, curves between minima, paths, walks and searches
inside a Rashomon set, the chart (tangent + retraction) that keeps them on it, loss barriers between points
and how many directions a set of steps spans."""
from .barriers import Barriers, pairwise_barriers
from .curve_base import Curve
from .curve_table import CurveTable
from .curves import BezierCurve, PolyChain, load_curve
from .diagnostics import along_curve, loss_profile
from .direction_count import Directions, directions
from .fitting import fit_curve, with_batch_statistics
from .manifold import ManifoldChart
from .paths import NullSpacePath, manifold_walk, null_space_path
from .plane import Plane, Surface
from .search import RashomonSearch, path_in_set, rashomon_search

__all__ = ["Plane", "Surface", "Curve", "BezierCurve", "PolyChain", "fit_curve", "load_curve",
           "with_batch_statistics", "along_curve", "loss_profile", "CurveTable", "null_space_path",
           "NullSpacePath", "manifold_walk", "ManifoldChart", "rashomon_search", "RashomonSearch", "path_in_set",
           "Barriers", "pairwise_barriers", "Directions", "directions"]
