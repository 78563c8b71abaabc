"""Seeded blocks for the model builders and the experiments, leaving the caller's generator alone."""
from __future__ import annotations

import contextlib

import torch

from ..core._torch_state import GLOBAL_RNG_LOCK
from ..core.validation import check_seed


@contextlib.contextmanager
def seeded(seed: int | None):
    """Run a block with torch's CPU generator seeded, restoring the caller's generator state after.

    ``seed=None`` leaves the global generator alone (the block draws from it as usual). The generator is
    one per process, so a seeded block holds :data:`~rashomon_widgets.core._torch_state.GLOBAL_RNG_LOCK`:
    two threads' seeded blocks run one after the other and each sees exactly its seed's draws.

    Args:
        seed: an int >= 0, or None.

    Raises:
        TypeError, ValueError: a seed that is not an int >= 0.
    """
    if seed is None:
        yield
        return
    seed = check_seed(seed)
    with GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
