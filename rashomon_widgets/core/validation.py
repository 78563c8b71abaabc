"""Input validation for the whole package: every message says what was expected and what came.

Every ``check_*(value, name, ...)`` takes the value and the name the user knows it by, returns the
value (normalised: an ``int``, a ``float``, a ``Path``) and raises ``TypeError`` for a value of the
wrong kind, ``ValueError`` for one of the right kind but out of range or shape. Messages read
``"{name}: expected {what}, got {value}"``; ``what`` arguments override the expectation in words.
"""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch


def describe(x) -> str:
    """A short description of a value for error messages.

    Args:
        x: any value.

    Returns:
        ``"tensor of shape (3,), dtype torch.float32, on cpu"``, ``"int 5"``, ``"str 'abc'"``, or the
        type's name.
    """
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)}, dtype {x.dtype}, on {x.device}"
    if isinstance(x, str):
        return f"str {x[:60]!r}" + ("..." if len(x) > 60 else "")
    if isinstance(x, numbers.Number):
        return f"{type(x).__name__} {x}"
    return type(x).__name__


# ----------------------------------------------------------------------------------------- numbers
def check_int(value, name: str, low: int = 1, high: int | None = None) -> int:
    """An integer (any ``numbers.Integral`` but bool) in ``[low, high]``, or ``>= low`` if ``high`` is None;
    returned as an ``int``."""
    what = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected {what}, got {describe(value)}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}: expected {what}, got {value}")
    return int(value)


def check_ints(values, name: str, low: int = 0) -> list[int]:
    """An iterable of ints ``>= low`` as a list without repeats (in first-seen order).

    Raises:
        TypeError: not an iterable (a string is refused), or an entry that is not an int.
        ValueError: an entry below ``low``, or no entries.

    Example:
        >>> check_ints([3, 1, 3], "seeds")
        [3, 1]
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name}: expected an iterable of ints >= {low}, got {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        v = check_int(v, f"{name}[{i}]", low)
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError(f"{name}: expected at least one value, got none")
    return out


def check_seed(seed, name: str = "seed") -> int:
    """A random seed: an int >= 0 (see :func:`check_int`)."""
    return check_int(seed, name, 0)


def _bounds(low, high, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return "a finite number"
    if high is None:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"a finite number {'<' if high_open else '<='} {high:g}"
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_real(value, name: str, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False, what: str | None = None) -> float:
    """A real number (not a bool; a 0-dim real tensor counts) between two bounds.

    A bound of None means "no bound, but finite"; a closed infinite bound admits the infinity
    (``low=0, high=math.inf`` allows ``inf``). NaN never passes.

    Args:
        low, high: the bounds, or None.
        low_open, high_open: exclude the bound itself (``low_open=True`` means ``> low``).
        what: the expectation in words (default from the bounds: ``"a number in [0, 1)"``,
            ``"a finite number > 0"``).

    Returns:
        ``value`` as a ``float``.

    Raises:
        TypeError: not a real number.
        ValueError: NaN, an infinity no bound admits, or out of range.
    """
    what = what or _bounds(low, high, low_open, high_open)
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.dtype.is_complex \
            and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected {what}, got {describe(value)}")
    number = float(value)
    ok = not math.isnan(number)
    ok = ok and (number > -math.inf if low is None else number > low if low_open else number >= low)
    ok = ok and (number < math.inf if high is None else number < high if high_open else number <= high)
    if not ok:
        raise ValueError(f"{name}: expected {what}, got {value}")
    return number


def check_positive(value, name: str, what: str = "a positive number") -> float:
    """A finite real number > 0 (see :func:`check_real`)."""
    return check_real(value, name, 0.0, low_open=True, what=what)


def check_nonnegative(value, name: str, what: str = "a non-negative number") -> float:
    """A finite real number >= 0 (see :func:`check_real`)."""
    return check_real(value, name, 0.0, what=what)


def check_fraction(value, name: str) -> float:
    """A real number strictly between 0 and 1 (see :func:`check_real`)."""
    return check_real(value, name, 0.0, 1.0, low_open=True, high_open=True)


def check_tolerance(value, name: str = "tol", *, what: str = "a relative tolerance") -> float:
    """A relative tolerance in [0, 1) (see :func:`check_real`); ``what`` names its kind."""
    return check_real(value, name, 0.0, 1.0, high_open=True, what=f"{what} in [0, 1)")


def check_finite_loss(value: float, where: str) -> float:
    """A finite loss value.

    Args:
        value: the loss.
        where: what computed it, for the message.

    Returns:
        ``value``.

    Raises:
        ValueError: the loss is NaN or inf.
    """
    if not math.isfinite(value):
        raise ValueError(f"{where}: the loss is {value}, not finite; expected a finite number. Check the "
                         "parameters (NaN/inf weights?) and the data.")
    return value


# ----------------------------------------------------------------------------------------- options, objects
def check_choice(value, name: str, choices):
    """One of a fixed set of options (strings, or None where None is one of ``choices``); a
    ``ValueError`` lists them in their order."""
    try:
        ok = value in choices
    except (TypeError, RuntimeError):  # e.g. a tensor, whose == is elementwise
        ok = False
    if not ok:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_callable(value, name: str, usage: str, *, optional: bool = False):
    """A callable; ``usage`` shows how it is called (``"progress(done, total)"``); None if ``optional``."""
    if optional and value is None:
        return value
    if not callable(value):
        raise TypeError(f"{name}: expected a callable {usage}{' or None' if optional else ''}, "
                        f"got {describe(value)}")
    return value


def check_module(value, name: str = "model") -> torch.nn.Module:
    """A ``torch.nn.Module``."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name}: expected a torch.nn.Module, got {describe(value)}")
    return value


