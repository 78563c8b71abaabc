"""Normalising the user's data into a list of (inputs, targets) batches on the model's device and dtype."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from ..validation import all_finite, describe


def _is_pair(obj) -> bool:
    return (isinstance(obj, (tuple, list)) and len(obj) == 2
            and all(isinstance(t, torch.Tensor) for t in obj))


def _describe_batch(batch) -> str:
    if isinstance(batch, (tuple, list)):
        parts = ", ".join(describe(b) if not isinstance(b, Mapping) else f"dict with keys {sorted(map(str, b))}"
                          for b in batch[:3])
        return f"{type(batch).__name__} of length {len(batch)} ({parts}{', ...' if len(batch) > 3 else ''})"
    if isinstance(batch, Mapping):
        return f"dict with keys {sorted(map(str, batch))}"
    return describe(batch)


_EXPECTED = ("expected an (inputs, targets) pair of tensors, the model being called as model(inputs) "
             "and the loss as loss_fn(outputs, targets)")
_DICT_HINT = ("; a model that takes a dict or several inputs can be wrapped in a torch.nn.Module whose "
              "forward(inputs) builds them from one tensor")


#: layers whose inputs are integer indices (token ids): a model holding one keeps integer inputs
INDEX_LAYERS = (torch.nn.Embedding, torch.nn.EmbeddingBag)


def takes_indices(model: torch.nn.Module) -> bool:
    """Whether ``model`` holds a layer that takes integer indices (:data:`INDEX_LAYERS`), so that its
    integer inputs are token ids to keep, not numbers to cast.

    Args:
        model: the model.

    Returns:
        True if any of its modules is an ``Embedding`` or ``EmbeddingBag``.
    """
    return any(isinstance(m, INDEX_LAYERS) for m in model.modules())


def _cast(t: torch.Tensor, dtype: torch.dtype, device: torch.device, *, numbers: bool = False) -> torch.Tensor:
    """Floating-point tensors to the model's dtype; integer tensors (labels, token ids) keep theirs, unless
    ``numbers`` says they are numbers (a float model's integer inputs), which are cast too."""
    if t.dtype.is_floating_point or (numbers and not t.dtype.is_complex):
        return t.to(device=device, dtype=dtype)
    return t.to(device)


def _check_finite(t: torch.Tensor, what: str) -> None:
    if t.dtype.is_floating_point or t.dtype.is_complex:
        if not all_finite(t):
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"data: {what}: expected finite values, got {bad} NaN or inf of {t.numel()} "
                             f"(shape {tuple(t.shape)}); drop or fill those samples first")


def as_batches(data, device: torch.device, dtype: torch.dtype | None = None, *,
               indices: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Return the data as a list of ``(inputs, targets)`` batches on ``device``.

    ``data`` is either one ``(inputs, targets)`` pair of tensors, or an iterable of such pairs
    (a list, a ``torch.utils.data.DataLoader``...). An iterable is read once and kept. With ``dtype``,
    floating-point inputs and targets are cast to it (the model's dtype: float32 data for a float64
    model are promoted, never mixed), and so are integer and boolean *inputs* (pixel values stored as
    ``uint8``, 0/1 features: numbers a float model multiplies), unless ``indices`` says the model takes
    integer inputs as indices (token ids: it holds an ``Embedding``, :func:`takes_indices`). Integer
    targets (class labels) are kept as they are.

    Args:
        data: the pair or the iterable of pairs.
        device: where the batches go.
        dtype: the floating-point dtype to cast to (None keeps the data's).
        indices: keep integer inputs (the model embeds them) instead of casting them to ``dtype``.

    Returns:
        a list of ``(inputs, targets)`` pairs.

    Raises:
        TypeError: ``data`` is neither, or a batch holds a dict or something else than two tensors.
        ValueError: empty data, inputs and targets with different numbers of samples, or NaN or inf
            among floating-point inputs or targets (the message names the batch).
    """
    if _is_pair(data):
        pairs = [tuple(data)]
    elif isinstance(data, (torch.Tensor, Mapping)) or not isinstance(data, Iterable):
        raise TypeError(f"data: {_EXPECTED} (or an iterable of such pairs), got {_describe_batch(data)}"
                        + (_DICT_HINT if isinstance(data, Mapping) else ""))
    elif (isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[1], torch.Tensor)
          and not isinstance(data[0], torch.Tensor)):
        raise TypeError(f"data: {_EXPECTED}, got {_describe_batch(data)}" + _DICT_HINT)
    else:
        pairs = []
        for i, batch in enumerate(data):
            if not _is_pair(batch):
                has_dict = isinstance(batch, Mapping) or (isinstance(batch, (tuple, list))
                                                          and any(isinstance(b, Mapping) for b in batch))
                raise TypeError(f"data: batch {i}: {_EXPECTED}, got {_describe_batch(batch)}"
                                + (_DICT_HINT if has_dict else ""))
            pairs.append(tuple(batch))
        if not pairs:
            raise ValueError("data: expected at least one (inputs, targets) batch, got an empty iterable")
    out = []
    for i, (x, y) in enumerate(pairs):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"data: batch {i}: expected inputs and targets with a leading sample "
                             f"dimension, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"data: batch {i}: inputs have {x.shape[0]} samples but targets have "
                             f"{y.shape[0]} (shapes {tuple(x.shape)} and {tuple(y.shape)}); "
                             "expected the same leading size")
        if x.shape[0] == 0:
            raise ValueError(f"data: batch {i} is empty; expected at least one sample")
        _check_finite(x, f"batch {i}: inputs")
        _check_finite(y, f"batch {i}: targets")
        if dtype is None:
            out.append((x.to(device), y.to(device)))
        else:
            out.append((_cast(x, dtype, device, numbers=not indices), _cast(y, dtype, device)))
    return out
