"""PruningExplorer and SimilarityView through their synced state (no browser), checked against the core
functions computed a second time, independently."""
import functools

import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core import prune, sparsity
from rashomon_widgets.experiments.skeletons import evaluate, l1_finetune, ood_similarity

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SETTINGS = dict(lr=1e-2, batch_size=32, seed=0)


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


def _explorer(**kw):
    models, train, test, ood = _case()
    options = dict(ood=ood, test_data=test, l1=1e-3, epochs=4, threshold=0.05, max_epochs=10, num_thresholds=6,
                   **SETTINGS)
    options.update(kw)
    e = rw.PruningExplorer(models, rw.models.cross_entropy, train, **options)
    assert e.wait(60)
    return e


@pytest.fixture
def explorer():
    return _explorer()


def _reference(l1, epochs, threshold):
    """The explorer's numbers computed again with the core functions."""
    models, train, test, ood = _case()
    tuned = [l1_finetune(m, rw.models.cross_entropy, train, strength=l1, epochs=epochs, **SETTINGS)[epochs]
             for m in models]
    skeletons = [prune(m, threshold=threshold) for m in tuned]
    return tuned, skeletons, ood_similarity(models + tuned + skeletons, ood)


def test_first_draw_matches_the_core(explorer):
    models, train, test, ood = _case()
    assert explorer.error_html.value == "" and explorer.status_html.value.startswith("updated in")
    # fine-tuning showed its progress: all epochs of both models, then the bar was hidden
    assert explorer.progress.max == 4 and explorer.progress.value == 4
    assert explorer.progress.layout.visibility == "hidden"
    record = explorer.results[-1]
    assert (record["l1"], record["epochs"], record["threshold"]) == (1e-3, 4, 0.05)
    tuned, skeletons, S = _reference(1e-3, 4, 0.05)
    for got, skeleton in zip(record["models"], skeletons):
        assert got["sparsity"] == pytest.approx(sparsity(skeleton).overall)
        loss, acc = evaluate(skeleton, rw.models.cross_entropy, train)
        assert got["loss"] == pytest.approx(loss, rel=1e-6) and got["accuracy"] == pytest.approx(acc)
        assert got["test_accuracy"] == pytest.approx(evaluate(skeleton, rw.models.cross_entropy, test)[1])
        assert f"{100 * got['sparsity']:.2f}%" in explorer.loss_html.value
    np.testing.assert_allclose(np.asarray(record["similarity"]), S, atol=1e-6)
    # the heatmap shows that matrix with its names
    grid = explorer.similarity.grid
    assert list(grid.row) == ["M1", "M2", "M1 L1", "M2 L1", "M1 skeleton", "M2 skeleton"]
    np.testing.assert_allclose(grid.color, S, atol=1e-6)
    assert explorer.similarity._colour.min == pytest.approx(min(float(S.min()), 0.999))
    # the comparison of the two skeletons is in the readout
    assert explorer.comparison is not None and "after aligning" in explorer.loss_html.value
    assert f"{explorer.comparison.overlap_after:.2f}" in explorer.loss_html.value
    # the accuracy/sparsity curve over the thresholds, at threshold 0 the unpruned fine-tuned models
    acc = np.asarray(explorer.accuracy_lines.y)
    assert acc.shape == (2, 6) and np.asarray(explorer.sparsity_lines.y).shape == (2, 6)
    for i, model in enumerate(tuned):
        assert acc[i, 0] == pytest.approx(evaluate(model, rw.models.cross_entropy, test)[1])
    assert list(explorer.threshold_mark.x) == [0.05, 0.05]
    # DOM tags of the browser contract
    assert {"rw-explorer", "rw-pruning-explorer"} <= set(explorer._dom_classes)
    assert "rw-slider" in explorer.threshold_slider._dom_classes and "rw-span" in explorer.span._dom_classes
    assert "rw-similarity" in explorer.similarity.figure._dom_classes
    assert "rw-tradeoff" in explorer.tradeoff_figure._dom_classes


def test_the_base_models_are_never_changed():
    models, *_ = _case()
    for m in models:
        m.train()  # the user's mode is theirs: the explorer must not switch it
    before = [torch.cat([p.detach().flatten().clone() for p in m.parameters()]) for m in models]
    explorer = _explorer()
    explorer.l1_slider.value = 1e-2
    assert explorer.wait(60)
    assert all(m.training for m in models)
    for m in models:
        m.eval()
    after = [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in models]
    for a, b in zip(before, after):
        assert torch.equal(a, b)


def test_threshold_reprunes_without_fine_tuning_again(explorer):
    tuned_before = {k: id(v) for k, v in explorer._tuned.items()}
    first = explorer.results[-1]
    explorer.threshold_slider.value = 0.15
    assert explorer.wait(60)
    last = explorer.results[-1]
    assert last["threshold"] == 0.15 and last["sparsity"] > first["sparsity"]
    assert {k: id(v) for k, v in explorer._tuned.items()} == tuned_before  # the same fine-tuned snapshots
    _, skeletons, _ = _reference(1e-3, 4, 0.15)
    assert [m["sparsity"] for m in last["models"]] == pytest.approx([sparsity(s).overall for s in skeletons])
    assert list(explorer.threshold_mark.x) == [0.15, 0.15]


