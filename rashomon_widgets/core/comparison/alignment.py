"""Aligning the hidden units of two networks by permutation ("weight matching").

Reference: Ainsworth, Hayase & Srinivasa (2023), "Git Re-Basin: merging models modulo permutation symmetries".

Permuting the hidden units of a layer (the rows of its weight and bias and the columns of the next
layer's weight) changes the parameters but not the function. Two copies of one skeleton can
therefore look different unit by unit; comparing them (their masks, their weights) means first
choosing, for each hidden layer, the permutation of model b's units that best matches model a's.
Weight matching maximises ``sum_l <W_a_l, P_l W_b_l P_{l-1}^T>`` (biases included) by coordinate
descent: one hidden layer at a time, a linear assignment problem (``scipy.optimize.
linear_sum_assignment``) with the neighbouring permutations held fixed, until no layer changes.

Supported networks: ``nn.Sequential`` of ``nn.Linear`` layers with element-wise modules between
them (activations, dropout, identity), such as :class:`rashomon_widgets.models.MLP`.

Example:
    >>> import torch
    >>> from rashomon_widgets.models import digits_mlp
    >>> a = digits_mlp(hidden=(16,), seed=0)
    >>> perms = [torch.randperm(16, generator=torch.Generator().manual_seed(1))]
    >>> b = permute_hidden_units(a, perms)                 # the same function, shuffled units
    >>> result = weight_matching(a, b)
    >>> bool(torch.equal(result.model[0].weight, a[0].weight))
    True
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from ..validation import check_int, check_seed, describe

# modules that act element-wise, so a permutation of their inputs permutes their outputs alike
_ELEMENTWISE = (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.GELU, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.Softplus,
                nn.Identity, nn.Dropout)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a supported network, in order.

    Args:
        model: an ``nn.Sequential`` of Linear layers and element-wise modules.

    Returns:
        the Linear layers.

    Raises:
        TypeError: another kind of network, or a layer that is neither Linear nor element-wise.
        ValueError: fewer than two Linear layers (no hidden layer).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model: expected an nn.Sequential of Linear layers and element-wise activations "
                        f"(e.g. rw.models.MLP), got {describe(model)}")
    layers = []
    for i, child in enumerate(model):
        if isinstance(child, nn.Linear):
            layers.append(child)
        elif not isinstance(child, _ELEMENTWISE):
            raise TypeError(f"model[{i}]: expected nn.Linear or an element-wise module "
                            f"({', '.join(kind.__name__ for kind in _ELEMENTWISE)}), got {type(child).__name__}; "
                            "weight matching of other layers is not supported")
    if len(layers) < 2:
        raise ValueError(f"model: expected at least two Linear layers (one hidden layer), got {len(layers)}")
    return layers


def hidden_widths(model: nn.Module) -> tuple[int, ...]:
    """The widths of the hidden layers (the outputs of every Linear layer but the last).

    Args:
        model: a supported network (see :func:`linear_layers`).

    Returns:
        one width per hidden layer.
    """
    return tuple(layer.out_features for layer in linear_layers(model)[:-1])


def _check_perms(perms, widths: tuple[int, ...]) -> list[torch.Tensor]:
    if not isinstance(perms, (list, tuple)) or len(perms) != len(widths):
        got = f"a {type(perms).__name__} of {len(perms)}" if isinstance(perms, (list, tuple)) else describe(perms)
        raise ValueError(f"perms: expected a list of {len(widths)} permutations (hidden widths {widths}), "
                         f"got {got}")
    out = []
    for i, (p, w) in enumerate(zip(perms, widths)):
        try:
            p = torch.as_tensor(p)
        except (TypeError, ValueError, RuntimeError):
            pass  # not array-like: described as it came
        if (not isinstance(p, torch.Tensor) or p.dtype.is_floating_point or p.dtype.is_complex
                or p.dtype == torch.bool or p.shape != (w,)
                or not torch.equal(torch.sort(p.long()).values, torch.arange(w))):
            got = f"{p.tolist()} ({describe(p)})" if isinstance(p, torch.Tensor) and p.numel() <= 32 else describe(p)
            raise ValueError(f"perms[{i}]: expected a permutation of 0..{w - 1} (integers), got {got}")
        out.append(p.long())
    return out


def permute_hidden_units(model: nn.Module, perms) -> nn.Module:
    """A copy of ``model`` whose hidden unit ``i`` of layer ``h`` is the original's unit ``perms[h][i]``.

    The copy computes the same function (up to floating-point summation order).

    Args:
        model: a supported network (see the module docstring); not changed.
        perms: one permutation of ``0 .. width - 1`` per hidden layer.

    Returns:
        the permuted copy.

    Raises:
        TypeError: an unsupported network.
        ValueError: not one valid permutation per hidden layer.
    """
    layers = linear_layers(model)
    perms = _check_perms(perms, hidden_widths(model))
    out = copy.deepcopy(model)
    with torch.no_grad():
        for i, (old, new) in enumerate(zip(layers, linear_layers(out))):
            weight, bias = old.weight, old.bias
            if i < len(perms):  # this layer's outputs are hidden units: permute its rows
                rows = perms[i].to(weight.device)
                weight, bias = weight[rows], None if bias is None else bias[rows]
            if i > 0:  # its inputs are the previous hidden units: permute its columns alike
                weight = weight[:, perms[i - 1].to(weight.device)]
            new.weight.copy_(weight)
            if bias is not None:
                new.bias.copy_(bias)
    return out


@dataclass
class Alignment:
    """Result of :func:`weight_matching`.

    Attributes:
        perms: one permutation (LongTensor) per hidden layer; apply with :func:`permute_hidden_units`.
        model: model b with its hidden units permuted to match model a (a copy).
        matched_before, matched_after: the objective ``sum_l <W_a_l, W_b_l>`` (biases included) before
            and after alignment.
        cosine_before, cosine_after: cosine similarity of the flattened parameter vectors before and
            after (1 means identical up to scale).
        sweeps: coordinate-descent sweeps over the hidden layers until no permutation changed.
    """

    perms: list[torch.Tensor]
    model: nn.Module
    matched_before: float
    matched_after: float
    cosine_before: float
    cosine_after: float
    sweeps: int


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().double().cpu()
                      for layer in linear_layers(model) for p in layer.parameters()])


def _weights(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    return [(layer.weight.detach().double().cpu(),
             None if layer.bias is None else layer.bias.detach().double().cpu()) for layer in linear_layers(model)]


def _objective(wa, wb) -> float:
    total = 0.0
    for (a, ab), (b, bb) in zip(wa, wb):
        total += float((a * b).sum()) + (float(ab @ bb) if ab is not None else 0.0)
    return total


def weight_matching(model_a: nn.Module, model_b: nn.Module, *, max_sweeps: int = 100,
                    seed: int = 0) -> Alignment:
    """Permute model b's hidden units to match model a's weights (neither model is changed).

    Args:
        model_a, model_b: supported networks (see the module docstring) of the same architecture.
        max_sweeps: most coordinate-descent sweeps over the hidden layers.
        seed: seed of the random layer order within each sweep.

    Returns:
        An :class:`Alignment`.

    Raises:
        TypeError: an unsupported network.
        ValueError: the two networks' layer shapes differ.
    """
    la, lb = linear_layers(model_a), linear_layers(model_b)
    shapes_a = [tuple(layer.weight.shape) for layer in la]
    shapes_b = [tuple(layer.weight.shape) for layer in lb]
    if shapes_a != shapes_b:
        raise ValueError(f"model_b: expected the same layer shapes as model_a ({shapes_a}), got {shapes_b}")
    bias_a, bias_b = [layer.bias is not None for layer in la], [layer.bias is not None for layer in lb]
    if bias_a != bias_b:
        raise ValueError(f"model_b: expected biases in the same layers as model_a (has bias: {bias_a}), got {bias_b}")
    max_sweeps = check_int(max_sweeps, "max_sweeps", 1, 10**6)
    seed = check_seed(seed)
    wa, wb = _weights(model_a), _weights(model_b)
    widths = hidden_widths(model_a)
    perms = [torch.arange(w) for w in widths]
    rng = np.random.default_rng(seed)

    def permuted_b(h: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Model b's incoming weights of hidden layer h (columns by the previous permutation), its
        biases, and its outgoing weights (rows by the next permutation), all unpermuted along h."""
        w_in, b_in = wb[h]
        if h > 0:
            w_in = w_in[:, perms[h - 1]]
        w_out = wb[h + 1][0]
        if h + 1 < len(widths):
            w_out = w_out[perms[h + 1]]
        return w_in, w_out, b_in

    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        changed = False
        for h in rng.permutation(len(widths)):
            w_in, w_out, b_in = permuted_b(int(h))
            a_in, a_bias = wa[h]
            a_out = wa[h + 1][0]
            cost = a_in @ w_in.T + a_out.T @ w_out
            if a_bias is not None:
                cost = cost + torch.outer(a_bias, b_in)
            _, cols = linear_sum_assignment(cost.numpy(), maximize=True)
            new = torch.as_tensor(cols, dtype=torch.long)
            old_score = float(cost[torch.arange(len(new)), perms[h]].sum())
            new_score = float(cost[torch.arange(len(new)), new].sum())
            if new_score > old_score + 1e-12 * max(1.0, abs(old_score)) and not torch.equal(new, perms[h]):
                perms[h] = new
                changed = True
        if not changed:
            break
    aligned = permute_hidden_units(model_b, perms)
    fa = _flat(model_a)

    def cosine(fb: torch.Tensor) -> float:
        return float(fa @ fb / (fa.norm() * fb.norm())) if fa.norm() > 0 and fb.norm() > 0 else 0.0

    return Alignment(perms=perms, model=aligned, matched_before=_objective(wa, wb),
                     matched_after=_objective(wa, _weights(aligned)), cosine_before=cosine(_flat(model_b)),
                     cosine_after=cosine(_flat(aligned)), sweeps=sweeps)
