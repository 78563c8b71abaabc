"""Widgets through their synced state (get_state), without a browser."""
import numpy as np
import pytest
import torch

import rashomon_widgets as rw


@pytest.fixture
def explorer(xor_min):
    e = rw.NullSpaceExplorer(xor_min, num_null=2, num_top=1)
    assert e.wait(60)
    return e


def test_first_draw_shows_loss_spectrum_and_surfaces(explorer, xor_min):
    assert "loss = <b>" in explorer.loss_html.value
    assert explorer.error_html.value == ""
    assert explorer.surface2d.heatmap.color.shape == (31, 31)
    assert explorer.surface3d.mesh.y.shape == (31 * 31,)  # flattened, as ipyvolume wants
    assert explorer.surface3d.figure.animation == 0
    # the XOR minimum: rank J = 4, so 5 of 9 eigenvalues are zero
    assert explorer.spectrum.near_zero == 9 - int(torch.linalg.matrix_rank(xor_min.jacobian()))
    assert f"<b>{explorer.spectrum.near_zero}</b> of 9" in explorer.spectrum.label.value
    assert explorer.get_state()["_dom_classes"] == ("rw-explorer",) or "rw-explorer" in explorer._dom_classes


def test_null_slider_keeps_the_loss_and_redraws(explorer, xor_min):
    before = explorer.surface2d.heatmap.color.copy()
    mesh_before = explorer.surface3d.mesh.y.copy()
    explorer.sliders[0].value = 1.5
    assert explorer.wait(60)
    assert float((explorer.point - xor_min.theta).norm()) > 1.0  # it really moved ...
    assert xor_min.loss(explorer.point) < 1e-12                    # ... and stayed in the Rashomon set
    assert not np.allclose(explorer.surface2d.heatmap.color, before)
    assert not np.allclose(explorer.surface3d.mesh.y, mesh_before)
    state = explorer.surface2d.heatmap.get_state()
    assert state["color"] is not None
    assert len(explorer.history) >= 2


def test_top_slider_raises_the_loss_and_reset_returns(explorer, xor_min):
    explorer.sliders[-1].value = 0.5
    assert explorer.wait(60)
    raised = xor_min.loss(explorer.point)
    assert raised > 1e-3
    explorer.reset_button.click()
    assert explorer.wait(60)
    assert all(s.value == 0 for s in explorer.sliders)
    torch.testing.assert_close(explorer.point, xor_min.theta)


def test_bad_span_shows_an_error_and_the_widget_keeps_working(explorer):
    explorer.span.value = -1.0
    assert explorer.wait(60)
    assert "span: expected a number greater than 0, got -1.0; keeping span = 1" in explorer.error_html.value
    assert "error" in explorer.status_html.value
    explorer.span.value = 0.5
    explorer.sliders[1].value = 0.7
    assert explorer.wait(60)
    assert explorer.error_html.value == ""
    assert explorer.surface2d.surface.xs.max() == pytest.approx(0.5)


def test_same_axis_twice_is_an_error_in_the_widget(explorer):
    explorer.y_dir.value = explorer.x_dir.value
    assert explorer.wait(60)
    assert "two different directions" in explorer.error_html.value


def test_latest_slider_value_wins(explorer, xor_min):
    for v in np.linspace(0.1, 1.0, 25):  # a fast drag
        explorer.sliders[0].value = float(v)
    assert explorer.wait(60)
    expected = explorer._target(np.array([1.0, 0.0, 0.0]), retracted=True)
    torch.testing.assert_close(explorer.point, expected)
    # far fewer redraws than slider events: stale work was dropped
    assert len(explorer.history) < 25


def test_log_colour_toggle(explorer):
    explorer.log_toggle.value = False
    assert explorer.wait(60)
    lin = explorer.surface2d.heatmap.color.copy()
    assert explorer.surface2d.figure.axes[2].label == "loss"
    explorer.log_toggle.value = True
    assert explorer.wait(60)
    np.testing.assert_allclose(explorer.surface2d.heatmap.color, np.log10(np.maximum(lin, 1e-16)), rtol=1e-9)


def test_surface_view_rejects_non_surfaces():
    view = rw.SurfaceView()
    with pytest.raises(TypeError, match="rw.Surface"):
        view.update(np.zeros((3, 3)))
    from traitlets import TraitError
    with pytest.raises(TraitError, match="log_color.*expected a boolean"):
        view.log_color = "yes"


def test_spectrum_view_counts_near_zero():
    view = rw.SpectrumView()
    spectrum = rw.core.Spectrum(torch.tensor([0.0, 1e-9, 0.5, 2.0], dtype=torch.float64), tol=1e-6)
    assert view.show_spectrum(spectrum) == spectrum.num_near_zero == 2
    assert "<b>2</b> of 4" in view.label.value
    with pytest.raises(TypeError, match="expected an rw.core.Spectrum"):
        view.show_spectrum(np.array([0.0, 1.0]))
    grid = np.linspace(-1, 1, 201)
    dens = np.exp(-grid ** 2 / 0.01)
    dens /= np.trapezoid(dens, grid)
    est = view.show_density(grid, dens, num_params=100, band=0.5)
    assert 95 < est <= 100


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
    assert e.wait(120)
    assert "stochastic Lanczos" in e.spectrum.label.value
    e.sliders[0].value = 0.5
    assert e.wait(120)
    assert "re-projected" in e.loss_html.value
    assert ls.loss(e.point) < 1e-6


def test_displaying_an_explorer_waits_for_its_first_frame():
    model, loss_fn, data = rw.models.toy_quadratic(a=1.0, b=0.25, point=(0.0, 0.0, 1.0))
    ls = rw.Landscape(model, loss_fn, data, reduction="sum")
    explorer = rw.NullSpaceExplorer(ls, num_null=1, num_top=1)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # the whole first frame was drawn before the front end got the view to build
    assert explorer._worker._idle.is_set() and explorer.status_html.value.startswith("updated in")
    assert explorer.surface2d.heatmap.color.shape[0] > 2
