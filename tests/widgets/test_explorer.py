"""NullSpaceExplorer through its state and its controls' synced state (get_state), against core objects
computed independently."""
import json
import math
import re
import threading

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from traitlets import TraitError

import rashomon_widgets as rw
from rashomon_widgets.widgets._controls import slider_grid


@pytest.fixture
def explorer(xor_min):
    e = rw.NullSpaceExplorer(xor_min, num_null=2, num_top=1)
    assert e.wait(300)
    return e


def _chart(ls):
    return rw.core.ManifoldChart(ls, num_null=2, num_top=1)


def test_first_draw_shows_loss_spectrum_and_surfaces(explorer, xor_min):
    state = explorer.state
    assert state["coefficients"] == [0.0, 0.0, 0.0] and state["x_axis"] == "null 1" and state["y_axis"] == "top 1"
    assert "loss = <b>" in explorer.loss_html.value
    assert explorer.error_html.value == ""
    assert explorer.surface2d.heatmap.color.shape == (31, 31)
    assert explorer.surface3d.mesh.y.shape == (31 * 31,)  # flattened, as ipyvolume wants
    assert explorer.surface3d.figure.animation == 0
    # the XOR minimum: rank J = 4, so 5 of 9 eigenvalues are zero, as the core says
    expected = rw.core.spectrum_at(xor_min, xor_min.theta)
    rank = int(torch.linalg.matrix_rank(xor_min.jacobian()))
    assert explorer.spectrum.near_zero == expected.num_near_zero == 9 - rank
    assert f"<b>{expected.num_near_zero}</b> of 9" in explorer.spectrum.label.value
    assert "rw-explorer" in explorer.get_state()["_dom_classes"]
    # the axes are named after the chosen directions
    assert "null 1" in explorer.surface2d.figure.axes[0].label and "top 1" in explorer.surface2d.figure.axes[1].label


def test_null_slider_keeps_the_loss_and_draws_the_core_slice(explorer, xor_min):
    explorer.sliders[0].value = 1.5
    assert explorer.wait(300)
    assert explorer.state["coefficients"] == [1.5, 0.0, 0.0]
    chart = _chart(xor_min)
    point = chart.point([1.5, 0.0, 0.0])
    torch.testing.assert_close(explorer.point, point)
    assert float((explorer.point - xor_min.theta).norm()) > 1.0  # it really moved ...
    assert xor_min.loss(explorer.point) < 1e-12                    # ... and stayed in the Rashomon set
    surf = xor_min.surface(chart.plane(point, "null 1", "top 1"), span=1.0, resolution=31)
    np.testing.assert_allclose(explorer.surface2d.heatmap.color, np.log10(np.maximum(surf.loss, 1e-16)),
                               rtol=1e-9, atol=1e-12)
    assert explorer.history[-1]["coefficients"] == [1.5, 0.0, 0.0]
    torch.testing.assert_close(explorer.history_point(), point)


def test_top_slider_raises_the_loss_and_reset_returns(explorer, xor_min):
    explorer.sliders[-1].value = 0.5
    assert explorer.wait(300)
    lam = float(_chart(xor_min).top_values[0])
    assert xor_min.loss(explorer.point) == pytest.approx(lam / 2 * 0.25, rel=0.2)
    explorer.reset_button.click()
    assert explorer.wait(300)
    assert all(s.value == 0 for s in explorer.sliders) and explorer.state["coefficients"] == [0.0, 0.0, 0.0]
    torch.testing.assert_close(explorer.point, xor_min.theta)


def test_values_off_the_slider_grid_are_snapped_as_the_browser_would(explorer):
    # a value the browser would snap differently is echoed back later (notebook 01 found its slider at
    # 0.72 after a reset); the kernel keeps the browser's own value instead
    explorer.sliders[0].value = 0.7
    assert explorer.sliders[0].value == explorer.coefficients[0] == slider_grid(0.7, -2.0, 2.0, 0.02)
    explorer.coefficients = [0.123, 0.0, 0.0]
    assert explorer.sliders[0].value == slider_grid(0.123, -2.0, 2.0, 0.02) == pytest.approx(0.12)


