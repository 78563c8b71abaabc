"""The notebooks the browser suite opens in Voila and in JupyterLab: one line each.

Each entry is (notebook path relative to the repository root, spec). A spec is
``spec_for(**overrides)``: the explorer DOM contract (``_browser.DEFAULT_SPEC``) with this notebook's
differences; a selector set to None is not checked for that notebook (say so in a comment).
benchmarks/browser_latency.py looks a notebook's spec up here too.
"""
import sys

from ._browser import spec_for

NOTEBOOKS = [
    # A self-contained fixture following the contract; its status line shows the kernel's sys.prefix,
    # which proves the servers run notebooks in this interpreter's environment.
    ("tests/browser/notebooks/smoke.ipynb", spec_for(expect_text={".rw-status": sys.prefix})),
    ("notebooks/00_quickstart.ipynb", spec_for()),
    # the first explorer on this page is the toy's NullSpaceExplorer (1a); check the CurveExplorer
    ("notebooks/01_rashomon_manifold_mode_connectivity.ipynb", spec_for(root=".rw-curve-explorer",
                                                                         load_timeout_s=240)),
    # the PruningExplorer: the threshold slider re-prunes; the "2-D view" that must redraw is the OOD
    # similarity heatmap (a bqplot GridHeatMap of rect cells), the sized side figure the accuracy/sparsity
    # plot; there is no 3-D view; the span box is the exact L1 strength
    ("notebooks/02_skeletons_on_rashomon_ridge.ipynb", spec_for(root=".rw-pruning-explorer", surface2d=".rw-similarity",
                                                                heatmap="rect.heatmapcell", surface3d=None,
                                                                spectrum=".rw-tradeoff", error_text="l1",
                                                                load_timeout_s=180)),
]


def spec_of(notebook: str) -> dict:
    for path, spec in NOTEBOOKS:
        if path == notebook:
            return spec
    return spec_for()
