"""Bezier curves and polygonal chains between minima: geometry, fitting, resuming, saving, bad input."""
import math
import os

import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core import load_curve, with_batch_statistics

from .curve_cases import digits_pair, fitted

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ends(p=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(p, generator=g, dtype=torch.float64), torch.randn(p, generator=g, dtype=torch.float64)


# ------------------------------------------------------------------ geometry, against closed forms
def test_quadratic_bezier_matches_the_closed_form_and_its_derivative():
    a, b = _ends()
    bend = torch.randn(5, dtype=torch.float64)
    curve = rw.BezierCurve(a, b, 1, bends=bend[None])
    ts = torch.linspace(0, 1, 7, dtype=torch.float64)
    expected = ((1 - ts) ** 2)[:, None] * a + (2 * ts * (1 - ts))[:, None] * bend + (ts ** 2)[:, None] * b
    torch.testing.assert_close(curve.points(ts), expected)
    torch.testing.assert_close(curve(0.0), a)
    torch.testing.assert_close(curve(1.0), b)
    for t in (0.0, 0.3, 1.0):
        torch.testing.assert_close(curve.tangent(t), 2 * (1 - t) * (bend - a) + 2 * t * (b - bend))
    # at the apex the tangent of a quadratic Bezier curve is the straight line's direction
    torch.testing.assert_close(curve.tangent(0.5, normalize=True), curve.line_direction())


@pytest.mark.parametrize("kind,num_bends", [("bezier", 0), ("bezier", 3), ("polychain", 1), ("polychain", 3)])
def test_weights_tangents_and_initial_bends(kind, num_bends):
    a, b = _ends(seed=1)
    klass = rw.BezierCurve if kind == "bezier" else rw.PolyChain
    straight = klass(a, b, num_bends)  # bends start on the straight line: the curve *is* the line
    ts = torch.linspace(0, 1, 11, dtype=torch.float64)
    torch.testing.assert_close(straight.points(ts), (1 - ts)[:, None] * a + ts[:, None] * b)
    curve = klass(a, b, num_bends, bends=torch.randn(num_bends, 5, dtype=torch.float64))
    torch.testing.assert_close(curve.weights(ts).sum(1), torch.ones(11, dtype=torch.float64))
    h = 1e-6
    for t in (0.13, 0.61, 0.9):  # central differences away from PolyChain's kinks
        fd = (curve(t + h) - curve(t - h)) / (2 * h)
        torch.testing.assert_close(curve.tangent(t), fd, atol=1e-6, rtol=1e-6)
    if kind == "polychain" and num_bends:
        torch.testing.assert_close(curve(1 / (num_bends + 1)), curve.bends[0])


def test_plane_contains_a_quadratic_curve_in_garipov_coordinates():
    a, b = _ends(seed=2)
    curve = rw.BezierCurve(a, b, 1, bends=torch.randn(1, 5, dtype=torch.float64))
    plane = curve.plane(margin=0.1)
    xy = plane.coordinates(curve.points(torch.linspace(0, 1, 9)))
    back = plane.origin + torch.as_tensor(xy[:, :1]) * plane.d1 + torch.as_tensor(xy[:, 1:]) * plane.d2
    torch.testing.assert_close(back, curve.points(torch.linspace(0, 1, 9)))
    np.testing.assert_allclose(xy[0], [0, 0], atol=1e-12)
    np.testing.assert_allclose(xy[-1], [float((b - a).norm()), 0], atol=1e-12)
    torch.testing.assert_close(curve.detour_direction(), plane.d2)


# ------------------------------------------------------------------ fitting
def test_fit_removes_most_of_the_barrier_and_keeps_the_endpoints():
    ls, curve, _ = fitted()
    ts = torch.linspace(0, 1, 41)
    line = ls.losses(rw.BezierCurve(curve.theta_a, curve.theta_b, 0).points(ts))
    on_curve = ls.losses(curve.points(ts))
    ends = max(float(line[0]), float(line[-1]))
    line_barrier, curve_barrier = float(line.max()) - ends, float(on_curve.max()) - ends
    assert line_barrier > 0.3
    assert curve_barrier < 0.1 * line_barrier
    # the endpoints are the two trained models, bit for bit
    ls0, theta_b, _ = digits_pair()
    assert torch.equal(curve.theta_a, ls0.theta) and torch.equal(curve.theta_b, theta_b)
    assert torch.equal(curve(0.0), ls0.theta) and torch.equal(curve(1.0), theta_b)
    assert curve.fit_state["step"] == 150 and len(curve.fit_state["losses"]) == 150


def test_resume_by_calling_again_and_from_a_checkpoint(tmp_path):
    ls, theta_b, _ = digits_pair()
    whole = rw.BezierCurve(ls.theta, theta_b)
    rw.fit_curve(ls, whole, steps=12, seed=3)
    again = rw.BezierCurve(ls.theta, theta_b)
    rw.fit_curve(ls, again, steps=5, seed=3)
    seen = []
    losses = rw.fit_curve(ls, again, steps=12, seed=3, progress=lambda s, n, loss: seen.append((s, n)))
    assert seen[0] == (6, 12) and seen[-1] == (12, 12) and len(losses) == 12
    torch.testing.assert_close(again.bends, whole.bends)
    # interrupted run: a fresh curve object picks the checkpoint up and only does the remaining steps
    path = tmp_path / "curve.pt"
    first = rw.BezierCurve(ls.theta, theta_b)
    rw.fit_curve(ls, first, steps=7, seed=3, checkpoint=path, checkpoint_every=3)
    restarted = rw.BezierCurve(ls.theta, theta_b)
    seen.clear()
    rw.fit_curve(ls, restarted, steps=12, seed=3, checkpoint=path, progress=lambda s, n, loss: seen.append(s))
    assert seen == [8, 9, 10, 11, 12]
    torch.testing.assert_close(restarted.bends, whole.bends)
    assert load_curve(path, ls).fit_state["step"] == 12
    assert [p.name for p in tmp_path.iterdir()] == ["curve.pt"]  # no temporary files left behind
    other = rw.BezierCurve(ls.theta, ls.theta + 1e-3)
    with pytest.raises(ValueError, match="checkpoint of this curve"):
        rw.fit_curve(ls, other, steps=1, checkpoint=path)


# ------------------------------------------------------------------ saving and loading
@pytest.mark.parametrize("klass", [rw.BezierCurve, rw.PolyChain])
def test_save_load_round_trip(tmp_path, klass):
    ls, theta_b, _ = digits_pair()
    curve = klass(ls.theta, theta_b, 2, bends=torch.randn(2, ls.num_params, dtype=torch.float64))
    curve.fit_state["step"], curve.fit_state["losses"] = 3, [0.5, 0.4, 0.3]
    path = curve.save(tmp_path / "c.pt")
    back = klass.load(path, like=ls)
    assert type(back) is klass and back.num_bends == 2 and back.fit_state["losses"] == [0.5, 0.4, 0.3]
    torch.testing.assert_close(back.control_points, curve.control_points, rtol=0, atol=0)
    assert type(load_curve(path)) is klass
    with pytest.raises(ValueError, match="expected a (bezier|polychain) curve, got a"):
        (rw.PolyChain if klass is rw.BezierCurve else rw.BezierCurve).load(path)


def test_a_curve_for_another_model_is_rejected(tmp_path):
    ls, theta_b, _ = digits_pair()
    path = rw.BezierCurve(ls.theta, theta_b).save(tmp_path / "digits.pt")
    small = rw.Landscape(torch.nn.Linear(3, 2).double(), lambda o, t: ((o - t) ** 2).mean(),
                         (torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)))
    with pytest.raises(ValueError, match=r"a curve for another model: it holds P=610 parameters in "
                                         r"torch.float64, but this Landscape's model has P=8 in torch.float64"):
        load_curve(path, small)
    with pytest.raises(ValueError, match="P=610 parameters in torch.float64.*P=610 in torch.float32"):
        load_curve(path, ls.theta.float())
    with pytest.raises(ValueError, match="a curve for another model"):
        rw.fit_curve(small, rw.BezierCurve(ls.theta, theta_b), steps=1)


