"""The Krylov-Schur Lanczos of ``lanczos_eigs``: accuracy against dense ``eigh`` (its stopping bound is an
eigenvalue error bound), restarts, breakdowns, warm starts, ARPACK as a second method, and its errors."""
import numpy as np
import pytest
import torch
from scipy.sparse.linalg import LinearOperator

import rashomon_widgets as rw
from rashomon_widgets.core.curvature.eigensolver import NoConvergence, lanczos_eigs

from ..conftest import Stop, stopping_progress


class DiagonalOp:
    """A symmetric operator with known eigenvalues (a rotated diagonal), counting its products."""

    def __init__(self, eigenvalues, *, dtype=torch.float64, seed=0):
        values = torch.as_tensor(eigenvalues, dtype=torch.float64)
        p = len(values)
        q, _ = torch.linalg.qr(torch.randn(p, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
        self.matrix = (q * values) @ q.T
        self.values = values.sort(descending=True).values
        self.shape, self.dtype, self.device = (p, p), dtype, torch.device("cpu")
        self.num_products = 0

    def matvec(self, v):
        self.num_products += 1
        return (self.matrix @ v.double()).to(self.dtype)

    def as_linear_operator(self):
        return LinearOperator(self.shape, matvec=lambda x: self.matvec(torch.as_tensor(x).reshape(-1)).numpy(),
                              dtype=np.float64)


def _spread(p=300, seed=1):
    """Eigenvalues like a trained network's Hessian: a few outliers above a bulk near zero."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.tensor([9.0, 7.5, 6.0, 5.2, 4.0, 3.1]), 0.5 * torch.rand(p - 6, generator=g)])


@pytest.mark.parametrize("tol", [1e-4, 1e-6, 1e-9])
def test_stopping_bound_holds_against_eigh(tol):
    op = DiagonalOp(_spread())
    values, vectors = lanczos_eigs(op, 5, tol=tol)
    err = ((values - op.values[:5]) / op.values[:5]).abs()
    assert float(err.max()) <= tol
    torch.testing.assert_close(vectors.T @ vectors, torch.eye(5, dtype=torch.float64), atol=1e-10, rtol=0)
    residual = op.matrix @ vectors - vectors * values
    assert float(residual.norm(dim=0).max()) < 1e-2


def test_fewer_products_than_arpack_for_the_same_accuracy():
    """Second method: scipy's ARPACK on the same operator agrees, and needs more products."""
    ours, arpack = DiagonalOp(_spread()), DiagonalOp(_spread())
    v1, _ = lanczos_eigs(ours, 5, tol=1e-8)
    v2, _ = lanczos_eigs(arpack, 5, tol=1e-8, solver="arpack")
    torch.testing.assert_close(v1, v2, rtol=1e-8, atol=0)
    assert ours.num_products < arpack.num_products


def test_restarts_keep_the_answer():
    """ncv = 8 for k = 3 forces many restarts; the answer is still the top 3 to tol."""
    op = DiagonalOp(_spread(seed=3))
    values, vectors = lanczos_eigs(op, 3, tol=1e-10, ncv=8)
    assert op.num_products > 8
    torch.testing.assert_close(values, op.values[:3], rtol=1e-10, atol=0)
    torch.testing.assert_close(vectors.T @ vectors, torch.eye(3, dtype=torch.float64), atol=1e-10, rtol=0)


def test_smallest_end():
    op = DiagonalOp(torch.linspace(-2.0, 5.0, 120))
    values, _ = lanczos_eigs(op, 4, "smallest", tol=1e-10, ncv=60)
    torch.testing.assert_close(values, torch.linspace(-2.0, 5.0, 120)[:4].double(), rtol=1e-9, atol=1e-9)


def test_repeated_eigenvalues_after_a_breakdown():
    """Three distinct eigenvalues: the Krylov space of one vector closes after 3 steps; fresh vectors
    continue it, so an eigenvalue of multiplicity 2 is found twice."""
    op = DiagonalOp([3.0, 3.0, 2.0, 2.0] + [0.0] * 36)
    values, vectors = lanczos_eigs(op, 4, tol=1e-10)
    torch.testing.assert_close(values, torch.tensor([3.0, 3.0, 2.0, 2.0], dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(vectors.T @ vectors, torch.eye(4, dtype=torch.float64), atol=1e-9, rtol=0)


def test_float32_operator_keeps_float64_accuracy_of_the_recurrence():
    """The recurrence runs in float64: a float32 operator's eigenvalues come out to its own rounding, not
    to the 1e-5 that a float32 recurrence reached on PreResNet20."""
    op = DiagonalOp(_spread(), dtype=torch.float32)
    values, vectors = lanczos_eigs(op, 5, tol=1e-6)
    assert values.dtype == vectors.dtype == torch.float32
    assert float(((values.double() - op.values[:5]) / op.values[:5]).abs().max()) < 2e-6


def test_warm_start_at_a_nearby_point_needs_fewer_products():
    base = _spread(seed=5)
    first = DiagonalOp(base, seed=2)
    _, vectors = lanczos_eigs(first, 5)
    # the nearby operator: the same eigenvectors slightly rotated, eigenvalues slightly moved
    near = DiagonalOp(base * 1.001, seed=2)
    a = torch.randn(300, 300, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    rot = torch.linalg.matrix_exp(1e-3 * (a - a.T))
    near.matrix = rot @ near.matrix @ rot.T
    cold = DiagonalOp(base * 1.001, seed=2)
    cold.matrix = near.matrix
    v_cold, _ = lanczos_eigs(cold, 5)
    v_warm, _ = lanczos_eigs(near, 5, start=vectors)
    torch.testing.assert_close(v_warm, v_cold, rtol=1e-6, atol=0)
    torch.testing.assert_close(v_warm, near.values[:5], rtol=1e-6, atol=0)
    assert near.num_products < cold.num_products


def test_warm_start_from_the_exact_eigenvectors_stops_after_k_plus_one_products():
    op = DiagonalOp(_spread(seed=6))
    _, vectors = lanczos_eigs(DiagonalOp(_spread(seed=6)), 5, tol=1e-12)
    values, _ = lanczos_eigs(op, 5, start=vectors)
    torch.testing.assert_close(values, op.values[:5], rtol=1e-6, atol=0)
    assert op.num_products <= 6


def test_errors_say_what_was_expected():
    op = DiagonalOp(_spread(40))
    with pytest.raises(ValueError, match=r"start: expected vectors \(P,\) or \(P, j\) with P=40, got shape \(39,\)"):
        lanczos_eigs(op, 3, start=torch.ones(39))
    with pytest.raises(ValueError, match="solver='krylov-schur'"):
        lanczos_eigs(op, 3, start=torch.ones(40), solver="arpack")
    with pytest.raises(ValueError, match="solver"):
        lanczos_eigs(op, 3, solver="lobpcg")
    with pytest.raises(ValueError, match="ncv"):
        lanczos_eigs(op, 5, ncv=5)
    with pytest.raises(NoConvergence, match=r"raise maxiter or ncv, or loosen tol"):
        lanczos_eigs(DiagonalOp(torch.linspace(1.0, 1.01, 200)), 3, tol=1e-12, ncv=6, maxiter=1)


def test_progress_may_stop_the_run():
    op = DiagonalOp(_spread())
    progress, seen = stopping_progress(4)
    with pytest.raises(Stop):
        lanczos_eigs(op, 5, progress=progress)
    assert op.num_products == 4 and seen[0][0] == 0 and all(t == seen[0][1] for _, t in seen)


def test_landscape_eigs_warm_start_and_spectrum_at_top_k():
    """Through the public API: ``ls.eigs(start=)`` and ``spectrum_at(top_k=, start=)`` against dense eigh."""
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    x, y = torch.randn(40, 6, dtype=torch.float64), torch.randn(40, 3, dtype=torch.float64)
    ls = rw.Landscape(model, lambda o, t: ((o - t) ** 2).mean(), (x, y))
    exact = torch.linalg.eigvalsh(ls.hessian()).flip(0)[:3]
    values, vectors = cold = ls.eigs(3, method="lanczos")
    torch.testing.assert_close(values, exact, rtol=1e-6, atol=0)
    nearby = ls.theta + 1e-3 * torch.randn(ls.num_params, generator=torch.Generator().manual_seed(1), dtype=ls.dtype)
    near_exact = torch.linalg.eigvalsh(ls.hessian(nearby)).flip(0)[:3]
    warm, _ = warm_pairs = ls.eigs(3, theta=nearby, method="lanczos", start=vectors)
    torch.testing.assert_close(warm, near_exact, rtol=1e-6, atol=0)
    assert 0 < warm_pairs.num_products < cold.num_products

    est = rw.core.spectrum_at(ls, ls.theta, exact=False, slq_vectors=2, slq_steps=10, top_k=3)
    torch.testing.assert_close(torch.as_tensor(est.top_values), exact, rtol=1e-6, atol=0)
    assert est.top_vectors.shape == (ls.num_params, 3)
    plain = rw.core.spectrum_at(ls, ls.theta, exact=False, slq_vectors=2, slq_steps=10)
    assert est.num_near_zero == plain.num_near_zero and len(plain.top_values) == 0  # the count is unchanged

    counts = {}
    for label, start in (("cold", None), ("warm", est.top_vectors)):
        calls = []
        later = rw.core.spectrum_at(ls, nearby, exact=False, slq_vectors=2, slq_steps=10, top_k=3, start=start,
                                    progress=lambda d, n: calls.append(d))
        counts[label] = len(calls)
        torch.testing.assert_close(torch.as_tensor(later.top_values), near_exact, rtol=1e-6, atol=0)
    assert counts["warm"] < counts["cold"]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_zero_eigenvalues_at_either_end_converge_to_the_rounding_floor(dtype):
    """A minimum's null space: 40 exact zeros below a spread of positive eigenvalues. "smallest" asks for
    zeros, which no relative tolerance can reach (the limit is the products' rounding, 10 eps x scale), and
    for three copies of one eigenvalue, of which a single start vector sees one."""
    values = torch.cat([torch.zeros(40), torch.linspace(0.5, 6.0, 80)])
    op = DiagonalOp(values, dtype=dtype)
    low, vectors = lanczos_eigs(op, 3, "smallest", tol=1e-8)
    scale, eps = 6.0, torch.finfo(dtype).eps
    # three zeros, not one zero and the next two eigenvalues (0.5, 0.57): one start vector sees one copy
    assert float(low.abs().max()) <= (1e-9 if dtype == torch.float64 else 1e-5) * scale
    # null vectors, to a residual of first order where the eigenvalues' bound is of second order
    assert float((op.matrix @ vectors.double()).norm(dim=0).max()) <= (1e-6 if dtype == torch.float64 else 1e-3) * scale
    torch.testing.assert_close(vectors.T.double() @ vectors.double(), torch.eye(3, dtype=torch.float64),
                               atol=1e-6, rtol=0)
    # rank 4 and k = 5 at the other end (XOR at a minimum): four eigenvalues and one zero
    op = DiagonalOp(torch.cat([torch.tensor([4.0, 3.0, 2.0, 1.0]), torch.zeros(30)]), dtype=dtype)
    top, _ = lanczos_eigs(op, 5, tol=1e-8)
    torch.testing.assert_close(top.double(), torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0], dtype=torch.float64),
                               atol=1e3 * eps * 4, rtol=1e-6 if dtype == torch.float32 else 1e-8)


def test_an_eigenvalue_found_twice_is_searched_for_again():
    """5 with multiplicity 3: the first run finds it once or twice (rounding); two equal values send the
    search to the complement, which finds the third copy."""
    op = DiagonalOp(torch.cat([torch.tensor([5.0, 5.0, 5.0, 3.0]), torch.linspace(0.0, 1.0, 100)]))
    values, vectors = lanczos_eigs(op, 4, tol=1e-10)
    torch.testing.assert_close(values, torch.tensor([5.0, 5.0, 5.0, 3.0], dtype=torch.float64), rtol=1e-9, atol=0)
    torch.testing.assert_close(vectors.T @ vectors, torch.eye(4, dtype=torch.float64), atol=1e-9, rtol=0)
