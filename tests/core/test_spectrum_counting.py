"""Both spectrum results count alike (`near_zero_count`, `nodes`, `counts`, `nodes_near_zero`), against
counts made by hand; `WarmSpectra` (the warm-started spectrum of an explorer's walk) in the core."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import t as student_t

import rashomon_widgets as rw
from rashomon_widgets.core import NearZeroCount, Spectrum, SpectrumEstimate, WarmSpectra


def test_an_exact_spectrum_counts_exactly_at_any_tolerance():
    values = torch.tensor([-1e-9, 0.0, 3e-6, 1e-3, 2.0], dtype=torch.float64)
    s = Spectrum(values, tol=1e-6)
    count = s.near_zero_count()
    assert isinstance(count, NearZeroCount) and count.exact and s.exact
    assert count.value == 2 == s.num_near_zero and count.interval == (2, 2) and count.threshold == 2e-6
    assert s.near_zero_count(1e-3).value == 4 and s.near_zero_count(1e-3).interval == (4, 4)
    np.testing.assert_array_equal(s.nodes, values.numpy())
    np.testing.assert_array_equal(s.counts, np.ones(5))
    np.testing.assert_array_equal(s.nodes_near_zero, [True, True, False, False, False])
    assert s.num_params == 5 and s.count_text() == "2" and int(count) == 2
    with pytest.raises(ValueError, match="tol"):
        s.near_zero_count(1.5)


def test_an_estimate_counts_by_the_same_rule_with_the_runs_interval_at_any_tolerance():
    # three runs of two nodes each (weights 1/6), P = 600
    runs = [([0.0, 2.0], [0.5, 0.5]), ([1e-4, 1.0], [0.5, 0.5]), ([5e-3, 1e-5], [0.5, 0.5])]
    nodes = np.concatenate([n for n, _ in runs])
    weights = np.concatenate([w for _, w in runs]) / 3
    est = SpectrumEstimate.from_nodes(nodes, weights, 600, tol=1e-3, num_vectors=3, run_lengths=[2, 2, 2])
    assert not est.exact and est.num_params == 600
    np.testing.assert_allclose(est.counts, 600 * est.weights)
    np.testing.assert_array_equal(est.nodes_near_zero, np.abs(est.nodes) <= 2e-3)
    for tol in (1e-3, 1e-5, 5e-3):
        threshold = tol * 2.0
        shares = np.array([np.sum(np.array(w)[np.abs(n) <= threshold]) for n, w in runs])
        half = student_t.ppf(0.975, 2) * shares.std(ddof=1) / math.sqrt(3)
        count = est.near_zero_count(tol)
        assert count.value == pytest.approx(600 * shares.mean()) and not count.exact and count.num_runs == 3
        low, high = max(0.0, 600 * (shares.mean() - half)), min(600.0, 600 * (shares.mean() + half))
        assert count.interval == pytest.approx((min(low, count.value), max(high, count.value)))
    # the estimate's own tolerance: its stored count and interval
    assert est.near_zero_count().value == est.num_near_zero
    assert est.near_zero_count().interval == est.near_zero_interval
    assert est.count_text() == est.near_zero_count().text()
    one_run = SpectrumEstimate.from_nodes([0.0, 1.0], [0.5, 0.5], 10, tol=1e-3, num_vectors=1)
    assert one_run.near_zero_count(1e-2).interval is None
    assert one_run.count_text() == "about 5 (precision unknown: 1 SLQ run)"


def test_warm_spectra_keeps_the_top_vectors_and_starts_the_next_run_from_them(xor_min):
    exact = WarmSpectra(xor_min, exact=True)(xor_min.theta)
    assert isinstance(exact, Spectrum) and exact.num_near_zero == rw.core.spectrum_at(xor_min, xor_min.theta,
                                                                                      exact=True).num_near_zero
    warm = WarmSpectra(xor_min, exact=False)
    first = warm(xor_min.theta, slq_vectors=2, slq_steps=8)
    assert isinstance(first, SpectrumEstimate) and first.top_vectors is None   # dropped from the result ...
    assert warm.vectors.shape == (xor_min.num_params, 3)                       # ... and kept here
    nearby = xor_min.theta + 1e-3 * torch.linspace(-1, 1, xor_min.num_params, dtype=xor_min.dtype)
    second = warm(nearby, slq_vectors=2, slq_steps=8)
    cold = rw.core.spectrum_at(xor_min, nearby, exact=False, slq_vectors=2, slq_steps=8, top_k=3)
    np.testing.assert_allclose(second.top_values, cold.top_values, rtol=1e-5, atol=1e-8)
    assert second.num_products <= cold.num_products


def test_the_mask_is_near_zero_mask_and_near_zero_its_deprecated_name():
    s = rw.core.Spectrum(torch.tensor([0.0, 1e-9, 2.0], dtype=torch.float64), tol=1e-6)
    assert s.near_zero_mask.tolist() == [True, True, False] and s.num_near_zero == 2
    with pytest.warns(DeprecationWarning, match="use Spectrum.near_zero_mask"):
        assert torch.equal(s.near_zero, s.near_zero_mask)
