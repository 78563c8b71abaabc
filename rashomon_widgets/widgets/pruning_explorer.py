"""`PruningExplorer`: controls for the L1 strength, the L1 epochs and the pruning threshold of write-up 2,
a thin view over :class:`~rashomon_widgets.experiments.skeletons.SkeletonStudy`: the skeletons' accuracy
and sparsity, their aligned mask overlap, the OOD similarity heatmap and the accuracy/sparsity trade-off."""
from __future__ import annotations

import html
import math
import time
from collections.abc import Callable, Sequence

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import torch
from torch import nn
from traitlets import Float, Int, TraitError, validate

from ..experiments.skeletons import SkeletonRecord, SkeletonStudy
from ._base import Explorer
from ._controls import GridSlider, NumberBox, described, finite_number, help_line, slider_grid, tagged
from ._legend import MARKER, SERIES, axis_ticks, legend_html, set_axis_ticks, tick_labels
from ._prebuilt import ShortFormDefault, given_names, refuse_both, unwrap
from ._text import HOURGLASS, readout_html
from ._worker import Superseded
from .similarity_view import SimilarityView

# matplotlib's tab colours at a luminance legible on white and dark pages, never the marker's red
_COLORS = list(SERIES)
_THRESHOLD_STEP = 0.005
_LOG_RANGE = (-5.0, -2.0, 0.25)  # the L1 slider's exponents: min, max, step
_WIDTH = 440  # px: every figure of the explorer


#: the short form's study options and their defaults (with ``study=``, the study's own settings hold)
_STUDY_OPTIONS = {"lr": 1e-3, "batch_size": 64, "seed": 0, "behaviour": "softmax", "max_threshold": 0.2,
                  "num_thresholds": 21}


