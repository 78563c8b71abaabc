"""The spectral-density benchmark: ours (deflated SLQ at its defaults, and plain SLQ) against PyHessian
``density()`` (its call of the removed ``torch.eig`` patched), the largest node checked against lambda_max and the
density's first moment against the reference trace."""
from __future__ import annotations

import numpy as np

import rashomon_widgets as rw

from .cases import Case
from .peers import pyhessian_call
from .rows import row
from .timing import med, med_low, seeded_runs


def bench_density(case: Case, ls: rw.Landscape, ref_eigs: dict, ref_trace: dict) -> tuple[list[dict], dict]:
    """Density: ours at its defaults (deflated SLQ, 800 HVPs) and plain SLQ with one start vector and the same
    number of Lanczos steps in both libraries. Errors: the largest node against lambda_max, and the
    quadrature's trace (P * sum w_i theta_i, the density's first moment) against the reference trace; ours
    reports an error for the latter, checked against the truth."""
    steps, p, kw = min(case.density_steps, ls.num_params), ls.num_params, {"repeats": case.repeats,
                                                                          "warmup": case.warmup}
    lam, tr = ref_eigs["values"][0], ref_trace["value"]
    rows, summary = [], {}

    def add(name, method, fn):
        wall, results = seeded_runs(fn, **kw)  # each result: (nodes, weights, HVP count, reported error)
        top = [abs(np.max(nd) - lam) / abs(lam) for nd, _, _, _ in results]
        first = [(abs(p * np.dot(w, nd) - tr), r) for nd, w, _, r in results]
        summary[name] = {"wall": wall, "hvps": med_low(h for _, _, h, _ in results), "error": med(top),
                         "trace_error": med(e / abs(tr) for e, _ in first),
                         "max_trace_error": max(e / abs(tr) for e, _ in first)}
        note = (f"first moment vs trace: median rel. error {summary[name]['trace_error']:.2g} "
                f"(max {summary[name]['max_trace_error']:.2g})")
        if results[0][3] is not None:
            covered = sum(e <= r for e, r in first)
            summary[name]["covered"] = covered
            note += f"; reported error covers it in {covered}/{len(first)} runs"
        ratio = None if name == "ours" else wall / summary["ours"]["wall"]
        rows.append(row("density (SLQ)", method, wall, summary[name]["hvps"], summary[name]["error"], ratio, note))

    def ours(seed, **kwargs):
        d = ls.density(seed=seed, **kwargs)
        return d.nodes, d.weights, d.num_products, d.trace.error

    model = case.peer_model()

    def pyhessian(seed, n_v=1, iters=steps):
        (nodes, weights), hvps = pyhessian_call(case, model, "density", seed=seed, iter=iters, n_v=n_v)
        return np.concatenate(nodes), np.concatenate(weights) / n_v, hvps, None

    if case.key == "resnet":  # 800 products a seed are minutes on a CPU here: a smaller deflated run
        defaults = {"deflation_steps": 2 * steps, "num_vectors": 4, "num_steps": steps // 2}
        add("ours", f"**ours** `density(deflation_steps={2 * steps}, num_vectors=4, num_steps={steps // 2})`",
            lambda seed: ours(seed, **defaults))
    else:
        add("ours", "**ours** `density()` (deflated SLQ, defaults)", ours)
        add("pyhessian_budget", "PyHessian `density(iter=80, n_v=10)` (our former default, 800 HVPs)",
            lambda seed: pyhessian(seed, 10, min(80, p)))
    add("ours_plain", f"ours `density(num_vectors=1, num_steps={steps}, deflation_steps=0)` (plain SLQ)",
        lambda seed: ours(seed, num_vectors=1, num_steps=steps, deflation_steps=0))
    add("pyhessian", f"PyHessian `density(iter={steps}, n_v=1)` (patched `torch.eig`)", pyhessian)
    return rows, summary
