"""The reference models through the public Landscape API (the use the notebooks make of them)."""
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.data import batches, xor
from rashomon_widgets.models import sum_of_squares, toy_quadratic, xor_minimum

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")


def test_toy_spectrum_and_null_direction():
    a, b = 1.0, 0.25
    ls = rw.Landscape(*toy_quadratic(a, b, point=(0.0, 0.0, 3.0)), reduction="sum")
    assert ls.loss() == 0.0
    values = torch.sort(ls.spectrum().values).values
    assert torch.allclose(values, torch.tensor([0.0, 2 * b, 2 * a], dtype=torch.float64), atol=1e-6)
    null = ls.null_space()
    assert null.shape == (3, 1)
    assert torch.allclose(null[:, 0].abs(), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), atol=1e-6)


def test_xor_minimum_landscape_with_batches_and_sum_reduction():
    X, y = xor()
    model = xor_minimum()
    full = rw.Landscape(model, sum_of_squares, (X, y), reduction="sum")
    split = rw.Landscape(model, sum_of_squares, batches(X, y, 2), reduction="sum")
    assert full.num_params == 9 and full.loss() < 1e-10
    assert split.loss() == pytest.approx(full.loss(), abs=1e-15)
    assert torch.allclose(split.hessian(), full.hessian(), atol=1e-10)
    # at a global minimum of a sum-of-squares loss, H = 2 G G^T
    G = full.jacobian().T
    assert torch.allclose(full.hessian(), 2 * G @ G.T, atol=1e-6)
