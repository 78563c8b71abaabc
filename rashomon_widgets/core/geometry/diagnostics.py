"""Diagnostics along a curve between two minima, in one call: :func:`along_curve` -> :class:`CurveTable`.

For every t it measures what write-up 1 measured along its Bezier curve, and what it wished it had:
losses and accuracies, the parameter-gradient norm, the input-Jacobian norm, Hessian-vector products
along the straight-line, detour and tangent directions (several samples combined per point), and the
curvature summary PyHessian would give (top eigenvalues, trace, a stochastic Lanczos quadrature of the
spectrum; Yao, Gholami, Keutzer & Mahoney 2020, "PyHessian: neural networks through the lens of the
Hessian"), and the number of near-zero eigenvalues. :func:`loss_profile` is the cheap part (losses and
accuracies on the curve and on the straight line). Its near-zero counts are
:func:`~rashomon_widgets.core.curvature.point_spectrum.spectrum_at`'s, so a view that shows the spectrum
at a point prints the table's number.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import torch

from ..batches import as_batches, class_indices, evaluate_batches
from ..curvature.linear_operator import MatrixOperator
from ..curvature.point_spectrum import default_near_zero_tol, spectrum_at
from ..curvature.spectra import spectrum_of
from ..curvature.spectral_density import slq
from ..curvature.trace_estimators import EstimateWarning
from ..validation import check_callable, check_curve_ts, check_int, check_real, check_tolerance, describe
from .curve_table import COLUMNS, CurveTable
from .curves import Curve, check_curve_for

__all__ = ["along_curve", "loss_profile", "input_jacobian_norm", "classification_accuracy",
           "CurveTable", "COLUMNS"]


def classification_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The share of rows whose arg-max output is the class index in ``targets``.

    Args:
        outputs: (N, C) scores.
        targets: (N,) class indices.

    Returns:
        a float in [0, 1].
    """
    return float((outputs.argmax(-1) == targets).double().mean())


def _auto_accuracy(outputs: torch.Tensor, targets: torch.Tensor):
    return classification_accuracy if class_indices(outputs, targets) else None


