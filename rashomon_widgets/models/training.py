"""Training a model in place (Adam, SGD or L-BFGS), accuracy, and a ready XOR global minimum."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..core.batches import as_batches, is_pair
from ..core.comparison.pruning import check_masks
from ..core.torch_state import seeded
from ..core.validation import (
    check_callable,
    check_choice,
    check_int,
    check_module,
    check_nonnegative,
    check_positive,
    check_seed,
    describe,
)
from .losses import sum_of_squares
from .mlp import MLP, xor_mlp

OPTIMIZERS = ("adam", "sgd", "lbfgs")
_DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-2, "lbfgs": 1.0}
_LBFGS_MAX_ITER = 100


def _check_data(data) -> tuple[torch.Tensor, torch.Tensor]:
    """One ``(inputs, targets)`` pair, checked by the package's one normaliser (:func:`as_batches`)."""
    if not is_pair(data):
        raise TypeError(f"data: expected an (inputs, targets) pair of tensors, got {describe(data)}")
    [(inputs, targets)] = as_batches(data, data[0].device)
    return inputs, targets


def _penalty(model: nn.Module, weight_decay: float, l1: float) -> torch.Tensor | float:
    total = 0.0
    for p in model.parameters():
        if weight_decay:
            total = total + 0.5 * weight_decay * (p ** 2).sum()
        if l1:
            total = total + l1 * p.abs().sum()
    return total


def _masker(masked: list[tuple[torch.Tensor, torch.Tensor]]) -> Callable[..., None]:
    """A function that zeroes the pruned entries of the parameters (or, with grads=True, of their gradients)."""
    def enforce(grads: bool = False) -> None:
        with torch.no_grad():
            for p, keep in masked:
                target = p.grad if grads else p
                if target is not None:
                    target.masked_fill_(~keep, 0.0)  # exactly 0, even where an entry is inf or NaN
    return enforce


def _make_optimizer(name: str, params, lr: float, weight_decay: float, momentum: float):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    eps = torch.finfo(params[0].dtype).eps
    return torch.optim.LBFGS(params, lr=lr, max_iter=_LBFGS_MAX_ITER, history_size=_LBFGS_MAX_ITER,
                             tolerance_grad=eps ** 0.75, tolerance_change=eps, line_search_fn="strong_wolfe")


