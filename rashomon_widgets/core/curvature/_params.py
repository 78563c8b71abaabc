"""Flat parameter vectors <-> a module's named parameters, and evaluation at any vector.

The user's module is never mutated: it is copied, put in evaluation mode, and evaluated in one of two
ways:

* differentiably, with ``torch.func.functional_call`` on views of a flat vector ``theta``
  (:meth:`FunctionalModel.__call__`: gradients, HVPs, ``vmap``);
* loss-only, by writing ``theta`` in place into a second private copy whose parameters are views into
  one flat tensor (:meth:`FunctionalModel.at`): one ``copy_`` and a plain forward, without
  ``functional_call``'s per-call cost (what loss-landscapes does, on its own copy of the model). It is
  never given to ``functional_call``, which leaves tied parameters swapped after a call.

``functional_call`` swaps the given tensors into the module for the duration of the call, and ``at``
writes into it, so one module shared by two threads would let each see the other's parameters. Every
thread therefore evaluates its own private copies (one for each way, made on first use, dropped with
the thread): a :class:`FunctionalModel` is safe to call from any number of threads at once. It pickles
without its per-thread copies and locks (they are made again where it is unpickled).
"""
from __future__ import annotations

import copy
import threading

import torch
from torch.func import functional_call

from ..validation import describe

#: parameter dtypes refused: too coarse for curvature, and without kernels for eigh and friends
HALF_DTYPES = (torch.float16, torch.bfloat16)


class ParamLayout:
    """Names, shapes and sizes of a module's trainable parameters, in ``named_parameters`` order.

    Args:
        module: the model.

    Raises:
        TypeError: parameters that are not floating point, or in half precision (:data:`HALF_DTYPES`).
        ValueError: no trainable parameters, or parameters in several dtypes or on several devices.
    """

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
        dtype = next(iter(dtypes))
        if not dtype.is_floating_point:
            raise TypeError(f"model: expected floating-point parameters, got {dtype}")
        if dtype in HALF_DTYPES:
            raise TypeError(f"model: expected float32 or float64 parameters, got {dtype}: half precision is too "
                            "coarse for Hessians and their eigenvalues (torch's eigh has no half kernel either); "
                            "convert a copy with model.float() or model.double()")
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
    """Private evaluation-mode copies of a module (one per thread), called at any flat parameter vector.

    Args:
        module: the user's model (copied, never changed).

    Raises:
        TypeError: not a ``torch.nn.Module``, or non-floating or half-precision parameters.
        ValueError: no trainable parameters, or parameters in several dtypes or on several devices.
    """

    def __init__(self, module: torch.nn.Module):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {describe(module)}")
        self.layout = ParamLayout(module)
        self._template = copy.deepcopy(module).eval()
        for p in self._template.parameters():
            p.requires_grad_(False)
        self.buffers = {n: b.detach().clone() for n, b in self._template.named_buffers()}
        self._local = threading.local()
        self._lock = threading.Lock()
        self.copies_made = 0   # private copies made so far (two per thread that evaluates: see the module)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_local"], state["_lock"]  # per-thread copies and the lock are made again on unpickling
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()
        self._lock = threading.Lock()

    def _copy(self) -> torch.nn.Module:
        with self._lock:
            self.copies_made += 1
            return copy.deepcopy(self._template)

    @property
    def module(self) -> torch.nn.Module:
        """This thread's private copy of the model for ``functional_call`` (evaluation mode, parameters
        frozen)."""
        module = getattr(self._local, "module", None)
        if module is None:
            module = self._local.module = self._copy()
        return module

    def _in_place_copy(self) -> tuple[torch.nn.Module, torch.Tensor]:
        """This thread's (module, flat) for :meth:`at`: another private copy, never given to
        ``functional_call`` (which leaves tied parameters swapped after a call), whose trainable
        parameters are views into ``flat``."""
        state = getattr(self._local, "in_place", None)
        if state is None:
            module = self._copy()
            layout = self.layout
            flat = layout.flatten(module)
            params = dict(module.named_parameters())  # tied parameters: one object, listed once
            with torch.no_grad():
                for (name, sl), shape in zip(layout.slices().items(), layout.shapes):
                    params[name].data = flat[sl].view(shape)  # the same Parameter object, storage in flat
            state = self._local.in_place = (module, flat)
        return state

    def at(self, theta: torch.Tensor) -> torch.nn.Module:
        """This thread's private copy with its parameters set to ``theta`` in place (not differentiable).

        Call the returned module at once, in the same thread, under ``torch.no_grad()``: the next
        ``at`` in this thread overwrites the parameters.

        Args:
            theta: (P,) in the model's dtype and device.

        Returns:
            the module, ready for a plain forward.
        """
        module, flat = self._in_place_copy()
        with torch.no_grad():
            flat.copy_(theta)
        return module

    def __call__(self, theta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """The model's outputs on ``inputs`` with parameters ``theta`` (P,); differentiable in theta."""
        return functional_call(self.module, (self.layout.unflatten(theta), self.buffers), (inputs,))
