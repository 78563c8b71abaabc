"""Flat parameter vectors <-> a module's named parameters, and evaluation at any vector.

The user's module is never mutated: it is copied once, put in evaluation mode, and evaluated with
``torch.func.functional_call`` on views of a flat vector ``theta``.
"""
from __future__ import annotations

import copy

import torch
from torch.func import functional_call

from ._checks import describe


class ParamLayout:
    """Names, shapes and sizes of a module's trainable parameters, in ``named_parameters`` order."""

    def __init__(self, module: torch.nn.Module):
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError(f"model: expected a torch.nn.Module with trainable parameters, got "
                             f"{type(module).__name__} with none")
        dtypes = {p.dtype for _, p in named}
        devices = {p.device for _, p in named}
        if len(dtypes) != 1 or len(devices) != 1:
            raise ValueError("model: expected all parameters in one dtype on one device, got dtypes "
                             f"{sorted(map(str, dtypes))} on devices {sorted(map(str, devices))}")
        if not next(iter(dtypes)).is_floating_point:
            raise TypeError(f"model: expected floating-point parameters, got {next(iter(dtypes))}")
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.dtype = next(iter(dtypes))
        self.device = next(iter(devices))
        self.num_params = sum(self.numels)

    def flatten(self, module: torch.nn.Module) -> torch.Tensor:
        """The module's parameters as one detached flat vector (a copy)."""
        params = dict(module.named_parameters())
        return torch.cat([params[n].detach().reshape(-1) for n in self.names]).clone()

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``theta`` shaped like the module's parameters (differentiable)."""
        chunks = torch.split(theta, self.numels)
        return {n: c.view(s) for n, c, s in zip(self.names, chunks, self.shapes)}

    def slices(self) -> dict[str, slice]:
        """Where each named parameter lies inside ``theta``."""
        out, start = {}, 0
        for n, k in zip(self.names, self.numels):
            out[n] = slice(start, start + k)
            start += k
        return out


class FunctionalModel:
    """A private evaluation-mode copy of a module, called at any flat parameter vector."""

    def __init__(self, module: torch.nn.Module):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {describe(module)}")
        self.layout = ParamLayout(module)
        self.module = copy.deepcopy(module).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.buffers = {n: b.detach().clone() for n, b in self.module.named_buffers()}

    def __call__(self, theta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(self.module, (self.layout.unflatten(theta), self.buffers), (inputs,))
