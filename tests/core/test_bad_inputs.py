"""Bad input is refused where it enters, with what was expected and what came: never a silent wrong answer
(issue 21's core cases)."""
from __future__ import annotations

import concurrent.futures as cf
import math

import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.curvature.estimated_spectrum import SpectrumEstimate
from rashomon_widgets.core.curvature.trace_estimators import TraceEstimate
from rashomon_widgets.core.geometry.retraction import retract


def _data(n=12, d=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, 1, generator=g, dtype=dtype)


def _mlp(dtype=torch.float64, seed=0, d=3):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).to(dtype)


@pytest.fixture(scope="module")
def ls():
    return rw.Landscape(_mlp(), torch.nn.MSELoss(), _data())


def _nan_where_the_output_is_low(out, target):
    """MSE plus ``0 * log(mean output + 10)``: NaN where the mean output is below -10, yet its derivatives
    stay finite there (``0 * 1 / z``): a NaN loss whose HVPs look like numbers."""
    return ((out - target) ** 2).mean() + 0 * torch.log(out.mean() + 10)


@pytest.fixture(scope="module")
def nan_point():
    ls = rw.Landscape(_mlp(), _nan_where_the_output_is_low, _data())
    theta = ls.theta.clone()
    theta[-1] = -20.0  # the output bias: the mean output is far below -10
    assert math.isnan(ls.loss(theta))
    return ls, theta


# ----------------------------------------------------------------------------- 1. path_in_set and NaN
def test_a_path_through_nan_losses_is_not_in_the_set(nan_point):
    ls, theta = nan_point
    path = torch.stack([ls.theta, theta])
    ok, worst, why = rw.core.path_in_set(ls, path, 1e3, checks=0)
    assert ok is False and math.isnan(worst)
    assert why.startswith("point 1 has a NaN loss") and "never inside the set" in why


def test_nan_inside_a_segment_names_the_segment_and_the_checked_point():
    """A one-parameter model whose loss is NaN exactly between two good points."""
    class Hump(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))

        def forward(self, x):
            return x * self.w

    def loss(out, target):  # NaN where |w| < 0.3 (0 * log of a negative number), finite elsewhere
        w = out.mean()
        return torch.log(w.abs() - 0.3) * 0 + (w - 1) ** 2

    ls = rw.Landscape(Hump(), loss, (torch.ones(4, 1, dtype=torch.float64), torch.ones(4, 1, dtype=torch.float64)))
    path = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)  # both ends finite, the middle (w = 0) NaN
    assert all(math.isfinite(v) for v in ls.losses(path).tolist())
    ok, worst, why = rw.core.path_in_set(ls, path, 100.0, checks=3)
    assert ok is False and math.isnan(worst)
    assert why == ("segment 0 (between points 0 and 1) has a NaN loss (not a number: never inside the set) at "
                   "its checked point 2 of 3 (t=0.5 along it)")


# ----------------------------------------------------------------------------- 2. executor blocks
class _Inline(cf.Executor):
    """A real executor that runs each task at once, in this thread, then hands back ``change(result)``:
    a worker that returns a broken block."""

    def __init__(self, change):
        self.change = change

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        future.set_result(self.change(fn(*args, **kwargs)))
        return future


def test_a_worker_block_one_row_short_is_refused_with_the_block_and_both_shapes(ls):
    plane = rw.Plane.random(ls, seed=0)
    good = ls.surface(plane, span=0.5, resolution=6, executor=_Inline(lambda b: b), block_rows=3)
    np.testing.assert_allclose(good.loss, ls.surface(plane, span=0.5, resolution=6).loss, rtol=1e-12)
    with pytest.raises(ValueError, match=r"executor: the block of grid rows (0:3|3:6): expected a floating-point "
                                         r"numpy array of shape \(3, 6\) from the worker, got shape \(2, 6\)"):
        ls.surface(plane, span=0.5, resolution=6, executor=_Inline(lambda b: b[:-1]), block_rows=3)


def test_a_worker_returning_none_or_integers_is_refused(ls):
    plane = rw.Plane.random(ls, seed=0)
    with pytest.raises(ValueError, match=r"the block of grid rows (0:3|3:6): expected a floating-point numpy "
                                         r"array of shape \(3, 6\) from the worker, got NoneType"):
        ls.surface(plane, span=0.5, resolution=6, executor=_Inline(lambda b: None), block_rows=3)
    with pytest.raises(ValueError, match=r"got dtype int64"):
        ls.surface(plane, span=0.5, resolution=6, executor=_Inline(lambda b: b.astype(np.int64)), block_rows=3)
    with pytest.raises(ValueError, match=r"got shape \(3, 7\)"):
        ls.surface(plane, span=0.5, resolution=6, executor=_Inline(lambda b: np.pad(b, ((0, 0), (0, 1)))),
                   block_rows=3)


