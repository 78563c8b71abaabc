"""One operator contract: the Hessian and Jacobian operators share one base class (products on vectors and blocks,
counted, with a scipy view) checked against their dense float64 matrices, and every result of a spectral call
carries the products it cost."""
import pickle

import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core import CurvatureOperator, Eigenpairs, EstimateWarning, LinearOperatorLike


@pytest.fixture(scope="module")
def ls():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 2, dtype=torch.float64)
    return rw.Landscape(model, lambda o, t: ((o - t) ** 2).mean(), (x, y))


def _vectors(n, k, seed):
    return torch.randn(n, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_hessian_operator_keeps_the_contract(ls):
    dense = ls.hessian()
    p = ls.num_params
    with ls.hessian_operator() as op:
        assert isinstance(op, CurvatureOperator) and isinstance(op, LinearOperatorLike)
        assert op.shape == (p, p) and op.dtype == torch.float64 and op.num_products == 0
        v, block = _vectors(p, 1, 1)[:, 0], _vectors(p, 4, 2)
        torch.testing.assert_close(op @ v, dense @ v, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(op.matvec(block), dense @ block, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(op.rmatvec(v), dense @ v, rtol=1e-10, atol=1e-12)
        assert op.num_products == 1 + 4 + 1
        lin = op.as_linear_operator()
        x = v.numpy()
        np.testing.assert_allclose(lin.matvec(x), (dense @ v).numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(lin.rmatvec(x), (dense @ v).numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(lin.matmat(block.numpy()), (dense @ block).numpy(), rtol=1e-10, atol=1e-12)
        assert op.num_products == 6 + 1 + 1 + 4
        torch.testing.assert_close(op.to_dense(), dense, rtol=1e-10, atol=1e-12)
        with pytest.raises(ValueError, match=rf"v: expected a vector \({p},\) or a block \({p}, K\)"):
            op @ torch.zeros(p + 1, dtype=torch.float64)


def test_the_jacobian_operator_keeps_the_contract(ls):
    dense = ls.jacobian()
    k, p = dense.shape
    op = ls.jacobian_operator()
    assert isinstance(op, CurvatureOperator) and op.shape == (k, p) and op.num_products == 0
    v, u = _vectors(p, 3, 3), _vectors(k, 2, 4)
    torch.testing.assert_close(op @ v, dense @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(op.jvp(v[:, 0]), dense @ v[:, 0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(op.rmatvec(u), dense.T @ u, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(op.vjp(u[:, 0]), dense.T @ u[:, 0], rtol=1e-10, atol=1e-12)
    assert op.num_products == 3 + 1 + 2 + 1
    lin = op.as_linear_operator()
    np.testing.assert_allclose(lin.matvec(v[:, 0].numpy()), (dense @ v[:, 0]).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lin.rmatvec(u[:, 0].numpy()), (dense.T @ u[:, 0]).numpy(), rtol=1e-10,
                               atol=1e-12)
    with pytest.raises(ValueError, match="u: expected"):
        op.vjp(torch.zeros(k + 1, dtype=torch.float64))


def test_every_result_carries_its_own_products(ls):
    p = ls.num_params
    pairs = ls.eigs(2, method="lanczos")
    assert isinstance(pairs, Eigenpairs) and 0 < pairs.num_products < 10 * p
    values, vectors = pairs
    assert values is pairs.values and vectors is pairs.vectors
    assert ls.eigs(2, method="dense").num_products == p
    assert ls.spectrum().num_products == p
    assert ls.trace(method="hutchinson", num_products=12).num_products == 12
    with pytest.warns(EstimateWarning):  # so few products leave a wide error bar, which it says
        assert ls.density(num_vectors=2, num_steps=5, deflation_steps=5).num_products == 5 + 2 * 5
    est = rw.core.spectrum_at(ls, ls.theta, exact=False, slq_vectors=2, slq_steps=5)
    assert est.num_products == 2 * 5
    again = pickle.loads(pickle.dumps(pairs))
    assert isinstance(again, Eigenpairs) and again.num_products == pairs.num_products
    torch.testing.assert_close(again.values, pairs.values)


def test_a_duck_typed_operator_is_counted_in_the_result():
    h = torch.diag(torch.arange(1.0, 31.0, dtype=torch.float64))

    class Op:
        shape, dtype, device, num_products = (30, 30), torch.float64, torch.device("cpu"), 0

        def matvec(self, v):
            self.num_products += 1 if v.ndim == 1 else v.shape[1]
            return h @ v

    op = Op()
    assert isinstance(op, LinearOperatorLike)
    pairs = rw.core.curvature.eigensolver.lanczos_eigs(op, 2)
    assert pairs.num_products == op.num_products > 0
    t = rw.core.curvature.trace_estimators.trace(op, method="hutchinson", num_products=8)
    assert t.num_products == 8 and op.num_products == pairs.num_products + 8
