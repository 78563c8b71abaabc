"""Process-wide torch state, and the locks that let threads share it.

Some of torch's state is one per process, not one per thread, so two threads that touch it at once
corrupt each other's results (a forward-over-reverse HVP in one thread while another computes one can
give a wrong answer or fail with "Trying to access a forward AD level with an invalid index"). The package
touches four such pieces of state:

* **forward-mode AD levels** (``torch.autograd.forward_ad``, used by ``torch.func.jvp``): levels are
  numbered process-wide and only one may be open. Every forward-mode computation of the package runs
  under :data:`FORWARD_AD_LOCK` (:func:`forward_ad`), so one runs at a time in the process;
  reverse-mode work (gradients, double-backward HVPs, ``jacrev``, ``vmap``) runs in parallel.
* **scaled-dot-product-attention kernel flags**: ``_attention.math_attention`` counts entries under its
  own lock (the first entry selects the math kernel, the last exit restores the flags).
* **the global random generator**: :func:`seeded` reseeds it for a block (model
  initialisation, training with dropout) under :data:`GLOBAL_RNG_LOCK`, so two seeded blocks never
  interleave their draws (without it, two threads' seeded builders would draw one another's numbers).
  Everything else in the package draws from its own ``torch.Generator``. A thread of
  the user's that draws from the global generator meanwhile (``torch.rand`` outside any seeded block)
  still moves a seeded block's draws: seed such work with a ``torch.Generator`` of its own.
* **the default dtype and the intra-op thread count**: never changed in-process by the package (the
  sweeps' ``torch.set_num_threads(1)`` runs only in their worker processes). scipy's iterative solvers
  (ARPACK, LSQR) drive torch's products with tiny BLAS steps in between; with OpenBLAS's and torch's
  thread pools spinning on the same cores each product waits on the other pool, so the solvers run
  under :func:`solver_threads` (BLAS limited to one thread, torch's pool untouched).

Code outside this package that uses forward-mode AD in another thread at the same time is not covered:
wrap it in ``with rashomon_widgets.core.forward_ad():``.
"""
from __future__ import annotations

import contextlib
import threading

import torch
from threadpoolctl import threadpool_limits

from .validation import check_seed

__all__ = ["FORWARD_AD_LOCK", "GLOBAL_RNG_LOCK", "forward_ad", "seeded", "solver_threads"]

#: Held while forward-mode AD levels are open (re-entrant: a forward-mode call may nest another).
FORWARD_AD_LOCK = threading.RLock()
#: Held while a block reseeds and draws from torch's global random generator.
GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def forward_ad():
    """Run a block of forward-mode AD (``torch.func.jvp``, ``torch.autograd.forward_ad``) alone in the
    process: other threads' forward-mode blocks wait.

    Example:
        >>> import torch
        >>> with forward_ad():
        ...     _, tangent = torch.func.jvp(torch.sin, (torch.zeros(2),), (torch.ones(2),))
        >>> tangent.tolist()
        [1.0, 1.0]
    """
    with FORWARD_AD_LOCK:
        yield


@contextlib.contextmanager
def seeded(seed: int | None):
    """Run a block with torch's CPU generator seeded, restoring the caller's generator state after.

    ``seed=None`` leaves the global generator alone (the block draws from it as usual). The generator is
    one per process, so a seeded block holds :data:`GLOBAL_RNG_LOCK`: two threads' seeded blocks run one
    after the other and each sees exactly its seed's draws.

    Args:
        seed: an int >= 0, or None.

    Raises:
        TypeError, ValueError: a seed that is not an int >= 0.

    Example:
        >>> with seeded(0):
        ...     a = torch.rand(2)
        >>> with seeded(0):
        ...     b = torch.rand(2)
        >>> bool((a == b).all())
        True
    """
    if seed is None:
        yield
        return
    seed = check_seed(seed)
    with GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def solver_threads():
    """Context manager: BLAS libraries limited to one thread (torch's own pool is untouched)."""
    return threadpool_limits(limits=1, user_api="blas")