# ----------------------------------------------------------------------------- 3. span and resolution
@pytest.mark.parametrize("span", [1e300, math.inf, math.nan, ((0.0, math.inf), (-1.0, 1.0)),
                                  ((-1.0, 1.0), (math.nan, 1.0))])
def test_a_span_that_is_not_finite_or_overflows_is_refused(ls, span):
    plane = rw.Plane.random(ls, seed=0)
    with pytest.raises(ValueError, match=r"span.*expected"):
        ls.surface(plane, span=span, resolution=3)


def test_an_overflowing_span_says_how_far_the_grid_reaches(ls):
    plane = rw.Plane.random(ls, seed=0)
    with pytest.raises(ValueError, match=r"span: expected a grid whose points stay finite in torch.float64, got "
                                         r"coordinates up to \|x\| = 1e\+300.*use a smaller span"):
        ls.surface(plane, span=1e300, resolution=3)
    ls32 = rw.Landscape(_mlp(torch.float32), torch.nn.MSELoss(), _data(dtype=torch.float32))
    with pytest.raises(ValueError, match="stay finite in torch.float32"):
        ls32.surface(rw.Plane.random(ls32, seed=0), span=1e20, resolution=3)
    assert np.isfinite(ls32.surface(rw.Plane.random(ls32, seed=0), span=10.0, resolution=3).loss).all()
    far = rw.Plane(ls.theta, ls.theta * 0 + 1, ls.theta * 0 - 1, extent=((0.0, 1e200), (0.0, 1.0)))
    with pytest.raises(ValueError, match="extent: expected a grid whose points stay finite"):
        far.surface(ls)  # span=None: the plane's own extent


def test_a_resolution_must_be_an_int_of_at_least_two(ls):
    plane = rw.Plane.random(ls, seed=0)
    with pytest.raises(ValueError, match=r"resolution: expected an int in \[2, 4096\], got 0"):
        ls.surface(plane, span=1.0, resolution=0)
    with pytest.raises(ValueError, match=r"resolution: expected an int in \[2, 4096\], got 1"):
        plane.grid(1.0, 1)
    with pytest.raises(TypeError, match=r"resolution: expected an int in \[2, 4096\], got float 2.5"):
        ls.surface(plane, span=1.0, resolution=2.5)


# ----------------------------------------------------------------------------- 4. result objects
def test_a_spectrum_refuses_nan_values_and_bad_tolerances():
    values = torch.tensor([0.0, 1e-9, 2.0], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"values: expected finite eigenvalues, got 1 of 3 NaN or inf"):
        rw.core.Spectrum(torch.tensor([0.0, math.nan, 2.0], dtype=torch.float64), tol=1e-6)
    for tol in (-1e-3, math.nan, math.inf, 1.5):
        with pytest.raises(ValueError, match=r"tol: expected a relative tolerance in \[0, 1\)"):
            rw.core.Spectrum(values, tol=tol)
    with pytest.raises(TypeError, match="tol: expected"):
        rw.core.Spectrum(values, tol="small")
    with pytest.raises(TypeError, match="values: expected a real floating-point tensor"):
        rw.core.Spectrum([0.0, 1.0], tol=1e-6)
    with pytest.raises(ValueError, match=r"vectors: expected eigenvectors .* \(P, 3\)"):
        rw.core.Spectrum(values, 1e-6, torch.eye(2, dtype=torch.float64))
    assert rw.core.Spectrum(values, tol=1e-6).num_near_zero == 2


def test_count_near_zero_refuses_nan_values_and_bad_tolerances():
    with pytest.raises(ValueError, match="expected finite eigenvalues"):
        rw.core.count_near_zero([0.0, math.nan, 1.0], 1e-3)
    with pytest.raises(ValueError, match=r"tol: expected a relative tolerance in \[0, 1\), got -0.001"):
        rw.core.count_near_zero([0.0, 1.0], -1e-3)
    with pytest.raises(ValueError, match="tol: expected"):
        rw.core.count_near_zero([0.0, 1.0], math.nan)
    assert rw.core.count_near_zero([0, 0, 3], 1e-3) == 2  # integers are numbers too


