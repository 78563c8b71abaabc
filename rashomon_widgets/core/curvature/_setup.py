"""What a Landscape checks when it is built: the loss's reduction, batch-statistics layers."""
from __future__ import annotations

import torch

from ..validation import check_choice

_REDUCTIONS = {"mean": "mean", "sum": "sum", "batchmean": "mean"}


class BatchStatisticsWarning(UserWarning):
    """Batch-statistics normalisation makes results over several batches differ from full-batch ones."""


def reduction_of(loss_fn, reduction: str | None) -> str:
    """The loss's reduction: the argument, the loss module's own ``.reduction``, or ``"mean"``.

    Args:
        loss_fn: the loss (a ``torch.nn`` loss module or a function, maybe with a ``.reduction``).
        reduction: what the caller said, or None.

    Returns:
        ``"mean"`` or ``"sum"``.

    Raises:
        ValueError: the loss reduces to no scalar (``"none"``), or the argument contradicts the loss.
    """
    own = getattr(loss_fn, "reduction", None)
    if isinstance(own, str):
        if own not in _REDUCTIONS:
            raise ValueError(f"loss_fn: its reduction is {own!r}; expected a loss reduced to a scalar "
                             "('mean' or 'sum'), e.g. torch.nn.MSELoss(reduction='sum')")
        own = _REDUCTIONS[own]
        if reduction is not None and check_choice(reduction, "reduction", ("mean", "sum")) != own:
            raise ValueError(f"reduction: got {reduction!r}, but loss_fn reduces with {own!r} "
                             f"({type(loss_fn).__name__}.reduction); drop the argument or make them agree")
        return own
    if reduction is None:
        return "mean"
    return check_choice(reduction, "reduction", ("mean", "sum"))


def batch_statistics_modules(module: torch.nn.Module) -> list[str]:
    """Names of normalisation layers that use the statistics of the batch even in eval mode.

    Args:
        module: the model.

    Returns:
        one description per such layer (name, type).
    """
    return [f"{name or 'model'} ({type(m).__name__}, track_running_stats=False)"
            for name, m in module.named_modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is None]
