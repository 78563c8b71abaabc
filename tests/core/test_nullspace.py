"""Write-up 4's identities at an XOR global minimum, the null space and the tangent projection."""
import pytest
import torch

import rashomon_widgets as rw

from ..conftest import make_case


def test_xor_minimum_hessian_is_two_jt_j_and_ranks_agree(xor_min):
    assert xor_min.num_params == 9
    assert xor_min.loss() < 1e-10
    h, j = xor_min.hessian(), xor_min.jacobian()
    assert j.shape == (4, 9)
    torch.testing.assert_close(h, 2 * j.T @ j, atol=1e-6 * float(h.abs().max()), rtol=0)
    rank_h = int(torch.linalg.matrix_rank(h, rtol=1e-6))
    rank_j = int(torch.linalg.matrix_rank(j, rtol=1e-3))
    assert rank_h == rank_j
    null = xor_min.null_space()
    assert null.shape == (9, 9 - rank_h)
    torch.testing.assert_close(null.T @ null, torch.eye(null.shape[1], dtype=torch.float64), atol=1e-10, rtol=0)
    assert float((h @ null).abs().max()) <= 1e-6 * float(h.abs().max())


def test_null_space_from_the_jacobian_equals_the_hessians(xor_min):
    a = xor_min.null_space(method="hessian")
    b = xor_min.null_space(method="jacobian")
    assert a.shape == b.shape
    # same subspace: the projectors agree
    torch.testing.assert_close(a @ a.T, b @ b.T, atol=1e-6, rtol=0)


def test_null_space_tolerance_is_relative(xor_min):
    count = rw.core.count_near_zero(xor_min.spectrum(), rw.core.default_tol(torch.float64))
    assert xor_min.null_space().shape[1] == count
    assert xor_min.null_space(tol=0.5).shape[1] >= count


@pytest.mark.parametrize("method", ["dense", "lsqr"])
def test_project_tangent_kills_the_jacobian_and_is_a_projection(xor_min, method):
    g = torch.Generator().manual_seed(0)
    v = torch.randn(9, generator=g, dtype=torch.float64)
    p = xor_min.project_tangent(v, method=method)
    j = xor_min.jacobian()
    assert float((j @ p).norm()) < 1e-8 * float(v.norm())
    torch.testing.assert_close(xor_min.project_tangent(p, method=method), p, atol=1e-8, rtol=0)
    # the exact formula v - J^T (J J^T)^+ J v
    expected = v - j.T @ torch.linalg.pinv(j @ j.T) @ (j @ v)
    torch.testing.assert_close(p, expected, atol=1e-8, rtol=0)


def test_project_tangent_lsqr_matches_dense_on_batched_data():
    model, loss_fn, (x, y), reduction = make_case("tanh_mlp")
    ls = rw.Landscape(model, loss_fn, [(x[:5], y[:5]), (x[5:], y[5:])], reduction=reduction)
    v = torch.randn(ls.num_params, 2, dtype=ls.dtype)
    torch.testing.assert_close(ls.project_tangent(v, method="lsqr"), ls.project_tangent(v, method="dense"),
                               atol=1e-6, rtol=0)


def test_stepping_along_the_tangent_keeps_the_loss_to_second_order(xor_min):
    v = xor_min.project_tangent(torch.randn(9, dtype=torch.float64))
    v = v / v.norm()
    for eps in (1e-2, 1e-3):
        assert xor_min.loss(xor_min.theta + eps * v) < 10 * eps ** 3
