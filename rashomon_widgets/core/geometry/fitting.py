"""Fitting a curve's bends (Garipov et al. 2018), resumably, and BatchNorm statistics per point."""
from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import torch

from ..validation import check_callable, check_int, check_module, check_positive, check_seed
from .curve_base import Curve
from .curves import check_curve_for

FitProgress = Callable[[int, int, float], None]


def _stratified_ts(num_t: int, seed: int, step: int) -> torch.Tensor:
    """``num_t`` values, one uniform draw in each of [i/num_t, (i+1)/num_t): lower variance than i.i.d.
    draws. Seeded by (seed, step), so a resumed fit draws exactly what an uninterrupted one would."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))
    u = torch.rand(num_t, generator=g, dtype=torch.float64)
    return (torch.arange(num_t, dtype=torch.float64) + u) / num_t


def fit_curve(ls, curve: Curve, *, steps: int | None = None, epochs: int | None = None, lr: float = 1e-2,
              num_t: int = 4, seed: int = 0, progress: FitProgress | None = None,
              checkpoint=None, checkpoint_every: int = 50) -> list[float]:
    """Fit the bends of ``curve`` to minimise ``E_{t ~ U(0, 1)} L(curve(t))`` (Garipov et al. 2018).

    The endpoints stay fixed. Every step draws ``num_t`` stratified values of t, evaluates the loss at
    ``curve(t)`` on one batch of the Landscape's data (cycling through ``ls.batches``; the whole data
    when it is one batch) through ``torch.func.functional_call``, and takes one Adam step on the bends.
    The model is evaluated as the Landscape evaluates it (eval mode: for BatchNorm networks whose
    endpoints come from different runs, build the Landscape on :func:`with_batch_statistics`).

    Resuming: ``steps`` is the *total* number of steps. The curve keeps its fit state
    (``curve.fit_state``: steps done, losses, the optimiser's moments), so calling again on the same curve
    with a larger ``steps`` continues where it stopped, and an interrupted call (Ctrl-C) loses at most
    the step in flight. With ``checkpoint=path`` the state is also written to ``path`` atomically every
    ``checkpoint_every`` steps and at the end, and a fit started with an existing checkpoint of the same
    curve continues from it: a restarted notebook finishes the remaining steps only. A resumed fit gives
    the same bends as an uninterrupted one (t draws are seeded per step).

    Args:
        ls: the :class:`Landscape` (model, loss and data).
        curve: a :class:`BezierCurve` or :class:`PolyChain` in the model's parameter space; changed in
            place.
        steps: total optimiser steps. Give ``steps`` or ``epochs``; neither means 200 steps.
        epochs: passes over the Landscape's batches instead: ``epochs * len(ls.batches)`` steps.
        lr: Adam's learning rate.
        num_t: values of t per step.
        seed: seed of the t draws.
        progress: called as ``progress(step, total, mean_loss)`` after every step.
        checkpoint: optional file path for the fit state.
        checkpoint_every: steps between checkpoint writes.

    Returns:
        The mean loss over the drawn t's of every step done so far (this call's and earlier ones).

    Raises:
        TypeError / ValueError: a curve for another model, bad numbers, a checkpoint of another curve.

    Example:
        >>> curve = rw.BezierCurve(ls.theta, theta_b)            # doctest: +SKIP
        >>> losses = rw.fit_curve(ls, curve, steps=300, checkpoint="curve.pt")   # doctest: +SKIP
    """
    check_curve_for(ls, curve)
    if steps is not None and epochs is not None:
        raise ValueError(f"steps and epochs: expected one of them, got steps={steps} and epochs={epochs}")
    if epochs is not None:
        steps = check_int(epochs, "epochs", 0, 10**9) * len(ls.batches)
    steps = 200 if steps is None else check_int(steps, "steps", 0, 10**9)
    lr = check_positive(lr, "lr", "a positive learning rate")
    num_t = check_int(num_t, "num_t", 1, 10_000)
    seed = check_seed(seed)
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", 1, 10**9)
    check_callable(progress, "progress", "progress(step, total, loss)", optional=True)
    if curve.num_bends == 0:
        raise ValueError("curve: expected at least one bend to fit, got num_bends=0 (a straight line)")
    if checkpoint is not None:
        checkpoint = Path(checkpoint).expanduser()
        if checkpoint.is_file():
            _resume_from(curve, checkpoint)

    bends = curve.bends.clone().requires_grad_(True)
    opt = torch.optim.Adam([bends], lr=lr)
    if curve.fit_state.get("optimizer") is not None:
        opt.load_state_dict(curve.fit_state["optimizer"])
        for group in opt.param_groups:
            group["lr"] = lr
    start = int(curve.fit_state["step"])
    batches = ls.batches
    for step in range(start, steps):
        ts = _stratified_ts(num_t, seed, step)
        w = curve.weights(ts)
        x, y = batches[step % len(batches)]
        opt.zero_grad(set_to_none=True)
        with torch.enable_grad():
            points = curve.combine(w, bends)
            total = 0.0
            for p in points:
                total = total + ls.loss_on(p, x, y)
            mean = total / num_t
            if not bool(torch.isfinite(mean)):
                raise ValueError(f"fit_curve: the loss became {float(mean)} at step {step}; lower lr "
                                 f"(got {lr}); the curve keeps the bends of the last good step")
            mean.backward()
        opt.step()
        if not bool(torch.isfinite(bends).all()):
            raise ValueError(f"fit_curve: the bends became NaN or inf at step {step}; lower lr (got {lr}); "
                             "the curve keeps the bends of the last good step")
        with torch.no_grad():
            curve.bends = bends.detach().clone()
        curve.fit_state["step"] = step + 1
        curve.fit_state["losses"].append(float(mean.detach()))
        curve.fit_state["optimizer"] = _detached_state(opt)
        if checkpoint is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
            curve.save(checkpoint)
        if progress is not None:
            progress(step + 1, steps, curve.fit_state["losses"][-1])
    if checkpoint is not None and start >= steps and not checkpoint.is_file():
        curve.save(checkpoint)
    return list(curve.fit_state["losses"])


def _detached_state(opt) -> dict:
    state = opt.state_dict()
    return {"state": {k: {n: (v.detach().clone() if isinstance(v, torch.Tensor) else v) for n, v in s.items()}
                      for k, s in state["state"].items()},
            "param_groups": copy.deepcopy(state["param_groups"])}


def _resume_from(curve: Curve, path: Path) -> None:
    saved = type(curve).load(path, like=curve.theta_a)
    if saved.num_bends != curve.num_bends or not (torch.equal(saved.theta_a.to(curve.device), curve.theta_a)
                                                  and torch.equal(saved.theta_b.to(curve.device), curve.theta_b)):
        raise ValueError(f"checkpoint {str(path)!r}: expected a checkpoint of this curve (the same endpoints "
                         f"and {curve.num_bends} bend(s)), got one of another curve ({saved.num_bends} "
                         "bend(s)); delete the file or pass another checkpoint path")
    if saved.fit_state["step"] > curve.fit_state["step"]:
        curve.bends = saved.bends.to(curve.device)
        curve.fit_state = saved.fit_state


# ---------------------------------------------------------------------------------------- BatchNorm
def with_batch_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` whose BatchNorm layers normalise with the statistics of the batch they see.

    Running statistics belong to one set of weights: the running means of run A are wrong for run B and
    for every point between them. Garipov et al. recompute them at every point of a curve; this copy
    does the equivalent inside every evaluation (even in ``eval()`` mode, which the Landscape uses), so
    a Landscape built on it gives each point of parameter space its own statistics. Use whole-data or
    large batches; the user's model is not changed.

    Args:
        model: a ``torch.nn.Module``.

    Returns:
        the copy.

    Raises:
        TypeError: ``model`` is not a module.

    Example:
        >>> ls = rw.Landscape(with_batch_statistics(model_a), loss_fn, data)   # doctest: +SKIP
    """
    out = copy.deepcopy(check_module(model))
    for m in out.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
    return out