def test_unsafe_or_foreign_files_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "rashomon_widgets.curve", "x": Payload()}, evil)
    with pytest.raises(ValueError, match="could not be read safely"):
        load_curve(evil)
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="expected a curve saved by rashomon_widgets"):
        load_curve(other)
    with pytest.raises(FileNotFoundError, match="expected an existing file"):
        load_curve(tmp_path / "missing.pt")
    a, b = _ends()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rw.BezierCurve(a, b).save(tmp_path / "no" / "such" / "folder.pt")


# ------------------------------------------------------------------ bad input
def test_bad_input_gets_clear_errors():
    a, b = _ends()
    with pytest.raises(ValueError, match="theta_b: expected 5 entries like theta_a.*got 4"):
        rw.BezierCurve(a, b[:4])
    with pytest.raises(ValueError, match="theta_b: expected dtype torch.float64.*got torch.float32"):
        rw.BezierCurve(a, b.float())
    with pytest.raises(TypeError, match="theta_a: expected a flat parameter vector.*got list"):
        rw.BezierCurve([0.0, 1.0], b)
    with pytest.raises(ValueError,
                       match=r"theta_a: expected a flat parameter vector of shape \(P,\), got shape \(5, 1\)"):
        rw.BezierCurve(a[:, None], b)
    with pytest.raises(ValueError, match="theta_a: expected finite values"):
        rw.BezierCurve(a * math.nan, b)
    with pytest.raises(ValueError, match=r"num_bends: expected an int in \[0, 10000\], got -1"):
        rw.BezierCurve(a, b, -1)
    with pytest.raises(ValueError, match=r"bends: expected 2 rows \(num_bends, P\), got shape \(1, 5\)"):
        rw.PolyChain(a, b, 2, bends=torch.zeros(1, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"bends: expected shape \(M, P\) with P=5 .*got shape \(2, 4\)"):
        rw.PolyChain(a, b, 2, bends=torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="bends: expected dtype torch.float64 .*got torch.float32"):
        rw.PolyChain(a, b, 2, bends=torch.zeros(2, 5))
    with pytest.raises(ValueError, match="bends: expected finite values, got NaN or inf"):
        rw.PolyChain(a, b, 2, bends=torch.full((2, 5), math.nan, dtype=torch.float64))
    curve = rw.BezierCurve(a, b)
    with pytest.raises(ValueError, match=r"t: expected values in \[0, 1\].*got 1.5"):
        curve(1.5)
    with pytest.raises(ValueError, match=r"ts: expected values in \[0, 1\].*got -0.1"):
        curve.points([0.0, -0.1])
    with pytest.raises(ValueError, match="ts: expected a number or a 1-D sequence.*shape \\(2, 2\\)"):
        curve.points(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="t: expected a number in \\[0, 1\\], got list"):
        curve([0.5])
    with pytest.raises(ValueError, match="bends lie on the straight line"):
        curve.detour_direction()


def test_fit_curve_rejects_bad_settings():
    ls, theta_b, _ = digits_pair()
    curve = rw.BezierCurve(ls.theta, theta_b)
    with pytest.raises(ValueError, match="lr: expected a positive learning rate, got -1"):
        rw.fit_curve(ls, curve, steps=1, lr=-1)
    with pytest.raises(ValueError, match="expected one of them, got steps=1 and epochs=1"):
        rw.fit_curve(ls, curve, steps=1, epochs=1)
    with pytest.raises(ValueError, match=r"num_t: expected an int in \[1, 10000\], got 0"):
        rw.fit_curve(ls, curve, steps=1, num_t=0)
    with pytest.raises(ValueError, match="at least one bend to fit, got num_bends=0"):
        rw.fit_curve(ls, rw.BezierCurve(ls.theta, theta_b, 0), steps=1)
    with pytest.raises(TypeError, match="curve: expected an rw.BezierCurve or rw.PolyChain, got tensor"):
        rw.fit_curve(ls, ls.theta, steps=1)
    with pytest.raises(ValueError, match="became (nan|NaN or inf)"):
        rw.fit_curve(ls, curve, steps=3, lr=1e308)
    assert bool(torch.isfinite(curve.bends).all())


# ------------------------------------------------------------------ the seed-scale path, tiny
def test_preresnet_path_on_synthetic_cifar():
    """What the notebook runs with MODEL = "preresnet20", on 8 synthetic CIFAR-shaped images."""
    X, y = rw.data.synthetic_cifar(8, seed=0)
    models = []
    for seed in (0, 1):
        model = rw.models.preresnet20(seed=seed)
        rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=1, batch_size=4, lr=0.05,
                        optimizer="sgd", momentum=0.9, seed=seed)
        models.append(model.eval())
    ls = rw.Landscape(with_batch_statistics(models[0]), rw.models.cross_entropy, (X, y))
    theta_b = ls.layout.flatten(models[1])
    # each end is evaluated with its own (batch) statistics, not with run A's running averages
    with torch.no_grad():
        own_b = float(rw.models.cross_entropy(with_batch_statistics(models[1])(X), y))
    assert ls.loss(theta_b) == pytest.approx(own_b, rel=1e-5)
    assert all(b is not None for b in (models[0].layer1[0].bn1.running_mean,))  # the user's model is untouched
    curve = rw.BezierCurve(ls.theta, theta_b)
    losses = rw.fit_curve(ls, curve, steps=2, num_t=2, lr=1e-3)
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert torch.equal(curve(0.0), ls.theta) and torch.equal(curve(1.0), theta_b)
    assert torch.isfinite(ls.losses(curve.points([0.25, 0.5, 0.75]), strategy="loop")).all()


