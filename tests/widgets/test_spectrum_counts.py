"""Issue 22, the spectrum panel: an estimate's near-zero count with its uncertainty, a histogram that stays
readable when nearly every eigenvalue is near zero (596k parameters, all but ~240 of them), and an x scale
that never depends on the bar count a front-end view finds when it is built."""
import html

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.widgets.spectrum_view import LOG_RATIO, count_axis, decade_label

P = 596_042


def _cnn_like_estimate(run_lengths=(20, 20)):
    """SLQ output shaped like the 596k-parameter MNIST CNN's: 2 runs x 20 nodes, 30 nodes around 0 holding
    weight 0.9996, 10 nodes spread from -0.8 to 60 holding the rest (~240 eigenvalues)."""
    rng = np.random.default_rng(0)
    near = rng.normal(0.0, 1e-4, 30)
    far = np.array([0.3, 1.2, 4.0, 9.5, 18.0, 33.0, 47.0, 60.0, -0.8, 2.5])
    nodes = np.concatenate([near, far])
    weights = np.concatenate([np.full(30, 0.9996 / 30), np.full(10, 0.0004 / 10)])
    return rw.core.SpectrumEstimate.from_nodes(nodes, weights, P, tol=1e-3, num_vectors=2, num_steps=20,
                                               run_lengths=None if run_lengths is None else list(run_lengths))


def test_an_estimates_caption_shows_its_count_with_its_uncertainty():
    est = _cnn_like_estimate()
    assert est.near_zero_interval is not None
    view = rw.SpectrumView()
    shown = view.show(est)
    assert shown == est.num_near_zero == view.near_zero   # show() still returns the count itself
    assert isinstance(shown, float)
    assert f"<b>{html.escape(est.count_text())}</b> of 596,042 eigenvalues near zero" in view.label.value
    assert "95%:" in view.label.value
    assert "<span style='white-space:nowrap'>|λ| &le; " in view.label.value   # the rule never wraps inside "|λ|"
    # without run lengths the estimate cannot tell its precision, and says so
    plain = _cnn_like_estimate(run_lengths=None)
    view.show(plain)
    assert plain.near_zero_interval is None and "precision unknown" in view.label.value


def test_an_exact_spectrum_keeps_its_exact_integer_count(xor_min):
    spectrum = xor_min.spectrum()
    view = rw.SpectrumView()
    shown = view.show(spectrum)
    assert isinstance(shown, int) and shown == spectrum.num_near_zero
    assert f"<b>{shown}</b> of 9 eigenvalues near zero" in view.label.value and "about" not in view.label.value


def test_nearly_all_weight_near_zero_gives_a_log_count_axis_on_which_every_bin_is_visible():
    est = _cnn_like_estimate()
    view = rw.SpectrumView()
    view.show(est)
    counts = view.counts
    np.testing.assert_allclose(counts.sum(), P, rtol=1e-9)   # the counts themselves are kept
    total = counts.sum(0)
    filled = total > 0
    assert total[filled].max() > 1000 * total[filled].min()   # the case a linear axis draws as empty
    # a log axis: every non-empty bin at least a tenth of the axis high (>= ~20 px of a 210 px plot)
    assert view.y_axis.label == "estimated count (log scale)"
    heights = np.asarray(view.bars.y).sum(0)
    ymax = view._y.max
    assert np.all(heights[filled] >= 0.1 * ymax) and np.all(heights[~filled] == 0) and heights.max() <= ymax
    # taller bar, more eigenvalues; each bar split between the colours by its share of positive values
    order = np.argsort(total[filled])
    assert np.all(np.diff(heights[filled][order]) >= -1e-12)
    pos, neg = np.asarray(view.bars.y)
    share = np.divide(pos, heights, out=np.zeros_like(pos), where=heights > 0)
    np.testing.assert_allclose(share[filled], (counts[0] / np.where(filled, total, 1))[filled], atol=1e-12)
    # decade ticks, few, increasing, each labelled by its count
    ticks = np.asarray(view.y_axis.tick_values)
    assert 2 <= len(ticks) <= 6 and np.all(np.diff(ticks) > 0) and ticks[0] >= 0 and ticks[-1] <= ymax
    labels = view.y_axis.tick_labels   # keyed as the front end prints the tick values ("3", not "3.0")
    assert sorted(labels) == sorted(f"{t:g}" for t in ticks)
    values = [float(labels[f"{t:g}"].replace("k", "e3").replace("M", "e6")) for t in ticks]
    assert np.allclose(np.diff(np.log10(values)), np.diff(ticks))   # one decade per unit of height
    assert "log scale" in view.legend.value


def test_the_x_axis_of_that_histogram_spans_the_eigenvalues_with_separate_ticks():
    est = _cnn_like_estimate()
    view = rw.SpectrumView()
    view.show(est)
    assert view._x.allow_padding is False   # no padding computed from the bar count the view first saw
    assert view._x.min < np.log10(est.threshold) < np.log10(60.0) <= view._x.max
    ticks = np.asarray(view.x_axis.tick_values)
    assert 3 <= len(ticks) <= 7 and np.all(np.diff(ticks) >= 1) and ticks.min() >= view._x.min
    x = np.asarray(view.bars.x)
    assert np.all(np.diff(x) > 0) and x.min() > view._x.min and x.max() < view._x.max