def test_a_trace_estimate_refuses_impossible_errors_and_confidences():
    assert TraceEstimate(2.0, error=math.inf, stderr=math.inf).error == math.inf  # "unknown" is honest
    with pytest.raises(ValueError, match=r"error: expected an error >= 0 \(inf: unknown\), got -1"):
        TraceEstimate(2.0, error=-1)
    with pytest.raises(ValueError, match=r"confidence: expected a number in \(0, 1\), got 2"):
        TraceEstimate(2.0, confidence=2)
    with pytest.raises(ValueError, match="value: expected a finite trace, got nan"):
        TraceEstimate(math.nan)
    with pytest.raises(ValueError, match="stderr: expected a standard error >= 0"):
        TraceEstimate(2.0, stderr=math.nan)
    with pytest.raises(ValueError, match="num_products: expected an int >= 0"):
        TraceEstimate(2.0, num_products=-3)


def test_a_spectrum_estimate_never_counts_more_eigenvalues_than_there_are():
    with pytest.raises(ValueError, match=r"weights: expected weights summing to 1 .* got a sum of 6"):
        SpectrumEstimate.from_nodes([0.0, 1.0], [6.0, 0.0], 10)  # used to say "60 of 10 near zero"
    with pytest.raises(ValueError, match="weights: expected finite non-negative weights"):
        SpectrumEstimate.from_nodes([0.0, 1.0], [1.5, -0.5], 10)
    with pytest.raises(ValueError, match=r"nodes: expected finite eigenvalue estimates, got 1 of 2 NaN or inf"):
        SpectrumEstimate.from_nodes([math.nan, 1.0], [0.5, 0.5], 10)
    for tol in (-1.0, math.nan):
        with pytest.raises(ValueError, match="tol: expected a relative tolerance"):
            SpectrumEstimate.from_nodes([0.0, 1.0], [0.5, 0.5], 10, tol=tol)
    with pytest.raises(ValueError, match=r"num_near_zero: expected a count in \[0, 10\]"):
        SpectrumEstimate(np.array([0.0, 1.0]), np.array([0.5, 0.5]), 10, 1e-3, 1.0, 60.0)
    est = SpectrumEstimate.from_nodes([0.0, 2.0], [0.75, 0.25], 8, tol=1e-3)
    assert est.num_near_zero == 6.0


# ----------------------------------------------------------------------------- 5. non-finite points and data
@pytest.mark.parametrize("call", ["eigs", "eigs_lanczos", "spectrum", "hessian", "trace", "density", "spectrum_at"])
def test_curvature_at_a_point_where_the_loss_is_nan_is_refused(nan_point, call):
    ls, theta = nan_point
    run = {"eigs": lambda: ls.eigs(2, theta=theta),
           "eigs_lanczos": lambda: ls.eigs(2, theta=theta, method="lanczos"),
           "spectrum": lambda: ls.spectrum(theta),
           "hessian": lambda: ls.hessian(theta),
           "trace": lambda: ls.trace(theta),
           "density": lambda: ls.density(theta),
           "spectrum_at": lambda: rw.core.spectrum_at(ls, theta, exact=False)}[call]
    with pytest.raises(ValueError, match="curvature at theta: the loss is nan, not finite"):
        run()


def test_curvature_over_several_batches_checks_the_loss_too():
    x, y = _data()
    ls = rw.Landscape(_mlp(), _nan_where_the_output_is_low, [(x[:6], y[:6]), (x[6:], y[6:])])
    theta = ls.theta.clone()
    theta[-1] = -20.0
    with pytest.raises(ValueError, match="the loss is nan, not finite"):
        ls.eigs(1, theta=theta, method="lanczos")
    assert ls.eigs(1, method="lanczos")[0].isfinite().all()


def test_non_finite_theta_v_and_data_are_refused(ls):
    bad = ls.theta.clone()
    bad[0] = math.inf
    with pytest.raises(ValueError, match="theta: expected finite values, got NaN or inf"):
        ls.hvp(ls.theta, bad)
    with pytest.raises(ValueError, match="v: expected finite values, got NaN or inf"):
        ls.hvp(bad)
    with pytest.raises(ValueError, match="theta: expected finite values"):
        ls.eigs(2, theta=bad)
    x, y = _data()
    x[3, 1] = math.inf  # tanh saturates: the loss was finite, the answer silently about other data
    with pytest.raises(ValueError, match=r"data: batch 0: inputs: expected finite values, got 1 NaN or inf of 36"):
        rw.Landscape(_mlp(), torch.nn.MSELoss(), (x, y))
    x, y = _data()
    y[0, 0] = math.nan
    with pytest.raises(ValueError, match="data: batch 1: targets: expected finite values"):
        rw.Landscape(_mlp(), torch.nn.MSELoss(), [(x[:6], y[6:]), (x[6:], y[:6])])


# ----------------------------------------------------------------------------- 6. half precision, complex loss
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_models_are_refused_with_what_to_do(dtype):
    x, y = _data(dtype=dtype)
    with pytest.raises(TypeError, match=rf"model: expected float32 or float64 parameters, got {dtype}.*"
                                        r"model\.float\(\) or model\.double\(\)"):
        rw.Landscape(_mlp(dtype), torch.nn.MSELoss(), (x, y))


