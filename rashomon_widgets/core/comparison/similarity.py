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
