"""Curvature: a model's loss as a function of its flat parameter vector, and its derivatives.

``Landscape`` evaluates the model at any ``theta`` (thread-safe); ``HessianOperator`` and
``JacobianOperator`` are the matrix-free operators every algorithm here works on (Lanczos eigenpairs,
spectral density, trace, null space), both ``CurvatureOperator`` subclasses; the algorithms accept any
operator that keeps that contract (``LinearOperatorLike``).
"""
from .derivatives import MemoryBudgetWarning
from .estimated_spectrum import SpectrumEstimate, spectrum_estimate
from .hvp import HVPFormWarning
from .landscape import BatchStatisticsWarning, Landscape
from .linear_operator import CurvatureOperator, LinearOperatorLike
from .minimum import MinimumCheck, check_minimum
from .near_zero import NearZeroCount
from .nullspace import CurvatureWarning, count_near_zero
from .operators import HessianOperator, JacobianOperator
from .point_spectrum import WarmSpectra, spectrum_at
from .policy import SizePolicy
from .spectra import Eigenpairs, Spectrum, default_tol
from .trace_estimators import EstimateWarning

__all__ = ["Landscape", "HessianOperator", "JacobianOperator", "Spectrum", "SpectrumEstimate", "spectrum_estimate",
           "NearZeroCount", "WarmSpectra", "spectrum_at",
           "SizePolicy", "CurvatureOperator", "LinearOperatorLike", "Eigenpairs",
           "count_near_zero", "default_tol", "HVPFormWarning", "BatchStatisticsWarning", "CurvatureWarning",
           "EstimateWarning", "MinimumCheck", "check_minimum", "MemoryBudgetWarning"]
