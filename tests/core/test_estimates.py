"""Spectral estimates against exact dense references: the deflated SLQ density and the trace estimators
with their error bounds, on 610-parameter digits MLPs (trained, and at initialisation with many negative
eigenvalues), a multi-output least-squares model with repeated eigenvalues, and XOR."""
import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.stats
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.curvature import estimated_spectrum, spectral_density, trace_estimators

from .curve_cases import _digits, digits_pair

SEEDS = range(200)


class DenseOperator:
    """A dense symmetric matrix with the interface of a HessianOperator (products counted)."""

    def __init__(self, h: torch.Tensor):
        self.h, self.shape, self.dtype, self.device = h, tuple(h.shape), h.dtype, h.device
        self.num_products = 0

    def matvec(self, v):
        self.num_products += 1 if v.ndim == 1 else v.shape[1]
        return self.h @ v

    __matmul__ = matvec

    def to_dense(self):
        self.num_products += self.shape[0]
        return self.h


@pytest.fixture(scope="module")
def trained():
    """(Landscape, dense Hessian, exact eigenvalues): a float64 digits MLP 64-8-10 (P = 610) near a minimum."""
    ls, _, _ = digits_pair()
    h = ls.hessian()
    return ls, h, torch.linalg.eigvalsh(h)


@pytest.fixture(scope="module")
def untrained():
    """The same architecture at initialisation: a Hessian with many negative eigenvalues."""
    model = rw.models.digits_mlp((8,), seed=3, dtype=torch.float64)
    ls = rw.Landscape(model, rw.models.cross_entropy, _digits(300, 200)[0])
    h = ls.hessian()
    values = torch.linalg.eigvalsh(h)
    assert float(values[values < 0].sum()) < -float(values.sum())  # the negative part outweighs the trace
    return ls, h, values


@pytest.fixture(scope="module")
def repeated():
    """A 3-output linear least-squares model: H = (X^T X) kron I_3, every eigenvalue three times (P = 39)."""
    torch.manual_seed(0)
    x = torch.randn(50, 12, dtype=torch.float64) * torch.logspace(1, -2, 12, dtype=torch.float64)
    ls = rw.Landscape(torch.nn.Linear(12, 3).double(), lambda o, t: ((o - t) ** 2).mean(),
                      (x, torch.randn(50, 3, dtype=torch.float64)))
    h = ls.hessian()
    return ls, h, torch.linalg.eigvalsh(h)


# ----------------------------------------------------------------------------------------- density
@pytest.mark.parametrize("which", ["trained", "untrained"])
def test_density_first_moment_matches_the_exact_trace_at_default_settings(which, request):
    ls, _, values = request.getfixturevalue(which)
    exact = float(values.sum())
    for seed in range(3):
        d = ls.density(seed=seed)
        grid, dens = d  # still unpacks as before
        assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-9)
        moment = np.trapezoid(grid * dens, grid) * ls.num_params
        assert moment == pytest.approx(float(d.trace), rel=1e-6)
        assert abs(moment - exact) <= 0.01 * abs(exact)
        assert 0 < d.num_products <= 800
        assert d.weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert (np.diff(d.nodes) >= 0).all()


@pytest.mark.parametrize("which", ["trained", "untrained"])
def test_deflated_nodes_are_the_exact_eigenvalues_at_both_ends(which, request):
    ls, _, values = request.getfixturevalue(which)
    d = ls.density(seed=0)
    top = d.top_values
    assert (np.diff(top) <= 0).all()
    np.testing.assert_allclose(top[:5], values.flip(0)[:5].numpy(), rtol=1e-8)
    assert top[-1] == pytest.approx(float(values[0]), abs=1e-8 * float(values.abs().max()))
    # every converged value is an eigenvalue, and a node of weight 1/P
    dist = np.abs(top[:, None] - values.numpy()[None]).min(1)
    assert dist.max() <= 1e-6 * float(values.abs().max())
    for v in top[:5]:
        assert d.weights[np.argmin(np.abs(d.nodes - v))] == pytest.approx(1 / ls.num_params)


def test_density_error_bound_covers_the_first_moment_error(trained):
    _, h, values = trained
    exact = float(values.sum())
    covered = [abs(float(d.trace) - exact) <= d.trace.error
               for d in (spectral_density.density(DenseOperator(h), num_vectors=10, num_steps=10, deflation_steps=100,
                                          seed=s) for s in range(60))]
    assert 0.85 <= np.mean(covered) <= 1.0


