"""The explorer base: controls bound to validated traits, one observer, one latest-wins worker, a bounded
history, a plain-dict state, a player (play, pause, stop, loop) and export to PNG and SVG.

An explorer declares what a user can set as traits tagged ``state=True`` (with ``help``). Controls (sliders,
boxes, dropdowns) are views of those traits, bound with :meth:`Explorer._bind`, the one path every
refusal takes: a value a trait's validator refuses (NaN, infinity, out of range, the same direction on both
axes) never reaches the core; the message, named after the control the user touched, replaces whatever
the error area showed, the control goes back to the kept value, and the next good value clears the
message. Number boxes are text boxes (:class:`NumberBox`): the kernel sees whatever was typed, "NaN"
included, so no input is dropped silently in the browser. One observer turns any change of the state
traits into one request to the worker; the latest request wins. The status line says how long the user
waited: from the request to the moment its views were drawn (:meth:`Explorer._frame_drawn`).
"""
from __future__ import annotations

import collections
import html
import io
import math
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import ipywidgets as widgets
from traitlets import TraitError

from ..core.validation import check_path
from ._controls import NumberBox, control_label, described, refusal_text, tagged
from ._text import HOURGLASS, activity_text, format_duration, number_text, progress_html, updated_text
from ._worker import CLOCK, LatestWorker, Superseded


class StillComputingWarning(UserWarning):
    """``explorer.wait(timeout)`` gave up: the message says what the explorer is still computing (the stage,
    how far it got, when the request started, roughly how long is left). Also ``Explorer.StillComputingWarning``;
    ``warnings.filterwarnings("ignore", category=...)`` silences it."""


