"""Former home of the spectral density and the SLQ spectrum estimate; import from their modules instead.

``density`` named a module, a function, a method and an attribute at once. The code now lives in
:mod:`.spectral_density` (``density``, ``Density``, ``slq``, ``broaden``),
:mod:`.estimated_spectrum` (``SpectrumEstimate``, ``spectrum_estimate``), :mod:`._lanczos`
(``lanczos``, ``quadrature``, ``tridiagonal``) and :mod:`._random` (``rademacher``). This module only
re-exports them for the importers not yet migrated (``experiments/ridge.py``, ``benchmarks/run.py``);
delete it once they import from the modules above.
"""
from ._lanczos import lanczos, quadrature, tridiagonal
from ._random import rademacher
from .estimated_spectrum import SpectrumEstimate, spectrum_estimate
from .spectral_density import Density, broaden, density, slq

__all__ = ["Density", "SpectrumEstimate", "broaden", "density", "lanczos", "quadrature", "rademacher", "slq",
           "spectrum_estimate", "tridiagonal"]
