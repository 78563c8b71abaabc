"""Validation and seeding helpers of the model builders (messages say what was expected and what came)."""
from __future__ import annotations

import contextlib
import math
import numbers

import torch

from ..data._checks import check_choice, check_float_dtype, check_int, check_seed, describe

__all__ = ["check_choice", "check_float_dtype", "check_int", "check_seed", "describe",
           "check_positive", "check_nonnegative", "seeded"]


def _check_real(value, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected {what}, got {describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected {what}, got {value}")
    return value


def check_positive(value, name: str) -> float:
    """A finite real number > 0."""
    value = _check_real(value, name, "a finite number > 0")
    if value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value}")
    return value


def check_nonnegative(value, name: str) -> float:
    """A finite real number >= 0."""
    value = _check_real(value, name, "a finite number >= 0")
    if value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value}")
    return value


@contextlib.contextmanager
def seeded(seed: int | None):
    """Run a block with torch's CPU generator seeded, restoring the caller's generator state after.

    ``seed=None`` leaves the global generator alone (the block draws from it as usual).
    """
    if seed is None:
        yield
        return
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
