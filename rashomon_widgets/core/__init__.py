"""The numerical core: torch, numpy and scipy only (never a widget library).

Three sub-packages, one concept per module:

* ``curvature``: ``Landscape`` (evaluation at any theta, thread-safe), HVP forms, the Hessian and
  Jacobian operators, spectra (``Spectrum``, Lanczos eigenpairs), density, trace, null space;
* ``geometry``: planes and surfaces, curves between minima and their fitting, paths, walks and searches
  inside a Rashomon set, the manifold chart (tangent basis, retraction);
* ``comparison``: pruning, behavioural similarity, hidden-unit alignment, behavioural gradients.

``validation`` holds every input check of the package; ``torch_state`` the locks for torch's
process-wide state (forward-mode AD levels, the global generator: ``forward_ad``, ``seeded``), which make
the core thread-safe; ``batches`` the one data normaliser and evaluator; ``cache`` the one LRU cache;
``SizePolicy`` is the one rule for what counts as a small model. Sweeps and scripts import this on machines
without a browser stack.
"""
from .comparison import (
    Alignment,
    Sparsity,
    apply_masks,
    behaviour_rank,
    behavioural_gradients,
    cosine_similarity,
    dimension_bound,
    gauss_newton,
    hessian_rank,
    magnitude_masks,
    mask_overlap,
    masks_of,
    matrix_rank,
    permute_hidden_units,
    prediction_vectors,
    prune,
    sparsity,
    weight_matching,
)
from .curvature import (
    BatchStatisticsWarning,
    CurvatureOperator,
    CurvatureWarning,
    Eigenpairs,
    EstimateWarning,
    HessianOperator,
    HVPFormWarning,
    JacobianOperator,
    Landscape,
    LinearOperatorLike,
    MemoryBudgetWarning,
    MinimumCheck,
    NearZeroCount,
    SizePolicy,
    Spectrum,
    SpectrumEstimate,
    WarmSpectra,
    check_minimum,
    count_near_zero,
    default_tol,
    spectrum_at,
    spectrum_estimate,
)
from .geometry import (
    BezierCurve,
    CurveTable,
    ManifoldChart,
    NullSpacePath,
    Plane,
    PolyChain,
    RashomonSearch,
    Surface,
    along_curve,
    fit_curve,
    load_curve,
    loss_profile,
    manifold_walk,
    null_space_path,
    path_in_set,
    rashomon_search,
    with_batch_statistics,
)
from .torch_state import forward_ad, seeded

__all__ = [
    # evaluation and curvature (rashomon_widgets.core.curvature)
    "Landscape", "HessianOperator", "JacobianOperator", "Spectrum", "SpectrumEstimate", "spectrum_estimate",
    "Eigenpairs", "SizePolicy", "NearZeroCount", "spectrum_at", "WarmSpectra",
    # the operator contract the algorithms are written against
    "CurvatureOperator", "LinearOperatorLike",
    "HVPFormWarning", "BatchStatisticsWarning", "CurvatureWarning", "EstimateWarning",
    "check_minimum", "MinimumCheck", "MemoryBudgetWarning",
    # planes and loss surfaces
    "Plane", "Surface",
    # curves between minima (Garipov et al.) and diagnostics along them
    "BezierCurve", "PolyChain", "fit_curve", "load_curve", "with_batch_statistics", "along_curve", "loss_profile",
    "CurveTable",
    # paths inside a Rashomon set
    "null_space_path", "NullSpacePath", "manifold_walk", "ManifoldChart", "rashomon_search", "RashomonSearch",
    "path_in_set",
    # behavioural gradients (write-up 4)
    "behavioural_gradients", "behaviour_rank", "dimension_bound", "hessian_rank", "gauss_newton", "matrix_rank",
    # pruned skeletons and behavioural similarity (write-up 2)
    "magnitude_masks", "apply_masks", "prune", "masks_of", "sparsity", "Sparsity", "mask_overlap",
    "prediction_vectors", "cosine_similarity", "weight_matching", "permute_hidden_units", "Alignment",
    # helpers
    "count_near_zero", "default_tol", "forward_ad", "seeded",
]
