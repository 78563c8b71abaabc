"""Every figure every tutorial notebook shows, at test size: each axis with data has a label (or the figure says
why not), no legend entry has its background's colour, no legend covers an axis label (issue 24, Deliver 5).

The runner (``figure_checks.notebook_figure_problems``) executes the notebook with RASHOMON_SMALL=1 and checks
every figure as it is displayed; ``test_the_runner_sees_every_way_a_figure_is_shown`` proves it does not miss
the figures ``plt.show()`` closes in the middle of a cell.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from .figure_checks import notebook_figure_problems

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# notebooks 03 and 04 belong to another piece of work of issue 24 (their figures are fixed there): marked so
# that they can be selected (-m figures_03_04) or deselected (-m "not figures_03_04") as one group
OTHERS = pytest.mark.figures_03_04


@pytest.mark.parametrize("name", [
    "00_quickstart",
    "01_rashomon_manifold_mode_connectivity",
    "02_skeletons_on_rashomon_ridge",
    pytest.param("03_broad_basins_xor", marks=OTHERS),
    pytest.param("04_information_loss_basin_flatness", marks=OTHERS),
])
def test_every_figure_of_the_notebook_is_readable(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    problems, checked = notebook_figure_problems(path)
    draws = sum(c.source.count("plt.show()") for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    # 00 draws only widgets; every plt.show() of the others shows at least one figure (more under a loop)
    assert checked >= min(draws, 1), f"{name}: no figure was checked (is the display hook working?)"
    assert not problems, f"{name}: {len(problems)} problems in {checked} figures:\n" + "\n".join(
        f"  cell {cell} ({title}): {problem}" for cell, title, problem in problems)


def test_the_runner_sees_every_way_a_figure_is_shown(tmp_path):
    """One unlabelled figure shown by plt.show(), one left to the end-of-cell flush, one display()ed, one fine."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfrom IPython.display import display"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.plot([0, 1])\nax.set_title('shown')\nplt.show()\n"
                                  "fig, ax = plt.subplots()\nax.plot([0, 1])\nax.set_title('flushed')"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.plot([0, 1], 'w--', label='white')\n"
                                  "ax.set_xlabel('x'); ax.set_ylabel('y'); ax.legend(); ax.set_title('displayed')\n"
                                  "display(fig)\nplt.close(fig)"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.plot([0, 1])\nax.set_xlabel('x')\nax.set_ylabel('y')\n"
                                  "ax.set_title('fine')\nplt.show()"),
    ]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    problems, checked = notebook_figure_problems(path, timeout=120)
    assert checked == 4
    assert sorted((cell, title) for cell, title, _ in problems) == [
        (1, "flushed"), (1, "flushed"), (1, "shown"), (1, "shown"), (2, "displayed")]
