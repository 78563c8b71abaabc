"""Diagnostics along a fitted curve, against direct computations and dense float64 references."""
import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core import along_curve, count_near_zero, default_tol
from rashomon_widgets.core.geometry.diagnostics import input_jacobian_norm

from ..conftest import Stop, stopping_progress
from .curve_cases import fitted

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TS = [0.0, 0.2, 0.5, 0.8, 1.0]


@pytest.fixture(scope="module")
def case():
    ls, curve, test = fitted()
    table = along_curve(ls, curve, TS, test_data=test, hvp_samples=3, t_jitter=0.02, top_k=2)
    return ls, curve, test, table


def test_columns_agree_with_direct_computations(case):
    ls, curve, test, table = case
    assert len(table) == len(TS) and table.notes["curvature"] == "exact dense Hessian"
    np.testing.assert_allclose(table["t"], TS)
    np.testing.assert_allclose(table["train_loss"], ls.losses(curve.points(TS)).numpy(), rtol=1e-10)
    i = TS.index(0.2)
    theta = curve(0.2)
    assert table["grad_norm"][i] == pytest.approx(float(ls.grad(theta).norm()), rel=1e-10)
    with torch.no_grad():
        out = ls._f(theta, test[0])
    assert table["test_loss"][i] == pytest.approx(float(rw.models.cross_entropy(out, test[1])), rel=1e-10)
    assert table["test_accuracy"][i] == pytest.approx(rw.models.accuracy(out, test[1]))
    # exact curvature from the dense Hessian
    values = torch.linalg.eigvalsh(ls.hessian(theta))
    assert table["trace"][i] == pytest.approx(float(values.sum()), rel=1e-9)
    assert table["eig_1"][i] == pytest.approx(float(values[-1]), rel=1e-9)
    assert table["eig_2"][i] == pytest.approx(float(values[-2]), rel=1e-9)
    assert table["near_zero"][i] == count_near_zero(values, default_tol(torch.float64))
    # SLQ's trace is a Hutchinson estimate of the same number
    assert table["slq_trace"][i] == pytest.approx(table["trace"][i], rel=0.25)
    assert len(table.slq) == len(TS)
    grid, dens = table.density(i)
    assert np.trapezoid(dens, grid) == pytest.approx(1.0)
    assert np.trapezoid(grid * dens, grid) * ls.num_params == pytest.approx(table["slq_trace"][i], rel=1e-6)


def test_hvp_columns_are_the_sampled_products(case):
    ls, curve, _, _ = case
    one = along_curve(ls, curve, [0.3], hvp_samples=1, curvature=False)
    theta = curve(0.3)
    u, d, tau = curve.line_direction(), curve.detour_direction(), curve.tangent(0.3, normalize=True)
    h = ls.hessian(theta)
    for name, v in (("line", u), ("detour", d), ("tangent", tau)):
        assert one[f"hvp_{name}"][0] == pytest.approx(float((h @ v).norm()), rel=1e-8)
        assert one[f"curvature_{name}"][0] == pytest.approx(float(v @ h @ v), rel=1e-6, abs=1e-12)
        assert one[f"hvp_{name}_std"][0] == 0.0
    assert "eig_1" not in one and one.notes["curvature"] == "skipped"


def test_tangent_hvp_is_below_the_line_direction_on_the_ridge(case):
    """Write-up 1's observation: along the ridge the tangent is flatter than the straight line's direction.

    At the apex (t = 1/2) the tangent of a quadratic Bezier curve *is* the line direction, so the two
    coincide there; everywhere the curve turns away from the line the tangent is flatter.
    """
    _, _, _, table = case
    away = np.abs(table["t"] - 0.5) >= 0.15
    assert np.all(table["hvp_tangent"][away] < table["hvp_line"][away])
    assert np.all(table["curvature_tangent"][away] < table["curvature_line"][away])
    assert np.mean(table["hvp_tangent"]) < 0.6 * np.mean(table["hvp_line"])


