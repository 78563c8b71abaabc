"""Curvature: a model's loss as a function of its flat parameter vector, and its derivatives.

``Landscape`` evaluates the model at any ``theta`` (thread-safe); ``HessianOperator`` and
``JacobianOperator`` are the matrix-free operators every algorithm here works on (Lanczos eigenpairs,
spectral density, trace, null space).
"""
from .density import SpectrumEstimate, spectrum_estimate
from .derivatives import MemoryBudgetWarning
from .hvp import HVPFormWarning
from .landscape import BatchStatisticsWarning, Landscape
from .minimum import MinimumCheck, check_minimum
from .nullspace import CurvatureWarning, count_near_zero
from .trace import EstimateWarning
from .spectra import default_tol
from .operators import HessianOperator, JacobianOperator
from .policy import SizePolicy
from .spectra import Spectrum

__all__ = ["Landscape", "HessianOperator", "JacobianOperator", "Spectrum", "SpectrumEstimate", "spectrum_estimate",
           "SizePolicy",
           "count_near_zero", "default_tol", "HVPFormWarning", "BatchStatisticsWarning", "CurvatureWarning",
           "EstimateWarning", "MinimumCheck", "check_minimum", "MemoryBudgetWarning"]
