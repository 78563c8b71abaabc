"""NullSpaceExplorer over a prebuilt ManifoldChart (``chart=``): the chart's directions are shown, none is
recomputed, and a chart together with the arguments it fixes is refused."""
import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.geometry import manifold


def _wider_net(**options):
    torch.manual_seed(0)
    x = torch.randn(6, 3, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(3, 12), torch.nn.Tanh(), torch.nn.Linear(12, 1)).double()
    return model, rw.Landscape(model, rw.models.sum_of_squares, (x, model(x).detach()), reduction="sum", **options)


def test_an_exact_chart_is_shown_as_it_is(xor_min):
    chart = rw.core.ManifoldChart(xor_min, num_null=2, num_top=1, seed=3)
    e = rw.NullSpaceExplorer(chart=chart)
    assert e.wait(300)
    assert e.chart is chart and e.ls is xor_min and e.names == chart.names == ["null 1", "null 2", "top 1"]
    assert [s.description for s in e.sliders] == chart.names
    e.sliders[1].value = 1.0
    assert e.wait(300)
    torch.testing.assert_close(e.point, chart.point([0.0, 1.0, 0.0]))
    assert xor_min.loss(e.point) < 1e-12
    # the same explorer from the short form draws the same slice at the same point
    short = rw.NullSpaceExplorer(xor_min, num_null=2, num_top=1)
    short.sliders[1].value = 1.0
    assert short.wait(300)
    torch.testing.assert_close(short.point, e.point)
    np.testing.assert_allclose(short.surface2d.heatmap.color, e.surface2d.heatmap.color, rtol=1e-9, atol=1e-12)


def test_a_matrix_free_chart_on_a_subsample_is_not_rebuilt_and_gives_the_spectrum_its_data(monkeypatch):
    model, ls = _wider_net(dense_limit=20)
    sub = ls.subsample(4)
    chart = rw.core.ManifoldChart(ls, num_null=2, num_top=1, exact=False, curvature=sub, tangent_on=sub)
    built = []
    monkeypatch.setattr(manifold, "tangent_basis", lambda *a, **k: built.append(a))  # a rebuild would call it
    e = rw.NullSpaceExplorer(ls, chart=chart, resolution=9, coarse=5)
    assert not e.exact and e.curvature_ls is sub
    assert e.wait(300)
    assert e.chart is chart and built == []
    assert "4 of 6 samples (the chart's curvature landscape)" in e.children[0].value
    # the spectrum's top eigenvalues are the subsample's, as dense eigh finds them
    (x, y), = sub.batches
    dense = rw.Landscape(model, rw.models.sum_of_squares, (x, y), reduction="sum")
    exact = torch.linalg.eigvalsh(dense.hessian(e.point)).flip(0)[:3]
    np.testing.assert_allclose(e.spectrum.result.top_values, exact.numpy(), rtol=1e-5)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"num_null": 1}, ValueError, r"either a prebuilt ManifoldChart or the arguments to build one, got both "
                                  r"\(chart= and num_null\)"),
    ({"seed": 1, "curvature_samples": None}, ValueError, r"got both \(chart= and seed, curvature_samples\)"),
    ({"theta": "the chart's centre"}, ValueError, r"got both \(chart= and theta\)"),
    ({"chart": "a chart"}, TypeError, "chart: expected an rw.core.ManifoldChart, got str"),
])
def test_a_chart_with_the_arguments_it_fixes_is_refused(xor_min, kwargs, error, message):
    options = {"chart": rw.core.ManifoldChart(xor_min, num_null=1, num_top=1), **kwargs}
    with pytest.raises(error, match=message):
        rw.NullSpaceExplorer(**options)


def test_a_chart_of_another_landscape_is_refused(xor_min):
    chart = rw.core.ManifoldChart(xor_min, num_null=1, num_top=1)
    x, y = rw.data.xor()
    other = rw.Landscape(rw.models.xor_minimum(width=2, seed=0), rw.models.sum_of_squares, (x, y), reduction="sum")
    with pytest.raises(ValueError, match=r"ls: expected the chart's own landscape \(chart.ls\) or none"):
        rw.NullSpaceExplorer(other, chart=chart)
    rw.NullSpaceExplorer(xor_min, chart=chart)  # its own landscape is fine


def test_neither_a_landscape_nor_a_chart_says_what_is_missing():
    with pytest.raises(TypeError, match=r"ls: expected an rw.Landscape \(or a prebuilt chart=ManifoldChart"):
        rw.NullSpaceExplorer()


def test_a_chart_without_top_directions_explains_only_the_null_sliders(xor_min):
    e = rw.NullSpaceExplorer(chart=rw.core.ManifoldChart(xor_min, num_null=2, num_top=0))
    assert e.wait(300) and e.names == ["null 1", "null 2"]
    help_text = next(c.value for c in e.children[1].children[0].children if "rw-help" in c._dom_classes)
    assert "null k" in help_text and "top k" not in help_text