def test_a_nan_slider_value_is_refused_and_the_point_stays(explorer, xor_min):
    explorer.sliders[0].value = 0.5
    assert explorer.wait(300)
    kept = explorer.point.clone()
    with pytest.raises(TraitError, match=re.escape("null 1: expected a finite number in [-2, 2], got nan")):
        explorer.sliders[0].value = math.nan  # refused by the slider itself: JSON cannot carry NaN
    assert explorer.wait(300)
    assert "null 1: expected a finite number in [-2, 2], got nan" in explorer.error_html.value  # shown there too
    assert explorer.sliders[0].value == 0.5 and explorer.state["coefficients"][0] == 0.5
    torch.testing.assert_close(explorer.point, kept)
    explorer.sliders[0].value = -0.5  # the next good value works
    assert explorer.wait(300)
    assert explorer.error_html.value == ""
    torch.testing.assert_close(explorer.point, _chart(xor_min).point([-0.5, 0.0, 0.0]))
    assert all(math.isfinite(c) for h in explorer.history for c in h["coefficients"])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 5.0, "1"])
def test_bad_coefficients_from_python_are_refused(explorer, bad):
    with pytest.raises(TraitError, match="null 1: expected a finite number|expected a float"):
        explorer.coefficients = [bad, 0.0, 0.0]
    with pytest.raises(TraitError, match="coefficients: expected 3 numbers"):
        explorer.coefficients = [0.0, 0.0]
    assert explorer.state["coefficients"] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("bad", [-1.0, 0.0, math.nan, math.inf, "NaN", "-1", "1e999"])
def test_bad_span_is_refused_and_the_next_good_value_works(explorer, bad):
    explorer.span_box.value = bad  # the box takes any text (or number); the explorer refuses it and puts the box back
    assert explorer.wait(300)
    assert "span: expected a finite number" in explorer.error_html.value and "span stays 1" in explorer.error_html.value
    assert explorer.span_box.value == explorer.span_box.get_state()["value"] == "1"
    assert explorer.state["span"] == 1.0
    explorer.sliders[1].value = 0.7  # the sliders keep working
    assert explorer.wait(300)
    explorer.span_box.value = 0.5
    assert explorer.wait(300)
    assert explorer.error_html.value == ""
    assert explorer.surface2d.surface.xs.max() == pytest.approx(0.5)


def test_a_refusal_during_a_running_job_is_not_wiped_when_that_job_ends(explorer):
    # seen in the browser suite on a busy machine: the job in flight finished after the refusal and
    # cleared its message, so the user saw nothing
    assert explorer.wait(300)
    release, entered = threading.Event(), threading.Event()
    job = explorer._job

    def slow_job(state, current, started):
        entered.set()
        release.wait(30)
        return job(state, current, started)

    explorer._job = slow_job
    explorer.sliders[0].value = 0.3
    assert entered.wait(300)
    explorer.span_box.value = -1.0          # refused while the job runs
    assert "span: expected a finite number" in explorer.error_html.value
    release.set()
    assert explorer.wait(300)
    assert "span: expected a finite number" in explorer.error_html.value
    assert "error" in explorer.status_html.value
    explorer._job = job
    explorer.sliders[0].value = 0.0         # the next job clears it
    assert explorer.wait(300)
    assert explorer.error_html.value == "" and "updated" in explorer.status_html.value


