"""Fully connected networks: the XOR net of write-up 3 and the digits classifier."""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn

from ..core.torch_state import seeded
from ..core.validation import check_choice, check_float_dtype, check_int, check_positive, describe

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, Sequence) or isinstance(hidden, str):
        raise TypeError("hidden: expected a tuple of layer widths such as (128, 128), "
                        f"got {describe(hidden)}")
    return tuple(check_int(h, f"hidden[{i}]") for i, h in enumerate(hidden))


class MLP(nn.Sequential):
    """A multi-layer perceptron: Linear, activation, ..., Linear, with a **linear** output layer.

    Being an ``nn.Sequential``, its layers are ``model[0]``, ``model[1]``, ... and its parameters are
    named ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...

    Args:
        in_features: input width.
        hidden: widths of the hidden layers, e.g. ``(128, 128)``; ``()`` gives a linear model.
        out_features: output width.
        activation: ``"tanh"``, ``"relu"``, ``"sigmoid"`` or ``"gelu"``, after every hidden layer.
        bias: whether the Linear layers have biases.

    Raises:
        TypeError: non-integer widths.
        ValueError: widths below 1, or an unknown activation.

    Example:
        >>> model = MLP(2, (2,), 1, activation="sigmoid")
        >>> sum(p.numel() for p in model.parameters())
        9
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int,
                 activation: str = "tanh", bias: bool = True):
        in_features = check_int(in_features, "in_features")
        out_features = check_int(out_features, "out_features")
        hidden = _check_hidden(hidden)
        activation = check_choice(activation, "activation", tuple(ACTIVATIONS))
        if not isinstance(bias, bool):
            raise TypeError(f"bias: expected True or False, got {describe(bias)}")
        widths = (in_features, *hidden, out_features)
        layers: list[nn.Module] = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1], bias=bias))
            if i < len(widths) - 2:
                layers.append(ACTIVATIONS[activation]())
        super().__init__(*layers)
        self.in_features, self.hidden, self.out_features = in_features, hidden, out_features
        self.activation = activation

    def __getitem__(self, idx):
        """``model[i]`` is a layer; ``model[:k]`` a plain ``nn.Sequential`` of the first layers (e.g. the
        features up to a hidden layer), sharing their parameters."""
        if isinstance(idx, slice):
            return nn.Sequential(*list(self._modules.values())[idx])
        return super().__getitem__(idx)


def _init_gaussian(model: nn.Module, std: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)


def xor_mlp(width: int = 2, activation: str = "sigmoid", dtype: torch.dtype = torch.float64,
            seed: int | None = None, *, init_std: float | None = None) -> MLP:
    """The XOR network of write-up 3: 2 inputs, one hidden layer of ``width`` units, 1 linear output.

    It has ``4 * width + 1`` parameters: 9 for the default width 2. With a linear output layer the
    targets 0 and 1 are reachable exactly, so global minima of zero loss exist.

    Args:
        width: hidden units.
        activation: hidden activation (see :class:`MLP`).
        dtype: floating-point dtype of the parameters (float64 for exact Hessian analysis).
        seed: seed of the initialisation (None: torch's global generator). The caller's generator
            state is left untouched when a seed is given.
        init_std: if given, draw every weight and bias from N(0, init_std^2), the Gaussian
            initialisation of write-up 3's 150-run histograms; None keeps PyTorch's default.

    Returns:
        An untrained :class:`MLP`.

    Raises:
        TypeError / ValueError: bad width, activation, dtype, seed or ``init_std``.

    Example:
        >>> model = xor_mlp(seed=0)
        >>> sum(p.numel() for p in model.parameters()), model[0].weight.dtype
        (9, torch.float64)
    """
    dtype = check_float_dtype(dtype)
    if init_std is not None:
        init_std = check_positive(init_std, "init_std")
    with seeded(seed):
        model = MLP(2, (check_int(width, "width"),), 1, activation=activation)
        if init_std is not None:
            _init_gaussian(model, init_std)
    return model.to(dtype)


def digits_mlp(hidden: Sequence[int] = (128, 128), activation: str = "tanh", seed: int | None = None,
               dtype: torch.dtype = torch.float32) -> MLP:
    """A classifier for the 8x8 digits: 64 inputs, ``hidden`` layers, 10 logits.

    With the default ``(128, 128)`` it has 26,122 parameters.

    Args:
        hidden: hidden widths.
        activation: hidden activation (see :class:`MLP`).
        seed: seed of the initialisation (None: torch's global generator).
        dtype: floating-point dtype of the parameters.

    Returns:
        An untrained :class:`MLP` whose outputs are raw logits (use ``cross_entropy``).

    Raises:
        TypeError / ValueError: bad widths, activation, dtype or seed.

    Example:
        >>> sum(p.numel() for p in digits_mlp(seed=0).parameters())
        26122
    """
    dtype = check_float_dtype(dtype)
    with seeded(seed):
        model = MLP(64, hidden, 10, activation=activation)
    return model.to(dtype)