def test_a_histogram_without_such_a_spread_keeps_its_linear_count_axis(xor_min):
    view = rw.SpectrumView()
    view.show(xor_min.spectrum())
    assert view.y_axis.label == "count" and view.y_axis.tick_labels is None and view.y_axis.tick_format == "d"
    np.testing.assert_array_equal(np.asarray(view.bars.y), view.counts)


@pytest.mark.parametrize("pos, neg, log", [
    ([99.0, 0.0, 1.0], [0.0, 0.0, 0.0], False),
    ([100.0, 0.0, 1.0], [0.0, 0.0, 0.0], True),
    ([0.0, 0.0], [0.0, 0.0], False),                  # nothing shown yet: a plain axis
    ([595_800.0, 3.0, 0.004], [0.0, 1.0, 0.0], True),  # a bin under the floor stays flat
])
def test_count_axis_turns_logarithmic_at_the_documented_ratio(pos, neg, log):
    axis = count_axis(np.array(pos), np.array(neg), exact=False)
    assert axis["log"] is log
    total = np.array(pos) + np.array(neg)
    drawn = axis["pos"] + axis["neg"]
    if log:
        floor = axis["floor"]
        assert floor >= -2 and floor <= np.log10(total[total > 0].min()) - 1 + 1e-12 or floor == -2
        with np.errstate(divide="ignore"):
            expected = np.where(total > 0, np.maximum(np.log10(total) - floor, 0), 0)
        np.testing.assert_allclose(drawn, expected, atol=1e-12)
        assert axis["ymax"] >= drawn.max() and len(axis["labels"]) == len(axis["ticks"]) <= 6
    else:
        np.testing.assert_array_equal(drawn, total)
        assert axis["floor"] is None and axis["labels"] is None
    assert LOG_RATIO == 100.0


def test_decade_labels_are_short():
    assert [decade_label(k) for k in range(-2, 8)] == ["0.01", "0.1", "1", "10", "100", "1k", "10k", "100k", "1M",
                                                       "10M"]


def test_the_matplotlib_export_draws_the_log_axis_too():
    view = rw.SpectrumView()
    view.show(_cnn_like_estimate())
    _, ax = plt.subplots()
    view.to_matplotlib(ax)
    heights = np.array([p.get_height() for bars in ax.containers for p in bars])
    np.testing.assert_allclose(heights, np.concatenate(view.bars.y))
    assert ax.get_ylabel() == "estimated count (log scale)"
    assert [t.get_text() for t in ax.get_yticklabels()] == [view.y_axis.tick_labels[f"{t:g}"]
                                                            for t in view.y_axis.tick_values]
    plt.close("all")


def test_an_explorer_on_a_matrix_free_model_captions_its_estimate_with_the_interval():
    torch.manual_seed(0)
    x = torch.randn(6, 3, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(3, 12), torch.nn.Tanh(), torch.nn.Linear(12, 1)).double()
    ls = rw.Landscape(model, rw.models.sum_of_squares, (x, model(x).detach()), reduction="sum", dense_limit=20)
    explorer = rw.NullSpaceExplorer(ls, num_null=1, num_top=1, resolution=5, coarse=3)
    try:
        assert explorer.wait(300)
        result = explorer.spectrum.result
        assert isinstance(result, rw.core.SpectrumEstimate)
        assert html.escape(result.count_text()) in explorer.spectrum.label.value
    finally:
        explorer.close()


def _recorded(view):
    """The keys of each message the view's count axis sends from now on."""
    messages = []
    send = view.y_axis.send_state

    def record(key=None):
        messages.append({key} if isinstance(key, str) else set(key or ()))
        return send(key)

    view.y_axis.send_state = record
    return messages


def test_the_count_axis_sends_its_labels_before_its_tick_values(xor_min):
    """The front end draws a tick_values change in a d3 transition that formats the labels with the formatter
    it finds then; within one message the changes arrive in no fixed order. Seen in Chromium: the log axis
    labelled 0, 1, 2... instead of 0.1, 1, 10... whenever tick_values happened to come first."""
    view = rw.SpectrumView()
    messages = _recorded(view)
    view.show(_cnn_like_estimate())   # a first histogram: new labels, new tick values
    assert [m for m in messages if "tick_values" in m] == [{"tick_values"}], messages
    for result in (xor_min.spectrum(), _cnn_like_estimate()):   # linear, then log again
        messages.clear()
        view.show(result)
        values = [i for i, m in enumerate(messages) if "tick_values" in m]
        labels = [i for i, m in enumerate(messages) if m & {"tick_labels", "tick_format"}]
        assert labels, messages   # each switch of axis changes the labels (unchanged tick values are not sent)
        assert all(messages[i] == {"tick_values"} for i in values), messages   # alone in its message
        assert not values or max(labels) < min(values), messages
