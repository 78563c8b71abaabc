"""The spectral-estimate study on notebook 01's 2,410-parameter digits MLP (trained, and at initialisation where the
Hessian has many negative eigenvalues): the density's first moment (seeds 0..9) and the trace estimates (seeds
0..19) against the exact trace of the dense Hessian, before (plain SLQ 10 x 80) and after, on the CPU."""
from __future__ import annotations

import numpy as np

from rashomon_widgets.core.curvature import spectral_density

from .cases import build_small_mlps
from .peers import curvlinops_trace, pyhessian_call
from .references import reference_spectrum
from .timing import log
from .trace import trace_summary


def bench_estimates(quick: bool) -> list[str]:
    """First moments of densities and trace estimates against the exact trace of the 2,410-parameter digits
    MLPs, over seeds 0..9 (densities) and 0..19 (traces); our reported errors checked against the truth.
    Returns the report's Markdown lines."""
    density_seeds, trace_seeds = range(3 if quick else 10), range(5 if quick else 20)
    lines = ["## Spectral estimates on the 2,410-parameter digits MLP", "",
             "Against the exact trace (dense Hessian, `eigh` in float64). *before*: plain SLQ with 10 Rademacher "
             "vectors x 80 Lanczos steps, the former default of `density()`; PyHessian's `density` at the same "
             f"budget. Densities: seeds {density_seeds.start}..{density_seeds.stop - 1}; traces: seeds "
             f"{trace_seeds.start}..{trace_seeds.stop - 1}. *covered*: runs whose reported error (95%) is at least "
             "the true error.", "",
             "| model | estimate | HVPs | median rel. error | max rel. error | reported error (median) | covered |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for case in build_small_mlps():
        log(f"[estimates] {case.key}: reference spectrum ...")
        ref = reference_spectrum(case)
        exact, ls, model = ref["trace"], case.landscape(), case.peer_model()
        lines_before = len(lines)

        def table(name, results):
            s = trace_summary(results, exact)
            reported = "" if s["reported"] is None else f"{s['reported']:.1e}"
            covered = "" if s["reported"] is None else f"{s['covered']}/{s['runs']}"
            lines.append(f"| {case.title} | {name} | {s['hvps']} | {s['error']:.1e} | {s['max_error']:.1e} | "
                         f"{reported} | {covered} |")
            log(f"[estimates] {lines[-1]}")

        def first_moment(nodes, weights):
            return float(np.dot(nodes, weights)) * case.num_params

        def before(seed):
            with ls.hessian_operator() as op:
                nodes, weights = spectral_density.slq(op, num_vectors=10, num_steps=80, seed=seed)
                return first_moment(nodes, weights), op.num_products, None

        def after(seed):
            d = ls.density(seed=seed)
            return float(np.trapezoid(d.grid * d.density, d.grid)) * case.num_params, d.num_products, d.trace.error

        def pyhessian_density(seed):
            (nodes, weights), hvps = pyhessian_call(case, model, "density", seed=seed, iter=80, n_v=10)
            return first_moment(np.concatenate(nodes), np.concatenate(weights) / 10), hvps, None

        log(f"[estimates] {case.key}: densities ...")
        table("density: **ours** `density()` (deflated SLQ)", [after(s) for s in density_seeds])
        table("density: ours before (plain SLQ 10 x 80)", [before(s) for s in density_seeds])
        table("density: PyHessian `density(iter=80, n_v=10)`", [pyhessian_density(s) for s in density_seeds])
        log(f"[estimates] {case.key}: traces ...")
        for method in ("auto", "xtrace", "hutch++"):
            def ours(seed, method=method):
                t = ls.trace(method=method, seed=seed)
                return float(t), t.num_products, t.error
            label = ("**ours** `trace()` (Krylov-deflated Hutchinson)" if method == "auto"
                     else f"ours `trace(method='{method}')`")
            table(f"trace: {label}", [ours(s) for s in trace_seeds])

        def pyhessian_trace(seed):
            samples, hvps = pyhessian_call(case, model, "trace", seed=seed)
            return float(np.mean(samples)), hvps, None

        table("trace: PyHessian `trace()`", [pyhessian_trace(s) for s in trace_seeds])
        for name in ("xtrace", "hutchpp_trace"):
            results = [curvlinops_trace(case, model, name, 40, seed=s) for s in trace_seeds]
            if all(r is not None for r in results):
                table(f"trace: curvlinops `{name}(H, {results[0][1]})`", [(*r, None) for r in results])
        lines.insert(lines_before, f"| {case.title} | exact trace {exact:.6g} (λmax {ref['top'][0]:.4g}, λmin "
                                   f"{ref['min']:.3g}, negative eigenvalues sum to {ref['negative_sum']:.3g}) "
                                   "| | | | | |")
    return lines + [""]
