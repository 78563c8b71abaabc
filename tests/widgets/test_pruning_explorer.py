"""PruningExplorer through its synced state (the state the browser gets: ``get_state()`` of its controls,
readouts and bqplot marks), checked against a second, independent SkeletonStudy with the same settings."""
import functools
import html
import math
import re

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import pytest
import torch
from traitlets import TraitError

import rashomon_widgets as rw
from rashomon_widgets.experiments import SkeletonStudy

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SETTINGS = {"lr": 1e-2, "batch_size": 32, "seed": 0}
NUM_THRESHOLDS = 6
MAX_THRESHOLD = 0.2


@functools.cache
def _case():
    """Two 6-16-3 ReLU MLPs trained from different seeds on 120 synthetic points, and OOD inputs."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(120, 6, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = rw.models.MLP(6, (16,), 3, activation="relu")
        rw.models.train(model, rw.models.cross_entropy, (X, y), epochs=150, lr=2e-2, seed=seed)
        models.append(model)
    ood = 3 * torch.rand(50, 6, generator=g)
    test = (X[:40] + 0.05, y[:40])
    return models, (X, y), test, ood


def _explorer(cls=None, **kw):
    models, train, test, ood = _case()
    options = dict(ood=ood, test_data=test, l1=1e-3, epochs=4, threshold=0.05, max_epochs=10,
                   num_thresholds=NUM_THRESHOLDS, **SETTINGS)
    options.update(kw)
    e = (cls or rw.PruningExplorer)(models, rw.models.cross_entropy, train, **options)
    assert e.wait(300)
    return e


@functools.cache
def _study():
    """The same study, computed independently of any explorer."""
    models, train, test, ood = _case()
    return SkeletonStudy(models, rw.models.cross_entropy, train, ood=ood, test_data=test,
                         thresholds=np.linspace(0, MAX_THRESHOLD, NUM_THRESHOLDS), **SETTINGS)


@pytest.fixture
def explorer():
    return _explorer()


# ------------------------------------------------------------------ reading synced state
def _array(value):
    """A bqplot array trait as the front end gets it (binary buffer + dtype + shape) back to numpy."""
    if isinstance(value, dict):
        return np.frombuffer(bytes(value["value"]), dtype=value["dtype"]).reshape(value["shape"])
    return np.asarray(value)


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _with_class(explorer, css_class):
    return [w for w in _walk(explorer) if css_class in getattr(w, "_dom_classes", ())]


def _heatmap(explorer):
    (figure,) = _with_class(explorer, "rw-similarity")
    (grid,) = [m for m in figure.marks if isinstance(m, bq.GridHeatMap)]
    state = grid.get_state()
    return _array(state["color"]), list(state["row"]), list(state["column"])


def _text(widget) -> str:
    return widget.get_state()["value"]


def _shown(explorer):
    """(l1, epochs, threshold) as the controls show them (the exact L1 box shows text: read as a number)."""
    return (float(explorer.span.get_state()["value"]), explorer.epochs_slider.get_state()["value"],
            explorer.threshold_slider.get_state()["value"])


# ------------------------------------------------------------------ tests
def test_first_draw_matches_an_independent_study(explorer):
    assert _text(explorer.error_html) == "" and _text(explorer.status_html).startswith("updated in")
    # fine-tuning showed its progress (4 epochs of each of the 2 models), then the bar was hidden
    assert explorer.progress.get_state()["max"] == 8 and explorer.progress.get_state()["value"] == 8
    assert explorer.progress.layout.get_state()["visibility"] == "hidden"
    expected = _study().setting(1e-3, 4, 0.05)
    record = explorer.results[-1]
    assert (record["l1"], record["epochs"], record["threshold"]) == (1e-3, 4, 0.05)
    assert record["names"] == list(expected.names) and record.keys() == expected.as_dict().keys()
    for got, want in zip(record["models"], expected.per_model):
        assert got["sparsity"] == want["sparsity"] and got["accuracy"] == want["accuracy"]
        assert got["test_accuracy"] == want["test_accuracy"] and got["loss"] == pytest.approx(want["loss"], rel=1e-6)
        assert f"{100 * want['sparsity']:.2f}%" in _text(explorer.loss_html)
    assert record["sparsity"] == pytest.approx(expected.sparsity)
    # the heatmap the browser gets: the independent study's matrix with its names
    color, rows, columns = _heatmap(explorer)
    assert rows == columns == ["M1", "M2", "M1 L1", "M2 L1", "M1 skeleton", "M2 skeleton"] == list(expected.names)
    np.testing.assert_allclose(color, expected.similarity, atol=1e-6)
    np.testing.assert_allclose(np.asarray(record["similarity"]), expected.similarity, atol=1e-6)
    # the comparison of the two skeletons is in the readout
    c = expected.comparison
    assert record["comparison"]["overlap_after"] == pytest.approx(c.overlap_after)
    assert f"{c.overlap_after:.2f}" in _text(explorer.loss_html) and "after aligning" in _text(explorer.loss_html)
    assert f"{c.ood_similarity:.3f}" in _text(explorer.loss_html)
    # the accuracy/sparsity curves over the thresholds, and the red threshold marker
    curve = _study().tradeoff(1e-3, 4)
    np.testing.assert_allclose(_array(explorer.accuracy_lines.get_state()["y"]), curve["accuracy"])
    np.testing.assert_allclose(_array(explorer.sparsity_lines.get_state()["y"]), curve["sparsity"])
    np.testing.assert_allclose(_array(explorer.accuracy_lines.get_state()["x"]), curve["thresholds"])
    np.testing.assert_allclose(_array(explorer.threshold_mark.get_state()["x"]), [0.05, 0.05])
    assert _shown(explorer) == (1e-3, 4, 0.05) and explorer.state == {"l1": 1e-3, "epochs": 4, "threshold": 0.05}


def test_views_legends_and_layout(explorer):
    assert {"rw-explorer", "rw-pruning-explorer"} <= set(explorer._dom_classes)
    for css in ("rw-tradeoff", "rw-similarity", "rw-threshold", "rw-epochs", "rw-l1", "rw-span", "rw-progress",
                "rw-reset", "rw-export", "rw-status", "rw-loss", "rw-error"):
        assert len(_with_class(explorer, css)) == 1, css
    assert _with_class(explorer, "rw-threshold") == _with_class(explorer, "rw-slider") == [explorer.threshold_slider]
    assert _with_class(explorer, "rw-span") == [explorer.span]
    # the two figures sit in boxes tagged rw-view (with the controls: three views, none wider than 460 px)
    views = _with_class(explorer, "rw-view")
    assert len(views) == 3 and explorer.similarity in views
    (tradeoff_box,) = [v for v in views if explorer.tradeoff_figure in v.children]
    for figure in (explorer.tradeoff_figure, *_with_class(explorer, "rw-similarity")):
        width = figure.layout.get_state()["width"]
        assert width.endswith("px") and int(width[:-2]) <= 460
        assert figure.layout.get_state()["height"].endswith("px")
    # bqplot legends sit inside the plot: none is drawn there; the legend is HTML under the figure
    for mark in explorer.tradeoff_figure.marks:
        assert not mark.get_state()["display_legend"]
    (legend,) = [w for w in tradeoff_box.children if isinstance(w, widgets.HTML)]
    text = _text(legend)
    assert tradeoff_box.children.index(legend) > tradeoff_box.children.index(explorer.tradeoff_figure)
    for label in ("M1 test accuracy", "M2 test accuracy", "M1 sparsity", "M2 sparsity", "threshold"):
        assert label in text
    colors = explorer.accuracy_lines.get_state()["colors"]
    assert colors == explorer.sparsity_lines.get_state()["colors"] and all(c in text for c in colors)
    assert explorer.sparsity_lines.get_state()["line_style"] == "dashed"
    assert explorer.accuracy_lines.get_state()["line_style"] == "solid"
    assert explorer.threshold_mark.get_state()["colors"][0] in text  # the red marker has its entry
    # every control says what it does
    for control in (explorer.threshold_slider, explorer.epochs_slider, explorer.l1_slider, explorer.span):
        assert control.get_state()["tooltip"]


def test_the_base_models_are_never_changed():
    models, *_ = _case()
    for m in models:
        m.train()  # the user's mode is theirs: the explorer must not switch it
    before = [torch.cat([p.detach().flatten().clone() for p in m.parameters()]) for m in models]
    explorer = _explorer()
    explorer.l1_slider.value = 1e-2
    assert explorer.wait(300) and explorer.results[-1]["l1"] == pytest.approx(1e-2)
    assert all(m.training for m in models)
    for m in models:
        m.eval()
    after = [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in models]
    for a, b in zip(before, after):
        assert torch.equal(a, b)


def test_threshold_reprunes_the_same_fine_tuned_models(explorer):
    tuned = {name: explorer.variants[name] for name in ("M1 L1", "M2 L1")}
    first = explorer.results[-1]
    explorer.threshold_slider.value = 0.15
    assert explorer.wait(300)
    last = explorer.results[-1]
    assert last["threshold"] == 0.15 and last["sparsity"] > first["sparsity"]
    assert all(explorer.variants[name] is model for name, model in tuned.items())  # not fine-tuned again
    expected = _study().setting(1e-3, 4, 0.15)
    assert [m["sparsity"] for m in last["models"]] == [m["sparsity"] for m in expected.per_model]
    np.testing.assert_allclose(_heatmap(explorer)[0], expected.similarity, atol=1e-6)
    np.testing.assert_allclose(_array(explorer.threshold_mark.get_state()["x"]), [0.15, 0.15])


def test_fewer_epochs_come_from_the_kept_snapshots_and_equal_a_fresh_run(explorer):
    explorer.epochs_slider.value = 2
    assert explorer.wait(300)
    fresh = SkeletonStudy(*_case()[:1], rw.models.cross_entropy, _case()[1], ood=_case()[3], test_data=_case()[2],
                          thresholds=np.linspace(0, MAX_THRESHOLD, NUM_THRESHOLDS), **SETTINGS).setting(1e-3, 2, 0.05)
    for name in ("M1 skeleton", "M2 skeleton"):
        for p, q in zip(explorer.variants[name].parameters(), fresh.variants[name].parameters()):
            torch.testing.assert_close(p, q)
    np.testing.assert_allclose(_heatmap(explorer)[0], fresh.similarity, atol=1e-6)
    np.testing.assert_allclose(_array(explorer.accuracy_lines.get_state()["y"]), _study().tradeoff(1e-3, 2)["accuracy"])


def test_l1_slider_and_exact_box_are_views_of_one_value(explorer):
    explorer.l1_slider.value = 1e-4
    assert explorer.wait(300)
    assert explorer.l1 == pytest.approx(1e-4) and float(explorer.span.get_state()["value"]) == pytest.approx(1e-4)
    assert explorer.results[-1]["l1"] == pytest.approx(1e-4)
    explorer.span.value = "2.5e-3"  # off the slider's grid: the box keeps it exactly, the slider shows the nearest step
    assert explorer.wait(300)
    assert explorer.l1 == 2.5e-3 and explorer.results[-1]["l1"] == 2.5e-3 and explorer.span.value == "0.0025"
    assert explorer.l1_slider.get_state()["value"] == pytest.approx(10 ** -2.5)
    explorer.l1 = 5e-4  # from Python: both controls follow
    assert explorer.wait(300)
    assert explorer.span.get_state()["value"] == "0.0005" and explorer.l1_slider.get_state()["value"] == pytest.approx(
        10 ** -3.25)


@pytest.mark.parametrize("control, value, message", [
    ("span", math.nan, "exact L1 (l1): expected a finite number, got 'nan'; exact L1 (l1) stays 0.001"),
    ("span", "NaN", "exact L1 (l1): expected a finite number, got 'NaN'; exact L1 (l1) stays 0.001"),
    ("span", math.inf, "exact L1 (l1): expected a finite number, got 'inf'; exact L1 (l1) stays 0.001"),
    ("span", -1.0, "exact L1 (l1): expected a finite number > 0, got -1.0; exact L1 (l1) stays 0.001"),
    ("span", "0", "exact L1 (l1): expected a finite number > 0, got 0.0; exact L1 (l1) stays 0.001"),
    ("span", "1e308", "exact L1 (l1): expected an L1 strength in (0, 1e+18], got 1e+308: a larger one overflows the "
                      "float32 arithmetic of the Adam fine-tuning"),
    ("threshold_slider", math.nan, "threshold: expected a finite number in [0, 0.2], got nan"),
])
def test_a_refused_value_is_shown_and_changes_nothing(explorer, control, value, message):
    n, state, shown = len(explorer.results), explorer.state, _shown(explorer)
    if control == "span":
        explorer.span.value = value   # the box takes any text (or number) and the explorer refuses it
    else:  # JSON cannot carry NaN or infinity to the browser: the slider itself refuses them
        with pytest.raises(TraitError, match=re.escape(message)):
            getattr(explorer, control).value = value
    assert explorer.wait(300)
    assert html.escape(message) in _text(explorer.error_html)  # HTML: "> 0" arrives as "&gt; 0"
    assert explorer.state == state and _shown(explorer) == shown  # the control went back to the kept value
    assert len(explorer.results) == n  # nothing was computed for the bad value
    explorer.threshold_slider.value = 0.1  # the next good value works
    assert explorer.wait(300)
    assert _text(explorer.error_html) == "" and explorer.results[-1]["l1"] == 1e-3
    assert explorer.results[-1]["threshold"] == 0.1


@pytest.mark.parametrize("name, value, error", [
    ("threshold", 0.5, r"threshold: expected a finite number in \[0, 0.2\], got 0.5"),
    ("threshold", -0.01, r"threshold: expected a finite number in \[0, 0.2\], got -0.01"),
    ("threshold", math.inf, r"threshold: expected a finite number in \[0, 0.2\], got inf"),
    ("epochs", 11, r"epochs: expected an int in \[1, max_epochs=10\], got 11"),
    ("epochs", 0, r"epochs: expected an int in \[1, max_epochs=10\], got 0"),
    ("l1", -1e-3, "l1: expected a finite number > 0, got -0.001"),
])
def test_out_of_range_values_are_refused_from_python_too(explorer, name, value, error):
    n, state = len(explorer.results), explorer.state
    with pytest.raises(TraitError, match=error):
        setattr(explorer, name, value)
    with pytest.raises(TraitError, match=error):
        explorer.restore({"threshold": 0.1, name: value})  # all or nothing: the good key is not applied either
    assert explorer.wait(300)
    assert explorer.state == state and _shown(explorer) == (1e-3, 4, 0.05) and len(explorer.results) == n


def test_state_round_trips_through_restore(explorer):
    start = explorer.state
    explorer.restore({"epochs": 2, "threshold": 0.1})
    assert explorer.wait(300)
    moved = explorer.state
    assert moved == {"l1": 1e-3, "epochs": 2, "threshold": 0.1} and _shown(explorer) == (1e-3, 2, 0.1)
    last = explorer.results[-1]
    assert (last["l1"], last["epochs"], last["threshold"]) == (1e-3, 2, 0.1)
    expected = _study().setting(1e-3, 2, 0.1)
    np.testing.assert_allclose(_heatmap(explorer)[0], expected.similarity, atol=1e-6)
    # a second explorer started from that state draws the same
    other = _explorer(state=moved)
    assert other.state == moved and len(other.results) == 1
    assert [m["sparsity"] for m in other.results[-1]["models"]] == [m["sparsity"] for m in last["models"]]
    np.testing.assert_allclose(_heatmap(other)[0], _heatmap(explorer)[0], atol=1e-12)
    explorer.restore(start)
    assert explorer.wait(300) and explorer.state == start and explorer.results[-1]["epochs"] == 4
    with pytest.raises(ValueError, match="unknown keys"):
        explorer.restore({"pruning": 0.1})
    with pytest.raises(ValueError, match="threshold: expected a finite number"):
        _explorer(state={"threshold": 0.9})


def test_latest_value_wins_and_reset(explorer):
    for t in (0.01, 0.02, 0.03, 0.04, 0.12):
        explorer.threshold_slider.value = t
    explorer.epochs_slider.value = 6
    assert explorer.wait(300)
    last = explorer.results[-1]
    assert (last["epochs"], last["threshold"]) == (6, 0.12)
    explorer.reset_button.click()
    assert explorer.wait(300)
    assert _shown(explorer) == (1e-3, 4, 0.05) and explorer.l1_slider.get_state()["value"] == pytest.approx(1e-3)
    assert (explorer.results[-1]["epochs"], explorer.results[-1]["threshold"]) == (4, 0.05)


def test_play_sweeps_the_threshold_from_zero_to_the_maximum(explorer):
    assert explorer.play.max + 1 == round(MAX_THRESHOLD / 0.005) + 1
    explorer.play.value = explorer.play.max
    assert explorer.wait(300) and explorer.threshold == MAX_THRESHOLD
    assert explorer.results[-1]["threshold"] == MAX_THRESHOLD
    explorer.play.value = 0
    assert explorer.wait(300) and explorer.results[-1]["threshold"] == 0.0
    explorer.play.value = 10
    assert explorer.wait(300) and explorer.threshold == pytest.approx(0.05)


def test_history_and_results_are_bounded():
    class Small(rw.PruningExplorer):
        history_size = 3

    explorer = _explorer(Small)
    for t in (0.01, 0.02, 0.03, 0.04, 0.06):
        explorer.threshold = t
        assert explorer.wait(300)
    assert [r["threshold"] for r in explorer.results] == [0.03, 0.04, 0.06]
    assert [h["threshold"] for h in explorer.history] == [0.03, 0.04, 0.06]


def test_save_writes_png_and_svg(explorer, tmp_path):
    paths = explorer.save(tmp_path / "x")
    assert [p.name for p in paths] == ["x.png", "x.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    assert "<svg" in svg and "M1 skeleton" in svg and "threshold" in svg


def test_a_failing_fine_tuning_is_shown_in_the_widget():
    explorer = _explorer(lr=1e30)  # the loss overflows: train() raises
    assert "the loss became" in _text(explorer.error_html) and "ValueError" in _text(explorer.error_html)
    assert _text(explorer.status_html).startswith("error")
    assert explorer.results == [] and explorer.progress.layout.visibility == "hidden"
    explorer.threshold_slider.value = 0.1  # still responds (and reports the failure again)
    assert explorer.wait(300)
    assert "the loss became" in _text(explorer.error_html)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"models": "a model"}, ValueError, "models: expected a list of 1 to 4 trained torch.nn.Module, got str"),
    ({"models": [1, 2]}, TypeError, r"models\[0\]: expected a torch.nn.Module, got int"),
    ({"ood": [1.0]}, TypeError, "ood: expected a tensor"),
    ({"epochs": 11}, ValueError, r"epochs: expected an int in \[1, max_epochs=10\], got 11"),
    ({"threshold": 0.5}, ValueError, r"threshold: expected a finite number in \[0, 0.2\], got 0.5"),
    ({"l1": 0.0}, ValueError, "l1: expected a finite number > 0, got 0.0"),
    ({"l1": math.nan}, ValueError, "l1: expected a finite number > 0, got nan"),
    ({"l1": 1e308}, ValueError, r"l1: expected an L1 strength in \(0, 1e\+18\], got 1e\+308"),
    ({"max_threshold": math.inf}, ValueError, "max_threshold: expected a finite number > 0, got inf"),
])
def test_bad_arguments(kwargs, error, message):
    models, train, _, ood = _case()
    options = {"models": models, "ood": ood, "epochs": 4, "max_epochs": 10}
    options.update(kwargs)
    with pytest.raises(error, match=message):
        rw.PruningExplorer(options.pop("models"), rw.models.cross_entropy, train, **options)


def test_a_prebuilt_study_is_shown_as_the_short_form_builds_it():
    """``PruningExplorer(study=SkeletonStudy(...))`` takes the study as it is: its models, data, options and
    thresholds (the threshold control's range is their last), and draws what the short form draws."""
    study = _study()
    short = _explorer()
    prebuilt = rw.PruningExplorer(study=study, l1=1e-3, epochs=4, threshold=0.05, max_epochs=10)
    assert prebuilt.wait(300)
    assert prebuilt.study is study and prebuilt.models == study.models
    assert prebuilt.max_threshold == MAX_THRESHOLD == short.max_threshold
    assert prebuilt.threshold_slider.max == short.threshold_slider.max
    np.testing.assert_array_equal(prebuilt.study.thresholds, short.study.thresholds)
    assert prebuilt.results[-1] == short.results[-1]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"ood": "ood"}, ValueError, r"either a prebuilt SkeletonStudy or the arguments to build one, "
                                 r"got both \(study= and ood\)"),
    ({"lr": 1e-3}, ValueError, r"got both \(study= and lr\)"),
    ({"study": "a study"}, TypeError, "study: expected an rw.experiments.SkeletonStudy, got str"),
])
def test_a_study_with_the_arguments_it_replaces_is_refused(kwargs, error, message):
    options = {"study": _study(), **kwargs}
    if "ood" in kwargs:
        options["ood"] = _case()[3]
    with pytest.raises(error, match=message):
        rw.PruningExplorer(**options)


