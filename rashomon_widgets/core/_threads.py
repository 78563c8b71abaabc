"""Keep scipy's BLAS single-threaded while it drives torch (ARPACK, LSQR).

scipy's iterative solvers do tiny BLAS work between Hessian/Jacobian products computed by torch. With both
OpenBLAS and torch's OpenMP pool spinning on the same few cores, each product was measured 10-40x slower
on a 2-core machine (digits MLP: eigs 8-14 s instead of 0.3 s). Limiting BLAS to one thread inside the
solver leaves the cores to torch.
"""
from __future__ import annotations

from threadpoolctl import threadpool_limits


def solver_threads():
    """Context manager: BLAS libraries limited to one thread (torch's own pool is untouched)."""
    return threadpool_limits(limits=1, user_api="blas")
