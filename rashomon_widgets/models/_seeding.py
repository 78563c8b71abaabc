"""Seeded blocks for the model builders and the experiments, leaving the caller's generator alone."""
from __future__ import annotations

import contextlib

import torch

from ..core.validation import check_seed


@contextlib.contextmanager
def seeded(seed: int | None):
    """Run a block with torch's CPU generator seeded, restoring the caller's generator state after.

    ``seed=None`` leaves the global generator alone (the block draws from it as usual).

    Args:
        seed: an int >= 0, or None.

    Raises:
        TypeError, ValueError: a seed that is not an int >= 0.
    """
    if seed is None:
        yield
        return
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
