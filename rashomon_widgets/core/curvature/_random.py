"""Reproducible random probe vectors."""
from __future__ import annotations

import torch


def _generator(seed: int, device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def rademacher(shape, *, seed: int, dtype, device) -> torch.Tensor:
    """Random +-1 entries, reproducible from ``seed``."""
    g = _generator(seed, device)
    return torch.randint(0, 2, shape, generator=g, device=device).to(dtype) * 2 - 1
