"""`PruningExplorer`: sliders for the L1 strength, the L1 epochs and the pruning threshold of write-up 2;
the skeletons' accuracy and sparsity, their aligned mask overlap, and the OOD similarity heatmap follow."""
from __future__ import annotations

import dataclasses
import html
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from ..core.comparison.pruning import prune, sparsity
from ..experiments.skeletons import compare_skeletons, evaluate, l1_finetune, ood_similarity
from ._common import ExplorerMixin, Superseded, tagged
from ._worker import LatestWorker
from .similarity_view import SimilarityView

_COLOURS = ["#3b75af", "#ef8636", "#519e3e", "#c53a32"]


class PruningExplorer(ExplorerMixin, widgets.VBox):
    """Find the skeletons of trained models: L1 fine-tuning, then magnitude pruning, live.

    Every base model is fine-tuned (a copy; the models passed in are never changed) with the penalty
    ``l1 * ||theta||_1`` for ``epochs`` epochs, then every weight with ``|w| < threshold`` is pruned.
    The readout shows each skeleton's accuracy and sparsity; the heatmap, the cosine similarity of the
    predictions of the originals, the fine-tuned models and the skeletons on out-of-distribution
    inputs; the line plot, accuracy and sparsity over the threshold. With two base models the readout
    also compares their skeletons after aligning hidden units by permutation (weight matching).

    Fine-tuning runs off the UI thread with a progress bar; the latest slider value wins, and every
    fine-tuned epoch is kept, so moving the epochs slider down or the threshold slider is instant. Each
    finished setting is appended to :attr:`results` (nothing is lost when a later one fails).

    Args:
        models: the trained base models (two for write-up 2), :class:`~rashomon_widgets.models.MLP`-like
            classifiers (outputs (N, C)).
        loss_fn: ``loss_fn(outputs, labels)``, e.g. ``rw.models.cross_entropy``.
        train_data: ``(inputs, labels)`` used for fine-tuning and the training accuracy.
        ood: out-of-distribution inputs (e.g. ``rw.data.photo_patches()``).
        test_data: optional ``(inputs, labels)`` for the test accuracy.
        l1, epochs, threshold: starting values of the three controls.
        max_epochs, max_threshold: ranges of the sliders.
        lr, batch_size, seed: of the Adam fine-tuning.
        behaviour: prediction vectors compared: ``"softmax"``, ``"logits"`` or ``"labels"``.
        num_thresholds: points of the accuracy/sparsity curve over the threshold.

    Example:
        >>> explorer = rw.PruningExplorer([model_1, model_2], rw.models.cross_entropy, split.train,
        ...                               ood=rw.data.photo_patches(), test_data=split.test)  # doctest: +SKIP
        >>> explorer.threshold_slider.value = 0.1; explorer.wait()                           # doctest: +SKIP
        >>> explorer.results[-1]["sparsity"]                                                 # doctest: +SKIP
    """

    def __init__(self, models: Sequence[nn.Module], loss_fn: Callable, train_data, *, ood: torch.Tensor,
                 test_data=None, l1: float = 3e-4, epochs: int = 10, threshold: float = 0.05,
                 max_epochs: int = 40, max_threshold: float = 0.2, lr: float = 1e-3, batch_size: int | None = 64,
                 seed: int = 0, behaviour: str = "softmax", num_thresholds: int = 21):
        if isinstance(models, nn.Module) or not isinstance(models, Sequence) or not 1 <= len(models) <= 4:
            raise ValueError(f"models: expected a list of 1 to 4 trained torch.nn.Module, got {type(models).__name__}")
        for i, m in enumerate(models):
            if not isinstance(m, nn.Module):
                raise TypeError(f"models[{i}]: expected a torch.nn.Module, got {type(m).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"loss_fn: expected a callable loss_fn(outputs, labels), got {type(loss_fn).__name__}")
        if not isinstance(ood, torch.Tensor) or ood.ndim < 2 or ood.shape[0] == 0:
            raise TypeError(f"ood: expected a tensor (N, ...) of out-of-distribution inputs, got {type(ood).__name__}")
        if not (isinstance(max_epochs, int) and max_epochs >= 1 and isinstance(epochs, int) and 1 <= epochs <= max_epochs):
            raise ValueError(f"epochs: expected an int in [1, max_epochs={max_epochs}], got {epochs!r}")
        if not (isinstance(threshold, (int, float)) and 0 <= threshold <= max_threshold):
            raise ValueError(f"threshold: expected a number in [0, max_threshold={max_threshold}], got {threshold!r}")
        if not (isinstance(l1, (int, float)) and l1 > 0):
            raise ValueError(f"l1: expected a number greater than 0, got {l1!r}")
        self.models = list(models)
        self.loss_fn, self.train_data, self.test_data, self.ood = loss_fn, train_data, test_data, ood
        self.lr, self.batch_size, self.seed, self.behaviour = lr, batch_size, seed, behaviour
        self.thresholds = np.linspace(0.0, float(max_threshold), int(num_thresholds))
        self.start = (float(l1), int(epochs), float(threshold))
        self.results: list[dict] = []      # one record per finished setting
        self.variants: dict[str, nn.Module] = {}  # the models of the last drawn setting, by name
        self.comparison = None              # SkeletonComparison of the last setting (two models)
        self._tuned: OrderedDict[tuple[int, float], dict[int, nn.Module]] = OrderedDict()
        self._curves: dict[tuple[float, int], dict[str, np.ndarray]] = {}
        self._originals = [evaluate(m, loss_fn, test_data if test_data is not None else train_data)[1]
                           for m in self.models]
        self._l1_ok = float(l1)
        self._started = time.perf_counter()

        self.threshold_slider = tagged(widgets.FloatSlider(float(threshold), min=0.0, max=float(max_threshold),
                                                           step=0.005, description="threshold",
                                                           readout_format=".3f"), "rw-slider")
        self.threshold_slider.add_class("rw-threshold")
        self.epochs_slider = tagged(widgets.IntSlider(int(epochs), min=1, max=int(max_epochs), description="L1 epochs",
                                                      continuous_update=False), "rw-epochs")
        self.l1_slider = tagged(widgets.FloatLogSlider(float(l1), base=10, min=-5, max=-2, step=0.25,
                                                       description="L1 strength", readout_format=".1e",
                                                       continuous_update=False), "rw-l1")
        self.span = tagged(widgets.FloatText(float(l1), description="exact L1", layout=widgets.Layout(width="200px")),
                           "rw-span")
        self.reset_button = tagged(widgets.Button(description="reset", icon="undo"), "rw-reset")
        self.progress = tagged(widgets.IntProgress(0, min=0, max=1, description="",
                                                   layout=widgets.Layout(width="300px", visibility="hidden")),
                               "rw-progress")
        self.loss_html = tagged(widgets.HTML(), "rw-loss")
        self.error_html = tagged(widgets.HTML(), "rw-error")
        self.status_html = tagged(widgets.HTML("&#9203; fine-tuning&hellip;"), "rw-status")
        self.similarity = SimilarityView(size=380)
        self._build_tradeoff_figure()
        self._worker = LatestWorker(self._show_error)

        for w in (self.threshold_slider, self.epochs_slider):
            w.observe(self._request, "value")
        self.l1_slider.observe(self._l1_from_slider, "value")
        self.span.observe(self._request, "value")
        self.reset_button.on_click(lambda _: self.reset())
        header = widgets.HTML(f"<b>Pruning explorer</b> &middot; {len(self.models)} model(s) &middot; "
                              f"P = {sum(p.numel() for p in self.models[0].parameters()):,} each &middot; "
                              f"OOD set of {ood.shape[0]}")
        controls = widgets.VBox([header, self.threshold_slider, self.epochs_slider, self.l1_slider,
                                 widgets.HBox([self.span, self.reset_button]), self.progress,
                                 self.loss_html, self.status_html, self.error_html],
                                layout=widgets.Layout(width="520px"))
        super().__init__([widgets.HBox([controls, self.tradeoff_figure]), self.similarity])
        self.add_class("rw-explorer")
        self.add_class("rw-pruning-explorer")
        self._request()

    # ------------------------------------------------------------------ layout pieces
    def _build_tradeoff_figure(self) -> None:
        sx = bq.LinearScale(min=0.0, max=float(self.thresholds[-1]))
        sy = bq.LinearScale(min=0.0, max=1.0)
        x, y = self.thresholds, np.zeros_like(self.thresholds)
        self.accuracy_lines = bq.Lines(x=x, y=np.stack([y] * len(self.models)), scales={"x": sx, "y": sy},
                                       colors=_COLOURS[:len(self.models)], stroke_width=2,
                                       labels=[f"M{i + 1} accuracy" for i in range(len(self.models))],
                                       display_legend=True)
        self.sparsity_lines = bq.Lines(x=x, y=np.stack([y] * len(self.models)), scales={"x": sx, "y": sy},
                                       colors=_COLOURS[:len(self.models)], line_style="dashed",
                                       labels=[f"M{i + 1} sparsity" for i in range(len(self.models))],
                                       display_legend=True)
        self.threshold_mark = bq.Lines(x=[self.start[2]] * 2, y=[0.0, 1.0], scales={"x": sx, "y": sy},
                                       colors=["red"], stroke_width=1.5)
        axes = [bq.Axis(scale=sx, label="pruning threshold |w|"),
                bq.Axis(scale=sy, label="accuracy (solid), sparsity (dashed)", orientation="vertical")]
        self.tradeoff_figure = bq.Figure(marks=[self.accuracy_lines, self.sparsity_lines, self.threshold_mark],
                                         axes=axes, title="accuracy and sparsity over the threshold",
                                         legend_location="bottom-left",
                                         fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 20},
                                         layout=widgets.Layout(width="460px", height="320px"))
        self.tradeoff_figure.add_class("rw-tradeoff")

    # ------------------------------------------------------------------ actions
    def reset(self) -> None:
        """Back to the starting L1 strength, epochs and threshold."""
        l1, epochs, threshold = self.start
        controls = ((self.span, l1), (self.epochs_slider, epochs), (self.threshold_slider, threshold))
        for w, _ in controls:
            w.unobserve(self._request, "value")
        self.l1_slider.unobserve(self._l1_from_slider, "value")
        for w, v in controls:
            w.value = v
        self.l1_slider.value = l1
        for w, _ in controls:
            w.observe(self._request, "value")
        self.l1_slider.observe(self._l1_from_slider, "value")
        self._request()

    def _l1_from_slider(self, change) -> None:
        self.span.value = float(change["new"])  # the exact box follows the slider (and requests)

    def _request(self, change=None) -> None:
        # a bad L1 strength is reported and ignored: the sliders keep working with the last good one
        self._l1_ok, go_on = self._span_value(change, self._l1_ok, "l1")
        if not go_on:
            return
        if change is not None and change["owner"] is self.span:  # a good new value in the box
            self.l1_slider.unobserve(self._l1_from_slider, "value")
            self.l1_slider.value = self._l1_ok  # shown clamped to the slider's range; the box keeps the value
            self.l1_slider.observe(self._l1_from_slider, "value")
        l1, epochs, threshold = self._l1_ok, int(self.epochs_slider.value), float(self.threshold_slider.value)
        self._worker.submit(lambda current: self._update(l1, epochs, threshold, current))

    # ------------------------------------------------------------------ the work (worker thread)
    def _finetuned(self, i: int, l1: float, epochs: int, current) -> dict[int, nn.Module]:
        key = (i, l1)
        snaps = self._tuned.get(key, {})
        if epochs not in snaps:
            def step(epoch: int, loss: float):
                if not current():
                    raise Superseded
                self.progress.value = epoch + 1
                if time.perf_counter() - self._started > 0.3:
                    self.status_html.value = (f"&#9203; L1 fine-tuning model {i + 1} of {len(self.models)}: "
                                              f"epoch {epoch + 1}/{epochs}, loss {loss:.3g}")

            with self.progress.hold_sync():
                self.progress.max, self.progress.value = epochs, 0
                self.progress.layout.visibility = "visible"
            snaps = l1_finetune(self.models[i], self.loss_fn, self.train_data, strength=l1, epochs=epochs,
                                checkpoints=range(1, epochs + 1), lr=self.lr, batch_size=self.batch_size,
                                seed=self.seed, callback=step)
            self._tuned[key] = snaps
            while len(self._tuned) > 4 * len(self.models):  # keep the latest few strengths
                self._tuned.popitem(last=False)
        self._tuned.move_to_end(key)
        return snaps

    def _curve(self, l1: float, epochs: int, tuned: list[nn.Module], current) -> dict[str, np.ndarray] | None:
        key = (l1, epochs)
        if key not in self._curves:
            data = self.test_data if self.test_data is not None else self.train_data
            acc = np.zeros((len(tuned), len(self.thresholds)))
            spars = np.zeros_like(acc)
            for j, t in enumerate(self.thresholds):
                if not current():
                    return None
                for i, model in enumerate(tuned):
                    pruned = prune(model, threshold=float(t))
                    acc[i, j] = evaluate(pruned, self.loss_fn, data)[1]
                    spars[i, j] = _overall_sparsity(pruned)
            self._curves[key] = {"accuracy": acc, "sparsity": spars}
        return self._curves[key]

    def _update(self, l1: float, epochs: int, threshold: float, current) -> None:
        started = self._started = time.perf_counter()
        busy = self._busy_timer(current)
        try:
            tuned = [self._finetuned(i, l1, epochs, current)[epochs] for i in range(len(self.models))]
            if not current():
                return
            skeletons = [prune(m, threshold=threshold) for m in tuned]
            record = {"l1": l1, "epochs": epochs, "threshold": threshold, "models": []}
            for i, sk in enumerate(skeletons):
                loss, acc = evaluate(sk, self.loss_fn, self.train_data)
                test_acc = evaluate(sk, self.loss_fn, self.test_data)[1] if self.test_data is not None else math.nan
                record["models"].append({"loss": loss, "accuracy": acc, "test_accuracy": test_acc,
                                         "sparsity": _overall_sparsity(sk)})
            record["sparsity"] = float(np.mean([m["sparsity"] for m in record["models"]]))
            names = ([f"M{i + 1}" for i in range(len(self.models))] + [f"M{i + 1} L1" for i in range(len(tuned))]
                     + [f"M{i + 1} skeleton" for i in range(len(skeletons))])
            variants = dict(zip(names, self.models + tuned + skeletons))
            sim = ood_similarity(list(variants.values()), self.ood, behaviour=self.behaviour)
            record["similarity"] = sim.tolist()
            comparison = (compare_skeletons(skeletons[0], skeletons[1], self.ood, behaviour=self.behaviour)
                          if len(skeletons) == 2 else None)
            if comparison is not None:
                record["comparison"] = dataclasses.asdict(comparison)
            if not current():
                return
            curve = self._curve(l1, epochs, tuned, current)
            if curve is None:
                return
            # draw
            self.variants, self.comparison = variants, comparison
            self.results.append(record)
            self._readout(record, comparison)
            self.similarity.show(sim, names, caption=f"on {self.ood.shape[0]} out-of-distribution inputs "
                                                     f"({self.behaviour} outputs)")
            with self.accuracy_lines.hold_sync(), self.sparsity_lines.hold_sync():
                self.accuracy_lines.y = curve["accuracy"]
                self.sparsity_lines.y = curve["sparsity"]
            self.threshold_mark.x = [threshold, threshold]
            self._finished(started)
        finally:
            busy.cancel()
            self.progress.layout.visibility = "hidden"

    def _readout(self, record: dict, comparison) -> None:
        which = "test" if self.test_data is not None else "train"
        rows = []
        for i, m in enumerate(record["models"]):
            acc = m["test_accuracy"] if self.test_data is not None else m["accuracy"]
            rows.append(f"<tr><td>M{i + 1} skeleton</td><td>{100 * acc:.1f}% "
                        f"<span style='color:#777'>(original {100 * self._originals[i]:.1f}%)</span></td>"
                        f"<td><b>{100 * m['sparsity']:.2f}%</b></td><td>{m['loss']:.3g}</td></tr>")
        table = (f"<table><tr><th></th><th>{which} accuracy</th><th>sparsity</th><th>train loss</th></tr>"
                 + "".join(rows) + "</table>")
        parts = [f"L1 {record['l1']:.2e} &times; {record['epochs']} epochs, threshold {record['threshold']:.3f}", table]
        if comparison is not None:
            parts.append(
                f"skeletons' OOD similarity <b>{comparison.ood_similarity:.3f}</b> "
                f"(originals {float(record['similarity'][0][1]):.3f}); kept-weight overlap "
                f"{comparison.overlap_before:.2f} &rarr; <b>{comparison.overlap_after:.2f}</b> after aligning "
                f"hidden units (chance {comparison.overlap_chance:.2f}): "
                + html.escape("converged" if comparison.converged() else "not the same skeleton"))
        self.loss_html.value = "<br>".join(parts)


def _overall_sparsity(model: nn.Module) -> float:
    return sparsity(model).overall
