"""FIGURES.md section 2 (write-up 2, skeletons): notebook 02's CIFAR-10 -> MNIST path, run end to end
on tiny synthetic local files (the digits default runs under nbval with every check)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ..local_files import write_cifar_tree, write_mnist

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_skeletons_on_rashomon_ridge.ipynb"


def _with_parameters(nb, extra: str):
    """The notebook with ``extra`` appended to its parameters cell (as papermill would inject them)."""
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "notebook 02 must have exactly one cell tagged 'parameters'"
    cells[0].source += "\n" + extra
    return nb


def test_notebook_02_runs_the_cifar10_to_mnist_path_from_local_files(tmp_path):
    cifar = tmp_path / "cifar"
    write_cifar_tree(cifar, [[i % 10 for i in range(b, b + 8)] for b in range(5)], list(range(10)))
    write_mnist(tmp_path / "mnist", "t10k", 12, seed=0)
    nb = _with_parameters(nbformat.read(NOTEBOOK, as_version=4), "\n".join([
        'DATASET = "cifar10"',
        f'CIFAR_ROOT = "{cifar}"',
        f'MNIST_ROOT = "{tmp_path / "mnist"}"',
        "HIDDEN = (16,)",
        "TRAIN_EPOCHS = 30",
        "TRAIN_LR = 1e-3",
        "L1_STRENGTHS = (1e-3,)",
        "L1_EPOCHS = (1, 2)",
        "OOD_SIZE = 12",
        # random labels on 40 images: only the code path is under test here, not the claim of 2a
        "ACCURACY_TOLERANCE = 1.0",
        "MIN_SPARSITY = 0.0",
    ]))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except Exception as exc:  # show the failing cell's error, not only nbclient's wrapper
        pytest.fail(f"notebook 02 in cifar10 mode failed: {exc}", pytrace=False)
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")
    # the data came from the synthetic files: 40 training and 10 test images of 3 x 32 x 32, 12 MNIST digits
    assert "cifar10: 40 training and 10 test images of 3072 values; OOD: 12 MNIST digits" in text
    assert "49,338 parameters per model" in text  # 3072*16 + 16 + 16*10 + 10
    # the verdict line follows from the numbers it prints (a verdict written in advance would not)
    m = re.search(r"The two skeletons (CONVERGED|did NOT converge): after aligning hidden units they share (\d+)% "
                  r"of their kept weights .*their OOD similarity is ([0-9.]+)", text)
    assert m, text[-2000:]
    assert (m.group(1) == "CONVERGED") == (int(m.group(2)) >= 90 and float(m.group(3)) >= 0.99)