def test_a_complex_or_integer_loss_is_refused_where_the_landscape_is_built():
    with pytest.raises(TypeError, match="loss_fn: expected a real floating-point loss, got dtype torch.complex128"):
        rw.Landscape(_mlp(), lambda out, t: ((out - t) ** 2).mean().to(torch.complex128), _data())
    with pytest.raises(TypeError, match="loss_fn: expected a real floating-point loss, got dtype torch.int64"):
        rw.Landscape(_mlp(), lambda out, t: ((out - t) ** 2).mean().long(), _data())


# ----------------------------------------------------------------------------- 7. integer inputs, feature counts
def test_integer_inputs_are_cast_to_the_model_dtype_and_targets_kept():
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (12, 3), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 4, (12,), generator=g)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 4).double()
    ls = rw.Landscape(model, torch.nn.CrossEntropyLoss(), (pixels, labels))
    x, y = ls.batches[0]
    assert x.dtype == torch.float64 and y.dtype == torch.int64 and not ls.input_indices
    expected = float(torch.nn.functional.cross_entropy(model(pixels.double()), labels).detach())
    assert ls.loss() == pytest.approx(expected, rel=1e-12)


def test_token_ids_of_a_model_with_an_embedding_are_kept():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(10, 3), torch.nn.Flatten(), torch.nn.Linear(6, 1)).double()
    tokens = torch.randint(0, 10, (8, 2))
    ls = rw.Landscape(model, torch.nn.MSELoss(), (tokens, torch.randn(8, 1, dtype=torch.float64)))
    assert ls.input_indices and ls.batches[0][0].dtype == torch.int64


def test_a_wrong_feature_count_names_the_inputs_before_torchs_message():
    x, y = _data(d=4)
    with pytest.raises(ValueError, match=r"data: the model rejected the inputs of batch 0 \(tensor of shape "
                                         r"\(12, 4\), dtype torch.float64, on cpu\).*torch said: mat1 and mat2"):
        rw.Landscape(_mlp(d=3), torch.nn.MSELoss(), (x, y))
    x, _ = _data()
    with pytest.raises(ValueError, match=r"loss_fn: rejected the model's outputs \(tensor of shape \(12, 1\).*"
                                         r"targets of batch 0 \(tensor of shape \(12, 5\)"):
        rw.Landscape(_mlp(), lambda out, t: (out @ t).mean(), (x, torch.zeros(12, 5, dtype=x.dtype)))


# ----------------------------------------------------------------------------- 10. progress
def test_a_progress_that_is_not_callable_is_refused_at_entry(ls):
    plane = rw.Plane.random(ls, seed=0)
    calls = {
        "losses": lambda: ls.losses(ls.theta[None], progress=5),
        "surface": lambda: ls.surface(plane, span=0.5, resolution=3, progress=5),
        "eigs": lambda: ls.eigs(2, progress=5),  # dense for this small model: progress was never called
        "eigs_lanczos": lambda: ls.eigs(2, method="lanczos", progress=5),
        "spectrum_at": lambda: rw.core.spectrum_at(ls, ls.theta, progress=5),
        "retract": lambda: retract(ls, ls.theta, ls.outputs(), progress=5),
        "fit_curve": lambda: rw.fit_curve(ls, rw.BezierCurve(ls.theta, ls.theta + 0.1), steps=2, progress=5),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match=r"progress: expected a callable progress\(.*\) or None, got int 5"):
            call()


def test_hvp_and_grad_at_a_point_where_the_loss_is_nan_are_refused_in_both_forms():
    model = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        model.weight.fill_(0.5)
        model.bias.fill_(0.5)               # outputs 1: log is 0 at the trained point
    ls = rw.Landscape(model, lambda out, y: (out.log() - y).pow(2).mean(),
                      (torch.full((4, 2), 0.5, dtype=torch.float64), torch.zeros(4, 1, dtype=torch.float64)))
    with torch.no_grad():
        bad = ls.theta.clone()
        bad[-1] = -10.0                       # every output negative: log is NaN
    v = torch.ones(ls.num_params, dtype=torch.float64)
    for form in ("double_backward", "forward_over_reverse"):
        with pytest.raises(ValueError, match="hvp: the loss is nan, not finite"):
            ls.hvp(v, bad, form=form)
        with pytest.raises(ValueError, match="hvp: the loss is nan"):
            ls.hvp(torch.ones(ls.num_params, 2, dtype=torch.float64), bad, form=form)
    with pytest.raises(ValueError, match="grad: the loss is nan"):
        ls.grad(bad)
