"""Behavioural gradients (write-up 4): G, its rank, the bound, and H == Gauss-Newton at global minima,
against dense float64 references computed a second way (torch.autograd.functional, numpy)."""
import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.comparison import behaviour as B
from rashomon_widgets.experiments import information_loss as W

from ..conftest import reference_hessian


def test_matrix_rank_is_relative_and_matches_numpy():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(7, 3, generator=g, dtype=torch.float64) @ torch.randn(3, 9, generator=g, dtype=torch.float64)
    assert B.matrix_rank(a, 1e-8) == np.linalg.matrix_rank(a.numpy(), rtol=1e-8) == 3
    assert B.matrix_rank(1e-12 * a, 1e-8) == 3           # relative: scale-free
    assert B.matrix_rank(torch.zeros(3, 4, dtype=torch.float64), 1e-8) == 0
    assert B.matrix_rank(torch.zeros(0, 4, dtype=torch.float64), 1e-8) == 0
    with pytest.raises(ValueError, match="2-D tensor"):
        B.matrix_rank(torch.zeros(3), 1e-8)
    with pytest.raises(ValueError, match=r"rtol: expected a relative tolerance in \[0, 1\), got 2"):
        B.matrix_rank(a, 2)


def test_xor_minimum_g_rank_bound_and_hessian(xor_min):
    """4b: at an MSE global minimum rank H == rank G and H == 2 G G^T; dim <= N - rank G is attained."""
    model = rw.models.xor_minimum(width=2, seed=0)
    h_ref = reference_hessian(model, rw.models.sum_of_squares, rw.data.xor())
    G = B.behavioural_gradients(xor_min)
    assert G.shape == (9, 4)
    torch.testing.assert_close(h_ref, 2 * G @ G.T, atol=1e-9 * float(h_ref.abs().max()), rtol=0)
    torch.testing.assert_close(B.gauss_newton(xor_min), h_ref, atol=1e-9 * float(h_ref.abs().max()), rtol=0)
    torch.testing.assert_close(B.output_hessian(xor_min), 2 * torch.eye(4, dtype=torch.float64))
    rank_g = B.behaviour_rank(xor_min)
    assert rank_g == np.linalg.matrix_rank(G.numpy(), rtol=1e-3)
    assert B.hessian_rank(xor_min) == rank_g == np.linalg.matrix_rank(h_ref.numpy(), rtol=1e-6)
    assert B.dimension_bound(xor_min) == 9 - rank_g == xor_min.null_space().shape[1]
    # claim 1: the behavioural gradients are perpendicular to the manifold's tangent
    assert float((xor_min.null_space().T @ G).abs().max()) < 1e-6 * float(G.abs().max())