def test_density_is_exact_when_the_deflation_spans_the_space_even_with_repeated_eigenvalues(repeated):
    ls, _, values = repeated
    d = ls.density()
    assert float(d.trace) == pytest.approx(float(values.sum()), rel=1e-9)
    assert d.num_products == ls.num_params  # restarted runs on the complement cover all 39 directions
    # a single Lanczos run sees one copy of each eigenvalue; the restarts find the others
    assert int(np.isclose(d.top_values, float(values[-1]), rtol=1e-8).sum()) == 3


def test_plain_slq_when_deflation_is_off(trained):
    ls, _, values = trained
    d = ls.density(deflation_steps=0, num_vectors=10, num_steps=30)
    assert d.num_products == 300 and len(d.top_values) == 0
    assert abs(float(d.trace) - float(values.sum())) <= d.trace.error


# ----------------------------------------------------------------------------------------- trace
@pytest.mark.parametrize("which", ["trained", "untrained"])
@pytest.mark.parametrize("method", ["xtrace", "krylov", "hutch++"])
def test_trace_error_bound_covers_the_true_error_over_many_seeds(which, method, request):
    _, h, values = request.getfixturevalue(which)
    exact = float(values.sum())
    estimates = [trace_estimators.trace(DenseOperator(h), method=method, seed=s) for s in SEEDS]
    covered = np.mean([abs(float(e) - exact) <= e.error for e in estimates])
    # 95% nominal: a calibrated bound covers 190 of 200 (sd 3); a vacuous one would cover all
    assert 0.88 <= covered <= 0.99, covered
    assert all(e.num_products == 40 and e.method == method and e.confidence == 0.95 for e in estimates)
    assert all(2.0 < e.error / e.stderr < 2.2 for e in estimates)  # Student-t, 95%, 14-24 samples


def test_default_trace_is_krylov_within_two_percent_near_a_minimum(trained):
    ls, h, values = trained
    exact = float(values.sum())
    estimates = [trace_estimators.trace(DenseOperator(h), seed=s) for s in SEEDS]
    assert all(e.method == "krylov" and e.num_products == 40 for e in estimates)
    assert np.median([abs(float(e) - exact) / exact for e in estimates]) < 0.02
    t = ls.trace(method="krylov", seed=0)
    assert t.method == "krylov" and t.num_products == 40
    assert ls.trace() == pytest.approx(exact, rel=1e-12)  # small P: exact by default
    assert ls.trace().error == 0 and ls.trace().method == "exact"


def test_repeated_eigenvalues_xtrace_is_accurate_and_krylov_says_it_is_not(repeated):
    _, h, values = repeated
    exact = float(values.sum())
    runs = {m: [trace_estimators.trace(DenseOperator(h), method=m, num_products=30, seed=s) for s in range(40)]
            for m in ("xtrace", "krylov", "hutchinson")}
    errors = {m: np.array([abs(float(e) - exact) for e in r]) / exact for m, r in runs.items()}
    assert errors["xtrace"].mean() < 0.005 < errors["krylov"].mean()
    assert errors["xtrace"].mean() < errors["hutchinson"].mean()
    # one Lanczos vector sees one copy of each eigenvalue, but the error it reports stays honest
    assert np.mean([abs(float(e) - exact) <= e.error for e in runs["krylov"]]) >= 0.9


@pytest.mark.parametrize("method", ["xtrace", "krylov", "hutch++"])
def test_trace_is_exact_when_the_sketch_spans_the_space(xor_min, method):
    exact = float(xor_min.hessian().trace())
    t = xor_min.trace(method=method, num_products=40)
    assert float(t) == pytest.approx(exact, rel=1e-7)
    assert abs(float(t) - exact) <= t.error <= 1e-6 * exact
    assert t.num_products <= 40


def test_a_budget_too_small_for_an_error_reports_an_infinite_one(trained):
    _, h, _ = trained
    # 3 products: XTrace has one test vector, Hutch++ one sample: no spread to measure
    for method in ("xtrace", "hutch++"):   # an unknown error is larger than any value: it says so
        with pytest.warns(trace_estimators.EstimateWarning, match="error bar is larger than its value"):
            assert trace_estimators.trace(DenseOperator(h), method=method, num_products=3).error == np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", trace_estimators.EstimateWarning)
        assert np.isfinite(trace_estimators.trace(DenseOperator(h), method="hutchinson", num_products=3).error)


