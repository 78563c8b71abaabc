"""Behavioural similarity of models: prediction vectors on a set of inputs and their cosine similarity.

Write-up 2 compared pruned models by the cosine similarity of their prediction vectors on an
out-of-distribution set (CIFAR-10 models on MNIST): on inputs no training constrained, two models
with the same internal machinery behave the same, two different ones are free to disagree.

Example:
    >>> import torch
    >>> a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    >>> x = torch.randn(20, 4)
    >>> S = cosine_similarity(prediction_vectors([a, a, b], x))
    >>> S.shape, round(float(S[0, 1]), 6)
    ((3, 3), 1.0)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..validation import check_choice, check_int, check_module, describe

BEHAVIOURS = ("softmax", "logits", "labels")


def prediction_vectors(models: Sequence[nn.Module], inputs: torch.Tensor, *, behaviour: str = "softmax",
                       batch_size: int = 1024) -> torch.Tensor:
    """One flattened prediction vector per model on ``inputs``.

    Args:
        models: networks mapping ``inputs`` to (N, C) outputs (evaluated in eval mode without
            gradients; their modes are restored afterwards).
        inputs: (N, ...) tensor; moved to each model's device.
        behaviour: ``"softmax"`` (class probabilities, the write-up's choice), ``"logits"`` (raw
            outputs) or ``"labels"`` (one-hot arg-max: cosine similarity is then the share of inputs
            on which two models predict the same class).
        batch_size: inputs per forward pass.

    Returns:
        float64 tensor (len(models), N * C) on the CPU.

    Raises:
        TypeError: ``models`` not a list of modules (a single module included), or non-tensor inputs.
        ValueError: no models, inputs without a sample dimension, an unknown behaviour, or models whose
            outputs differ in shape.
    """
    behaviour = check_choice(behaviour, "behaviour", BEHAVIOURS)
    if isinstance(models, nn.Module) or not isinstance(models, Sequence):
        raise TypeError(f"models: expected a non-empty list of torch.nn.Module, got {describe(models)}")
    if not models:
        raise ValueError("models: expected a non-empty list of torch.nn.Module, got an empty list")
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs: expected a tensor (N, ...) with N >= 1, got {describe(inputs)}")
    if inputs.ndim < 2 or inputs.shape[0] == 0:
        raise ValueError(f"inputs: expected a tensor (N, ...) with N >= 1, got {describe(inputs)}")
    batch_size = check_int(batch_size, "batch_size", 1, 2**31 - 1)
    rows = []
    for i, model in enumerate(models):
        check_module(model, f"models[{i}]")
        out = _outputs(model, inputs, batch_size)
        if out.ndim != 2:
            raise ValueError(f"models[{i}]: expected outputs of shape (N, C), got {tuple(out.shape)}")
        if behaviour == "softmax":
            out = torch.softmax(out, dim=1)
        elif behaviour == "labels":
            out = nn.functional.one_hot(out.argmax(dim=1), out.shape[1]).double()
        rows.append(out.flatten())
        if rows[-1].shape != rows[0].shape:
            raise ValueError(f"models[{i}]: expected outputs of the same shape as models[0]'s, got "
                             f"{tuple(out.shape)} against {rows[0].numel()} values")
    return torch.stack(rows)


def _outputs(model: nn.Module, inputs: torch.Tensor, batch_size: int) -> torch.Tensor:
    param = next(model.parameters(), None)
    device = param.device if param is not None else inputs.device
    dtype = param.dtype if param is not None else inputs.dtype
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [model(inputs[i:i + batch_size].to(device, dtype)) for i in range(0, inputs.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts).detach().to("cpu", torch.float64)


def cosine_similarity(vectors: torch.Tensor) -> np.ndarray:
    """Pairwise cosine similarity of the rows of ``vectors`` (V, D): a symmetric (V, V) array.

    The diagonal is exactly 1 (a zero row has similarity 0 with every other row and 1 with itself).

    Args:
        vectors: (V, D) tensor, one vector per row (e.g. from :func:`prediction_vectors`).

    Returns:
        (V, V) float64 numpy array, entries in [-1, 1].

    Raises:
        ValueError: not a 2-D tensor, or non-finite entries.
    """
    if not isinstance(vectors, torch.Tensor) or vectors.ndim != 2:
        raise ValueError(f"vectors: expected a 2-D tensor (V, D), got {describe(vectors)}")
    if not torch.isfinite(vectors).all():
        raise ValueError("vectors: expected finite entries, got NaN or inf (did a model diverge?)")
    v = vectors.double()
    norms = v.norm(dim=1, keepdim=True)
    unit = torch.where(norms > 0, v / torch.where(norms > 0, norms, 1.0), 0.0)
    sim = (unit @ unit.T).clamp(-1.0, 1.0)
    sim = 0.5 * (sim + sim.T)
    sim.fill_diagonal_(1.0)
    return sim.numpy()


# ----------------------------------------------------------------------------- predicted classes
def predicted_classes(models: Sequence[nn.Module], inputs: torch.Tensor, *, batch_size: int = 1024) -> np.ndarray:
    """The class each model predicts (arg-max of its outputs) for every input.

    Args:
        models: networks mapping ``inputs`` to (N, C) outputs (see :func:`prediction_vectors`).
        inputs: (N, ...) tensor.
        batch_size: inputs per forward pass.

    Returns:
        int64 numpy array (len(models), N).

    Raises:
        TypeError, ValueError: as :func:`prediction_vectors`.

    Example:
        >>> import torch
        >>> predicted_classes([torch.nn.Linear(4, 3)], torch.randn(5, 4)).shape
        (1, 5)
    """
    outputs = prediction_vectors(models, inputs, behaviour="logits", batch_size=batch_size)
    return outputs.reshape(len(models), inputs.shape[0], -1).argmax(dim=2).numpy()


def _check_labels(labels, name: str = "labels") -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] == 0 or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise ValueError(f"{name}: expected an integer array (V, N) of class indices >= 0 with N >= 1, got "
                         f"{describe(labels)}")
    return labels


def label_agreement(labels) -> np.ndarray:
    """Pairwise label agreement: the share of inputs on which two models predict the same class.

    Unlike the cosine of softmax vectors it ignores confidence, and it is easy to read: 0.9 means the two
    models disagree on one input in ten. It is inflated when both models call most inputs one class (see
    :func:`chance_agreement`).

    Args:
        labels: (V, N) integer class indices, one row per model (e.g. from :func:`predicted_classes`).

    Returns:
        (V, V) float64 numpy array in [0, 1], symmetric, ones on the diagonal.

    Raises:
        ValueError: not a 2-D array of class indices >= 0 with at least one column.

    Example:
        >>> label_agreement([[0, 1, 2, 2], [0, 1, 1, 1]])[0, 1]
        0.5
    """
    labels = _check_labels(labels)
    return (labels[:, None, :] == labels[None, :, :]).mean(axis=2)


def class_shares(labels, n_classes: int | None = None) -> np.ndarray:
    """The share of inputs each model assigns to each class.

    A row with one large entry is a model with a *default class* on these inputs.

    Args:
        labels: (V, N) integer class indices, one row per model.
        n_classes: the number of classes C (default: the largest index + 1).

    Returns:
        (V, C) float64 numpy array; each row sums to 1.

    Raises:
        ValueError: bad labels (see :func:`label_agreement`), or an ``n_classes`` not above the largest index.

    Example:
        >>> class_shares([[0, 0, 0, 2]], 3)
        array([[0.75, 0.  , 0.25]])
    """
    labels = _check_labels(labels)
    if n_classes is None:
        n_classes = int(labels.max()) + 1
    n_classes = check_int(n_classes, "n_classes", int(labels.max()) + 1)
    counts = np.stack([np.bincount(row, minlength=n_classes) for row in labels])
    return counts / labels.shape[1]


def chance_agreement(labels, n_classes: int | None = None) -> np.ndarray:
    """The label agreement two models would have by chance, given only how often each calls each class.

    If model a calls a share ``p_c`` of the inputs class c and model b a share ``q_c``, two independent
    draws agree with probability ``sum_c p_c q_c``. Two models that both call 85% of the inputs "4" agree
    at least 72% of the time by chance alone. ``(agreement - chance) / (1 - chance)`` is Cohen's kappa
    (Cohen 1960, "A coefficient of agreement for nominal scales"): 0 for agreement no better than chance,
    1 for identical labels.

    Args:
        labels: (V, N) integer class indices, one row per model.
        n_classes: the number of classes (default: the largest index + 1).

    Returns:
        (V, V) float64 numpy array in [0, 1].

    Raises:
        ValueError: as :func:`class_shares`.

    Example:
        >>> chance_agreement([[0, 0, 0, 1], [0, 0, 1, 1]])[0, 1]
        0.5
    """
    shares = class_shares(labels, n_classes)
    return shares @ shares.T