def test_same_axis_twice_is_refused_and_the_dropdown_returns(explorer):
    # the issue: both dropdowns stayed on the same direction while the plot still showed the old one
    explorer.x_dir.value = "null 2"
    assert explorer.wait(300) and "null 2" in explorer.surface2d.figure.axes[0].label
    n = len(explorer.history)
    explorer.y_dir.value = "null 2"            # as the browser selects it
    assert explorer.wait(300)
    assert ("y axis (y_axis): expected a direction other than the x axis&#x27;s, got &#x27;null 2&#x27;"
            in explorer.error_html.value)
    assert "y axis (y_axis) stays &#x27;top 1&#x27;" in explorer.error_html.value
    assert explorer.y_dir.value == explorer.y_axis == "top 1" and explorer.y_dir.get_state()["index"] == 2
    assert explorer.x_dir.value == explorer.x_axis == "null 2" and len(explorer.history) == n   # nothing redrawn
    assert "top 1" in explorer.surface2d.figure.axes[1].label
    with pytest.raises(TraitError,
                       match=re.escape("x_axis: expected a direction other than the y axis's, got 'top 1'")):
        explorer.x_axis = 2                    # an index too
    explorer.restore({"x_axis": "top 1", "y_axis": "null 2"})   # a swap in one call is two different directions
    assert explorer.wait(300) and (explorer.x_axis, explorer.y_axis) == ("top 1", "null 2")
    assert (explorer.x_dir.value, explorer.y_dir.value) == ("top 1", "null 2") and explorer.error_html.value == ""
    with pytest.raises(TraitError, match="expected a direction other than"):
        explorer.restore({"x_axis": "null 1", "y_axis": 0})
    assert (explorer.x_axis, explorer.y_axis) == ("top 1", "null 2")
    explorer.y_dir.value = "null 1"            # a good value draws
    assert explorer.wait(300)
    assert explorer.error_html.value == "" and "null 1" in explorer.surface2d.figure.axes[1].label


def test_latest_slider_value_wins(explorer, xor_min):
    for v in np.linspace(0.1, 1.0, 25):  # a fast drag
        explorer.sliders[0].value = float(v)
    assert explorer.wait(300)
    torch.testing.assert_close(explorer.point, _chart(xor_min).point([1.0, 0.0, 0.0]))
    # far fewer redraws than slider events: stale work was dropped
    assert len(explorer.history) < 25


def test_log_color_toggle(explorer):
    explorer.log_toggle.value = False
    assert explorer.wait(300)
    lin = explorer.surface2d.heatmap.color.copy()
    assert explorer.state["log_color"] is False
    assert explorer.surface2d.figure.axes[2].label == "loss"
    explorer.log_toggle.value = True
    assert explorer.wait(300)
    np.testing.assert_allclose(explorer.surface2d.heatmap.color, np.log10(np.maximum(lin, 1e-16)), rtol=1e-9)
    assert explorer.surface2d.figure.axes[2].label == "log10 loss"


def test_state_is_a_plain_dict_that_restores(explorer, xor_min):
    explorer.coefficients = [0.5, -0.3, 0.0]
    explorer.span = 0.75
    assert explorer.wait(300)
    state = explorer.state
    assert json.loads(json.dumps(state)) == state
    explorer.reset()
    assert explorer.wait(300)
    explorer.restore(state)
    assert explorer.wait(300)
    assert [s.value for s in explorer.sliders] == state["coefficients"] == pytest.approx([0.5, -0.3, 0.0])
    assert explorer.span_box.value == "0.75"
    torch.testing.assert_close(explorer.point, _chart(xor_min).point(state["coefficients"]))
    handed_out = rw.NullSpaceExplorer(xor_min, num_null=2, num_top=1, state=state)
    assert handed_out.wait(300)
    torch.testing.assert_close(handed_out.point, explorer.point)
    with pytest.raises(ValueError, match="unknown keys"):
        explorer.restore({"colour": 1})
    with pytest.raises(Exception, match="span: expected a finite number"):
        explorer.restore({"coefficients": [1.0, 0.0, 0.0], "span": math.nan})
    assert explorer.state == state  # all or nothing


def test_history_is_bounded_and_holds_states_not_parameter_vectors(xor_min):
    class Short(rw.NullSpaceExplorer):
        history_size = 5

    e = Short(xor_min, num_null=2, num_top=1, resolution=5, coarse=3)
    for v in np.linspace(-1, 1, 9):
        e.coefficients = [float(v), 0.0, 0.0]
        assert e.wait(300)
    assert len(e.history) == 5
    assert all(set(h) == set(e.state) and not any(isinstance(x, torch.Tensor) for x in h.values()) for h in e.history)
    assert e.history[-1]["coefficients"][0] == 1.0