def test_float32_estimates_carry_honest_errors():
    train = _digits(300, 200)[0]
    model = rw.models.digits_mlp((8,), seed=0)
    rw.models.train(model, rw.models.cross_entropy, (train[0].float(), train[1]), epochs=150, lr=1e-2, seed=0)
    ls = rw.Landscape(model, rw.models.cross_entropy, (train[0].float(), train[1]))
    values = torch.linalg.eigvalsh(ls.hessian().double())
    exact = float(values.sum())
    hits = [abs(float(e) - exact) <= e.error for e in (ls.trace(method="krylov", seed=s) for s in range(10))]
    assert sum(hits) >= 8
    d = ls.density(seed=0)
    assert abs(float(d.trace) - exact) <= 0.01 * exact
    assert d.top_values[0] == pytest.approx(float(values[-1]), rel=1e-4)


# ----------------------------------------------------------------------------------------- objects
def test_trace_estimate_is_a_float_with_its_error():
    t = trace_estimators.TraceEstimate(2.5, error=0.1, stderr=0.05, num_products=40, method="xtrace")
    assert isinstance(t, float) and t * 2 == 5.0 and t + 1 == 3.5 and float(t) == 2.5
    assert f"{t}" == "2.5" and f"{t:.2f}" == "2.50" and t.interval == (2.4, 2.6)
    assert "2.5 ± 0.1" in repr(t) and "xtrace" in repr(t)
    for back in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert back == 2.5 and back.error == 0.1 and back.method == "xtrace" and back.num_products == 40


def test_density_object_unpacks_pickles_and_describes_itself(xor_min):
    d = xor_min.density()
    grid, dens = d
    assert len(d) == 2 and d.grid is grid and d.heights is dens and d.num_params == 9
    with pytest.warns(DeprecationWarning, match="use Density.heights"):
        assert d.density is dens
    back = pickle.loads(pickle.dumps(d))
    np.testing.assert_array_equal(back[1], dens)
    np.testing.assert_array_equal(back.run_ids, d.run_ids)
    assert back.trace == d.trace and back.trace.error == d.trace.error and back.sigma == d.sigma
    assert "P=9" in repr(d) and "trace" in repr(d)


# ----------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, exc, match", [
    ({"method": "magic"}, ValueError, r"method: expected one of 'auto', 'exact', 'krylov', .*got 'magic'"),
    ({"num_products": 2}, ValueError, r"num_products: expected an int in \[3, 10000000\], got 2"),
    ({"num_products": 40.0}, TypeError, r"num_products: expected an int .*got float"),
    ({"seed": -1}, ValueError, r"seed: expected an int >= 0, got -1"),
    ({"confidence": 1.0}, ValueError, r"confidence: expected a number in \(0, 1\), got 1.0"),
])
def test_trace_rejects_bad_input(xor_min, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        with xor_min.hessian_operator() as op:
            trace_estimators.trace(op, **kwargs)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"num_vectors": 0}, ValueError, r"num_vectors: expected an int in \[1, 10000\], got 0"),
    ({"num_steps": "5"}, TypeError, r"num_steps: expected an int in \[1, 100000\], got str"),
    ({"deflation_steps": -1}, ValueError, r"deflation_steps: expected an int in \[0, 10000000\], got -1"),
    ({"grid_size": 1}, ValueError, r"grid_size: expected an int in \[2, 10000000\], got 1"),
    ({"sigma": -0.5}, ValueError, r"sigma: expected a positive width, got -0.5"),
    ({"seed": 1.5}, TypeError, r"seed: expected an int >= 0, got float"),
])
def test_density_rejects_bad_input(xor_min, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        xor_min.density(**kwargs)


# ----------------------------------------------------------------------------------------- SpectrumEstimate
def test_spectrum_estimate_counts_near_zero_by_the_node_rule(trained):
    ls, h, values = trained
    op = DenseOperator(h)
    est = estimated_spectrum.spectrum_estimate(op, num_vectors=3, num_steps=30, seed=2, tol=1e-3)
    nodes, weights = spectral_density.slq(DenseOperator(h), num_vectors=3, num_steps=30, seed=2)
    assert est.num_params == ls.num_params and (est.num_vectors, est.num_steps, est.seed) == (3, 30, 2)
    assert np.all(np.diff(est.nodes) >= 0) and est.weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.sort(nodes), est.nodes)
    assert est.scale == pytest.approx(np.abs(nodes).max())
    ref = ls.num_params * weights[np.abs(nodes) <= 1e-3 * np.abs(nodes).max()].sum()
    assert est.num_near_zero == pytest.approx(ref, rel=1e-12)
    # the extreme Ritz values converge to the extreme eigenvalues: the scale is the true one
    assert est.scale == pytest.approx(float(values.abs().max()), rel=1e-6)
    assert "SpectrumEstimate(P=610" in repr(est) and est.summary().startswith("about ")