def _evaluate(ls, theta: torch.Tensor, batches) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Loss (weighted as the Landscape weights its own data), raw outputs and targets over ``batches``."""
    return evaluate_batches(lambda x: ls.forward(theta, x), ls.loss_fn, batches, reduction=ls.reduction)


def input_jacobian_norm(ls, theta: torch.Tensor, inputs: torch.Tensor) -> float:
    """Mean over samples of the Frobenius norm of d outputs(x) / d x at parameters ``theta``.

    One backward pass per output unit over the whole batch: exact when samples are processed
    independently (eval-mode models; with batch statistics, see ``with_batch_statistics``, it is the
    derivative with the batch's statistics held as they respond).

    Args:
        ls: the :class:`Landscape`.
        theta: (P,) the parameters.
        inputs: (N, ...) one batch of inputs.

    Returns:
        the mean norm, a float.
    """
    x = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = ls.forward(theta.detach(), x)
        flat = out.reshape(out.shape[0], -1)
        sq = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
        for k in range(flat.shape[1]):
            (g,) = torch.autograd.grad(flat[:, k].sum(), x, retain_graph=k + 1 < flat.shape[1])
            sq += (g.reshape(g.shape[0], -1).double() ** 2).sum(1)
    return float(sq.sqrt().mean())


def _curve_ts(ts) -> np.ndarray:
    """``ts`` (a count of evenly spaced t, or the values) as a checked float array in [0, 1]."""
    if isinstance(ts, int) and not isinstance(ts, bool):
        ts = torch.linspace(0, 1, check_int(ts, "ts", 1, 100_000))
    return check_curve_ts(ts, "ts").numpy()


def _accuracy_for(ls, accuracy):
    """The accuracy callable ``along_curve``/``loss_profile`` use (None: no accuracy columns)."""
    if accuracy == "auto":
        first_out, first_y = ls.forward(ls.theta, ls.batches[0][0][:2]), ls.batches[0][1][:2]
        return _auto_accuracy(first_out, first_y)
    if accuracy is not None and not callable(accuracy):
        raise TypeError(f"accuracy: expected 'auto', a callable accuracy(outputs, targets) or None, got "
                        f"{describe(accuracy)}")
    return accuracy


def loss_profile(ls, curve: Curve, ts=51, *, test_data=None, accuracy: Callable | str | None = "auto",
                 progress: Callable[[int, int], None] | None = None) -> CurveTable:
    """Losses and accuracies along ``curve`` and along the straight line between its endpoints.

    The cheap part of :func:`along_curve` (which takes its loss and accuracy columns from here, so the
    numbers are identical): no Hessian products, one forward pass over the data per t and curve.

    Args:
        ls: the :class:`Landscape` (its data is the "train" data).
        curve: a :class:`BezierCurve` or :class:`PolyChain` in the model's parameter space.
        ts: how many evenly spaced t in [0, 1], or the t values themselves.
        test_data: optional ``(inputs, targets)`` (or batches) for test loss and accuracy.
        accuracy: ``"auto"``, a callable ``accuracy(outputs, targets) -> float`` or None (see
            :func:`along_curve`).
        progress: called as ``progress(done, len(ts))`` before each t; it may raise to stop the work.

    Returns:
        A :class:`CurveTable` with columns ``t``, ``train_loss``, ``train_accuracy`` (with an
        accuracy), ``test_loss`` and ``test_accuracy`` (with test data), and ``line_loss``: the loss at
        ``(1 - t) theta_a + t theta_b`` (``ls.losses``, batched).

    Raises:
        TypeError: a curve or accuracy of the wrong kind, or test data that is not (inputs, targets).
        ValueError: a curve for another model, t values outside [0, 1], or test data with NaN or inf
            (it is cast to the model's dtype as the landscape's own data is).

    Example:
        >>> profile = rw.core.loss_profile(ls, curve, 51, test_data=split.test)   # doctest: +SKIP
        >>> profile["train_loss"].max() < profile["line_loss"].max()               # doctest: +SKIP
    """
    check_curve_for(ls, curve)
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    ts = _curve_ts(ts)
    accuracy = _accuracy_for(ls, accuracy)
    test_batches = (as_batches(test_data, ls.device, ls.dtype, indices=ls.input_indices, name="test_data")
                    if test_data is not None else None)  # cast as the landscape casts its own data
    rows: list[dict[str, float]] = []
    for i, t in enumerate(ts):
        if progress is not None:
            progress(i, len(ts))
        theta = curve(float(t))
        row: dict[str, float] = {"t": float(t)}
        loss, out, y = _evaluate(ls, theta, ls.batches)
        row["train_loss"] = loss
        if accuracy is not None:
            row["train_accuracy"] = float(accuracy(out, y))
        if test_batches is not None:
            loss, out, y = _evaluate(ls, theta, test_batches)
            row["test_loss"] = loss
            if accuracy is not None:
                row["test_accuracy"] = float(accuracy(out, y))
        rows.append(row)
    columns = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]}
    s = torch.as_tensor(ts, dtype=curve.theta_a.dtype, device=curve.theta_a.device)[:, None]
    line = (1 - s) * curve.theta_a[None, :] + s * curve.theta_b[None, :]
    columns["line_loss"] = np.asarray(ls.losses(line).double().cpu().numpy(), dtype=np.float64)
    return CurveTable(columns, {"line_loss": "loss at (1 - t) theta_a + t theta_b"})


def along_curve(ls, curve: Curve, ts=11, *, test_data=None, accuracy: Callable | str | None = "auto",
                hvp_samples: int = 3, t_jitter: float = 0.02, curvature: bool = True, top_k: int = 3,
                exact: bool | None = None, near_zero_tol: float | None = None, trace_products: int = 30,
                slq_vectors: int = 4, slq_steps: int = 40, max_input_samples: int = 512, seed: int = 0,
                progress: Callable[[int, int], None] | None = None, num_samples: int | None = None) -> CurveTable:
    """Diagnostics at points along ``curve``, one row per t (write-up 1, figures 1c and 1d).

    Hessian-vector products: at each t the three unit directions are the straight-line direction u
    (constant), the detour direction d (main bend minus the midpoint, orthogonal to u; constant) and the
    curve's unit tangent tau. With full-batch data one product has no sampling noise, so "several samples
    per point" (the write-up's proposal for its noisy tangent products) are taken at ``hvp_samples``
    points ``curve(t_j)``, ``t_j`` evenly spaced in ``[t - t_jitter, t + t_jitter]`` (clipped to [0, 1]),
    each with its own tangent: ``hvp_*`` is the mean norm, ``hvp_*_std`` the spread, ``curvature_*`` the
    mean of ``v^T H v``. They are the same points on the curve the write-up's "models moving in the
    direction of the vector" would visit.

    Curvature: ``exact`` (default: small models, ``ls.policy.is_small``) uses the dense Hessian at
    every t: top eigenvalues, exact trace and the exact near-zero count (``|lambda| <= tol * max|lambda|``, ``tol`` =
    ``near_zero_tol`` or the dtype's default, see ``rw.core.default_tol``). Otherwise: Lanczos for the
    top ``top_k`` eigenvalues, Hutch++ with ``trace_products`` products for the trace, and the near-zero
    count is the SLQ estimate ``P * (weight of Ritz nodes with |node| <= tol * max|node|)`` with
    ``tol = near_zero_tol or 1e-3`` (Ritz nodes are coarse: read it as the size of the bulk at zero).
    Both counts are :func:`spectrum_at`'s ``num_near_zero`` with the same settings, so a view showing
    ``spectrum_at(ls, curve(t), ...)`` prints the table's number. The loss and accuracy columns are
    :func:`loss_profile`'s.
    SLQ (``slq_vectors`` Rademacher vectors, ``slq_steps`` Lanczos steps) runs in both modes (in exact
    mode on the dense matrix, where its products cost nothing); its nodes and weights are kept in
    ``table.slq`` for density plots, and ``slq_trace`` is its trace estimate.

    Args:
        ls: the :class:`Landscape` (its data is the "train" data).
        curve: a :class:`BezierCurve` or :class:`PolyChain` in the model's parameter space.
        ts: how many evenly spaced t in [0, 1], or the t values themselves.
        test_data: optional ``(inputs, targets)`` (or batches) for test loss and accuracy.
        accuracy: ``"auto"`` (arg-max accuracy for (N, C) outputs and class-index targets, otherwise
            none), a callable ``accuracy(outputs, targets) -> float`` (e.g. ``rw.models.accuracy``), or
            None.
        hvp_samples, t_jitter: the HVP samples per point (see above).
        curvature: False skips eigenvalues, trace, SLQ and near-zero counts (the expensive part).
        top_k: how many top eigenvalues (columns ``eig_1`` ...).
        exact: dense Hessian at every t (default: for small models, ``ls.policy.is_small``).
        near_zero_tol: the relative tolerance of the near-zero count (see above).
        trace_products: Hessian products of the Hutch++ trace (matrix-free mode).
        slq_vectors, slq_steps: the stochastic Lanczos quadrature (see above).
        max_input_samples: samples used for the input-Jacobian norm (the first ones of the data).
        seed: seed of the random vectors (Lanczos start, Hutch++, SLQ).
        progress: called as ``progress(done, total)`` after every t.
        num_samples: deprecated name of ``hvp_samples`` (``num_samples`` counts data samples elsewhere).

    Returns:
        A :class:`CurveTable` (see ``COLUMNS`` for what each column holds).

    Raises:
        TypeError: a curve, accuracy or progress of the wrong kind, or non-numbers.
        ValueError: a curve for another model, t values outside [0, 1], or numbers out of range.

    Example:
        >>> table = rw.core.along_curve(ls, curve, 11, test_data=split.test)   # doctest: +SKIP
        >>> table["hvp_tangent"] < table["hvp_line"]                          # doctest: +SKIP
    """
    check_curve_for(ls, curve)
    ts = _curve_ts(ts)
    if num_samples is not None:
        warnings.warn("along_curve(num_samples=...) is deprecated: use hvp_samples= (num_samples counts data "
                      "samples elsewhere, as in Landscape.num_samples)", DeprecationWarning, stacklevel=2)
        hvp_samples = num_samples
    hvp_samples = check_int(hvp_samples, "hvp_samples", 1, 1000)
    t_jitter = check_real(t_jitter, "t_jitter", 0.0, 0.5)
    top_k = check_int(top_k, "top_k", 1, ls.num_params)
    if near_zero_tol is not None:
        near_zero_tol = check_tolerance(near_zero_tol, "near_zero_tol")
    max_input_samples = check_int(max_input_samples, "max_input_samples", 1, 10**9)
    slq_vectors = check_int(slq_vectors, "slq_vectors", 1, 10_000)
    slq_steps = check_int(slq_steps, "slq_steps", 1, 100_000)
    trace_products = check_int(trace_products, "trace_products", 3, 10**7)
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    if exact is None:
        exact = ls.policy.is_small(ls.num_params)
    accuracy = _accuracy_for(ls, accuracy)
    u = curve.line_direction()
    try:
        d = curve.detour_direction()
    except ValueError:  # a straight line, or bends still on it
        d = None
    inputs = torch.cat([x for x, _ in ls.batches])[:max_input_samples]
    offsets = np.linspace(-t_jitter, t_jitter, hvp_samples) if hvp_samples > 1 else np.zeros(1)
    tol = default_near_zero_tol(ls.dtype, exact, near_zero_tol)
    profile = loss_profile(ls, curve, ts, test_data=test_data, accuracy=accuracy)

    rows: list[dict[str, float]] = []
    slq_runs = [] if curvature else None
    for i, t in enumerate(ts):
        theta = curve(float(t))
        row: dict[str, float] = {k: float(profile[k][i]) for k in profile.names if k != "line_loss"}
        row["grad_norm"] = float(ls.grad(theta).norm())
        row["input_jacobian_norm"] = input_jacobian_norm(ls, theta, inputs)
        row.update(_hvp_samples(ls, curve, float(t), offsets, u, d))
        if curvature:
            row.update(_curvature(ls, theta, exact, top_k, tol, trace_products, slq_vectors, slq_steps,
                                  seed, slq_runs))
        rows.append(row)
        if progress is not None:
            progress(i + 1, len(ts))
    columns = {k: np.array([r.get(k, math.nan) for r in rows], dtype=np.float64) for k in rows[0]}
    if "trace_error" in columns:
        loose = int((columns["trace_error"] > np.abs(columns["trace"])).sum())
        if loose:
            warnings.warn(f"along_curve: the trace's error bar (column trace_error) is larger than its value at "
                          f"{loose} of {len(ts)} t values with trace_products={trace_products}; raise "
                          "trace_products for a trace that means something there", EstimateWarning, stacklevel=2)
    notes = {"hvp_samples": f"{hvp_samples} points within t +- {t_jitter}",
             "curvature": ("exact dense Hessian" if exact else
                           f"Lanczos top-{top_k}, Hutch++ ({trace_products} products)") if curvature else "skipped",
             "slq": f"{slq_vectors} vectors x {slq_steps} steps" if curvature else "skipped",
             "near_zero_tol": tol if curvature else None,
             "input_jacobian_samples": int(inputs.shape[0])}
    return CurveTable(columns, notes, slq_runs)


def _hvp_samples(ls, curve: Curve, t: float, offsets, u, d) -> dict[str, float]:
    norms = {"line": [], "detour": [], "tangent": []}
    curv = {"line": [], "detour": [], "tangent": []}
    for off in offsets:
        tj = float(min(1.0, max(0.0, t + off)))
        tau = curve.tangent(tj)
        n = tau.norm()
        dirs = {"line": u, "detour": d, "tangent": tau / n if float(n) > 0 else None}
        names = [k for k, v in dirs.items() if v is not None]
        hv = ls.hvp(torch.stack([dirs[k] for k in names], 1), curve(tj))
        for j, k in enumerate(names):
            norms[k].append(float(hv[:, j].norm()))
            curv[k].append(float(dirs[k] @ hv[:, j]))
    out = {}
    for k, samples in norms.items():
        vals = np.array(samples) if samples else np.full(1, math.nan)
        out[f"hvp_{k}"] = float(vals.mean())
        out[f"hvp_{k}_std"] = float(vals.std())
    for k, samples in curv.items():
        out[f"curvature_{k}"] = float(np.mean(samples)) if samples else math.nan
    return out


def _curvature(ls, theta, exact, top_k, tol, trace_products, slq_vectors, slq_steps, seed, slq_runs):
    out = {}
    if exact:
        h = ls.hessian(theta)
        spectrum = spectrum_of(h, tol)  # what spectrum_at(..., exact=True) returns (ls.spectrum), H formed once
        values = spectrum.values
        top = values.flip(0)[:top_k]
        out["trace"] = float(values.sum())
        near_zero = float(spectrum.num_near_zero)
        # the same quadrature on the dense matrix: products cost nothing once H is formed
        nodes, weights = slq(MatrixOperator(h), num_vectors=slq_vectors, num_steps=slq_steps, seed=seed)
    else:
        top, _ = ls.eigs(top_k, "largest", theta, seed=seed)
        with warnings.catch_warnings():  # one warning for the whole table (along_curve), not one per t
            warnings.simplefilter("ignore", EstimateWarning)
            trace = ls.trace(theta, method="hutch++", num_products=trace_products, seed=seed)
        out["trace"], out["trace_error"] = float(trace), trace.error
        estimate = spectrum_at(ls, theta, exact=False, near_zero_tol=tol, slq_vectors=slq_vectors,
                               slq_steps=slq_steps, seed=seed)
        nodes, weights, near_zero = estimate.nodes, estimate.weights, estimate.num_near_zero
    for j in range(top_k):
        out[f"eig_{j + 1}"] = float(top[j]) if j < len(top) else math.nan
    slq_runs.append((nodes, weights))
    out["slq_trace"] = float((nodes * weights).sum() * ls.num_params)
    out["near_zero"] = near_zero
    return out