def test_play_moves_a_direction_back_and_forth(explorer, xor_min):
    explorer.play_choice.value = "null 2"
    frames = explorer.play.max + 1
    explorer.play.value = frames // 4  # a quarter of the way: the far end, +range
    assert explorer.wait(300)
    assert explorer.state["coefficients"] == [0.0, 2.0, 0.0]
    explorer.play.value = 3 * frames // 4  # three quarters: -range
    assert explorer.wait(300)
    assert explorer.state["coefficients"] == [0.0, -2.0, 0.0]
    torch.testing.assert_close(explorer.point, _chart(xor_min).point([0.0, -2.0, 0.0]))


def test_save_writes_png_and_svg(explorer, tmp_path):
    paths = explorer.save(tmp_path / "start-here")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in paths[1].read_bytes()[:2000]


def test_explorer_rejects_a_non_landscape():
    with pytest.raises(TypeError, match="rw.Landscape"):
        rw.NullSpaceExplorer("not a landscape")


def test_matrix_free_explorer_on_a_wider_net():
    torch.manual_seed(0)
    x = torch.randn(6, 3, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(3, 12), torch.nn.Tanh(), torch.nn.Linear(12, 1)).double()
    ls = rw.Landscape(model, rw.models.sum_of_squares, (x, model(x).detach()), reduction="sum", dense_limit=20)
    e = rw.NullSpaceExplorer(ls, num_null=2, num_top=1, resolution=9, coarse=5)
    assert not e.exact
    assert e.wait(300)
    assert "stochastic Lanczos" in e.spectrum.label.value

    dense = rw.Landscape(model, rw.models.sum_of_squares, (x, model(x).detach()), reduction="sum")

    def top_three_listed(point):  # the label lists the 3 largest eigenvalues, as dense eigh finds them
        exact = torch.linalg.eigvalsh(dense.hessian(point)).flip(0)[:3]
        np.testing.assert_allclose(e.spectrum.result.top_values, exact.numpy(), rtol=1e-5)
        assert "largest λ " + ", ".join(f"{v:.4g}" for v in e.spectrum.result.top_values) in e.spectrum.label.value

    top_three_listed(e.point)
    first = e._spectrum_at.vectors
    assert first is not None and first.shape == (ls.num_params, 3)
    e.sliders[0].value = 0.5
    assert e.wait(300)
    assert "re-projected" in e.loss_html.value
    assert ls.loss(e.point) < 1e-6
    # the move's Lanczos started from the first frame's vectors and replaced them
    assert e._spectrum_at.vectors is not first
    # the spectrum is of the tangent step's point (drawn before the re-projection), which is on the slider
    top_three_listed(e.chart.point(e.coefficients, retracted=False))


def test_displaying_an_explorer_waits_for_its_first_frame():
    model, loss_fn, data = rw.models.toy_quadratic(a=1.0, b=0.25, point=(0.0, 0.0, 1.0))
    ls = rw.Landscape(model, loss_fn, data, reduction="sum")
    explorer = rw.NullSpaceExplorer(ls, num_null=1, num_top=1)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # the whole first frame was drawn before the front end got the view to build
    assert explorer.status_html.value.startswith("updated in")
    assert explorer.surface2d.heatmap.color.shape[0] > 2


# ------------------------------------------------------------------ issue 21: values that cannot be drawn
def _cosh_loss(out, t):
    """Zero with the same Hessian as half the sum of squares at a zero-loss fit, but it overflows to inf once
    an output is ~710 from its target: a loss that a far enough grid cannot colour."""
    return (torch.cosh(out - t) - 1).sum()


def _strict_json(widget) -> str:
    state = {k: v for k, v in widget.get_state().items() if not isinstance(v, (dict, memoryview, bytes))}
    return json.dumps(state, allow_nan=False, default=str)


@pytest.mark.parametrize("span", [1e300, 1e308])
def test_a_span_whose_grid_would_overflow_is_refused_and_the_span_stays(explorer, span):
    # the issue: 1e300 drew a grid that was 99.9% inf with a colour scale up to inf; 1e308 sent NaN coordinates
    with pytest.raises(TraitError, match=r"^span: expected .*; span stays 1$"):
        explorer.span = span
    explorer.span_box.value = f"{span:g}"  # typed in the box: a finite number, refused by the explorer
    assert explorer.wait(300)
    assert "span: expected" in explorer.error_html.value and "span stays 1" in explorer.error_html.value
    assert explorer.span == 1.0 and explorer.span_box.value == "1" and explorer.state["span"] == 1.0
    assert explorer.surface2d.surface.xs.max() == pytest.approx(1.0)   # the views kept the last good grid
    assert np.isfinite(explorer.surface2d.heatmap.color).all() and np.isfinite(explorer.surface3d.mesh.y).all()
    _strict_json(explorer.surface2d._color)                          # the colour scale's ends are valid JSON
    explorer.span_box.value = 0.5                                       # the widget keeps working
    assert explorer.wait(300)
    assert explorer.error_html.value == "" and explorer.surface2d.surface.xs.max() == pytest.approx(0.5)


