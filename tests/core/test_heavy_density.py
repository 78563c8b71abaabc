"""A heavy model's density budget: 180 products by default (issue 22: the light default's 800, cut only by
memory, took 11 minutes on a 596k-parameter CNN), the light default otherwise, and the user's own settings
always; the estimate is still checked against the exact trace."""
import warnings

import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.curvature import policy

from .curve_cases import digits_pair


@pytest.fixture(scope="module")
def digits_ls():
    """A float64 digits MLP 64-8-10 (P = 610) trained near a minimum (shared with test_estimates)."""
    return digits_pair()[0]


def _density(ls, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rw.core.EstimateWarning)
        return ls.density(**kwargs)


def test_a_heavy_model_gets_the_small_budget_and_an_honest_trace(digits_ls, monkeypatch):
    light = _density(digits_ls)
    monkeypatch.setattr(policy, "HEAVY_FORWARD", 0)   # every model is heavy now
    heavy = _density(digits_ls)
    budget = policy.HEAVY_DENSITY
    assert heavy.num_products == budget["deflation_steps"] + budget["num_vectors"] * budget["num_steps"]
    assert light.num_products > 2 * heavy.num_products
    exact = float(torch.linalg.eigvalsh(digits_ls.hessian().double()).sum())
    assert abs(float(heavy.trace) - exact) <= max(3 * heavy.trace.error, 1e-6 * abs(exact)), (
        float(heavy.trace), heavy.trace.error, exact)
    # the user's own settings win over the heavy budget
    mine = _density(digits_ls, num_vectors=2, num_steps=10, deflation_steps=30)
    assert mine.num_products == 30 + 2 * 10