def test_slq_in_groups_held_within_max_vectors_gives_the_same_runs(trained):
    """max_vectors bounds the Lanczos vectors held at once: the runs go in groups, from the same start vectors."""
    _, h, _ = trained
    whole = spectral_density.slq(DenseOperator(h), num_vectors=5, num_steps=30, seed=2, runs=True)
    held = []

    class Counting(DenseOperator):
        def matvec(self, v):
            held.append(v.shape[1])
            return super().matvec(v)

    grouped = spectral_density.slq(Counting(h), num_vectors=5, num_steps=30, seed=2, runs=True, max_vectors=2 * 31)
    assert max(held) == 2 and whole[2] == grouped[2]
    for a, b in zip(whole[:2], grouped[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_density_counts_near_zero_by_the_same_rule(trained):
    ls, _, _ = trained
    d = ls.density(num_vectors=4, num_steps=20, deflation_steps=50)
    scale = np.abs(d.nodes).max()
    count = d.near_zero_count(1e-2)
    assert isinstance(count, rw.core.NearZeroCount) and not count.exact and count.num_runs == 4
    assert count.value == pytest.approx(d.num_params * d.weights[np.abs(d.nodes) <= 1e-2 * scale].sum(), rel=1e-12)
    values = [d.near_zero_count(tol).value for tol in (0.0, 1e-3, 0.5)]
    assert values == sorted(values) and values[-1] <= d.num_params
    with pytest.warns(DeprecationWarning, match="use Density.near_zero_count"):
        assert d.count_near_zero(1e-2) == count.value


def test_density_near_zero_interval_is_the_runs_spread_around_the_exact_part(trained):
    ls, _, eigenvalues = trained
    d = ls.density(num_vectors=6, num_steps=20, deflation_steps=50)
    count = d.near_zero_count(1e-2)
    exact = d.run_ids < 0                       # the deflating run's eigenvalues, counted as they are
    exact_near = int((np.abs(d.nodes[exact]) <= count.threshold).sum())
    low, high = count.interval
    assert exact_near <= low <= count.value <= high <= d.num_params
    # the interval is a Student-t one over the runs' near-zero shares of the deflated rest
    rest = d.num_params - int(exact.sum())
    shares = [d.weights[(d.run_ids == r) & (np.abs(d.nodes) <= count.threshold)].sum()
              / d.weights[d.run_ids == r].sum() for r in range(6)]
    half = scipy.stats.t.ppf(0.975, 5) * np.std(shares, ddof=1) / np.sqrt(6) * rest
    assert high - low == pytest.approx(2 * half, rel=1e-9)
    assert "95%" in count.text()


def test_a_density_without_sampled_runs_is_an_exact_count(xor_min):
    d = xor_min.density()   # 9 parameters: the deflating run holds the whole spectrum, no SLQ run
    assert (d.run_ids < 0).all()
    exact = xor_min.spectrum().near_zero_count(1e-3)
    count = d.near_zero_count(1e-3)
    assert count.exact and count.value == exact.value and count.interval == (exact.value, exact.value)


def test_spectrum_estimate_from_nodes_sorts_and_rejects_bad_input():
    est = estimated_spectrum.SpectrumEstimate.from_nodes([2.0, -1e-4, 0.0, -0.5], [0.25] * 4, 100, tol=1e-3)
    np.testing.assert_array_equal(est.nodes, [-0.5, -1e-4, 0.0, 2.0])
    assert est.scale == 2.0 and est.threshold == 2e-3 and est.num_near_zero == 50.0
    np.testing.assert_array_equal(est.counts, [25.0] * 4)
    with pytest.raises(ValueError, match="expected two 1-D arrays of the same positive length, got 2 nodes and 1"):
        estimated_spectrum.SpectrumEstimate.from_nodes([0.0, 1.0], [1.0], 10)
    with pytest.raises(ValueError, match=r"tol: expected a relative tolerance in \[0, 1\)"):
        estimated_spectrum.SpectrumEstimate.from_nodes([0.0, 1.0], [0.5, 0.5], 10, tol=1.5)
