"""Hessian-vector products of a scalar function of a flat parameter vector.

Two forms are exact and interchangeable:

* ``"double_backward"``: differentiate ``<grad L(theta), v>`` once more (``create_graph``);
* ``"forward_over_reverse"``: ``torch.func.jvp`` of ``torch.func.grad`` (one pass per vector).

Which is faster depends on the model and device (on a CPU double backward usually wins), so
:class:`~rashomon_widgets.Landscape` measures both once and keeps the faster. For many products at one
point, :class:`HessianOperator` keeps one gradient graph alive for the duration of a ``with`` block and
differentiates it again for every vector: the cheapest form here, and nothing is retained afterwards.
"""
from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable

import torch
from torch.func import grad as func_grad
from torch.func import jvp, vmap

@functools.cache
def prepare_forward_ad() -> None:
    """Load torch's forward-AD decompositions once, quietly.

    torch 2.13 scripts them with the deprecated ``torch.jit.script`` on the first forward-mode call,
    which warns in every user's notebook; the warning is about torch's internals, not the user's code.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
        try:
            from torch._decomp import decompositions_for_jvp  # noqa: F401
        except ImportError:  # a torch without it needs no preparation
            pass


HVP_FORMS = ("double_backward", "forward_over_reverse")
LossOfTheta = Callable[[torch.Tensor], torch.Tensor]


def hvp_double_backward(f: LossOfTheta, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H v by double backward; ``v`` of shape (P,) or (P, K) (batched through ``is_grads_batched``)."""
    with torch.enable_grad():
        t = theta.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(t), t, create_graph=True)
        if v.ndim == 1:
            (hv,) = torch.autograd.grad(g, t, grad_outputs=v)
            return hv.detach()
        (hv,) = torch.autograd.grad(g, t, grad_outputs=v.T.contiguous(), is_grads_batched=True)
        return hv.detach().T


def hvp_forward_over_reverse(f: LossOfTheta, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H v as the JVP of the gradient; ``v`` of shape (P,) or (P, K) (batched with ``vmap``)."""
    theta = theta.detach()
    g = func_grad(f)

    def one(u):
        return jvp(g, (theta,), (u,))[1]

    prepare_forward_ad()
    if v.ndim == 1:
        return one(v).detach()
    return vmap(one, in_dims=1, out_dims=1)(v).detach()


HVP_FUNCTIONS = {"double_backward": hvp_double_backward,
                 "forward_over_reverse": hvp_forward_over_reverse}


class HessianOperator:
    """Matrix-free Hessian at one point, for many products (Lanczos, Hutchinson, SLQ).

    Inside ``with HessianOperator(...) as H`` the gradient graph of each batch's loss is built once and
    differentiated again for every product (``H @ v`` or ``H.matvec(v)``, ``v`` of shape (P,) or
    (P, K)). Leaving the block frees the graphs. ``num_products`` counts vectors multiplied.

    A block of K vectors is multiplied either in one batched backward pass (``is_grads_batched``) or
    as K single products. Which is faster depends on the model and the device (on a CPU, single
    products were 1.6x faster per vector on a 26k-parameter MLP; for tiny models batching wins), so
    with ``batched=None`` the first block times both on a few of its vectors (best of two) and keeps
    the faster; ``on_choice`` receives the decision so that a caller can remember it.

    Args:
        batch_losses: functions ``theta -> weighted batch loss``; the loss is their sum.
        theta: the point (P,).
        reuse_graph: keep the gradient graphs alive between products (more memory, fewer passes).
        fallback: a function ``v -> H v`` used when ``reuse_graph`` is off.
        batched: multiply blocks in one batched pass (True), vector by vector (False), or measure (None).
        on_choice: called with the measured choice.
    """

    def __init__(self, batch_losses: list[LossOfTheta], theta: torch.Tensor, *,
                 reuse_graph: bool, fallback: Callable[[torch.Tensor], torch.Tensor],
                 batched: bool | None = None, on_choice: Callable[[bool], None] | None = None):
        self.theta = theta.detach()
        self.shape = (theta.numel(), theta.numel())
        self.dtype = theta.dtype
        self.device = theta.device
        self._batch_losses = batch_losses
        self._reuse = reuse_graph
        self._fallback = fallback
        self._graphs: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self.batched = batched
        self._on_choice = on_choice
        self.num_products = 0

    def __enter__(self) -> HessianOperator:
        if self._reuse:
            graphs = []
            with torch.enable_grad():
                for f in self._batch_losses:
                    t = self.theta.clone().requires_grad_(True)
                    (g,) = torch.autograd.grad(f(t), t, create_graph=True)
                    graphs.append((t, g))
            self._graphs = graphs
        return self

    def __exit__(self, *exc) -> None:
        self._graphs = None

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for ``v`` of shape (P,) or (P, K)."""
        self.num_products += 1 if v.ndim == 1 else v.shape[1]
        if self._graphs is None:
            return self._fallback(v)
        if v.ndim == 1:
            return self._product(v, batched=False)
        if v.shape[1] == 1:
            return self._product(v[:, 0], batched=False)[:, None]
        if self.batched is None:
            return self._choose(v)
        return self._product(v, batched=self.batched)

    def _product(self, v: torch.Tensor, *, batched: bool) -> torch.Tensor:
        if v.ndim == 2 and not batched:
            return torch.stack([self._product(v[:, k], batched=False) for k in range(v.shape[1])], 1)
        total = None
        for t, g in self._graphs:
            if v.ndim == 1:
                (hv,) = torch.autograd.grad(g, t, grad_outputs=v, retain_graph=True)
            else:
                (hv,) = torch.autograd.grad(g, t, grad_outputs=v.T.contiguous(), retain_graph=True,
                                            is_grads_batched=True)
                hv = hv.T
            total = hv if total is None else total + hv
        return total.detach()

    def _choose(self, v: torch.Tensor) -> torch.Tensor:
        """Time both ways on the first (up to) 4 vectors, keep the faster, finish the block with it."""
        probe = v[:, :min(4, v.shape[1])]
        best = {}
        for batched in (True, False, True, False):  # best of two, interleaved
            start = time.perf_counter()
            head = self._product(probe, batched=batched)
            best[batched] = min(best.get(batched, float("inf")), time.perf_counter() - start)
        self.batched = best[True] <= best[False]
        if self._on_choice is not None:
            self._on_choice(self.batched)
        if probe.shape[1] == v.shape[1]:
            return head
        return torch.cat([head, self._product(v[:, probe.shape[1]:], batched=self.batched)], 1)

    __matmul__ = matvec
