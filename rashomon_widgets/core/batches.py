"""Data as (inputs, targets) batches: the one normaliser (:func:`as_batches`) and the one loss evaluator
(:func:`evaluate_batches`) of the package.

The Landscape, the curve diagnostics, the cyclic walk, training and the skeleton study all read the user's
data through :func:`as_batches` (same checks, same messages, same casting rule) and measure a loss over
batches through :func:`evaluate_batches` (weighted as the loss's reduction weighs samples).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch

from .validation import all_finite, describe


def is_pair(obj) -> bool:
    """Whether ``obj`` is an ``(inputs, targets)`` tuple or list of two tensors."""
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


def _check_finite(t: torch.Tensor, what: str, name: str = "data") -> None:
    if t.dtype.is_floating_point or t.dtype.is_complex:
        if not all_finite(t):
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"{name}: {what}: expected finite values, got {bad} NaN or inf of {t.numel()} "
                             f"(shape {tuple(t.shape)}); drop or fill those samples first")


def as_batches(data, device: torch.device, dtype: torch.dtype | None = None, *,
               indices: bool = False, name: str = "data") -> list[tuple[torch.Tensor, torch.Tensor]]:
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
        name: the argument's name in error messages (``"data"``, ``"test_data"``...).

    Returns:
        a list of ``(inputs, targets)`` pairs.

    Raises:
        TypeError: ``data`` is neither, or a batch holds a dict or something else than two tensors.
        ValueError: empty data, inputs and targets with different numbers of samples, or NaN or inf
            among floating-point inputs or targets (the message names the batch).
    """
    if is_pair(data):
        pairs = [tuple(data)]
    elif isinstance(data, (torch.Tensor, Mapping)) or not isinstance(data, Iterable):
        raise TypeError(f"{name}: {_EXPECTED} (or an iterable of such pairs), got {_describe_batch(data)}"
                        + (_DICT_HINT if isinstance(data, Mapping) else ""))
    elif (isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[1], torch.Tensor)
          and not isinstance(data[0], torch.Tensor)):
        raise TypeError(f"{name}: {_EXPECTED}, got {_describe_batch(data)}" + _DICT_HINT)
    else:
        pairs = []
        for i, batch in enumerate(data):
            if not is_pair(batch):
                has_dict = isinstance(batch, Mapping) or (isinstance(batch, (tuple, list))
                                                          and any(isinstance(b, Mapping) for b in batch))
                raise TypeError(f"{name}: batch {i}: {_EXPECTED}, got {_describe_batch(batch)}"
                                + (_DICT_HINT if has_dict else ""))
            pairs.append(tuple(batch))
        if not pairs:
            raise ValueError(f"{name}: expected at least one (inputs, targets) batch, got an empty iterable")
    out = []
    for i, (x, y) in enumerate(pairs):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"{name}: batch {i}: expected inputs and targets with a leading sample "
                             f"dimension, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{name}: batch {i}: inputs have {x.shape[0]} samples but targets have "
                             f"{y.shape[0]} (shapes {tuple(x.shape)} and {tuple(y.shape)}); "
                             "expected the same leading size")
        if x.shape[0] == 0:
            raise ValueError(f"{name}: batch {i} is empty; expected at least one sample")
        _check_finite(x, f"batch {i}: inputs", name)
        _check_finite(y, f"batch {i}: targets", name)
        if dtype is None:
            out.append((x.to(device), y.to(device)))
        else:
            out.append((_cast(x, dtype, device, numbers=not indices), _cast(y, dtype, device)))
    return out


def evaluate_batches(forward: Callable[[torch.Tensor], torch.Tensor], loss_fn: Callable, batches, *,
                     reduction: str = "mean") -> tuple[float, torch.Tensor, torch.Tensor]:
    """The loss over ``batches`` without gradients, with the outputs and targets of every batch.

    For a loss that averages over its batch (``reduction="mean"``) the batch losses are weighted by
    their share of the samples, ``L = sum_b (n_b / n) L_b``, the loss of all the data in one batch; for
    a loss that sums (``"sum"``) they are added.

    Args:
        forward: ``forward(inputs) -> outputs`` (a model, or a Landscape's ``forward`` at fixed parameters).
        loss_fn: ``loss_fn(outputs, targets) -> scalar``.
        batches: ``(inputs, targets)`` pairs, as :func:`as_batches` returns them.
        reduction: ``"mean"`` or ``"sum"``, how ``loss_fn`` reduces a batch.

    Returns:
        ``(loss, outputs, targets)``: a float, and the outputs and targets concatenated over the batches.

    Example:
        >>> x, y = torch.ones(4, 1), torch.zeros(4, 1)
        >>> batches = [(x[:1], y[:1]), (x[1:], y[1:])]
        >>> loss, out, _ = evaluate_batches(lambda v: 2 * v, lambda o, t: ((o - t) ** 2).mean(), batches)
        >>> loss, tuple(out.shape)
        (4.0, (4, 1))
    """
    n = sum(x.shape[0] for x, _ in batches)
    total, outs, targets = 0.0, [], []
    with torch.no_grad():
        for x, y in batches:
            out = forward(x)
            total += (x.shape[0] / n if reduction == "mean" else 1.0) * float(loss_fn(out, y))
            outs.append(out)
            targets.append(y)
    return total, torch.cat(outs), torch.cat(targets)


def class_indices(outputs: torch.Tensor, targets: torch.Tensor) -> bool:
    """Whether ``outputs`` (N, C >= 2) are class scores and ``targets`` (N,) integer class indices: the case
    where an arg-max accuracy has a meaning.

    Args:
        outputs: model outputs.
        targets: the targets.

    Returns:
        a bool.

    Example:
        >>> class_indices(torch.zeros(3, 2), torch.tensor([0, 1, 1])), class_indices(torch.zeros(3, 1), torch.zeros(3))
        (True, False)
    """
    return (outputs.ndim == 2 and outputs.shape[1] >= 2 and targets.ndim == 1
            and not targets.dtype.is_floating_point and targets.dtype != torch.bool)