def test_a_span_whose_corner_losses_overflow_is_refused_and_the_span_stays():
    ls = rw.Landscape(rw.models.xor_minimum(width=2, seed=0), _cosh_loss, rw.data.xor(), reduction="sum")
    e = rw.NullSpaceExplorer(ls, num_null=2, num_top=1, resolution=11, coarse=5)
    assert e.wait(300)
    e.span_box.value = 1e4  # finite coordinates and parameters, but cosh overflows at the corners
    assert e.wait(300)
    assert ("span: expected a span whose loss grid can be drawn (finite coordinates and losses), got 10000: the loss "
            "at its corners is inf") in e.error_html.value
    assert "span stays 1" in e.error_html.value
    assert e.span == 1.0 and e.span_box.value == "1" and np.isfinite(e.surface2d.surface.loss).all()
    with pytest.raises(TraitError, match="the loss at its corners is"):
        e.restore({"span": 1e4})
    assert e.state["span"] == 1.0
    e.span = 50.0  # still finite everywhere
    assert e.wait(300)
    assert e.error_html.value == "" and e.surface2d.surface.xs.max() == pytest.approx(50.0)
    e.close()


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
def test_an_infinite_slider_value_is_refused_not_clamped(explorer, bad):
    explorer.sliders[0].value = 0.5
    assert explorer.wait(300)
    message = f"null 1: expected a finite number in [-2, 2], got {bad}"
    with pytest.raises(TraitError, match=re.escape(message)):
        explorer.sliders[0].value = bad  # was clamped to +-2 without a word
    assert message in explorer.error_html.value
    with pytest.raises(TraitError, match=re.escape(message)):
        explorer.coefficients = [bad, 0.0, 0.0]
    assert explorer.sliders[0].value == 0.5 and explorer.state["coefficients"] == [0.5, 0.0, 0.0]


def test_an_out_of_range_axis_names_the_valid_range(explorer):
    names = "['null 1', 'null 2', 'top 1']"
    with pytest.raises(TraitError, match=re.escape(f"x_axis: expected one of {names} or an index in [0, 2], "
                                                   "got the index 99")):
        explorer.x_axis = 99
    with pytest.raises(TraitError, match=re.escape("x axis (x_axis): expected an index in [0, 2] (one of 'null 1', "
                                                   "'null 2', 'top 1'), got 99")):
        explorer.x_dir.index = 99  # was "Invalid selection: index out of bounds"
    assert "x axis (x_axis): expected an index in [0, 2]" in explorer.error_html.value
    with pytest.raises(TraitError, match=re.escape("y axis (y_axis): expected one of its options (one of 'null 1', "
                                                   "'null 2', 'top 1'), got 99")):
        explorer.y_dir.value = 99  # was "Invalid selection: value not found"
    assert explorer.state["x_axis"] == "null 1" and explorer.x_dir.value == "null 1"
    explorer.y_axis = 1  # an index in range picks that direction, stored by name
    assert explorer.wait(300)
    assert explorer.state["y_axis"] == explorer.y_dir.value == "null 2"
    assert explorer.error_html.value == "" and "null 2" in explorer.surface2d.figure.axes[1].label


@pytest.mark.parametrize("bad", ["", ".", "figures/", "figures" + "/" * 2])
def test_save_refuses_a_path_that_names_no_file(explorer, tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "figures").mkdir()
    message = (f"path: expected a file name such as 'start-here' (optionally in a folder: 'figures/start-here'), "
               f"got {bad!r}, which names no file")
    with pytest.raises(ValueError, match=re.escape(message)):
        explorer.save(bad)
    with pytest.raises(ValueError, match="path: expected a file in an existing folder, got 'nowhere/fig'"):
        explorer.save("nowhere/fig")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["figures"]


