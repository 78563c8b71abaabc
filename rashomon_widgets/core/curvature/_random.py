"""Reproducible random probe vectors.

Each function draws from a fresh ``torch.Generator`` seeded with ``seed``, or continues a generator the
caller passes (so that one seed can feed several draws whose sizes are known only as they come).
"""
from __future__ import annotations

import torch


def generator(seed: int, device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def rademacher(shape, *, seed: int | None = None, dtype, device,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Random +-1 entries, reproducible from ``seed`` (or drawn from ``generator``)."""
    g = generator if generator is not None else _seeded(seed, device)
    return torch.randint(0, 2, shape, generator=g, device=device).to(dtype) * 2 - 1


def gaussian(shape, *, seed: int | None = None, dtype, device,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal entries, reproducible from ``seed`` (or drawn from ``generator``); drawn in
    float64 and then converted, so the values do not depend on ``dtype`` beyond rounding."""
    g = generator if generator is not None else _seeded(seed, device)
    return torch.randn(shape, generator=g, dtype=torch.float64, device=device).to(dtype)


def _seeded(seed, device) -> torch.Generator:
    if seed is None:
        raise TypeError("seed: expected an int seed or a generator, got neither")
    return generator(seed, device)