def test_fewer_epochs_come_from_the_kept_snapshots_and_equal_a_fresh_run(explorer):
    explorer.epochs_slider.value = 2
    assert explorer.wait(60)
    _, skeletons, S = _reference(1e-3, 2, 0.05)
    for name, skeleton in zip(("M1 skeleton", "M2 skeleton"), skeletons):
        for p, q in zip(explorer.variants[name].parameters(), skeleton.parameters()):
            torch.testing.assert_close(p, q)
    np.testing.assert_allclose(explorer.similarity.grid.color, S, atol=1e-6)


def test_l1_slider_and_exact_box_follow_each_other(explorer):
    explorer.l1_slider.value = 1e-4
    assert explorer.wait(60)
    assert explorer.span.value == pytest.approx(1e-4) and explorer.results[-1]["l1"] == pytest.approx(1e-4)
    explorer.span.value = 2.5e-3
    assert explorer.wait(60)
    assert explorer.l1_slider.value == pytest.approx(2.5e-3) and explorer.results[-1]["l1"] == pytest.approx(2.5e-3)


def test_bad_l1_is_shown_and_the_widget_keeps_working(explorer):
    n = len(explorer.results)
    explorer.span.value = -1.0
    assert explorer.wait(60)
    assert "l1: expected a number greater than 0, got -1.0; keeping l1 = 0.001" in explorer.error_html.value
    assert len(explorer.results) == n  # nothing was recomputed for the bad value
    explorer.threshold_slider.value = 0.1
    assert explorer.wait(60)
    assert explorer.error_html.value == "" and explorer.results[-1]["l1"] == pytest.approx(1e-3)
    assert explorer.results[-1]["threshold"] == 0.1


def test_latest_value_wins_and_reset(explorer):
    for t in (0.01, 0.02, 0.03, 0.04, 0.12):
        explorer.threshold_slider.value = t
    explorer.epochs_slider.value = 6
    assert explorer.wait(60)
    last = explorer.results[-1]
    assert (last["epochs"], last["threshold"]) == (6, 0.12)
    explorer.reset_button.click()
    assert explorer.wait(60)
    assert (explorer.span.value, explorer.epochs_slider.value, explorer.threshold_slider.value) == (1e-3, 4, 0.05)
    assert explorer.l1_slider.value == pytest.approx(1e-3)
    assert (explorer.results[-1]["epochs"], explorer.results[-1]["threshold"]) == (4, 0.05)


def test_a_failing_fine_tuning_is_shown_in_the_widget():
    explorer = _explorer(lr=1e30)  # the loss overflows: train() raises
    assert "the loss became" in explorer.error_html.value and "ValueError" in explorer.error_html.value
    assert explorer.status_html.value.startswith("error")
    assert explorer.results == [] and explorer.progress.layout.visibility == "hidden"
    explorer.threshold_slider.value = 0.1  # still responds (and reports the failure again)
    assert explorer.wait(60)
    assert "the loss became" in explorer.error_html.value


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(models="a model"), ValueError, "models: expected a list of 1 to 4 trained torch.nn.Module, got str"),
    (dict(models=[1, 2]), TypeError, r"models\[0\]: expected a torch.nn.Module, got int"),
    (dict(ood=[1.0]), TypeError, "ood: expected a tensor"),
    (dict(epochs=11), ValueError, r"epochs: expected an int in \[1, max_epochs=10\], got 11"),
    (dict(threshold=0.5), ValueError, r"threshold: expected a number in \[0, max_threshold=0.2\], got 0.5"),
    (dict(l1=0.0), ValueError, "l1: expected a number greater than 0, got 0.0"),
])
def test_bad_arguments(kwargs, error, message):
    models, train, test, ood = _case()
    options = dict(models=models, ood=ood, epochs=4, max_epochs=10)
    options.update(kwargs)
    with pytest.raises(error, match=message):
        rw.PruningExplorer(options.pop("models"), rw.models.cross_entropy, train, **options)


def test_similarity_view_validates_and_scales():
    view = rw.SimilarityView()
    S = np.array([[1.0, 0.6], [0.6, 1.0]])
    view.show(S, ["a", "b"], caption="two models")
    assert list(view.grid.row) == ["a", "b"] and view._colour.min == pytest.approx(0.6)
    assert view.label.value == "two models" and view.grid.display_format == ".2f"
    with pytest.raises(ValueError, match=r"expected a square \(V, V\) array with V = 3 names, got shape \(2, 2\)"):
        view.show(S, ["a", "b", "c"])
    with pytest.raises(ValueError, match="expected distinct names"):
        view.show(S, ["a", "a"])
    view.show(np.ones((3, 3)), ["x", "y", "z"])  # a constant matrix still gets a valid colour range
    assert view._colour.min < view._colour.max
