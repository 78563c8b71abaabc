"""Input validation shared by the data readers: every message says what was expected and what came."""
from __future__ import annotations

import math
import numbers

import torch


def describe(x) -> str:
    """A short description of a value for error messages."""
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)}, dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}" if isinstance(x, (numbers.Number, str)) else type(x).__name__


def check_int(value, name: str, *, minimum: int = 1) -> int:
    """An integer (not a bool) at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_seed(seed, name: str = "seed") -> int:
    """A non-negative integer seed."""
    return check_int(seed, name, minimum=0)


def check_float_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """A floating-point ``torch.dtype``."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name}: expected a floating-point torch.dtype such as torch.float32, "
                        f"got {describe(dtype)}")
    return dtype


def check_fraction(value, name: str) -> float:
    """A real number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number strictly between 0 and 1, got {describe(value)}")
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(f"{name}: expected a number strictly between 0 and 1, got {value}")
    return float(value)


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    """One of a fixed set of strings."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(repr(c) for c in choices)}, "
                         f"got {describe(value)}")
    return value