def test_cross_entropy_caveat_logits_versus_probabilities():
    """4c: with logits as behaviour rank G > rank H; with probabilities rank G == rank H."""
    model, loss_fn, data = W.soft_target_classifier(0)
    logits = rw.Landscape(model, loss_fn, data, reduction="sum")
    probs = rw.Landscape(model, loss_fn, data, reduction="sum", behaviour=lambda z: z.softmax(-1))
    assert float(logits.grad().norm()) < 1e-12                  # a perfect-behaviour global minimum
    h_ref = reference_hessian(model, loss_fn, data)
    torch.testing.assert_close(B.gauss_newton(logits), h_ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(B.gauss_newton(probs), h_ref, atol=1e-10, rtol=0)   # raw outputs either way
    rank_h = np.linalg.matrix_rank(h_ref.numpy(), rtol=1e-8)
    assert B.hessian_rank(logits, tol=1e-8) == rank_h == 12    # 6 inputs x (3 classes - 1)
    assert B.behaviour_rank(probs) == rank_h
    assert B.behaviour_rank(logits) == 18 > rank_h               # the all-ones logit shift of each input
    assert logits.jacobian().shape == probs.jacobian().shape == (18, 39)


def test_raw_jacobian_ignores_the_behaviour_map():
    model, loss_fn, data = W.soft_target_classifier(1)
    logits = rw.Landscape(model, loss_fn, data, reduction="sum")
    probs = rw.Landscape(model, loss_fn, data, reduction="sum", behaviour=lambda z: z.softmax(-1))
    torch.testing.assert_close(B.raw_jacobian(probs), logits.jacobian(), rtol=0, atol=0)
    assert probs.behaviour is not None


@pytest.mark.parametrize("angle, rank", [(90.0, 2), (40.0, 2), (0.0, 1)])
def test_contour_angle_sets_the_manifold_dimension(angle, rank):
    """4a: perpendicular (or any non-parallel) contours: lines (dim 1); parallel: planes (dim 2)."""
    ls = W.contour_landscape(angle)
    assert ls.num_params == 3 and ls.loss() == 0.0
    assert B.behaviour_rank(ls) == rank
    assert B.dimension_bound(ls) == 3 - rank == ls.null_space().shape[1]
    # gradients are sech^2(theta . x_i) x_i: the normal of input i's contour planes
    x = W.contour_inputs(angle)
    expected = (1 - torch.tanh(x @ ls.theta) ** 2)[:, None] * x
    torch.testing.assert_close(ls.jacobian(), expected)


def test_merging_inputs_drops_the_rank_of_g():
    """4d: m inputs merged by dead ReLUs have identical gradients; the deficit is m - 1 and grows."""
    deficits = []
    for m in range(9):
        ls = W.merged_inputs_landscape(m)
        G = B.behavioural_gradients(ls)
        rank_g = B.behaviour_rank(ls)
        assert rank_g == B.hessian_rank(ls)
        if m >= 2:
            merged = G[:, 8 - m:]
            torch.testing.assert_close(merged, merged[:, :1].expand_as(merged), rtol=0, atol=0)
            assert float(merged[:30].abs().max()) == 0.0          # no gradient before the ReLU layer
        deficits.append(8 - rank_g)
    assert deficits == [0, 0, 1, 2, 3, 4, 5, 6, 7]


def test_merging_at_a_later_layer_without_dead_units_leaves_g_full_rank():
    """4d, the harder case: m inputs merged at the second tanh layer share outputs and output-layer
    gradients (that block loses m - 1 ranks), but the 216 parameters before the layer still tell them
    apart, so rank G stays full and the basin gains no flat direction."""
    out_block, full = [], []
    for m in range(9):
        ls = W.merged_later_landscape(m)
        x, _ = ls.batches[0]
        with torch.no_grad():
            a2 = ls._f.module[:4](x)
        if m >= 2:
            torch.testing.assert_close(a2[8 - m:], a2[-1:].expand(m, -1), rtol=0, atol=1e-12)
        first = torch.tanh(ls._f.module[0](x))
        assert float(first.abs().max()) < 1 and float((1 - first ** 2).min()) > 1e-3   # no saturated unit
        G = B.behavioural_gradients(ls)
        out_block.append(int(torch.linalg.matrix_rank(G[-9:], rtol=1e-6)))
        full.append(B.behaviour_rank(ls))
        assert full[-1] == B.hessian_rank(ls)
    assert out_block == [8, 8, 7, 6, 5, 4, 3, 2, 1]
    assert full == [8] * 9


def test_later_merge_breaks_if_the_null_space_construction_is_skipped():
    """The construction is what merges them: perturbing W_2 separates the merged inputs again."""
    ls = W.merged_later_landscape(4)
    x, _ = ls.batches[0]
    with torch.no_grad():
        ls._f.module[2].weight.add_(1e-3 * torch.randn(ls._f.module[2].weight.shape, dtype=torch.float64,
                                                    generator=torch.Generator().manual_seed(0)))
        a2 = ls._f.module[:4](x)
    assert float((a2[-4:] - a2[-1:]).abs().max()) > 1e-6


def test_behaviour_helpers_reject_bad_tolerances(xor_min):
    with pytest.raises(ValueError, match=r"tol: expected a relative eigenvalue tolerance in \[0, 1\), got 1.5"):
        B.behaviour_rank(xor_min, tol=1.5)
    with pytest.raises(ValueError, match="tol"):
        B.hessian_rank(xor_min, tol=-1)
