"""The IPython extension: ``%load_ext rashomon_widgets`` then ``%rashomon model loss_fn data``.

The magic looks the three names up in the notebook's namespace, builds a :class:`Landscape` and returns a
:class:`NullSpaceExplorer` (shown as the cell's output). Options after the names are passed on:
``%rashomon model loss_fn data reduction=sum num_null=2``.
"""
from __future__ import annotations

import shlex

import torch

USAGE = ("usage: %rashomon MODEL LOSS_FN DATA [reduction=mean|sum] [num_null=N] [num_top=N] [span=S]\n"
         "  MODEL: a torch.nn.Module; LOSS_FN: loss_fn(outputs, targets); DATA: (inputs, targets) or "
         "an iterable of batches, all names in this notebook")
_OPTIONS = {"reduction": str, "num_null": int, "num_top": int, "span": float}


class MagicError(ValueError):
    """A %rashomon line that cannot be used; the message says why and how to fix it."""


def parse(line: str, namespace: dict):
    """Resolve ``MODEL LOSS_FN DATA [key=value ...]`` against ``namespace``.

    Args:
        line: the text after ``%rashomon``.
        namespace: the notebook's variables.

    Returns:
        ``(model, loss_fn, data, landscape_kwargs, explorer_kwargs)``.

    Raises:
        MagicError: a line that cannot be split into words (an unclosed quote, a trailing backslash), a
            missing name, a value of the wrong kind, or an unknown option.
    """
    try:
        words = shlex.split(line)
    except ValueError as exc:  # shlex: "No closing quotation", "No escaped character"
        raise MagicError(f"cannot read the line {line.strip()!r}: {str(exc).lower()}; expected names and "
                         f"key=value options separated by spaces (quotes closed)\n{USAGE}") from None
    names = [w for w in words if "=" not in w]
    if len(names) != 3:
        raise MagicError(f"expected three names (model, loss function, data), got {len(names)}: "
                         f"{names}\n{USAGE}")
    values = []
    for role, name in zip(("model", "loss_fn", "data"), names):
        if name not in namespace:
            close = [k for k in namespace if not k.startswith("_") and k.lower() == name.lower()]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise MagicError(f"{role}: no variable named {name!r} in this notebook.{hint}\n{USAGE}")
        values.append(namespace[name])
    model, loss_fn, data = values
    if not isinstance(model, torch.nn.Module):
        raise MagicError(f"model: {names[0]!r} is a {type(model).__name__}, expected a torch.nn.Module\n{USAGE}")
    if not callable(loss_fn):
        raise MagicError(f"loss_fn: {names[1]!r} is a {type(loss_fn).__name__}, expected a callable "
                         f"loss_fn(outputs, targets)\n{USAGE}")
    ls_kwargs, ex_kwargs = {}, {}
    for word in (w for w in words if "=" in w):
        key, _, raw = word.partition("=")
        if key not in _OPTIONS:
            raise MagicError(f"unknown option {key!r}; expected one of {sorted(_OPTIONS)}\n{USAGE}")
        try:
            value = _OPTIONS[key](raw)
        except ValueError:
            raise MagicError(f"{key}: expected a {_OPTIONS[key].__name__}, got {raw!r}") from None
        (ls_kwargs if key == "reduction" else ex_kwargs)[key] = value
    return model, loss_fn, data, ls_kwargs, ex_kwargs


def rashomon(line: str, namespace: dict):
    """Build the landscape and the explorer for a ``%rashomon`` line.

    Args:
        line: the text after ``%rashomon``.
        namespace: the notebook's variables.

    Returns:
        a :class:`NullSpaceExplorer`.

    Raises:
        MagicError: see :func:`parse`; the Landscape's own errors pass through.
    """
    from . import Landscape, NullSpaceExplorer
    model, loss_fn, data, ls_kwargs, ex_kwargs = parse(line, namespace)
    return NullSpaceExplorer(Landscape(model, loss_fn, data, **ls_kwargs), **ex_kwargs)


def register(ipython) -> None:
    """Register ``%rashomon`` with an IPython shell.

    Args:
        ipython: the shell (``get_ipython()``).
    """
    def magic(line):
        try:
            return rashomon(line, ipython.user_ns)
        except MagicError as exc:
            print(f"%rashomon: {exc}")  # a helpful message, not a traceback
            return None

    magic.__doc__ = __doc__
    ipython.register_magic_function(magic, magic_kind="line", magic_name="rashomon")