def train(model: nn.Module, loss_fn: Callable, data, *, epochs: int = 100, lr: float | None = None,
          optimizer: str = "adam", batch_size: int | None = None, weight_decay: float = 0.0,
          l1: float = 0.0, momentum: float = 0.0, reduction: str = "mean", seed: int | None = None,
          masks: dict[str, torch.Tensor] | None = None,
          callback: Callable[[int, float], bool | None] | None = None) -> list[float]:
    """Train ``model`` in place and return its loss after every epoch.

    The model is in ``train()`` mode while training and left in ``eval()`` mode at the end. Data are
    moved to the model's device.

    Optimisers: ``"adam"`` and ``"sgd"`` take one step per mini-batch; ``"lbfgs"``
    (``torch.optim.LBFGS`` with a strong-Wolfe line search, up to 100 iterations per epoch, tolerances
    set from the dtype's precision) works on the full batch and is meant for driving small float64
    nets, such as the XOR net, to a global minimum.

    Args:
        model: the ``nn.Module`` to train; its parameters change.
        loss_fn: ``loss_fn(outputs, targets) -> scalar tensor``.
        data: an ``(inputs, targets)`` pair of tensors.
        epochs: passes over the data (for L-BFGS: calls of ``step``), an integer >= 0.
        lr: learning rate; None picks 1e-3 for Adam, 1e-2 for SGD, 1.0 for L-BFGS.
        optimizer: ``"adam"``, ``"sgd"`` or ``"lbfgs"``.
        batch_size: samples per mini-batch (shuffled every epoch); None means the full batch.
        weight_decay: L2 penalty ``weight_decay / 2 * ||theta||^2`` (the optimiser's own option
            for Adam and SGD, added to the objective for L-BFGS).
        l1: L1 penalty ``l1 * ||theta||_1`` added to the objective (write-up 2's regularisation).
        momentum: SGD momentum (SGD only).
        reduction: how batch losses make the epoch loss: ``"mean"`` (weighted by batch size, for a
            loss that averages) or ``"sum"`` (for ``sum_of_squares``).
        seed: seed of the shuffling and of any randomness in the model (dropout); None uses torch's
            global generator. With a seed, the caller's generator state is left untouched.
        masks: ``{parameter name: 0/1 or bool tensor of the parameter's shape}``, e.g. from
            :func:`rashomon_widgets.core.comparison.pruning.magnitude_masks`: pruned entries are set to zero
            before training and after every step, and get no gradient, so a pruned network stays
            pruned while the rest of it trains.
        callback: called as ``callback(epoch, loss)`` after every epoch; returning True stops.

    Returns:
        The data loss (without penalties) of every epoch: for Adam and SGD the loss seen during the
        epoch, before each step; for L-BFGS the loss after the epoch's step.

    Raises:
        TypeError: a non-module model, a non-callable loss or callback, data that are not a pair.
        ValueError: bad numbers or choices, ``batch_size`` with L-BFGS, a loss that is not a
            scalar, or a loss that becomes NaN or inf (lower the learning rate).

    Example:
        >>> from rashomon_widgets.data import xor
        >>> from rashomon_widgets.models import xor_mlp, sum_of_squares
        >>> model = xor_mlp(seed=0)
        >>> losses = train(model, sum_of_squares, xor(), epochs=5, optimizer="lbfgs")
        >>> losses[-1] < losses[0]
        True
    """
    check_module(model)
    check_callable(loss_fn, "loss_fn", "loss_fn(outputs, targets)")
    check_callable(callback, "callback", "callback(epoch, loss)", optional=True)
    inputs, targets = _check_data(data)
    epochs = check_int(epochs, "epochs", 0)
    optimizer = check_choice(optimizer, "optimizer", OPTIMIZERS)
    reduction = check_choice(reduction, "reduction", ("mean", "sum"))
    lr = _DEFAULT_LR[optimizer] if lr is None else check_positive(lr, "lr")
    weight_decay = check_nonnegative(weight_decay, "weight_decay")
    l1 = check_nonnegative(l1, "l1")
    momentum = check_nonnegative(momentum, "momentum")
    if momentum and optimizer != "sgd":
        raise ValueError(f"momentum: only used by optimizer='sgd', got momentum={momentum} "
                         f"with optimizer={optimizer!r}")
    n = inputs.shape[0]
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size")
        if optimizer == "lbfgs" and batch_size < n:
            raise ValueError(f"batch_size: optimizer='lbfgs' works on the full batch; expected None, "
                             f"got {batch_size} for {n} samples")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: expected at least one parameter with requires_grad=True, got none")
    device = params[0].device
    inputs, targets = inputs.to(device), targets.to(device)
    named = dict(model.named_parameters())
    masked = [] if masks is None else [(named[n], m.to(named[n].device, torch.bool))
                                       for n, m in check_masks(model, masks).items()]
    enforce = _masker(masked)
    enforce()

    opt = _make_optimizer(optimizer, params, lr, weight_decay, momentum)

    def data_loss(x, y):
        loss = loss_fn(model(x), y)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise ValueError(f"loss_fn: expected a scalar (0-dim) tensor, got {describe(loss)}")
        return loss

    def lbfgs_epoch() -> float:
        def closure():
            opt.zero_grad()
            loss = data_loss(inputs, targets) + _penalty(model, weight_decay, l1)
            loss.backward()
            enforce(grads=True)
            return loss

        opt.step(closure)
        enforce()
        with torch.no_grad():
            return float(data_loss(inputs, targets))

    size = n if batch_size is None else min(batch_size, n)

    def step_epoch(generator: torch.Generator) -> float:
        order = torch.randperm(n, generator=generator).to(device) if size < n else None
        total = 0.0
        for start in range(0, n, size):
            if order is None:
                x, y = inputs[start:start + size], targets[start:start + size]
            else:
                idx = order[start:start + size]
                x, y = inputs[idx], targets[idx]
            opt.zero_grad()
            loss = data_loss(x, y)
            total += float(loss.detach()) * (x.shape[0] / n if reduction == "mean" else 1.0)
            (loss + _penalty(model, 0.0, l1)).backward()  # Adam and SGD apply weight decay themselves
            enforce(grads=True)
            opt.step()
            enforce()
        return total

    history: list[float] = []
    model.train()
    try:
        with seeded(seed):
            generator = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()))
            for epoch in range(epochs):
                loss = lbfgs_epoch() if optimizer == "lbfgs" else step_epoch(generator)
                if not math.isfinite(loss):
                    raise ValueError(f"train: the loss became {loss} in epoch {epoch}; expected a finite "
                                     f"loss (lower lr={lr}, or check the data)")
                history.append(loss)
                if callback is not None and callback(epoch, loss):
                    break
    finally:
        model.eval()
    return history