class PruningExplorer(Explorer):
    """Find the skeletons of trained models: L1 fine-tuning, then magnitude pruning, live.

    Every base model is fine-tuned (a copy; the models passed in are never changed) with the penalty
    ``l1 * ||theta||_1`` for ``epochs`` epochs, then every weight with ``|w| < threshold`` is pruned. The
    work is done by a :class:`~rashomon_widgets.experiments.skeletons.SkeletonStudy` (:attr:`study`); the
    explorer shows it. The readout gives each skeleton's accuracy and sparsity; the heatmap, the cosine
    similarity of the predictions of the originals, the fine-tuned models and the skeletons on
    out-of-distribution inputs; the line plot, accuracy and sparsity over the threshold. With two base
    models the readout also compares their skeletons after aligning hidden units by permutation.

    Fine-tuning runs off the UI thread with a progress bar; the latest value wins, and every fine-tuned
    epoch is kept, so fewer epochs or another threshold are instant. Each finished setting is appended to
    :attr:`results` (the last :attr:`history_size`); a value a control refuses (NaN, infinity, out of
    range, an L1 strength beyond :meth:`l1_limit`) is reported in the widget, named after the control, and
    changes nothing. The play button sweeps the threshold from 0 to ``max_threshold``.

    With two models the readout gives a verdict on their skeletons (``SkeletonComparison.converged``:
    aligned mask overlap >= 0.9 and OOD similarity >= 0.99) only where both are pruned: while a model keeps
    every weight (always at threshold 0), its mask is all ones, the overlap equals its chance level by
    construction (1.00 at threshold 0) and says nothing about a shared skeleton, so the readout says that
    instead of "converged" or "not the same skeleton".

    Give either a prebuilt :class:`~rashomon_widgets.experiments.skeletons.SkeletonStudy` (``study=``;
    the threshold control then runs over its ``thresholds``) or the arguments to build one (the short
    form: ``models``, ``loss_fn``, ``train_data``, ``ood`` and the study options), not both.

    Args:
        models: the trained base models (1 to 4; two for write-up 2), classifiers with outputs (N, C).
        loss_fn: ``loss_fn(outputs, labels)``, e.g. ``rw.models.cross_entropy``.
        train_data: ``(inputs, labels)`` used for fine-tuning and the training accuracy.
        ood: out-of-distribution inputs (e.g. ``rw.data.photo_patches()``).
        test_data: optional ``(inputs, labels)`` for the test accuracy.
        l1, epochs, threshold: the starting values of the three controls.
        max_epochs, max_threshold: the ranges of the epochs and threshold controls.
        lr, batch_size, seed: of the Adam fine-tuning.
        behaviour: prediction vectors compared: ``"softmax"``, ``"logits"`` or ``"labels"``.
        num_thresholds: points of the accuracy/sparsity curve over the threshold.
        state: a dict from :attr:`state` to start from (overrides ``l1``, ``epochs``, ``threshold``).
        study: a prebuilt study, instead of ``models``, ``loss_fn``, ``train_data``, ``ood``, ``test_data``,
            ``lr``, ``batch_size``, ``seed``, ``behaviour``, ``max_threshold`` and ``num_thresholds``.

    Raises:
        TypeError: models, ``loss_fn``, ``ood`` or ``study`` of the wrong kind.
        ValueError: a starting value out of its range (the messages of the controls); ``study`` together
            with the arguments it replaces, or neither.

    Example:
        >>> explorer = rw.PruningExplorer([model_1, model_2], rw.models.cross_entropy, split.train,
        ...                               ood=rw.data.photo_patches(), test_data=split.test)  # doctest: +SKIP
        >>> explorer.threshold = 0.1; explorer.wait()                                        # doctest: +SKIP
        >>> explorer.results[-1]["sparsity"]                                                 # doctest: +SKIP
        >>> study = SkeletonStudy([model_1, model_2], rw.models.cross_entropy, split.train,
        ...                       ood=rw.data.photo_patches())                                # doctest: +SKIP
        >>> rw.PruningExplorer(study=study, threshold=0.1)                                   # doctest: +SKIP
    """

    l1 = Float(3e-4, help="the L1 strength lambda of the fine-tuning penalty lambda * ||theta||_1 (> 0)"
               ).tag(state=True)
    epochs = Int(10, help="epochs of L1 fine-tuning (every epoch is kept: fewer is instant)").tag(state=True)
    threshold = Float(0.05, help="prune every weight with |w| below this (biases stay)").tag(state=True)

    def __init__(self, models: Sequence[nn.Module] | None = None, loss_fn: Callable | None = None, train_data=None,
                 *, ood: torch.Tensor | None = None, test_data=None, l1: float = 3e-4, epochs: int = 10,
                 threshold: float = 0.05, max_epochs: int = 40,
                 max_threshold: float = ShortFormDefault(_STUDY_OPTIONS["max_threshold"]),
                 lr: float = ShortFormDefault(_STUDY_OPTIONS["lr"]),
                 batch_size: int | None = ShortFormDefault(_STUDY_OPTIONS["batch_size"]),
                 seed: int = ShortFormDefault(_STUDY_OPTIONS["seed"]),
                 behaviour: str = ShortFormDefault(_STUDY_OPTIONS["behaviour"]),
                 num_thresholds: int = ShortFormDefault(_STUDY_OPTIONS["num_thresholds"]),
                 state: dict | None = None, study: SkeletonStudy | None = None):
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f"max_epochs: expected an int >= 1, got {max_epochs!r}")
        options = {"lr": lr, "batch_size": batch_size, "seed": seed, "behaviour": behaviour,
                   "max_threshold": max_threshold, "num_thresholds": num_thresholds}
        self.study = self._study(study, models, loss_fn, train_data, ood, test_data, options)
        self.max_epochs, self.max_threshold = max_epochs, float(self.study.thresholds[-1])
        super().__init__()
        try:
            with self.hold_trait_notifications():
                self.l1, self.epochs, self.threshold = l1, epochs, threshold
            if state is not None:
                self._start_from(state)
        except TraitError as exc:
            raise ValueError(str(exc)) from None
        self.models = self.study.models
        #: every setting drawn, as plain data (:meth:`SkeletonRecord.as_dict`), the last ``history_size``
        self.results: list[dict] = []
        #: the last setting drawn (None before the first)
        self.record: SkeletonRecord | None = None
        #: the accuracy/sparsity curves of the last setting drawn (:meth:`SkeletonStudy.tradeoff`)
        self.curve: dict[str, np.ndarray] | None = None
        self.variants: dict[str, nn.Module] = {}  # the models of the last drawn setting, by name
        self.comparison = None                    # SkeletonComparison of the last setting (two models)
        self._build_controls()
        self._build_tradeoff_figure()
        self.similarity = tagged(SimilarityView(size=_WIDTH), "rw-view")
        n, ood_n = len(self.models), self.study.ood.shape[0]
        title = (f"<b>Pruning explorer</b> &middot; {n} model(s) &middot; P = "
                 f"{sum(p.numel() for p in self.models[0].parameters()):,} each &middot; OOD set of {ood_n}")
        self._assemble(title, self._controls, [self.tradeoff_box, self.similarity], "rw-pruning-explorer")

    @staticmethod
    def _study(study, models, loss_fn, train_data, ood, test_data, options: dict) -> SkeletonStudy:
        """``study`` as given, or the one the short form's arguments describe (see the class docstring)."""
        given = [name for name, value in (("models", models), ("loss_fn", loss_fn), ("train_data", train_data),
                                          ("ood", ood), ("test_data", test_data)) if value is not None]
        given += given_names(options)
        if study is not None:
            if not isinstance(study, SkeletonStudy):
                raise TypeError(f"study: expected an rw.experiments.SkeletonStudy, got {type(study).__name__}")
            refuse_both("study", "SkeletonStudy", given)
            if not study.thresholds[-1] > 0:
                raise ValueError(f"study: expected thresholds reaching above 0 (the threshold control's range), "
                                 f"got {study.thresholds.tolist()}")
            return study
        missing = [name for name, value in (("models", models), ("loss_fn", loss_fn), ("train_data", train_data),
                                            ("ood", ood)) if value is None]
        if missing:
            raise TypeError(f"PruningExplorer: expected models, loss_fn, train_data and ood (or a prebuilt "
                            f"study=SkeletonStudy(...)), got no {', '.join(missing)}")
        options = {name: unwrap(value) for name, value in options.items()}
        num_thresholds = options.pop("num_thresholds")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds < 2:
            raise ValueError(f"num_thresholds: expected an int >= 2, got {num_thresholds!r}")
        try:
            max_threshold = finite_number(options.pop("max_threshold"), "max_threshold", low=0, strict_low=True)
        except TraitError as exc:
            raise ValueError(str(exc)) from None
        return SkeletonStudy(models, loss_fn, train_data, ood=ood, test_data=test_data,
                             thresholds=np.linspace(0.0, max_threshold, num_thresholds), **options)

    # ------------------------------------------------------------------ validation
    @validate("l1")
    def _check_l1(self, proposal):
        value = finite_number(proposal["value"], "l1", low=0, strict_low=True)
        try:
            return self.study.check_l1(value)
        except ValueError as e:   # the study's reason, and where the useful strengths are
            raise TraitError(f"{e}; useful strengths are about {10 ** _LOG_RANGE[0]:g} to "
                             f"{10 ** _LOG_RANGE[1]:g} (the slider's range)") from None

    def l1_limit(self) -> float:
        """The largest L1 strength the fine-tuning's arithmetic carries (the study's :meth:`~rashomon_widgets.
        experiments.skeletons.SkeletonStudy.l1_limit`: 1e18 for float32 models, 1e153 for float64).

        Returns:
            the limit (a float).
        """
        return self.study.l1_limit()

    @validate("epochs")
    def _check_epochs(self, proposal):
        value = proposal["value"]
        top = getattr(self, "max_epochs", None)
        if not 1 <= value <= (top if top is not None else value):
            raise TraitError(f"epochs: expected an int in [1, max_epochs={top}], got {value!r}")
        return value

    @validate("threshold")
    def _check_threshold(self, proposal):
        return finite_number(proposal["value"], "threshold", low=0, high=getattr(self, "max_threshold", None))

    def _start_from(self, state: dict) -> None:
        if not isinstance(state, dict):
            raise TypeError(f"state: expected a dict such as explorer.state, got {type(state).__name__}")
        unknown = sorted(set(state) - set(self.state_names()))
        if unknown:
            raise ValueError(f"state: unknown keys {unknown}; expected some of {self.state_names()}")
        with self.hold_trait_notifications():
            for name, value in state.items():
                setattr(self, name, value)

    # ------------------------------------------------------------------ layout pieces
    def _build_controls(self) -> None:
        helps = {name: self.traits()[name].help for name in self.state_names()}
        self.threshold_slider = tagged(
            GridSlider(slider_grid(self.threshold, 0.0, self.max_threshold, _THRESHOLD_STEP), min=0.0,
                                max=self.max_threshold, step=_THRESHOLD_STEP, description="threshold",
                                readout_format=".3f", tooltip=helps["threshold"]),
            "rw-slider", "rw-threshold")
        self.epochs_slider = tagged(widgets.IntSlider(self.epochs, min=1, max=self.max_epochs, description="L1 epochs",
                                                      continuous_update=False, tooltip=helps["epochs"]), "rw-epochs")
        self.l1_slider = tagged(widgets.FloatLogSlider(_log_grid(self.l1), base=10, min=_LOG_RANGE[0],
                                                       max=_LOG_RANGE[1], step=_LOG_RANGE[2],
                                                       description="L1 strength", readout=False,
                                                       continuous_update=False, tooltip=helps["l1"]), "rw-l1")
        # (no readout: the slider's position is the nearest step of its log grid, 10**-3.5 = 3.2e-4 for 3e-4; the
        # exact box under it is the one readout of the strength, so the two never show different numbers)
        self.span = tagged(described(NumberBox(self.l1, description="exact L1", layout=widgets.Layout(width="200px")),
                                     helps["l1"]), "rw-span")
        self.progress = tagged(widgets.IntProgress(0, min=0, max=1, description="",
                                                   layout=widgets.Layout(width="300px", visibility="hidden")),
                               "rw-progress")
        self._bind(self.threshold_slider, "threshold",
                   to_control=lambda v: slider_grid(v, 0.0, self.max_threshold, _THRESHOLD_STEP))
        self._bind(self.epochs_slider, "epochs")
        self._bind(self.l1_slider, "l1", to_control=_log_grid)
        self._bind(self.span, "l1")
        player = self._player(["threshold"], frames=round(self.max_threshold / _THRESHOLD_STEP) + 1)
        explanation = help_line(
            ("threshold", "weights with |w| below it are pruned; moving it re-prunes at once"),
            ("L1 epochs / strength", ("fine-tune again (off the UI thread, with a progress bar); the log slider "
                                      "and the exact box both set the strength")),
            ("play", "sweeps the threshold from 0 to its maximum"))
        self._controls = [self.threshold_slider, self.epochs_slider, self.l1_slider, self.span, player,
                          self.progress, explanation]

    def _build_tradeoff_figure(self) -> None:
        sx = bq.LinearScale(min=0.0, max=self.max_threshold, allow_padding=False)
        sy = bq.LinearScale(min=0.0, max=1.0, allow_padding=False)
        x = self.study.thresholds
        zeros = np.zeros((len(self.models), len(x)))
        colors = _COLORS[:len(self.models)]
        names = [f"M{i + 1}" for i in range(len(self.models))]
        self.accuracy_lines = bq.Lines(x=x, y=zeros, scales={"x": sx, "y": sy}, colors=colors, stroke_width=2,
                                       labels=[f"{m} accuracy" for m in names])
        self.sparsity_lines = bq.Lines(x=x, y=zeros.copy(), scales={"x": sx, "y": sy}, colors=colors,
                                       line_style="dashed", stroke_width=2, labels=[f"{m} sparsity" for m in names])
        self.threshold_mark = bq.Lines(x=[self.threshold] * 2, y=[0.0, 1.0], scales={"x": sx, "y": sy},
                                       colors=[MARKER], stroke_width=1.5, labels=["threshold"])
        axes = [bq.Axis(scale=sx, label="pruning threshold |w|"),
                bq.Axis(scale=sy, label="accuracy, sparsity", orientation="vertical")]
        plot_width, plot_height = _WIDTH - 55 - 30, 300 - 40 - 50   # the figure less its margins
        set_axis_ticks(axes[0], axis_ticks(0.0, self.max_threshold, plot_width))
        # no "0.0" on the y axis: it would sit on the x axis' "0.00" in the corner
        set_axis_ticks(axes[1], axis_ticks(0.0, 1.0, plot_height, vertical=True, max_ticks=6)[1:])
        self.tradeoff_figure = tagged(
            bq.Figure(marks=[self.accuracy_lines, self.sparsity_lines, self.threshold_mark], axes=axes,
                      title="accuracy and sparsity over the threshold", title_style={"font-size": "13px"},
                      fig_margin={"top": 40, "bottom": 50, "left": 55, "right": 30},
                      layout=widgets.Layout(width=f"{_WIDTH}px", height="300px")),
            "rw-tradeoff")
        which = "test" if self.study.test_data is not None else "train"
        entries = []
        for name, color in zip(names, colors):
            entries += [(color, "\u2501\u2501", f"{name} {which} accuracy"),
                        (color, "\u254d\u254d", f"{name} sparsity")]
        entries.append((MARKER, "\u2503", "threshold"))
        # no width of its own: a widget's 2-px margins come on top of its width, so a legend as wide as the box
        # would overflow it and give the box a horizontal scroll bar
        self.tradeoff_legend = tagged(widgets.HTML(legend_html(entries)), "rw-tradeoff-legend")
        # no width of its own either: the figure's width plus its margins (the explorer caps a view at 460 px)
        self.tradeoff_box = tagged(widgets.VBox([self.tradeoff_figure, self.tradeoff_legend]), "rw-view")

    # ------------------------------------------------------------------ play
    def _animate(self, choice: str, phase: float) -> None:
        steps = round(self.max_threshold / _THRESHOLD_STEP)
        k = min(round(phase * (steps + 1)), steps)
        self.threshold = min(self.max_threshold, round(k * _THRESHOLD_STEP, 10))

    # ------------------------------------------------------------------ the work (worker thread)
    def _job(self, state: dict, current: Callable[[], bool], started: float):
        def progress(done: int, total: int, message: str) -> None:
            if not current():
                raise Superseded  # a newer request arrived: drop this work half-way
            if message.startswith("L1"):
                with self.progress.hold_sync():
                    self.progress.max, self.progress.value = max(total, 1), done
                    self.progress.layout.visibility = "visible"
            if time.perf_counter() - started > 0.3:
                self.status_html.value = f"{HOURGLASS} {html.escape(message)}"

        try:
            record = self.study.setting(state["l1"], state["epochs"], state["threshold"], progress)
            if not current():
                return False
            curve = self.study.tradeoff(state["l1"], state["epochs"], progress)
            if not current():
                return False
            self._draw(record, curve)
            self._record(state)
        finally:
            self.progress.layout.visibility = "hidden"

    def _draw(self, record: SkeletonRecord, curve: dict[str, np.ndarray]) -> None:
        self.record, self.curve = record, curve
        self.variants, self.comparison = dict(record.variants), record.comparison
        self.results.append(record.as_dict())
        del self.results[:-self.history_size]
        self.loss_html.value = readout_html(self._readout(record))
        self.similarity.show(record.similarity, list(record.names),
                             caption=f"on {self.study.ood.shape[0]} out-of-distribution inputs "
                                     f"({self.study.behaviour} outputs)")
        with self.accuracy_lines.hold_sync(), self.sparsity_lines.hold_sync():
            self.accuracy_lines.y = curve["accuracy"]
            self.sparsity_lines.y = curve["sparsity"]
        self.threshold_mark.x = [record.threshold, record.threshold]

    def _readout(self, record: SkeletonRecord) -> str:
        test = self.study.test_data is not None
        rows = []
        for i, (m, original) in enumerate(zip(record.per_model, self.study.originals)):
            key = "test_accuracy" if test else "accuracy"
            rows.append(f"<tr><td>M{i + 1} skeleton</td><td>{100 * m[key]:.1f}% "
                        f"<span style='opacity:0.65'>(original {100 * original[key]:.1f}%)</span></td>"
                        f"<td><b>{100 * m['sparsity']:.2f}%</b></td><td>{m['loss']:.3g}</td></tr>")
        table = (f"<table><tr><th></th><th>{'test' if test else 'train'} accuracy</th><th>sparsity</th>"
                 f"<th>train loss</th></tr>" + "".join(rows) + "</table>")
        parts = [f"L1 {record.l1:.2e} &times; {record.epochs} epochs, threshold {record.threshold:.3f}", table]
        c = record.comparison
        if c is not None:
            overlap = (f"{c.overlap_before:.2f} &rarr; <b>{c.overlap_after:.2f}</b> after aligning hidden units"
                       if c.aligned else f"<b>{c.overlap_after:.2f}</b> without aligning (weight matching supports "
                                         "MLPs only: a lower bound)")
            parts.append(
                f"skeletons' OOD similarity <b>{c.ood_similarity:.3f}</b> "
                f"(originals {float(record.similarity[0, 1]):.3f}); kept-weight overlap {overlap} "
                f"(chance {c.overlap_chance:.2f}): " + html.escape(skeleton_verdict(c)))
        return "<br>".join(parts)

    # ------------------------------------------------------------------ export
    def _figure_panels(self) -> list[tuple[str, Callable]]:
        return [("", self._draw_tradeoff), ("", self._draw_similarity)]

    def _draw_tradeoff(self, ax) -> None:
        curve, record = self.curve, self.record
        if curve is None or record is None:
            ax.set_title("nothing drawn yet")
            return
        which = "test" if self.study.test_data is not None else "train"
        for i, color in enumerate(_COLORS[:len(self.models)]):
            ax.plot(curve["thresholds"], curve["accuracy"][i], color=color, lw=2, label=f"M{i + 1} {which} accuracy")
            ax.plot(curve["thresholds"], curve["sparsity"][i], color=color, lw=2, ls="--", label=f"M{i + 1} sparsity")
        ax.axvline(record.threshold, color=MARKER, lw=1.5, label=f"threshold {record.threshold:.3f}")
        ax.set(xlim=(0.0, self.max_threshold), ylim=(0.0, 1.0), xlabel="pruning threshold |w|",
               ylabel="accuracy, sparsity",
               title=f"L1 {record.l1:.2e} x {record.epochs} epochs: accuracy and sparsity over the threshold")
        for axis, set_ticks in zip(self.tradeoff_figure.axes, (ax.set_xticks, ax.set_yticks)):   # the live ticks
            ticks = np.asarray(axis.tick_values, dtype=float)
            set_ticks(ticks, tick_labels(ticks, axis.tick_format))
        ax.title.set_fontsize(10)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8, frameon=False)

    def _draw_similarity(self, ax) -> None:
        record = self.record
        if record is None:
            ax.set_title("nothing drawn yet")
            return
        self.similarity.to_matplotlib(ax)   # the live view's cells, value colours and colour bar
        ax.set_title(f"OOD similarity ({self.study.behaviour} outputs)", fontsize=10)