def test_plane_path_and_length_build_a_few_points_at_a_time(monkeypatch):
    """A curve drawn on its plane and its length hold CHUNK_POINTS points of P entries at once (101 points of
    a 1.2M-parameter model would hold 485 MB), with the same numbers as all the points at once."""
    from rashomon_widgets.core.geometry import curve_base
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(50, generator=g, dtype=torch.float64) for _ in range(2))
    curve = rw.BezierCurve(a, b, bends=((a + b) / 2 + torch.randn(50, generator=g, dtype=torch.float64))[None])
    plane, ts = curve.plane(), np.linspace(0, 1, 101)
    expected = plane.coordinates(curve.points(ts))
    full = curve.points(torch.linspace(0, 1, 201, dtype=torch.float64))
    length = float((full[1:] - full[:-1]).norm(dim=1).sum())
    sizes, points = [], curve.points
    monkeypatch.setattr(curve, "points", lambda t: sizes.append(len(t)) or points(t))
    np.testing.assert_allclose(curve.plane_path(plane, ts), expected, rtol=1e-12, atol=1e-12)
    assert curve.arc_length() == pytest.approx(length, rel=1e-12)
    with pytest.warns(DeprecationWarning, match=r"use Curve.arc_length\(num\)"):
        assert curve.length() == curve.arc_length()
    assert max(sizes) <= curve_base.CHUNK_POINTS + 1 and sum(sizes) >= 101 + 201
