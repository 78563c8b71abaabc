"""Hessian-vector products of a scalar function of a flat parameter vector.

``H v`` is the directional derivative of the gradient, ``d/de grad L(theta + e v)`` at ``e = 0``, so it
costs a small constant number of gradient evaluations and never forms H (Pearlmutter 1994, "Fast exact
multiplication by the Hessian"). Two forms are exact in exact arithmetic:

* ``"double_backward"``: differentiate ``<grad L(theta), v>`` once more (``create_graph``);
* ``"forward_over_reverse"``: ``torch.func.jvp`` of ``torch.func.grad`` (one pass per vector). Forward-mode
  AD levels are process-wide, so these products run one at a time in the process
  (:func:`~rashomon_widgets.core.torch_state.forward_ad`); double backward runs in parallel.

In practice they can disagree: torch 2.13's forward-over-reverse is wrong for LayerNorm weights (it
disagrees with double backward and with finite differences), and some
operations (``F.mse_loss``, fused attention) have no forward-mode rule. :func:`choose_form` therefore
cross-checks both once on a random probe: if they disagree beyond the dtype's tolerance, double
backward is used and a :class:`HVPFormWarning` says why; otherwise the faster is kept. For many
products at one point, :class:`~.operators.HessianOperator` keeps one gradient graph alive and
differentiates it again for every vector (double backward).
"""
from __future__ import annotations

import functools
import importlib
import time
import warnings
from collections.abc import Callable

import torch
from torch.func import grad_and_value, jvp, vmap

from ..torch_state import forward_ad
from ..validation import check_finite_loss


@functools.cache
def prepare_forward_ad() -> None:
    """Load torch's forward-AD decompositions once, quietly.

    torch 2.13 scripts them with the deprecated ``torch.jit.script`` on the first forward-mode call,
    which warns in every user's notebook; the warning is about torch's internals, not the user's code.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
        try:
            importlib.import_module("torch._decomp.decompositions_for_jvp")  # registers the rules on import
        except ImportError:  # a torch without it needs no preparation
            pass


HVP_FORMS = ("double_backward", "forward_over_reverse")
LossOfTheta = Callable[[torch.Tensor], torch.Tensor]


def hvp_double_backward(f: LossOfTheta, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H v by double backward; ``v`` of shape (P,) or (P, K) (batched through ``is_grads_batched``).
    A loss that is not finite at ``theta`` raises ``ValueError`` (its derivatives mean nothing)."""
    with torch.enable_grad():
        th = theta.detach().requires_grad_(True)
        loss = f(th)
        check_finite_loss(float(loss.detach()), "hvp")
        (g,) = torch.autograd.grad(loss, th, create_graph=True)
        if v.ndim == 1:
            (hv,) = torch.autograd.grad(g, th, grad_outputs=v)
            return hv.detach()
        (hv,) = torch.autograd.grad(g, th, grad_outputs=v.T.contiguous(), is_grads_batched=True)
        return hv.detach().T


def hvp_forward_over_reverse(f: LossOfTheta, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H v as the JVP of the gradient; ``v`` of shape (P,) or (P, K) (batched with ``vmap``).
    A loss that is not finite at ``theta`` raises ``ValueError`` (its derivatives mean nothing)."""
    theta = theta.detach()
    g = grad_and_value(f)

    def one(u):
        (_, loss), (hv, _) = jvp(g, (theta,), (u,))
        return hv, loss

    prepare_forward_ad()
    with forward_ad():  # forward-AD levels are process-wide: one forward-mode computation at a time
        if v.ndim == 1:
            hv, loss = one(v)
        else:
            hv, loss = vmap(one, in_dims=1, out_dims=(1, 0))(v)
    check_finite_loss(float(loss.reshape(-1)[0]), "hvp")
    return hv.detach()


HVP_FUNCTIONS = {"double_backward": hvp_double_backward,
                 "forward_over_reverse": hvp_forward_over_reverse}
_FAILURES = (RuntimeError, NotImplementedError)


class HVPFormWarning(UserWarning):
    """The two Hessian-vector-product forms disagreed; double backward is used."""


def hvp_sum(form: str, loss_fns: list[LossOfTheta], theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H v of ``sum(f(theta) for f in loss_fns)`` with one form, batch by batch.

    Args:
        form: one of :data:`HVP_FORMS`.
        loss_fns: functions ``theta -> scalar``; the loss is their sum.
        theta: the point (P,).
        v: (P,) or (P, K).

    Returns:
        H v, shaped like ``v``.
    """
    fn = HVP_FUNCTIONS[form]
    total = None
    for f in loss_fns:
        hv = fn(f, theta, v)
        total = hv if total is None else total + hv
    return total


def choose_form(loss_fns: list[LossOfTheta], theta: torch.Tensor, probe: torch.Tensor) -> str:
    """Cross-check both forms on ``probe`` and pick one.

    Both forms are computed twice, interleaved. If only one works, it is used. If both work but
    ``|Hv_fwd - Hv_dbl| > sqrt(eps) |Hv_dbl|`` (eps of the dtype), double backward is used and an
    :class:`HVPFormWarning` names the disagreement; otherwise the faster (best of two timings).

    Args:
        loss_fns: functions ``theta -> scalar``; the loss is their sum.
        theta: the point (P,).
        probe: a random vector (P,).

    Returns:
        the chosen form's name.

    Raises:
        RuntimeError: neither form can differentiate the loss twice (both errors are quoted).
    """
    timings, results, errors = {}, {}, {}
    for name in HVP_FORMS + HVP_FORMS:  # best of two, interleaved: one timing flips under load
        if name in errors:
            continue
        try:
            start = time.perf_counter()
            out = hvp_sum(name, loss_fns, theta, probe)
            timings[name] = min(timings.get(name, float("inf")), time.perf_counter() - start)
            results.setdefault(name, out)
        except _FAILURES as exc:
            errors[name] = exc
    if not results:
        raise RuntimeError(
            "hvp: the loss could not be differentiated twice. double backward: "
            f"{type(errors['double_backward']).__name__}: {errors['double_backward']}; forward-over-reverse: "
            f"{type(errors['forward_over_reverse']).__name__}: {errors['forward_over_reverse']}")
    if len(results) == 2:
        ref, other = results["double_backward"], results["forward_over_reverse"]
        eps = torch.finfo(ref.dtype).eps
        gap = float((other - ref).norm())
        scale = float(ref.norm())
        if gap > eps ** 0.5 * max(scale, eps):
            warnings.warn(
                f"hvp: forward-over-reverse and double backward disagree on this model ({gap:.3g} against "
                f"|Hv| = {scale:.3g}, relative {gap / max(scale, 1e-300):.2g}); using double backward, "
                "which matches finite differences. (torch's forward-mode rules are wrong for some layers, "
                "e.g. LayerNorm weights under torch 2.13.)", HVPFormWarning, stacklevel=4)
            return "double_backward"
    return min(timings, key=timings.get)
