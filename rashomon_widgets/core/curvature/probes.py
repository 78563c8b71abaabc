"""Reproducible random probe vectors.

Each function draws from a fresh ``torch.Generator`` seeded with ``seed``, or continues a generator the
caller passes (so that one seed can feed several draws whose sizes are known only as they come).
"""
from __future__ import annotations

import torch


def generator(seed: int, device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``.

    Args:
        seed: the seed.
        device: where the generator draws (``"cpu"``, ``"cuda"``, a ``torch.device``).

    Returns:
        the seeded generator.

    Example:
        >>> g = generator(0, "cpu")
        >>> bool((gaussian((3,), generator=g, dtype=torch.float64, device="cpu") ==
        ...       gaussian((3,), seed=0, dtype=torch.float64, device="cpu")).all())
        True
    """
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def rademacher(shape, *, seed: int | None = None, dtype, device,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Random +-1 entries, reproducible from ``seed`` (or drawn from ``generator``).

    Args:
        shape: the tensor's shape.
        seed: seed of a fresh generator (when ``generator`` is None).
        dtype: the result's dtype.
        device: the result's device.
        generator: a generator to continue instead.

    Returns:
        a tensor of ``shape`` with entries -1 and +1, equally likely.

    Raises:
        TypeError: neither ``seed`` nor ``generator`` given.

    Example:
        >>> rademacher((4,), seed=0, dtype=torch.float64, device="cpu").abs().tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    g = generator if generator is not None else _seeded(seed, device)
    return torch.randint(0, 2, shape, generator=g, device=device).to(dtype) * 2 - 1


def gaussian(shape, *, seed: int | None = None, dtype, device,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal entries, reproducible from ``seed`` (or drawn from ``generator``).

    Drawn in float64 and then converted, so the values do not depend on ``dtype`` beyond rounding.

    Args:
        shape: the tensor's shape.
        seed: seed of a fresh generator (when ``generator`` is None).
        dtype: the result's dtype.
        device: the result's device.
        generator: a generator to continue instead.

    Returns:
        a tensor of ``shape`` with independent standard normal entries.

    Raises:
        TypeError: neither ``seed`` nor ``generator`` given.

    Example:
        >>> gaussian((2, 3), seed=1, dtype=torch.float32, device="cpu").shape
        torch.Size([2, 3])
    """
    g = generator if generator is not None else _seeded(seed, device)
    return torch.randn(shape, generator=g, dtype=torch.float64, device=device).to(dtype)


def _seeded(seed, device) -> torch.Generator:
    if seed is None:
        raise TypeError("seed: expected an int seed or a generator, got neither")
    return generator(seed, device)
