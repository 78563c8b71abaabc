"""Comparing models: pruned skeletons, behavioural similarity, hidden-unit alignment, and behavioural
gradients (write-ups 2 and 4)."""
from .alignment import Alignment, permute_hidden_units, weight_matching
from .behaviour import behaviour_rank, behavioural_gradients, dimension_bound, gauss_newton, hessian_rank, matrix_rank
from .pruning import Sparsity, apply_masks, magnitude_masks, mask_overlap, masks_of, prune, sparsity
from .similarity import cosine_similarity, prediction_vectors

__all__ = ["magnitude_masks", "apply_masks", "prune", "masks_of", "sparsity", "Sparsity", "mask_overlap",
           "prediction_vectors", "cosine_similarity", "weight_matching", "permute_hidden_units", "Alignment",
           "behavioural_gradients", "behaviour_rank", "dimension_bound", "hessian_rank", "gauss_newton",
           "matrix_rank"]
