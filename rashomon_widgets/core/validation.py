"""Input validation shared by the core: every message says what was expected and what came."""
from __future__ import annotations

import math

import torch


def describe(x) -> str:
    """A short description of a value for error messages."""
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)}, dtype {x.dtype}, on {x.device}"
    return f"{type(x).__name__}"


def check_vectors(v, num_params: int, dtype: torch.dtype, device: torch.device, *,
                  name: str = "v", allow_matrix: bool = False, rows: bool = False) -> torch.Tensor:
    """Validate a parameter-space vector (P,) or, with ``allow_matrix``, a block (P, K); with
    ``rows``, a stack of parameter vectors (M, P).

    Raises:
        TypeError: ``v`` is not a tensor, or has the wrong dtype.
        ValueError: wrong shape, wrong device, or non-finite entries.
    """
    shape = "(M, P)" if rows else "(P,) or (P, K)" if allow_matrix else "(P,)"
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape {shape} with P={num_params}, "
                        f"got {describe(v)}")
    if rows:
        ok = v.ndim == 2 and v.shape[1] == num_params
    else:
        ok = (v.ndim == 1 or (allow_matrix and v.ndim == 2)) and v.shape[0] == num_params
    if not ok:
        raise ValueError(f"{name}: expected shape {shape} with P={num_params} (the number of model "
                         f"parameters), got shape {tuple(v.shape)}")
    if v.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the model's), got {v.dtype}; "
                        f"convert with {name}.to({dtype})")
    if v.device != device:
        raise ValueError(f"{name}: expected a tensor on {device} (the model's device), got one on "
                         f"{v.device}; move it with {name}.to('{device}')")
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return v


def check_point(x, name: str, like: torch.Tensor | None = None, like_name: str = "the first vector") -> torch.Tensor:
    """Validate one flat, finite, floating-point parameter vector (P,); with ``like``, one of the same
    length, dtype and device (``like_name`` names it in the message).

    Raises:
        TypeError: not a tensor, or not floating point.
        ValueError: wrong shape, empty, unlike ``like``, or non-finite entries.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a flat parameter vector (a torch.Tensor of shape (P,)), "
                        f"got {describe(x)}")
    if x.ndim != 1 or x.numel() == 0:
        raise ValueError(f"{name}: expected a flat parameter vector of shape (P,), got shape {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name}: expected a floating-point vector, got dtype {x.dtype}")
    if like is not None:
        if x.shape != like.shape:
            raise ValueError(f"{name}: expected {like.numel()} entries like {like_name} (the same model), "
                             f"got {x.numel()}")
        if x.dtype != like.dtype or x.device != like.device:
            raise ValueError(f"{name}: expected dtype {like.dtype} on {like.device} like {like_name}, got "
                             f"{x.dtype} on {x.device}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return x


def check_int(value, name: str, low: int, high: int) -> int:
    """Validate an integer in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int in [{low}, {high}], got {describe(value)}")
    if not low <= value <= high:
        raise ValueError(f"{name}: expected an int in [{low}, {high}], got {value}")
    return value


def check_choice(value, name: str, choices) -> str:
    """Validate a string option."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_finite_loss(value: float, where: str) -> float:
    """Raise if a loss value is NaN or inf."""
    if not math.isfinite(value):
        raise ValueError(f"{where}: the loss is {value}; expected a finite number. Check the "
                         "parameters (NaN/inf weights?) and the data.")
    return value


def check_tolerance(value, name: str = "tol") -> float:
    """Validate a relative tolerance in [0, 1).

    Raises:
        TypeError: not a real number.
        ValueError: outside [0, 1) or not finite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
            isinstance(value, torch.Tensor) and value.ndim == 0):
        raise TypeError(f"{name}: expected a relative tolerance in [0, 1), got {describe(value)}")
    value = float(value)
    if not (math.isfinite(value) and 0 <= value < 1):
        raise ValueError(f"{name}: expected a relative tolerance in [0, 1), got {value}")
    return value