def skeleton_verdict(c) -> str:
    """The readout's verdict on two skeletons (a ``SkeletonComparison``): "converged" or "not the same
    skeleton" (``c.converged()``) when both models are pruned; else why there is none yet. A model that
    keeps every weight has an all-ones mask: the overlap with it is its chance level by construction (1 when
    neither is pruned, as at threshold 0), so it cannot tell a shared skeleton from two different ones.

    Example:
        >>> from types import SimpleNamespace as S
        >>> skeleton_verdict(S(sparsity_a=0.0, sparsity_b=0.0, converged=lambda: False)).split(":")[0]
        'no skeletons to compare'
    """
    unpruned = [name for name, sparsity in (("M1", c.sparsity_a), ("M2", c.sparsity_b)) if sparsity == 0]
    if len(unpruned) == 2:
        return ("no skeletons to compare: nothing is pruned at this threshold, so both keep every weight and the "
                "overlap is 1 by construction; raise the threshold")
    if unpruned:
        return (f"no verdict: {unpruned[0]} keeps every weight at this threshold, so the overlap equals its chance "
                "level by construction; raise the threshold")
    return "converged" if c.converged() else "not the same skeleton"


def _log_grid(value: float) -> float:
    """The log slider's position for an L1 strength: its exponent clamped to the slider's range and snapped
    to its grid the way the browser does (so the browser never sends a snapped value back)."""
    low, high, step = _LOG_RANGE
    exponent = min(max(math.log10(value), low), high) if value > 0 and math.isfinite(value) else low
    return float(10 ** slider_grid(exponent, low, high, step))