def test_save_writes_both_files_or_neither(explorer, tmp_path):
    (tmp_path / "fig.svg").mkdir()  # the SVG cannot be written: the PNG was written before it and stayed
    with pytest.raises(ValueError, match="'.*fig.svg' is a folder"):
        explorer.save(tmp_path / "fig")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.svg"]  # no PNG, no temporary file
    paths = explorer.save(tmp_path / "ok.png")
    assert [p.name for p in paths] == ["ok.png", "ok.svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.svg", "ok.png", "ok.svg"]  # nothing left over


# ------------------------------------------------------------------ issue 23: controls that tell the truth
def test_a_span_of_1e308_typed_in_the_box_goes_back_and_a_nan_replaces_its_message(explorer):
    explorer.span_box.value = "1e308"          # as the browser sends the text
    assert explorer.wait(300)
    first = explorer.error_html.value
    assert "TraitError: span: expected" in first and "span stays 1" in first and "thetas" not in first
    assert explorer.span_box.value == "1" and explorer.span == 1.0
    explorer.span_box.value = "NaN"            # a FloatText dropped it in the browser: the 1e308 message stayed
    assert explorer.wait(300)
    assert "span: expected a finite number, got &#x27;NaN&#x27;; span stays 1" in explorer.error_html.value
    assert "1e+308" not in explorer.error_html.value and explorer.span_box.value == "1"
    explorer.span_box.value = "0.5"            # a good value clears it at once, before its frame is drawn
    assert explorer.error_html.value == ""
    assert explorer.wait(300) and explorer.error_html.value == "" and explorer.span_box.value == "0.5"
    assert explorer.status_html.value.startswith("updated in")


def test_the_status_line_times_the_slice_and_the_spectrum_apart(explorer):
    # the issue: "updated in ~330 ms" for a slice drawn after ~40 ms (the spectrum waits 0.3 s for a drag to pause)
    explorer.sliders[0].value = 0.4
    assert explorer.wait(300)
    match = re.fullmatch(r"updated in (\d+) ms &middot; spectrum in (\d+) ms", explorer.status_html.value)
    assert match, explorer.status_html.value
    slice_ms, spectrum_ms = (int(x) for x in match.groups())
    assert spectrum_ms >= 300 and slice_ms < spectrum_ms - 250, explorer.status_html.value


def test_every_button_has_a_tooltip_and_no_tooltip_is_markup(explorer):
    def walk(w):
        yield w
        for child in getattr(w, "children", ()):
            yield from walk(child)

    found = list(walk(explorer))
    buttons = [w for w in found if isinstance(w, (widgets.Button, widgets.ToggleButton))]
    assert {b.description for b in buttons} >= {"play", "pause", "stop", "loop", "reset", "export", "log colour"}
    for b in buttons:
        assert b.tooltip and "<" not in b.tooltip, b.description
    for w in found:
        assert "<" not in (getattr(w, "tooltip", None) or ""), w
        if isinstance(w, (widgets.Checkbox, widgets.ToggleButton)):   # their description is shown as a title
            assert "<" not in w.description, w
    assert explorer.log_toggle.tooltip == type(explorer).log_color.help


def test_state_traits_stay_in_the_kernel_and_restore_validates_the_whole_state(explorer):
    """No front end reads the state traits (the controls are widgets of their own), so they are not synced;
    restore() validates a state as a whole (a swap of the axes passes) and refuses it all or nothing."""
    synced = explorer.get_state()
    assert not set(explorer.state_names()) & set(synced), "state traits are sent to the browser"
    explorer.restore({"x_axis": "top 1", "y_axis": "null 1"})      # a swap, in one call
    assert explorer.wait(300)
    assert (explorer.x_axis, explorer.y_axis) == ("top 1", "null 1")
    before = explorer.state
    with pytest.raises(TraitError, match="span"):
        explorer.restore({"x_axis": "null 2", "span": -1.0})          # the good axis is rolled back too
    assert explorer.state == before and explorer.x_dir.value == "top 1"
