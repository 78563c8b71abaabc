"""The trace benchmark: ours (Krylov-deflated Hutchinson by default, with its error estimate; also ``xtrace`` and
``hutch++``) against PyHessian ``trace()`` and curvlinops' ``xtrace`` / ``hutchpp_trace``; each run's reported
error is checked against the true error (:func:`trace_summary`, also used by the spectral-estimate study)."""
from __future__ import annotations

import numpy as np

import rashomon_widgets as rw

from .cases import Case
from .peers import curvlinops_trace, pyhessian_call
from .rows import row
from .timing import med, med_low, seeded_runs


def trace_summary(results, exact: float) -> dict:
    """Errors of ``[(estimate, HVPs, reported error or None)]`` against ``exact``: median and max relative
    error, the median reported error (relative), and in how many runs the reported error covered the truth."""
    errs = [abs(e - exact) / abs(exact) for e, _, _ in results]
    reported = [(abs(e - exact), r) for e, _, r in results if r is not None]
    return {"hvps": med_low(h for _, h, _ in results), "error": med(errs), "max_error": max(errs),
            "reported": med(r / abs(exact) for _, r in reported) if reported else None,
            "covered": sum(err <= r for err, r in reported), "runs": len(results),
            "estimate": med(e for e, _, _ in results)}


def trace_note(summary: dict) -> str:
    note = f"median estimate {summary['estimate']:.6g}; max rel. error {summary['max_error']:.1e}"
    if summary["reported"] is None:
        return note + "; no error estimate"
    return (note + f"; reported error (95%) median {summary['reported']:.1e}, covers the true error in "
            f"{summary['covered']}/{summary['runs']} runs")


def bench_trace(case: Case, ls: rw.Landscape, ref: dict) -> tuple[list[dict], dict]:
    """Trace: ours (Krylov-deflated Hutchinson by default, with its error estimate; XTrace; Hutch++) vs
    PyHessian (Hutchinson with its early stop) and curvlinops' XTrace / Hutch++ (no error estimates); ours
    again at PyHessian's budget. Each run's reported error is checked against the true error."""
    exact, kw = ref["value"], {"repeats": case.repeats, "warmup": case.warmup}
    rows, summary = [], {}

    def add(name, method, fn, notes=""):
        wall, results = seeded_runs(fn, **kw)  # each result: (estimate, HVP count, reported error or None)
        if any(r is None for r in results):
            return
        summary[name] = {"wall": wall, **trace_summary(results, exact)}
        ratio = None if name == "ours" else wall / summary["ours"]["wall"]
        rows.append(row("trace", method, wall, summary[name]["hvps"], summary[name]["error"], ratio,
                        (notes + "; " if notes else "") + trace_note(summary[name])))

    def ours(seed, method="auto", n=case.trace_products):
        t = ls.trace(method=method, num_products=n, seed=seed)
        return float(t), t.num_products, t.error

    n = case.trace_products
    add("ours", f"**ours** `trace(num_products={n})`", ours,
        "auto: exact for P <= 1,024" if case.num_params <= 1024 else "auto: Krylov-deflated Hutchinson")
    for method in ("krylov", "xtrace", "hutch++"):
        if case.num_params <= 1024 or method != "krylov":
            add(f"ours_{method}", f"ours `trace(method='{method}', num_products={n})`",
                lambda seed, m=method: ours(seed, m))
    model = case.peer_model()

    def pyhessian(seed):
        samples, hvps = pyhessian_call(case, model, "trace", seed=seed)
        return float(np.mean(samples)), hvps, None

    add("pyhessian", "PyHessian `trace()`", pyhessian,
        "Hutchinson; stops once the running mean moves < 1e-3 (HVPs: median over seeds)")
    if n < case.num_params:  # curvlinops' xtrace needs fewer products than the dimension
        for name in ("xtrace", "hutchpp_trace"):
            def peer(seed, name=name):
                out = curvlinops_trace(case, model, name, n, seed=seed)
                return None if out is None else (*out, None)
            add(f"curvlinops_{name}", f"curvlinops `{name}(H, {n - n % (3 if name == 'hutchpp_trace' else 2)})`", peer)
    budget = max(4, int(round(summary["pyhessian"]["hvps"] / 2)) * 2)
    if case.num_params > 1024 and budget != n:
        add("ours_budget", f"ours `trace(num_products={budget})`", lambda seed: ours(seed, n=budget),
            "PyHessian's median HVP count")
    return rows, summary