def test_neither_a_study_nor_its_arguments_is_refused():
    with pytest.raises(TypeError, match="expected models, loss_fn, train_data and ood .* got no ood"):
        rw.PruningExplorer(_case()[0], rw.models.cross_entropy, _case()[1])


def test_similarity_view_refuses_a_mismatched_matrix():
    view = rw.SimilarityView()
    S = np.array([[1.0, 0.6], [0.6, 1.0]])
    view.show(S, ["a", "b"], caption="two models")
    with pytest.raises(ValueError, match=r"V = 3 names"):
        view.show(S, ["a", "b", "c"])
    with pytest.raises(ValueError, match="distinct names"):
        view.show(S, ["a", "a"])


# ------------------------------------------------------------------ issue 23: controls that tell the truth
def test_an_l1_strength_of_1e308_names_the_strength_and_what_range_works(explorer):
    # the issue: the fine-tuning ran, its loss turned NaN and the message said "lower lr=0.001"
    n = len(explorer.results)
    explorer.span.value = "1e308"
    assert explorer.wait(300)
    text = html.unescape(_text(explorer.error_html))
    assert "exact L1 (l1): expected an L1 strength in (0, 1e+18], got 1e+308" in text
    assert "1e-05 to 0.01 (the slider's range)" in text and "exact L1 (l1) stays 0.001" in text
    assert "lr" not in text.replace("l1", "") and len(explorer.results) == n
    assert explorer.span.get_state()["value"] == "0.001" and explorer.l1 == 1e-3
    with pytest.raises(TraitError, match=re.escape("l1: expected an L1 strength in (0, 1e+18], got 1e+308")):
        explorer.l1 = 1e308
    assert explorer.l1_limit() == 1e18
    explorer.span.value = "1e18"   # the largest strength refused by nothing fine-tunes without an error
    assert explorer.wait(300)
    assert _text(explorer.error_html) == "" and explorer.results[-1]["l1"] == 1e18