class Explorer(widgets.VBox):
    """What every explorer does the same way (see the module's docstring).

    A subclass declares its state traits, builds its controls and views, calls :meth:`_bind` for each
    control and :meth:`_assemble` once, and implements :meth:`_job` (the work for one state, on the
    worker thread) and :meth:`_figure_panels` (what :meth:`save` draws).
    """

    #: seconds that displaying an explorer waits for its first frame (see ``_repr_mimebundle_``)
    first_frame_timeout: float = 15.0
    #: moves kept in :attr:`history` (as states: a few numbers each)
    history_size: int = 1000
    #: what :meth:`wait` warns with when it gives up
    StillComputingWarning = StillComputingWarning

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._syncing = threading.local()
        self._quiet = False
        self.history: collections.deque[dict] = collections.deque(maxlen=self.history_size)
        self.error_html = tagged(widgets.HTML(), "rw-error")
        self.status_html = tagged(widgets.HTML(HOURGLASS + " computing&hellip;"), "rw-status")
        self.loss_html = tagged(widgets.HTML(), "rw-loss")
        self.reset_button = tagged(widgets.Button(description="reset", icon="undo",
                                                  tooltip="back to the starting state",
                                                  layout=widgets.Layout(width="90px")), "rw-reset")
        self.export_button = tagged(widgets.Button(description="export", icon="download",
                                                   tooltip="save every view as PNG and SVG in the working folder",
                                                   layout=widgets.Layout(width="100px")), "rw-export")
        self.reset_button.on_click(lambda _: self.reset())
        self.export_button.on_click(lambda _: self._export_clicked())
        self._worker = LatestWorker(self._show_error)
        self._start_state: dict | None = None
        self._errors_shown = 0   # counts _show_error calls: a job clears only errors older than itself
        self._drawn_at: list[tuple[str, float]] = []   # the running job's views drawn: (what, perf_counter)

    # ------------------------------------------------------------------ state
    @classmethod
    def state_names(cls) -> list[str]:
        """The traits that make up :attr:`state` (sorted by name)."""
        return [n for n, t in cls.class_traits(state=True).items()]

    @property
    def state(self) -> dict:
        """What a user set, as a plain dict (numbers, strings, lists): hand it out as "start here" and
        give it back to :meth:`restore` (or to the explorer's ``state=`` argument)."""
        out = {}
        for name in self.state_names():
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, (list, tuple)) else value
        return out

    @state.setter
    def state(self, value: dict) -> None:
        self.restore(value)

    def restore(self, state: dict) -> None:
        """Set every key of ``state`` (a dict from :attr:`state`; missing keys keep their values) and
        draw once. A bad value raises ``TraitError`` (or ``ValueError`` for an unknown key) before anything
        changes."""
        if not isinstance(state, dict):
            raise TypeError(f"state: expected a dict such as explorer.state, got {type(state).__name__}")
        unknown = sorted(set(state) - set(self.state_names()))
        if unknown:
            raise ValueError(f"state: unknown keys {unknown}; expected some of {self.state_names()}")
        # traitlets' own transaction: inside hold_trait_notifications the values are set with their type
        # checks only; on leaving it, the @validate handlers run on the new state as a whole (so two axes can
        # be swapped in one call), and one refusal rolls every value back before any observer hears of it
        self._quiet = True
        try:
            with self.hold_trait_notifications():
                for name, value in state.items():
                    setattr(self, name, value)
        finally:
            self._quiet = False
        self._request()

    def reset(self) -> None:
        """Back to the state the explorer started in."""
        if self._start_state is not None:
            self.restore(self._start_state)

    # ------------------------------------------------------------------ controls
    def _bind(self, control, name: str, *, index: int | None = None, to_control: Callable | None = None) -> None:
        """Make ``control.value`` a view of trait ``name`` (or of its item ``index``, for list traits).

        The one path of every control's refusals. A control's new value (a :class:`NumberBox`'s text read
        by :meth:`NumberBox.number`) goes through the trait's validator; a refused one is shown in the
        error area, replacing what it showed, with the message named after the control ("exact L1 (l1):
        ...", "x axis (x_axis): ..." where the label is not the trait's name) and ending with the value
        kept ("...; span stays 1"), and the control returns to that value. A good value clears the
        message (:meth:`_request`). A trait set from Python moves the control.
        """
        label = control_label(control)
        shown_as = label if index is not None or not label or label == name else f"{label} ({name})"
        to_control = to_control or (number_text if isinstance(control, NumberBox) else None)

        def current():
            value = getattr(self, name)
            return value[index] if index is not None else value

        def kept():
            return to_control(current()) if to_control else current()

        def from_control(change):
            if getattr(self._syncing, "on", False):
                return
            try:
                new = control.number(change["new"]) if isinstance(control, NumberBox) else change["new"]
                if index is None:
                    setattr(self, name, new)
                else:
                    values = list(getattr(self, name))
                    values[index] = new
                    setattr(self, name, values)
            except TraitError as exc:
                self._show_error(TraitError(refusal_text(str(exc), name, shown_as, kept())))
            # the control shows the value kept (the snapped value, or the last good one)
            self._set_control(control, kept())

        def from_trait(change):
            self._set_control(control, kept())

        control.on_refused = self._show_error
        control.rw_name = shown_as
        control.observe(from_control, "value")
        self.observe(from_trait, name)

    def _set_control(self, control, value) -> None:
        if control.value == value:
            return
        self._syncing.on = True
        try:
            control.value = value
        finally:
            self._syncing.on = False

    def _player(self, choices: Sequence[str], frames: int = 60) -> widgets.Widget:
        """Play, pause, stop and loop buttons animating one of ``choices`` (``_animate(choice, phase)``, phase
        in [0, 1)) at a chosen speed; every frame goes through the same latest-wins path as a slider.

        Pause keeps the animation's position (play goes on from it); stop rewinds it to its first frame (phase
        0: the animated control back to the start of its sweep). The frames are timed in the browser by an
        ipywidgets Play (:attr:`play`, hidden: its own buttons have no tooltips and play and pause share
        one); the buttons set its ``playing``, ``value`` and ``repeat``.
        """
        self.play = tagged(widgets.Play(value=0, min=0, max=frames - 1, step=1, interval=150, repeat=True,
                                        show_repeat=False, tooltip="the animation's frame",
                                        layout=widgets.Layout(display="none")), "rw-play")

        def button(cls, description, icon, tooltip, width, toggle=False):
            kind = widgets.ToggleButton if toggle else widgets.Button
            extra = {"value": True} if toggle else {}
            return tagged(kind(description=description, icon=icon, tooltip=tooltip,
                               layout=widgets.Layout(width=width), **extra), cls)

        self.play_button = button("rw-play-button", "play", "play",
                                  "play: animate the chosen control, going on from where the animation is", "76px")
        self.pause_button = button("rw-pause", "pause", "pause",
                                   "pause: stop the animation here; the control keeps its position and play goes "
                                   "on from it", "84px")
        self.stop_button = button("rw-stop", "stop", "stop",
                                  "stop: end the animation and rewind it to its first frame (the animated "
                                  "control back to the start of its sweep)", "76px")
        self.loop_toggle = button("rw-loop", "loop", "retweet",
                                  "loop: at the last frame start again from the first (off: stop at the last "
                                  "frame)", "76px", toggle=True)
        self.play_button.on_click(lambda _: setattr(self.play, "playing", True))
        self.pause_button.on_click(lambda _: setattr(self.play, "playing", False))
        self.stop_button.on_click(lambda _: self._stop_playing())
        widgets.link((self.loop_toggle, "value"), (self.play, "repeat"))
        short = {"description_width": "initial"}
        self.play_choice = described(widgets.Dropdown(options=list(choices), value=choices[0], description="animate",
                                                      style=short, layout=widgets.Layout(width="150px")),
                                     "which control the play button moves")
        self.play_speed = described(widgets.Dropdown(options=[("slow", 400), ("normal", 150), ("fast", 60)], value=150,
                                                     description="speed", style=short,
                                                     layout=widgets.Layout(width="130px")),
                                    "time between frames of the animation")
        widgets.link((self.play_speed, "value"), (self.play, "interval"))
        self._frames = frames
        self.play.observe(lambda c: self._animate(self.play_choice.value, c["new"] / self._frames), "value")
        return widgets.HBox([self.play_button, self.pause_button, self.stop_button, self.loop_toggle, self.play,
                             self.play_choice, self.play_speed], layout=widgets.Layout(flex_flow="row wrap"))

    def _stop_playing(self) -> None:
        """The stop button: no more frames, and back to the first one."""
        with self.play.hold_sync():
            self.play.playing = False
            self.play.value = self.play.min

    def _animate(self, choice: str, phase: float) -> None:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _assemble(self, title: str, controls: Sequence[widgets.Widget], views: Sequence[widgets.Widget],
                  *css_classes: str) -> None:
        """Lay the explorer out: a title, then the controls and the views in one wrapping row (so a narrow
        screen stacks them instead of overlapping), then start listening and draw the first frame."""
        panel = tagged(widgets.VBox([*controls, widgets.HBox([self.reset_button, self.export_button]),
                                     self.loss_html, self.status_html, self.error_html],
                                    layout=widgets.Layout(width="400px", min_width="300px", overflow="hidden")),
                       "rw-view", "rw-controls")
        for view in views:  # long captions and legends wrap under their figure instead of widening the view
            view.layout.max_width = view.layout.max_width or "460px"
        row = widgets.Box([panel, *views], layout=widgets.Layout(display="flex", flex_flow="row wrap",
                                                                 align_items="flex-start", width="100%"))
        row.add_class("rw-views")
        self.children = [widgets.HTML(title), row]
        tagged(self, "rw-explorer", *css_classes)
        self._start_state = self.state
        self.observe(self._state_changed, names=self.state_names())
        self._request()

    # ------------------------------------------------------------------ requests
    def _state_changed(self, change) -> None:
        if not self._quiet:
            self._request()

    def _request(self) -> None:
        """Draw the current state (on the worker; the latest request wins). A message still shown is stale
        now: the input it was about has been replaced by a good one, so it goes at once."""
        asked = time.perf_counter()   # the user's action, as far as the kernel can tell: the time is from here
        state = self.state
        if self.error_html.value:
            self.error_html.value = ""
            self.status_html.value = HOURGLASS + " computing&hellip;"
        self._worker.submit(lambda current: self._run(state, current, asked))

    def _run(self, state: dict, current: Callable[[], bool], asked: float | None = None) -> None:
        started = time.perf_counter()
        asked = started if asked is None else asked
        errors_before = self._errors_shown
        self._drawn_at = []
        timer = CLOCK.call_later(0.5, lambda: current() and setattr(self.status_html, "value",
                                                                     HOURGLASS + " computing&hellip;"))
        try:
            if self._job(state, current, started) is False or not current():
                return
            if self._errors_shown != errors_before:
                return   # an input was refused while this job ran: its message stays until the next job
            self.error_html.value = ""
            self.status_html.value = updated_text(asked, self._drawn_at, time.perf_counter())
        finally:
            timer.cancel()

    def _frame_drawn(self, what: str = "") -> None:
        """A job's note that its views have been drawn: ``what=""`` for the main views (the last call
        counts: a large model's refined grid after its coarse one), else the panel ("spectrum"). The status
        line times each from the request (:func:`updated_text`); a job that notes nothing is timed to its
        end."""
        self._drawn_at.append((what, time.perf_counter()))

    def _job(self, state: dict, current: Callable[[], bool], started: float):  # pragma: no cover - subclasses
        """Draw ``state``; return False when a newer request made it stop early."""
        raise NotImplementedError

    def _settled(self, current: Callable[[], bool], seconds: float = 0.3) -> bool:
        """Wait ``seconds`` for a newer request; True if none came. Secondary panels (the spectrum) draw
        only once a drag pauses, so their updates never hold up the next frame of the main views."""
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            if not current():
                return False
            time.sleep(0.01)
        return current()

    def _record(self, state: dict) -> None:
        """Remember a drawn state (the last :attr:`history_size` ones)."""
        self.history.append(state)

    def _progress_status(self, started: float, what: str, done: int, total: int, current) -> None:
        """A job's progress callback: stop if superseded; record the stage (for :meth:`wait`'s message) and,
        after half a second, show "{hourglass} {what} {pct}%", with a rough time left once the stage's rate tells it."""
        if not current():
            raise Superseded  # a newer request arrived: drop this work half-way
        stage = self._worker.report(what, done, total)
        now = time.perf_counter()
        if now - started > 0.5 and done < total:
            self.status_html.value = progress_html(what, done, total, stage.seconds_left(now))

    def _show_error(self, exc: BaseException) -> None:
        """Put ``exc`` in the widget's error area; the widget stays usable."""
        self._errors_shown += 1
        self.error_html.value = ("<div style='color:#b00020'>&#9888; " + html.escape(f"{type(exc).__name__}: {exc}")
                                 + "</div>")
        self.status_html.value = "error: the last request failed or was refused; the widget still works"

    def wait(self, timeout: float | None = 120.0) -> bool:
        """Block until the latest request is drawn (for scripts and tests).

        Args:
            timeout: seconds at most (None: no limit).

        Returns:
            True if it was drawn; False after ``timeout``, with a :class:`StillComputingWarning` saying what is
            still running ("still computing: loss surface 40% (started 2 min 3 s ago; about 1 min left in
            this stage)"), so ``assert explorer.wait()`` tells why it failed.
        """
        if self._worker.wait(timeout):
            return True
        text = activity_text(self._worker.activity())
        if not text:
            return True  # it finished between the timeout and this look
        warnings.warn(StillComputingWarning(
            f"{type(self).__name__}.wait: not drawn after {format_duration(timeout)}; {text}. Call wait() again "
            "to keep waiting (wait(None): no limit)."), stacklevel=2)
        return False

    def close(self) -> None:
        """Stop the background worker (its running job ends at its next stage; the thread is joined) and
        close the widget and its front-end views. What the explorer computed (``history``, ``state``)
        stays readable."""
        worker = getattr(self, "_worker", None)   # None when __init__ refused its arguments
        if worker is not None:
            worker.stop()
        super().close()

    def _repr_mimebundle_(self, **kwargs):
        # Finish the first frame before the front end builds the views: model updates that reach bqplot
        # while it is still building a figure's views can find them without their scales ("Error setting
        # state: Cannot read properties of undefined" in the browser console). Large models display after
        # first_frame_timeout seconds at the latest and keep drawing.
        self._worker.wait(self.first_frame_timeout)
        return super()._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ export
    def _figure_panels(self) -> list[tuple[str, Callable]]:  # pragma: no cover - subclasses
        """``[(projection or "", draw(ax)), ...]``: what :meth:`save` draws, one panel each."""
        raise NotImplementedError

    def figure(self):
        """The explorer's views as one matplotlib figure (what :meth:`save` writes).

        Returns:
            a ``matplotlib.figure.Figure``.
        """
        from matplotlib.figure import Figure

        self.wait()
        panels = self._figure_panels()
        cols = min(2, len(panels))
        rows = math.ceil(len(panels) / cols)
        fig = Figure(figsize=(6.0 * cols, 4.6 * rows), layout="constrained")
        for i, (projection, draw) in enumerate(panels):
            ax = fig.add_subplot(rows, cols, i + 1, **({"projection": projection} if projection else {}))
            draw(ax)
        return fig

    def save(self, path: str | Path) -> list[Path]:
        """Write the explorer's views (2-D slice, 3-D snapshot, spectrum, profile...) as PNG and SVG.

        Both files or neither: the figure is rendered to memory in both formats first, each is written to a
        temporary file in the target folder, and only then are both moved into place. A rendering or
        writing failure (a full disk, an SVG that cannot be rendered) leaves no new file behind.

        Args:
            path: the file name, optionally in a folder (``str`` or ``os.PathLike``); its suffix is replaced
                by ``.png`` and ``.svg``. The folder must exist.

        Returns:
            the two paths written.

        Raises:
            TypeError: ``path`` is not a str or os.PathLike.
            ValueError: ``path`` names no file (``""``, ``"."``, ``"figures/"``, an existing folder), its
                folder does not exist, or one of the two targets is a folder.

        Example:
            >>> explorer.save("start-here")       # start-here.png, start-here.svg   # doctest: +SKIP
        """
        raw = path
        path = check_path(path, "path", "a file path such as 'start-here'")
        text = os.fsdecode(raw)  # as given: Path('figures/') has lost its trailing slash
        if (not path.name or path.name in (".", "..") or text.endswith(("/", os.sep)) or path.is_dir()):
            raise ValueError(f"path: expected a file name such as 'start-here' (optionally in a folder: "
                             f"'figures/start-here'), got {text!r}, which names no file")
        folder = path.parent
        if not folder.is_dir():
            raise ValueError(f"path: expected a file in an existing folder, got {text!r}: the folder "
                             f"{str(folder)!r} does not exist")
        out = [path.with_suffix(".png"), path.with_suffix(".svg")]
        for target in out:
            if target.is_dir():
                raise ValueError(f"path: expected a name whose .png and .svg files can be written, got "
                                 f"{text!r}: {str(target)!r} is a folder")
        fig = self.figure()
        blobs = []
        for target in out:  # both rendered before anything is written
            buffer = io.BytesIO()
            fig.savefig(buffer, format=target.suffix[1:], **({"dpi": 120} if target.suffix == ".png" else {}))
            blobs.append(buffer.getvalue())
        temps: list[Path] = []
        placed: list[Path] = []
        try:
            for target, blob in zip(out, blobs):
                fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
                temps.append(Path(temp))
                with os.fdopen(fd, "wb") as f:
                    f.write(blob)
            for temp, target in zip(temps, out):
                os.replace(temp, target)
                placed.append(target)
        except BaseException:
            for target in placed:  # the second move failed: take the first back out
                target.unlink(missing_ok=True)
            raise
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)
        return out

    def _export_clicked(self) -> None:
        try:
            stem = f"{type(self).__name__}-{time.strftime('%Y%m%d-%H%M%S')}"
            paths = self.save(Path.cwd() / stem)
            self.status_html.value = "exported " + ", ".join(html.escape(p.name) for p in paths)
        except Exception as exc:  # shown in the widget
            self._show_error(exc)
