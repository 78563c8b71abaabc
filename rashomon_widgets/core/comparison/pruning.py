"""Magnitude pruning (write-up 2): masks by threshold or by fraction, applying them, and sparsity.

A *mask* is a dict ``{parameter name: bool tensor}``: True keeps an entry, False prunes it. Masks are
plain data, so they can be saved, compared (:func:`mask_overlap`) and kept fixed while the pruned
network trains further (``rashomon_widgets.models.train(..., masks=masks)``).

By default only weight matrices and kernels are pruned (parameters with two or more dimensions);
biases and normalisation scales stay, as in the usual magnitude pruning. ``params="all"`` prunes every
parameter. (``which=`` is the deprecated name of ``params=``: elsewhere in the package ``which`` picks the
end of a spectrum, "largest" or "smallest".)

Example:
    >>> import torch
    >>> model = torch.nn.Linear(3, 2)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[0.01, -0.2, 0.5], [0.0, 0.04, -0.06]]))
    >>> pruned = prune(model, threshold=0.05)       # a copy; model is unchanged
    >>> sparsity(pruned).overall
    0.5
    >>> mask_overlap(masks_of(pruned), magnitude_masks(model, fraction=0.5))["overall"]
    1.0
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..validation import check_choice, check_module, check_real, describe

Masks = dict[str, torch.Tensor]
#: what pruning considers: weight matrices and kernels only, or every parameter
PARAMS = ("weights", "all")


def _params(params: str, which: str | None, where: str) -> str:
    """``params``, or the deprecated ``which=`` given in its place, checked."""
    if which is not None:
        warnings.warn(f"{where}(which=...) is deprecated: use params= ('weights' or 'all')", DeprecationWarning,
                      stacklevel=3)
        params = which
    return check_choice(params, "params", PARAMS)


def prunable(model: nn.Module, params: str = "weights", *, which: str | None = None) -> dict[str, torch.Tensor]:
    """The parameters that pruning considers (see the module docstring).

    Args:
        model: the network.
        params: ``"weights"`` (parameters with 2 or more dimensions) or ``"all"``.
        which: deprecated name of ``params``.

    Returns:
        ``{name: parameter}``.
    """
    check_module(model)
    params = _params(params, which, "prunable")
    return {name: p for name, p in model.named_parameters() if params == "all" or p.ndim >= 2}


def magnitude_masks(model: nn.Module, *, threshold: float | None = None, fraction: float | None = None,
                    params: str = "weights", which: str | None = None) -> Masks:
    """Masks that keep the entries whose magnitude is at least ``threshold``, or that prune the
    ``fraction`` of smallest-magnitude entries (over all prunable parameters together).

    Args:
        model: the network (not changed).
        threshold: prune ``|w| < threshold`` (the write-up used 0.05); a number >= 0.
        fraction: or prune this share of the entries, a number in [0, 1] (ties at the cut are pruned
            together, so the share pruned can be slightly larger).
        params: ``"weights"`` (parameters with 2 or more dimensions) or ``"all"``.
        which: deprecated name of ``params``.

    Returns:
        ``{name: bool tensor}`` for the prunable parameters; True means kept.

    Raises:
        TypeError: a non-module model or non-numbers.
        ValueError: neither or both of ``threshold`` and ``fraction``, or a value out of range.
    """
    tensors = prunable(model, _params(params, which, "magnitude_masks"))
    if (threshold is None) == (fraction is None):
        raise ValueError("magnitude_masks: expected exactly one of threshold= or fraction=, got "
                         f"threshold={threshold!r}, fraction={fraction!r}")
    if threshold is not None:
        cut = check_real(threshold, "threshold", 0.0, math.inf)
        return {name: p.detach().abs() >= cut for name, p in tensors.items()}
    share = check_real(fraction, "fraction", 0.0, 1.0)
    if not tensors:  # nothing to prune (as with threshold=)
        return {}
    magnitudes = torch.cat([p.detach().abs().flatten() for p in tensors.values()])
    k = int(round(share * magnitudes.numel()))
    if k == 0:
        return {name: torch.ones_like(p, dtype=torch.bool) for name, p in tensors.items()}
    kth = torch.kthvalue(magnitudes.cpu(), k).values  # the k-th smallest is pruned, and all below it
    return {name: p.detach().abs() > kth.to(p.device) for name, p in tensors.items()}


def check_masks(model: nn.Module, masks) -> Masks:
    """Validate masks for a model: every name a parameter of ``model``, every mask of its shape.

    Args:
        model: the network.
        masks: ``{parameter name: bool tensor}``.

    Returns:
        ``masks``.

    Raises:
        TypeError: not a dict.
        ValueError: an unknown name, or a mask that is not a tensor of the parameter's shape.
    """
    if not isinstance(masks, dict):
        raise TypeError(f"masks: expected a dict {{parameter name: bool tensor}}, got {describe(masks)}")
    named = dict(model.named_parameters())
    for name, mask in masks.items():
        if name not in named:
            raise ValueError(f"masks: expected names of the model's parameters ({', '.join(named)}), got {name!r}")
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(named[name].shape):
            raise ValueError(f"masks[{name!r}]: expected a tensor of shape {tuple(named[name].shape)}, "
                             f"got {describe(mask)}")
    return masks


def apply_masks(model: nn.Module, masks: Masks) -> nn.Module:
    """Zero the pruned entries of ``model`` **in place**.

    Args:
        model: the network; changed.
        masks: ``{parameter name: bool tensor}``; False entries are set to zero.

    Returns:
        ``model`` itself.
    """
    check_module(model)
    check_masks(model, masks)
    named = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            named[name].masked_fill_(~mask.to(device=named[name].device, dtype=torch.bool), 0.0)
    return model


def prune(model: nn.Module, *, threshold: float | None = None, fraction: float | None = None,
          params: str = "weights", masks: Masks | None = None, which: str | None = None) -> nn.Module:
    """A pruned **copy** of ``model`` (the original is not changed).

    The copy is in eval mode.

    Args:
        model: the network (not changed).
        threshold, fraction, params: the magnitude pruning (see :func:`magnitude_masks`).
        masks: or ready masks ``{parameter name: bool tensor}``.
        which: deprecated name of ``params``.

    Returns:
        the pruned copy.

    Raises:
        TypeError: a non-module model.
        ValueError: both masks and threshold/fraction, or bad masks or numbers.
    """
    check_module(model)
    if masks is None:
        masks = magnitude_masks(model, threshold=threshold, fraction=fraction, params=_params(params, which, "prune"))
    elif threshold is not None or fraction is not None:
        raise ValueError("prune: expected masks= or threshold=/fraction=, got both")
    pruned = copy.deepcopy(model).eval()
    return apply_masks(pruned, masks)


def masks_of(model: nn.Module, params: str = "weights", *, which: str | None = None) -> Masks:
    """The masks of the nonzero entries of ``model``: its current skeleton.

    Args:
        model: the network.
        params: ``"weights"`` or ``"all"`` (see :func:`magnitude_masks`).
        which: deprecated name of ``params``.

    Returns:
        ``{name: bool tensor}``, True where the entry is nonzero.
    """
    return {name: p.detach() != 0 for name, p in prunable(model, _params(params, which, "masks_of")).items()}


@dataclass(frozen=True)
class Sparsity:
    """Zero entries of a model, per parameter and overall.

    Attributes:
        layers: ``{name: (zeros, total)}`` per prunable parameter.
        zeros, total: summed over them.
    """

    layers: dict[str, tuple[int, int]]
    zeros: int
    total: int

    @property
    def overall(self) -> float:
        """Share of zero entries, in [0, 1]."""
        return self.zeros / self.total if self.total else 0.0

    def of(self, name: str) -> float:
        """The share of zero entries of one parameter: ``sparsity(model).of("0.weight")``.

        Args:
            name: the parameter's name (a key of ``layers``).

        Returns:
            a float in [0, 1].
        """
        zeros, total = self.layers[name]
        return zeros / total if total else 0.0

    def share(self, name: str) -> float:
        """Deprecated: :meth:`of` (``share`` is a threshold elsewhere, as in ``Directions.share``).

        Args:
            name: the parameter's name (a key of ``layers``).

        Returns:
            ``of(name)``.
        """
        warnings.warn("Sparsity.share(name) is deprecated: use Sparsity.of(name)", DeprecationWarning, stacklevel=2)
        return self.of(name)

    def rows(self) -> list[dict]:
        """The table of sparsities, for display.

        Returns:
            one dict per parameter plus an ``"overall"`` row: parameter, zeros, total, sparsity.
        """
        rows = [{"parameter": n, "zeros": zeros, "total": total, "sparsity": zeros / total if total else 0.0}
                for n, (zeros, total) in self.layers.items()]
        rows.append({"parameter": "overall", "zeros": self.zeros, "total": self.total, "sparsity": self.overall})
        return rows


def sparsity(model: nn.Module, params: str = "weights", *, which: str | None = None) -> Sparsity:
    """Count the exactly-zero entries of the prunable parameters of ``model``.

    Args:
        model: the network.
        params: ``"weights"`` or ``"all"`` (see :func:`magnitude_masks`).
        which: deprecated name of ``params``.

    Returns:
        a :class:`Sparsity`.
    """
    chosen = prunable(model, _params(params, which, "sparsity"))
    layers = {name: (int((p.detach() == 0).sum()), p.numel()) for name, p in chosen.items()}
    return Sparsity(layers, sum(zeros for zeros, _ in layers.values()), sum(total for _, total in layers.values()))


def mask_overlap(a: Masks, b: Masks) -> dict[str, float]:
    """Jaccard overlap |kept in both| / |kept in either| per parameter and ``"overall"``.

    1 means the two skeletons keep exactly the same entries; two random masks keeping shares p and q
    overlap by about pq / (p + q - pq).

    Args:
        a, b: masks ``{parameter name: bool tensor}`` of the same parameters.

    Returns:
        ``{name: overlap}`` per parameter and ``"overall"`` (1.0 where neither keeps anything).

    Raises:
        TypeError: a mask set that is not a dict.
        ValueError: the masks do not have the same names and shapes.
    """
    for label, m in (("a", a), ("b", b)):
        if not isinstance(m, dict):
            raise TypeError(f"mask_overlap: expected {label} to be a dict of bool tensors, got {describe(m)}")
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError("mask_overlap: expected masks of the same parameters and shapes, got "
                         f"{ {k: tuple(v.shape) for k, v in a.items()} } and "
                         f"{ {k: tuple(v.shape) for k, v in b.items()} }")
    out, both_all, either_all = {}, 0, 0
    for name in a:
        ka, kb = a[name].bool(), b[name].to(a[name].device).bool()
        both, either = int((ka & kb).sum()), int((ka | kb).sum())
        out[name] = both / either if either else 1.0
        both_all, either_all = both_all + both, either_all + either
    out["overall"] = both_all / either_all if either_all else 1.0
    return out
