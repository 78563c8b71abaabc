"""Benchmarks of rashomon_widgets against PyHessian, curvlinops and loss-landscapes (not part of the package), one
module per concept; run the entry points from the repository root: ``python -m benchmarks.run`` (``make bench``),
``python -m benchmarks.cnn`` (``make bench-cnn``), ``python -m benchmarks.browser_latency``,
``python -m benchmarks.explorer_memory`` and ``python -m benchmarks.check_peers``.
"""
