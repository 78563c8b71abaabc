"""Keep scipy's BLAS single-threaded while it drives torch (ARPACK, LSQR).

scipy's iterative solvers do tiny BLAS work between Hessian/Jacobian products computed by torch. With both
OpenBLAS's and torch's OpenMP thread pools spinning on the same few cores, they oversubscribe them and each
product waits on the other pool's busy threads. Limiting BLAS to one thread inside the solver leaves the
cores to torch.
"""
from __future__ import annotations

from threadpoolctl import threadpool_limits


def solver_threads():
    """Context manager: BLAS libraries limited to one thread (torch's own pool is untouched)."""
    return threadpool_limits(limits=1, user_api="blas")
