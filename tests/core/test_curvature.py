"""HVPs, dense Hessian, eigenpairs, spectrum, density and trace against exact dense float64 references."""
import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.curvature.probes import rademacher

from ..conftest import make_case, reference_hessian


def test_hessian_matches_autograd_reference(case):
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    torch.testing.assert_close(ls.hessian(), reference_hessian(model, loss_fn, data), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("form", ["double_backward", "forward_over_reverse", "auto"])
def test_hvp_equals_dense_hessian_times_v(case, form):
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    h = reference_hessian(model, loss_fn, data)
    g = torch.Generator().manual_seed(3)
    v = torch.randn(ls.num_params, generator=g, dtype=ls.dtype)
    block = torch.randn(ls.num_params, 4, generator=g, dtype=ls.dtype)
    torch.testing.assert_close(ls.hvp(v, form=form), h @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ls.hvp(block, form=form), h @ block, rtol=1e-10, atol=1e-12)


def test_hvp_at_another_point(case):
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    other = ls.theta + 0.2
    v = torch.randn(ls.num_params, dtype=ls.dtype)
    torch.testing.assert_close(ls.hvp(v, other), ls.hessian(other) @ v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reuse", [True, False])
def test_hessian_operator_reuses_one_graph_and_frees_it(reuse):
    model, loss_fn, data, reduction = make_case("tanh_mlp")
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    h = ls.hessian()
    op = ls.hessian_operator(reuse_graph=reuse)
    with op:
        for _ in range(3):
            v = torch.randn(ls.num_params, dtype=ls.dtype)
            torch.testing.assert_close(op @ v, h @ v)
        assert (op._graphs is not None) == reuse
    assert op._graphs is None and op.num_products == 3


def test_hessian_operator_blocks_batched_or_one_by_one_and_the_measured_choice_is_kept(case):
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    h = reference_hessian(model, loss_fn, data)
    g = torch.Generator().manual_seed(5)
    block = torch.randn(ls.num_params, 7, generator=g, dtype=ls.dtype)
    for batched in (True, False):
        with ls.hessian_operator(reuse_graph=True) as op:
            op.batched = batched
            torch.testing.assert_close(op @ block, h @ block, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(op @ block[:, :1], h @ block[:, :1], rtol=1e-10, atol=1e-12)
    assert ls._hvp_batched is None  # nothing measured yet
    with ls.hessian_operator(reuse_graph=True) as op:
        torch.testing.assert_close(op @ block, h @ block, rtol=1e-10, atol=1e-12)  # measures on 4 of 7
        assert op.batched in (True, False) and op.num_products == 7
    assert ls._hvp_batched is op.batched  # remembered for the next operator
    with ls.hessian_operator(reuse_graph=True) as again:
        assert again.batched is op.batched


def test_toy_quadratic_eigenvalues_and_null_vector():
    a, b = 1.5, 0.25
    model, loss_fn, data = rw.models.toy_quadratic(a=a, b=b, point=(0.0, 0.0, 2.0))
    ls = rw.Landscape(model, loss_fn, data, reduction="sum")
    assert ls.loss() == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(ls.spectrum().numpy(), sorted([0.0, 2 * b, 2 * a]), atol=1e-6)
    null = ls.null_space()
    assert null.shape == (3, 1)
    torch.testing.assert_close(null[:, 0].abs(), torch.tensor([0.0, 0.0, 1.0], dtype=ls.dtype))
    # moving along z keeps the loss at zero; along x it rises as the parabola a x^2
    assert ls.loss(ls.theta + torch.tensor([0.0, 0.0, 5.0], dtype=ls.dtype)) == pytest.approx(0.0, abs=1e-15)
    assert ls.loss(ls.theta + torch.tensor([0.3, 0.0, 0.0], dtype=ls.dtype)) == pytest.approx(a * 0.09)


def _wide_case():
    """P = 63 > 32, so eigs takes the matrix-free path."""
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(3, 9), torch.nn.Tanh(), torch.nn.Linear(9, 3)).double()
    x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 3, dtype=torch.float64)
    return rw.Landscape(model, lambda o, t: ((o - t) ** 2).mean(), (x, y))


@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_lanczos_eigs_match_eigh_at_both_ends(which):
    ls = _wide_case()
    exact_values, exact_vectors = torch.linalg.eigh(ls.hessian())
    values, vectors = pairs = ls.eigs(4, which=which, method="lanczos", tol=1e-10)
    idx = [-1, -2, -3, -4] if which == "largest" else [0, 1, 2, 3]
    torch.testing.assert_close(values, exact_values[idx], rtol=1e-8, atol=1e-10)
    overlaps = (vectors.T @ exact_vectors[:, idx]).diagonal().abs()
    torch.testing.assert_close(overlaps, torch.ones(4, dtype=ls.dtype), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(vectors.T @ vectors, torch.eye(4, dtype=ls.dtype), atol=1e-8, rtol=0)
    assert 0 < pairs.num_products < 2000


def test_default_eigs_tolerance_reaches_relative_error_1e_5():
    ls = _wide_case()
    exact = torch.linalg.eigvalsh(ls.hessian()).flip(0)[:5]
    values, _ = ls.eigs(5)
    assert float(((values - exact) / exact).abs().max()) <= 1e-5


def test_dense_eigs_path_and_ordering(xor_min):
    values, vectors = xor_min.eigs(3)
    exact = xor_min.spectrum().values
    torch.testing.assert_close(values, exact.flip(0)[:3])
    low, _ = xor_min.eigs(2, which="smallest")
    torch.testing.assert_close(low, exact[:2])


def test_spectrum_is_ascending_and_sums_to_trace(case):
    model, loss_fn, data, reduction = case
    ls = rw.Landscape(model, loss_fn, data, reduction=reduction)
    spec = ls.spectrum().values
    assert bool((spec[1:] >= spec[:-1]).all())
    assert float(spec.sum()) == pytest.approx(float(ls.hessian().trace()), rel=1e-9, abs=1e-10)
    assert ls.trace(method="exact") == pytest.approx(float(spec.sum()), rel=1e-9, abs=1e-10)


def test_density_integrates_to_one_and_its_mean_reproduces_the_trace():
    ls = _wide_case()
    exact_trace = float(ls.hessian().trace())
    # P = 66 < deflation_steps: the deflating Lanczos run spans the space, so the mean is the trace
    grid, dens = ls.density(seed=1)
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-9)
    assert (dens >= 0).all()
    assert np.trapezoid(grid * dens, grid) * ls.num_params == pytest.approx(exact_trace, rel=1e-6)
    # a short deflation leaves SLQ work, whose error bound covers the first moment's error
    d = ls.density(num_vectors=10, num_steps=20, deflation_steps=20, seed=1)
    assert d.num_products == 20 + 10 * 20
    assert abs(np.trapezoid(d.grid * d.heights, d.grid) * ls.num_params - exact_trace) <= d.trace.error
    # plain SLQ: the quadrature's mean is exactly Hutchinson's estimate with the same vectors
    with ls.hessian_operator() as op:
        nodes, weights = rw.core.curvature.spectral_density.slq(op, num_vectors=40, num_steps=30, seed=1)
    z = rademacher((ls.num_params, 40), seed=1, dtype=ls.dtype, device=ls.device)
    hutchinson = float((z * (ls.hessian() @ z)).sum()) / 40
    assert float((weights * nodes).sum()) * ls.num_params == pytest.approx(hutchinson, rel=1e-8)


def test_density_with_full_lanczos_recovers_the_spectrum():
    ls = _wide_case()
    with ls.hessian_operator() as op:
        nodes, weights = rw.core.curvature.spectral_density.slq(op, num_vectors=1, num_steps=ls.num_params)
    exact = np.asarray(ls.spectrum())
    # a full Lanczos run reproduces the extreme eigenvalues to high accuracy
    assert nodes.max() == pytest.approx(exact.max(), rel=1e-8)
    assert nodes.min() == pytest.approx(exact.min(), abs=1e-6 * exact.max())
    assert weights.sum() == pytest.approx(1.0)


def test_hutch_plus_plus_is_exact_when_the_sketch_spans_the_space(xor_min):
    exact = float(xor_min.hessian().trace())
    assert xor_min.trace(method="hutch++", num_products=3 * 9) == pytest.approx(exact, rel=1e-10)
    assert xor_min.trace() == pytest.approx(exact, rel=1e-12)  # auto: exact for small P


def test_hutch_plus_plus_beats_hutchinson_when_a_few_eigenvalues_dominate():
    torch.manual_seed(0)
    scales = torch.logspace(1, -2, 12, dtype=torch.float64)  # a decaying spectrum, as in trained nets
    x = torch.randn(50, 12, dtype=torch.float64) * scales
    ls = rw.Landscape(torch.nn.Linear(12, 3).double(), lambda o, t: ((o - t) ** 2).mean(),
                      (x, torch.randn(50, 3, dtype=torch.float64)))
    exact = float(ls.hessian().trace())
    errs = {m: np.mean([abs(ls.trace(method=m, num_products=30, seed=s) - exact) for s in range(20)])
            for m in ("hutchinson", "hutch++")}
    assert errs["hutch++"] < errs["hutchinson"]
    assert errs["hutch++"] / abs(exact) < 0.05
    assert ls.trace(method="hutch++", num_products=30).num_products == 30


def test_float32_eigs_agree_with_float64():
    model, loss_fn, data, reduction = make_case("tanh_mlp", dtype=torch.float32)
    ls32 = rw.Landscape(model, loss_fn, data, reduction=reduction)
    ls64 = rw.Landscape(*make_case("tanh_mlp")[:3], reduction=reduction)
    v32, _ = ls32.eigs(3, method="lanczos")
    v64, _ = ls64.eigs(3, method="lanczos")
    torch.testing.assert_close(v32.double(), v64, rtol=1e-4, atol=1e-5)


def test_blocks_of_products_are_cut_to_the_memory_budget_and_stay_exact():
    """A block of Hessian-vector products is multiplied in pieces of ``hvp_block()`` columns (a batched
    pass holds memory for every vector it carries); the pieces give the block's exact product, with and
    without a kept gradient graph."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2)).double()
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 5, generator=g, dtype=torch.float64), torch.randn(40, 2, generator=g, dtype=torch.float64)
    roomy = rw.Landscape(model, torch.nn.MSELoss(), (x, y))
    with pytest.warns(rw.core.MemoryBudgetWarning, match="smaller batches"):   # a 1-byte budget: said at once
        tight = rw.Landscape(model, torch.nn.MSELoss(), (x, y), memory_budget=1)
    assert tight.hvp_block() == 1 and roomy.hvp_block() > 10
    dense = roomy.hessian()
    v = torch.randn(roomy.num_params, 9, generator=g, dtype=torch.float64)
    for ls in (roomy, tight):
        torch.testing.assert_close(ls.hvp(v), dense @ v, rtol=1e-10, atol=1e-12)
        for reuse in (True, False):
            with ls.hessian_operator(reuse_graph=reuse) as op:
                torch.testing.assert_close(op @ v, dense @ v, rtol=1e-10, atol=1e-12)
                assert op.num_products == 9