def accuracy(outputs: torch.Tensor, targets: torch.Tensor, *, threshold: float = 0.5) -> float:
    """Share of correct predictions.

    Three cases:
    - class-index targets (N,) with outputs (N, C), C >= 2: the arg-max of each output row;
    - one-hot (or score) targets of the same shape (N, C) as the outputs: the arg-maxes are compared;
    - 0/1 targets with one output, shapes (N,) or (N, 1): an output above ``threshold`` predicts 1
      (0.5 for outputs regressed on 0/1 targets; use 0.0 for logits).

    Args:
        outputs: model outputs.
        targets: see above.
        threshold: decision threshold of the one-output case.

    Returns:
        A float in [0, 1].

    Raises:
        TypeError: non-tensors.
        ValueError: shapes that fit none of the cases.

    Example:
        >>> accuracy(torch.tensor([[0.1], [0.9]]), torch.tensor([[0.0], [0.0]]))
        0.5
    """
    for label, tensor in (("outputs", outputs), ("targets", targets)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"accuracy: expected {label} to be a tensor, got {describe(tensor)}")
    outputs, targets = outputs.detach(), targets.detach().to(outputs.device)
    n = outputs.shape[0] if outputs.ndim else 0
    if n == 0 or targets.ndim == 0 or targets.shape[0] != n:
        raise ValueError(f"accuracy: expected outputs and targets with the same non-zero number of "
                         f"samples, got shapes {tuple(outputs.shape)} and {tuple(targets.shape)}")
    single = outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1)
    if single and targets.numel() == n:
        predicted = (outputs.reshape(n) > threshold)
        return float((predicted == (targets.reshape(n) > 0.5)).double().mean())
    if outputs.ndim == 2 and targets.ndim == 1 and not targets.dtype.is_floating_point:
        return float((outputs.argmax(dim=1) == targets).double().mean())
    if outputs.ndim == 2 and targets.shape == outputs.shape:
        return float((outputs.argmax(dim=1) == targets.argmax(dim=1)).double().mean())
    raise ValueError(f"accuracy: expected outputs (N, C) with class-index targets (N,), one-hot targets "
                     f"(N, C), or one output (N,)/(N, 1) with 0/1 targets; got shapes "
                     f"{tuple(outputs.shape)} and {tuple(targets.shape)} (targets dtype {targets.dtype})")


def converged_or_stuck(seen: list[float], loss: float, tol: float) -> bool:
    """Whether to stop L-BFGS epochs: the loss is far below ``tol`` (under ``tol / 1000``), or the epoch
    gained under 10% (a local minimum such as the XOR plateaus at 0.5 and 2/3).

    Args:
        seen: the losses of the earlier epochs (this epoch's loss is appended).
        loss: this epoch's loss.
        tol: the loss a global minimum is below.

    Returns:
        True to stop.
    """
    stuck = bool(seen) and loss > 0.9 * seen[-1]
    seen.append(loss)
    return loss < tol * 1e-3 or stuck


def xor_minimum(width: int = 2, seed: int = 0, activation: str = "sigmoid", *,
                tol: float = 1e-10, max_tries: int = 20) -> MLP:
    """A float64 XOR network trained to a global minimum (sum-of-squares loss below ``tol``).

    Builds :func:`~rashomon_widgets.models.xor_mlp` with seed ``seed`` and trains it with L-BFGS on
    the four XOR points; an initialisation that lands at a local minimum is discarded and the next
    seed (``seed + 1``, ...) is tried, so the result is deterministic for a given ``seed``.

    Args:
        width: hidden units (9 parameters for 2).
        seed: first initialisation seed tried.
        activation: hidden activation (the output layer is linear, so loss 0 is reachable).
        tol: the sum-of-squares loss the minimum must reach.
        max_tries: how many consecutive seeds to try.

    Returns:
        The trained :class:`MLP` in eval mode; ``sum_of_squares(model(X), y) < tol`` on ``xor()``.

    Raises:
        TypeError / ValueError: bad arguments.
        RuntimeError: no seed of the ``max_tries`` tried reached ``tol``.

    Example:
        >>> from rashomon_widgets.data import xor
        >>> X, y = xor()
        >>> model = xor_minimum()
        >>> sum_of_squares(model(X), y).item() < 1e-10
        True
    """
    from ..data.xor import xor

    tol = check_positive(tol, "tol")
    seed = check_seed(seed)
    max_tries = check_int(max_tries, "max_tries")
    inputs, targets = xor(torch.float64)
    best = math.inf
    for s in range(seed, seed + max_tries):
        model = xor_mlp(width, activation=activation, dtype=torch.float64, seed=s)
        seen: list[float] = []
        losses = train(model, sum_of_squares, (inputs, targets), epochs=10, optimizer="lbfgs",
                       callback=lambda epoch, loss: converged_or_stuck(seen, loss, tol))
        best = min(best, losses[-1])
        with torch.no_grad():
            outputs = model(inputs)
        if losses[-1] < tol and accuracy(outputs, targets) == 1.0:
            return model
    raise RuntimeError(f"xor_minimum: expected a seed in {seed}..{seed + max_tries - 1} to reach a "
                       f"sum-of-squares loss below {tol}, but the best reached {best:.3g}; try "
                       "another seed, width or activation")