def check_path(value, name: str = "path", what: str = "a file path") -> Path:
    """A file-system path (``str`` or ``os.PathLike``), returned as a ``Path`` with ``~`` expanded;
    ``what`` says which kind (``"a folder path"``)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected {what} (str or os.PathLike), got {describe(value)}")
    return Path(value).expanduser()


def check_float_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """A floating-point ``torch.dtype``."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name}: expected a floating-point torch.dtype such as torch.float32, "
                        f"got {describe(dtype)}")
    return dtype


# ----------------------------------------------------------------------------------------- vectors
def check_vectors(v, num_params: int, dtype: torch.dtype, device: torch.device, *,
                  name: str = "v", allow_matrix: bool = False, rows: bool = False) -> torch.Tensor:
    """A parameter-space vector (P,) of the model's dtype and device, finite.

    Args:
        num_params, dtype, device: P and the model's dtype and device.
        allow_matrix: also accept a block of K vectors as columns (P, K).
        rows: expect a stack of vectors as rows (M, P) instead.

    Returns:
        ``v`` itself.

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
    if not all_finite(v):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return v


def all_finite(v: torch.Tensor) -> bool:
    """Whether every entry of ``v`` is finite: a finite sum proves it in one cheap pass (any NaN or inf
    makes the sum NaN or inf); only a sum that is not finite (a bad entry, or an overflow) checks each entry.

    Args:
        v: a floating-point tensor.

    Returns:
        True if no entry is NaN or inf.
    """
    return bool(torch.isfinite(v.sum())) or bool(torch.isfinite(v).all())


def check_flat(x, name: str):
    """``x`` unchanged, unless it is a tensor that is not a flat vector (P,): then a message that says so.

    A landscape's ``check_theta`` reads a (P, 1) or (1, P) tensor as P numbers; a path's end points and
    centres must be one point, so the shape is refused here, before that.

    Raises:
        ValueError: a tensor whose ``ndim`` is not 1.
    """
    if isinstance(x, torch.Tensor) and x.ndim != 1:
        raise ValueError(f"{name}: expected a flat parameter vector (P,), got shape {tuple(x.shape)}")
    return x


def check_point(x, name: str, like: torch.Tensor | None = None, like_name: str = "the first vector") -> torch.Tensor:
    """One flat, finite, floating-point parameter vector (P,), when no model is at hand.

    Args:
        like: a vector ``x`` must match in length, dtype and device (``like_name`` names it).

    Returns:
        ``x`` itself.

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
    if not all_finite(x):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return x


# ----------------------------------------------------------------------------------------- curves
def check_curve_ts(ts, name: str = "ts") -> torch.Tensor:
    """Values of a curve's parameter t: a number or a 1-D sequence, all in [0, 1].

    Returns:
        a float64 CPU tensor (M,).

    Raises:
        TypeError: not numbers.
        ValueError: more than one dimension, no values, or a value outside [0, 1] (or not finite).
    """
    if isinstance(ts, torch.Tensor):
        arr = ts.detach().double().cpu()
    else:
        try:
            arr = torch.as_tensor(np.asarray(ts, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected numbers in [0, 1], got {describe(ts)}") from None
    if arr.ndim > 1:
        raise ValueError(f"{name}: expected a number or a 1-D sequence of numbers in [0, 1], got shape "
                         f"{tuple(arr.shape)}")
    arr = arr.reshape(-1)
    if arr.numel() == 0:
        raise ValueError(f"{name}: expected at least one value in [0, 1], got none")
    bad = ~torch.isfinite(arr) | (arr < 0) | (arr > 1)
    if bool(bad.any()):
        raise ValueError(f"{name}: expected values in [0, 1] (t = 0 is theta_a, t = 1 is theta_b), got "
                         f"{float(arr[bad][0])!r}")
    return arr


def check_curve_t(t, name: str = "t") -> float:
    """One value of a curve's parameter t, in [0, 1] (a 0-dim tensor counts).

    Returns:
        ``t`` as a ``float``.

    Raises:
        TypeError: not a single number (the message points to ``curve.points(ts)`` for many).
        ValueError: outside [0, 1] or not finite.
    """
    if isinstance(t, torch.Tensor) and t.ndim == 0:
        t = float(t)
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name}: expected a number in [0, 1], got {describe(t)}; use curve.points(ts) for many")
    return float(check_curve_ts(t, name)[0])
