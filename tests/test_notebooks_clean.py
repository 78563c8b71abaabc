"""The tutorials as committed: valid nbformat 4.5 (every cell has an id), no outputs, one parameters cell.

nbval reads the notebooks with ``nbformat.read`` only after the unit tests; a cell without an id (added by
a script) fails there, minutes later. These checks fail at once.
"""
import warnings
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_tutorials():
    assert len(NOTEBOOKS) >= 5, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_valid_clean_and_has_one_parameters_cell(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # MissingIDFieldWarning and friends: what nbval would hit
        nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    ids = [cell.get("id") for cell in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: cell ids missing or repeated"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    dirty = [i for i, cell in enumerate(code) if cell.outputs or cell.execution_count is not None]
    assert not dirty, f"{path.name}: code cells {dirty} were committed with outputs"
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters', got {len(tagged)}"
