"""Inputs that used to give a silently wrong answer now give the right one or a message saying what to do."""
from __future__ import annotations

import warnings

import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.curvature.landscape import BatchStatisticsWarning
from rashomon_widgets.core.curvature.nullspace import CurvatureWarning


def mse(out, target):
    return ((out - target) ** 2).mean()


def _data(n=12, d=3, k=1, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, k, generator=g, dtype=dtype)


def _mlp(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).to(dtype)


# ----------------------------------------------------------------------------- the loss
def test_a_loss_that_does_not_depend_on_theta_is_refused_where_the_landscape_is_built():
    x, y = _data()
    with pytest.raises(ValueError, match=r"does not depend on the parameters.*\.detach\(\)"):
        rw.Landscape(_mlp(), lambda out, t: mse(out.detach(), t), (x, y))


def test_reduction_is_read_from_the_loss_module():
    x, y = _data()
    batches = [(x[:5], y[:5]), (x[5:], y[5:])]
    summed = rw.Landscape(_mlp(), torch.nn.MSELoss(reduction="sum"), batches)
    assert summed.reduction == "sum"
    assert summed.loss() == pytest.approx(float(((_mlp()(x) - y) ** 2).sum().detach()), rel=1e-12)
    meaned = rw.Landscape(_mlp(), torch.nn.MSELoss(), batches)
    assert meaned.loss() == pytest.approx(float(((_mlp()(x) - y) ** 2).mean().detach()), rel=1e-12)
    # the package's own losses say how they reduce
    assert rw.Landscape(_mlp(), rw.models.sum_of_squares, batches).reduction == "sum"


def test_a_reduction_that_contradicts_the_loss_module_is_an_error():
    x, y = _data()
    with pytest.raises(ValueError, match="reduction: got 'mean', but loss_fn reduces with 'sum'"):
        rw.Landscape(_mlp(), torch.nn.MSELoss(reduction="sum"), (x, y), reduction="mean")
    with pytest.raises(ValueError, match="its reduction is 'none'"):
        rw.Landscape(_mlp(), torch.nn.MSELoss(reduction="none"), (x, y))


def test_float32_data_for_a_float64_model_are_cast():
    x, y = _data(dtype=torch.float32)
    ls = rw.Landscape(_mlp(torch.float64), mse, (x, y))
    assert ls.batches[0][0].dtype == torch.float64
    ref = rw.Landscape(_mlp(torch.float64), mse, (x.double(), y.double()))
    assert ls.loss() == ref.loss()
    labels = torch.randint(0, 3, (12,))
    clf = torch.nn.Sequential(torch.nn.Linear(3, 3)).double()
    ls = rw.Landscape(clf, torch.nn.CrossEntropyLoss(), (x, labels))
    assert ls.batches[0][1].dtype == torch.int64  # labels keep their integer dtype


def test_batch_statistics_over_several_batches_are_named_in_a_warning():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, track_running_stats=False),
                                torch.nn.Linear(4, 1)).double()
    x, y = _data()
    with pytest.warns(BatchStatisticsWarning, match=r"1 \(BatchNorm1d, track_running_stats=False\).*3 batches"):
        rw.Landscape(model, mse, [(x[:4], y[:4]), (x[4:8], y[4:8]), (x[8:], y[8:])])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rw.Landscape(model, mse, (x, y))  # one batch: exact full-batch statistics, no warning


@pytest.mark.parametrize("data, match", [
    (({"x": torch.zeros(2, 3)}, torch.zeros(2, 1)), r"pair of tensors.*dict with keys \['x'\].*wrapped"),
    ([({"x": torch.zeros(2, 3)}, torch.zeros(2, 1))], r"batch 0: expected an \(inputs, targets\) pair.*dict"),
    ({"inputs": torch.zeros(2, 3)}, r"dict with keys \['inputs'\]"),
])
def test_dict_inputs_get_a_message_that_says_what_is_expected(data, match):
    with pytest.raises(TypeError, match=match):
        rw.Landscape(_mlp(), mse, data)


# ----------------------------------------------------------------------------- planes
def test_plane_random_is_never_zero_when_every_parameter_is_one_dimensional():
    class Scales(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64))
            self.shift = torch.nn.Parameter(torch.tensor([0.1], dtype=torch.float64))

        def forward(self, x):
            return (x * self.scale).sum(1, keepdim=True) + self.shift

    x, y = _data()
    ls = rw.Landscape(Scales(), mse, (x, y))
    for normalization in ("filter", "layer"):
        plane = rw.Plane.random(ls, seed=0, normalization=normalization)
        assert float(plane.d1.norm()) > 0 and float(plane.d2.norm()) > 0
        # each 1-D tensor is scaled like a layer: its direction has the tensor's norm
        assert float(plane.d1[:3].norm()) == pytest.approx(float(ls.theta[:3].norm()), rel=1e-6)


def test_plane_random_refuses_an_all_zero_point():
    model = _mlp()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x, y = _data()
    ls = rw.Landscape(model, mse, (x, y))
    with pytest.raises(ValueError, match="all zero.*normalization=None"):
        rw.Plane.random(ls)
    assert float(rw.Plane.random(ls, normalization=None).d1.norm()) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- null space
def _cnn_ce(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(20, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (20,), generator=g)
    return model, x, y


def test_null_space_above_the_dense_limit_is_refused_with_the_alternatives():
    model, x, y = _cnn_ce()
    ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), (x, y), dense_limit=50)  # P = 67
    with pytest.raises(ValueError, match="above dense_limit=50.*method='jacobian'.*project_tangent"):
        ls.null_space()
    with pytest.raises(ValueError, match="above dense_limit"):
        ls.null_space(method="hessian")


def test_the_jacobian_null_space_warns_when_it_carries_curvature():
    """Cross-entropy away from a perfect fit: the Jacobian's null space is not the Hessian's."""
    model, x, y = _cnn_ce()
    ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), (x, y))
    exact = ls.null_space()
    h = ls.hessian()
    assert float((h @ exact).norm()) <= 1e-6 * float(torch.linalg.eigvalsh(h).abs().max()) * exact.shape[1] ** 0.5
    with pytest.warns(CurvatureWarning, match=r"not the Hessian's null space.*\|\|H n\|\|"):
        jac = ls.null_space(method="jacobian")
    lam = float(torch.linalg.eigvalsh(h).abs().max())
    assert float((h @ jac).norm(dim=0).max()) > 1e-3 * lam  # a silent answer here would have been wrong


def test_the_jacobian_null_space_is_quiet_at_a_sum_of_squares_global_minimum(xor_min):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jac = xor_min.null_space(method="jacobian")
    assert jac.shape[1] == xor_min.spectrum().num_near_zero


def test_spectrum_carries_the_one_near_zero_rule(xor_min):
    spectrum = xor_min.spectrum(vectors=True)
    counted = rw.core.count_near_zero(spectrum.values, spectrum.tol)
    assert spectrum.num_near_zero == xor_min.null_space().shape[1] == counted
    assert spectrum.rank == rw.core.hessian_rank(xor_min)
    assert spectrum.num_near_zero + spectrum.rank == len(spectrum) == xor_min.num_params
    torch.testing.assert_close(spectrum.null_vectors(), xor_min.null_space())
    looser = spectrum.with_tol(0.5)
    assert looser.num_near_zero >= spectrum.num_near_zero
    assert "near zero" in spectrum.summary() and repr(spectrum).startswith("Spectrum(")