def test_matrix_free_mode_matches_the_exact_one(case):
    ls, curve, _, table = case
    free = along_curve(ls, curve, [0.5], exact=False, top_k=2, trace_products=120, slq_vectors=8)
    i = TS.index(0.5)
    assert free["eig_1"][0] == pytest.approx(table["eig_1"][i], rel=1e-4)
    assert free["trace"][0] == pytest.approx(table["trace"][i], rel=0.1)
    # the SLQ estimate of the near-zero count (tolerance 1e-3 of the largest node), against the exact count
    # at the same tolerance: close, not merely in [0, P]
    exact = count_near_zero(torch.linalg.eigvalsh(ls.hessian(curve(0.5))), 1e-3)
    assert abs(free["near_zero"][0] - exact) <= 0.1 * ls.num_params, (free["near_zero"][0], exact)


def test_input_jacobian_norm_against_autograd():
    ls, curve, _ = fitted()
    theta = curve(0.4)
    x = ls.batches[0][0][:5]
    ref = []
    for xi in x:
        j = torch.autograd.functional.jacobian(lambda z: ls._f(theta, z[None])[0], xi)
        ref.append(float(j.norm()))
    assert input_jacobian_norm(ls, theta, x) == pytest.approx(np.mean(ref), rel=1e-10)


def test_table_renders_and_rejects_unknown_columns(case):
    *_, table = case
    md = table.to_markdown(["t", "train_loss", "near_zero"])
    lines = md.splitlines()
    assert lines[0] == "| t | train_loss | near_zero |" and len(lines) == 2 + len(TS)
    assert "_std" not in table._repr_markdown_()
    with pytest.raises(KeyError, match="'nope': expected one of t, train_loss"):
        table["nope"]
    assert set(table.to_dict()) == set(table.names)


def test_bad_input(case):
    ls, curve, _, _ = case
    with pytest.raises(ValueError, match=r"ts: expected values in \[0, 1\].*got 1.2"):
        along_curve(ls, curve, [0.5, 1.2])
    with pytest.raises(ValueError, match=r"t_jitter: expected a number in \[0, 0.5\], got -0.1"):
        along_curve(ls, curve, [0.5], t_jitter=-0.1)
    with pytest.raises(ValueError, match=r"hvp_samples: expected an int in \[1, 1000\], got 0"):
        along_curve(ls, curve, [0.5], hvp_samples=0)
    with pytest.raises(TypeError, match="accuracy: expected 'auto', a callable"):
        along_curve(ls, curve, [0.5], accuracy="argmax")
    other = rw.BezierCurve(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="a curve for another model: it has P=3"):
        along_curve(ls, other, [0.5])


# ------------------------------------------------------------- the near-zero count and the loss profile
def test_matrix_free_near_zero_is_spectrum_at_with_the_same_settings(case):
    """A widget showing spectrum_at(curve(t)) prints exactly along_curve's near_zero at t."""
    ls, curve, _, _ = case
    ts = [0.25, 0.5]
    free = along_curve(ls, curve, ts, exact=False, top_k=1, slq_vectors=3, slq_steps=25, seed=4, curvature=True)
    for i, t in enumerate(ts):
        est = rw.core.spectrum_at(ls, curve(t), exact=False, slq_vectors=3, slq_steps=25, seed=4)
        assert isinstance(est, rw.core.SpectrumEstimate) and est.tol == free.notes["near_zero_tol"] == 1e-3
        assert free["near_zero"][i] == est.num_near_zero
        # the rule, recomputed independently from the stored quadrature
        nodes, weights = free.slq[i]
        scale = np.abs(nodes).max()
        assert est.num_near_zero == pytest.approx(ls.num_params * weights[np.abs(nodes) <= 1e-3 * scale].sum(),
                                                  rel=1e-12)
        np.testing.assert_array_equal(np.sort(nodes), est.nodes)
        assert free["slq_trace"][i] == pytest.approx(ls.num_params * (est.nodes * est.weights).sum(), rel=1e-12)


