"""The numerical core: torch, numpy and scipy only (never a widget library).

Sweeps and scripts import this on machines without a browser stack.
"""
from .alignment import Alignment, permute_hidden_units, weight_matching
from .behaviour import behaviour_rank, behavioural_gradients, dimension_bound, gauss_newton, hessian_rank, matrix_rank
from .curves import BezierCurve, PolyChain, fit_curve, load_curve, with_batch_statistics
from .diagnostics import CurveTable, along_curve
from .landscape import Landscape
from .nullspace import count_near_zero, default_tol
from .paths import NullSpacePath, manifold_walk, null_space_path
from .plane import Plane, Surface
from .pruning import Sparsity, apply_masks, magnitude_masks, mask_overlap, masks_of, prune, sparsity
from .similarity import cosine_similarity, prediction_vectors

__all__ = [
    # evaluation and curvature
    "Landscape",
    # planes and loss surfaces
    "Plane", "Surface",
    # curves between minima (Garipov et al.) and diagnostics along them
    "BezierCurve", "PolyChain", "fit_curve", "load_curve", "with_batch_statistics", "along_curve", "CurveTable",
    # paths inside a Rashomon set
    "null_space_path", "NullSpacePath", "manifold_walk",
    # behavioural gradients (write-up 4)
    "behavioural_gradients", "behaviour_rank", "dimension_bound", "hessian_rank", "gauss_newton", "matrix_rank",
    # pruned skeletons and behavioural similarity (write-up 2)
    "magnitude_masks", "apply_masks", "prune", "masks_of", "sparsity", "Sparsity", "mask_overlap",
    "prediction_vectors", "cosine_similarity", "weight_matching", "permute_hidden_units", "Alignment",
    # helpers
    "count_near_zero", "default_tol",
]
