"""The cost floor of a case: one plain forward, one HVP (built each call, and with the gradient graph reused),
and the fastest batched forward over all points of a grid, the floor the grid rows compare against."""
from __future__ import annotations

import torch
from torch.func import functional_call

import rashomon_widgets as rw

from .cases import Case
from .timing import median_time


def bench_floor(case: Case, ls: rw.Landscape) -> dict:
    """Median times of one plain forward (``no_grad``) and of one HVP: ``ls.hvp`` (builds the gradient graph
    each call) and a product inside ``hessian_operator`` (graph reused, as eigs/trace/density do)."""
    model = case.peer_model()
    with torch.no_grad():
        t_fwd = median_time(lambda: model(case.X))
        t_fwd_loss = median_time(lambda: case.loss(model(case.X), case.y))
    v = torch.randn(ls.num_params, generator=torch.Generator().manual_seed(0), dtype=ls.dtype).to(ls.device)
    few = {"min_runs": 3, "max_runs": 3} if case.key == "resnet" else {"max_runs": 20}
    t_hvp = median_time(lambda: ls.hvp(v), **few)
    with ls.hessian_operator() as op:
        t_hvp_reuse = median_time(lambda: op.matvec(v), **few)
    return {"forward": t_fwd, "forward_loss": t_fwd_loss, "hvp": t_hvp, "hvp_reuse": t_hvp_reuse,
            "hvp_form": ls.hvp_form()}


def vmap_floor(case: Case, thetas: torch.Tensor) -> float | None:
    """Seconds for one ``torch.vmap`` (chunked to ~256 MiB of activations) of a plain functional loss over
    all points; None for PreResNet20, where it would cost as much as the grid itself and cannot beat
    the loop of forwards on a CPU."""
    if case.key == "resnet":
        return None
    model = case.peer_model()
    named = list(model.named_parameters())
    names, shapes, numels = [n for n, _ in named], [p.shape for _, p in named], [p.numel() for _, p in named]

    def loss_at(t):
        params = {n: c.view(s) for n, c, s in zip(names, torch.split(t, numels), shapes)}
        return case.loss(functional_call(model, params, (case.X,)), case.y)

    # activations of one point: samples x (inputs + every layer's outputs), at most 8 bytes each
    per_point = 8 * case.X.shape[0] * (case.X[0].numel() + sum(p.shape[0] for _, p in named if p.ndim == 2))
    chunk = int(max(1, min(len(thetas), 256 * 2**20 // per_point)))
    with torch.no_grad():
        return median_time(lambda: torch.vmap(loss_at, chunk_size=chunk)(thetas), min_runs=3, max_runs=7)