def test_exact_near_zero_is_the_spectrum_count(case):
    ls, curve, _, table = case
    for i, t in enumerate(TS):
        spectrum = rw.core.spectrum_at(ls, curve(t))
        assert isinstance(spectrum, rw.core.Spectrum) and spectrum.tol == default_tol(torch.float64)
        assert table["near_zero"][i] == spectrum.num_near_zero
    other = rw.core.spectrum_at(ls, curve(0.5), near_zero_tol=1e-2)
    assert other.tol == 1e-2 and other.num_near_zero == count_near_zero(other.values, 1e-2)


def test_loss_profile_gives_along_curves_loss_columns_and_the_straight_line(case):
    ls, curve, test, table = case
    profile = rw.core.loss_profile(ls, curve, TS, test_data=test)
    assert profile.names == ["t", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "line_loss"]
    for name in ("t", "train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        np.testing.assert_array_equal(profile[name], table[name])
    assert "line_loss" not in table
    line = torch.stack([(1 - t) * curve.theta_a + t * curve.theta_b for t in TS])
    ref = [ls.loss(theta) for theta in line]
    np.testing.assert_allclose(profile["line_loss"], ref, rtol=1e-10)
    np.testing.assert_allclose(profile["line_loss"][[0, -1]], profile["train_loss"][[0, -1]], rtol=1e-10)
    # the fitted curve avoids the barrier the straight line crosses
    assert profile["line_loss"].max() > profile["train_loss"].max()
    plain = rw.core.loss_profile(ls, curve, 3, accuracy=None)
    assert plain.names == ["t", "train_loss", "line_loss"] and len(plain) == 3


def test_spectrum_at_rejects_bad_input(case):
    ls, curve, _, _ = case
    with pytest.raises(ValueError, match=r"near_zero_tol: expected a relative tolerance in \[0, 1\)"):
        rw.core.spectrum_at(ls, curve(0.5), near_zero_tol=2.0)
    with pytest.raises(ValueError, match=r"ts: expected values in \[0, 1\]"):
        rw.core.loss_profile(ls, curve, [1.5])


def test_long_stages_stop_when_their_progress_callback_raises():
    # explorers pass a callback that raises when a newer slider value arrives: the spectrum quadrature
    # and the matrix-free re-projection must stop at once, not run to the end
    torch.manual_seed(0)
    x = torch.randn(6, 3, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(3, 12), torch.nn.Tanh(), torch.nn.Linear(12, 1)).double()
    ls = rw.Landscape(model, rw.models.sum_of_squares, (x, model(x).detach()), reduction="sum", dense_limit=20)

    stop_at_three, calls = stopping_progress(3)
    with pytest.raises(Stop):
        rw.core.spectrum_at(ls, ls.theta, exact=False, slq_vectors=2, slq_steps=20, progress=stop_at_three)
    assert calls == [(0, 20), (1, 20), (2, 20), (3, 20)]
    full = rw.core.spectrum_at(ls, ls.theta, exact=False, slq_vectors=2, slq_steps=20, progress=lambda d, n: None)
    estimate = rw.core.spectrum_at(ls, ls.theta, exact=False, slq_vectors=2, slq_steps=20)
    assert full.num_near_zero == estimate.num_near_zero
    chart = rw.core.ManifoldChart(ls, num_null=1, num_top=0)
    assert not chart.exact
    stop_at_once, calls = stopping_progress(0)
    with pytest.raises(Stop):
        chart.point([0.5], retracted=True, progress=stop_at_once)
    assert calls == [(0, 2)]  # two Gauss-Newton steps for a matrix-free chart; stopped before the first


def test_num_samples_is_the_deprecated_name_of_hvp_samples():
    ls, curve, _ = fitted()
    with pytest.warns(DeprecationWarning, match="use hvp_samples="):
        old = along_curve(ls, curve, [0.3], num_samples=2, curvature=False)
    new = along_curve(ls, curve, [0.3], hvp_samples=2, curvature=False)
    assert old.notes["hvp_samples"] == new.notes["hvp_samples"] == "2 points within t +- 0.02"
    np.testing.assert_array_equal(old["hvp_tangent"], new["hvp_tangent"])