def test_at_threshold_0_there_is_no_skeleton_verdict(explorer):
    # the issue: "overlap 1.00 -> 1.00 ... not the same skeleton" at threshold 0, where nothing is pruned
    explorer.threshold_slider.value = 0.0
    assert explorer.wait(300)
    record = explorer.results[-1]
    c = record["comparison"]
    assert c["sparsity_a"] == c["sparsity_b"] == 0.0 and c["overlap_after"] == c["overlap_chance"] == 1.0
    readout = _text(explorer.loss_html)
    assert "not the same skeleton" not in readout and "converged" not in readout
    assert "no skeletons to compare: nothing is pruned at this threshold" in readout
    explorer.threshold_slider.value = 0.15   # both pruned: the verdict is converged() again
    assert explorer.wait(300)
    verdict = "converged" if explorer.comparison.converged() else "not the same skeleton"
    assert _text(explorer.loss_html).removesuffix("</div>").endswith(verdict)


def test_the_play_buttons_pause_and_stop(explorer):
    explorer.play.value = 20                 # the browser's timer: threshold 0.1
    assert explorer.wait(300) and explorer.threshold == pytest.approx(0.1)
    explorer.play_button.click()
    assert explorer.play.playing is True
    explorer.pause_button.click()            # keeps the position
    assert explorer.play.playing is False and explorer.play.value == 20 and explorer.threshold == pytest.approx(0.1)
    explorer.stop_button.click()             # rewinds to the first frame: threshold 0
    assert explorer.wait(300)
    assert explorer.play.value == 0 and explorer.threshold == 0.0 and explorer.results[-1]["threshold"] == 0.0
    for button in (explorer.play_button, explorer.pause_button, explorer.stop_button, explorer.loop_toggle):
        assert button.tooltip and "<" not in button.tooltip


def test_a_cnn_pair_is_compared_without_alignment_and_the_readout_says_so():
    """Weight matching aligns MLPs only: for two CNNs the readout gives the unaligned overlap as a lower bound
    instead of claiming an alignment (old behaviour: "... after aligning hidden units" for every model)."""
    from rashomon_widgets.experiments.skeletons import skeleton_task

    task = skeleton_task("mnist_cnn", hidden=(8,), channels=(2, 4), ood_size=20, train_size=60, test_size=30)
    models = [task.make_model(seed=s) for s in (0, 1)]
    for seed, model in enumerate(models):
        rw.models.train(model, rw.models.cross_entropy, task.train, epochs=5, lr=1e-2, seed=seed)
    e = rw.PruningExplorer(models, rw.models.cross_entropy, task.train, ood=task.ood, test_data=task.test,
                           l1=1e-3, epochs=1, threshold=0.05, max_epochs=2, num_thresholds=3, **SETTINGS)
    assert e.wait(300)
    assert e.comparison is not None and not e.comparison.aligned
    text = html.unescape(re.sub("<[^>]+>", "", e.loss_html.value))
    assert f"kept-weight overlap {e.comparison.overlap_after:.2f} without aligning" in text, text
    assert "after aligning" not in text
