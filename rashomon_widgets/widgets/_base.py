"""The explorer base: controls bound to validated traits, one observer, one latest-wins worker, a bounded
history, a plain-dict state, a play button and export to PNG and SVG.

An explorer declares what a user can set as traits tagged ``state=True`` (with ``help``). Controls (sliders,
boxes, dropdowns) are views of those traits, bound with :meth:`Explorer._bind`: a value a trait's validator
refuses (NaN, infinity, out of range) never reaches the core; the message appears in the widget, the
control goes back to the kept value, and the next good value works. One observer turns any change of
the state traits into one request to the worker; the latest request wins.
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
from traitlets import TraitError, validate

from ..core.validation import check_path, check_real
from ._legend import legend_html  # noqa: F401 - re-exported for the explorers
from ._worker import CLOCK, Activity, LatestWorker, Superseded

#: the colours of the explorers' markers (matplotlib's "tab" colours, legible on white and dark pages)
MARKER = "#d62728"


class StillComputingWarning(UserWarning):
    """``explorer.wait(timeout)`` gave up: the message says what the explorer is still computing (the stage,
    how far it got, when the request started, roughly how long is left). Also ``Explorer.StillComputingWarning``;
    ``warnings.filterwarnings("ignore", category=...)`` silences it."""


# ------------------------------------------------------------------ times as a person reads them
def format_duration(seconds: float) -> str:
    """A duration as a person reads it: "0.4 s", "12.3 s", "9 min 56 s", "1 h 5 min".

    Args:
        seconds: a duration >= 0.

    Returns:
        the text.

    Example:
        >>> format_duration(12.34), format_duration(596.286), format_duration(3900)
        ('12.3 s', '9 min 56 s', '1 h 5 min')
    """
    seconds = max(0.0, float(seconds))
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min"


def format_elapsed(seconds: float) -> str:
    """How long a frame took, for "updated in ...": milliseconds under 10 s ("843 ms"), else
    :func:`format_duration` ("12.3 s", "9 min 56 s").

    Args:
        seconds: a duration >= 0.

    Returns:
        the text.

    Example:
        >>> format_elapsed(0.8434), format_elapsed(596.286)
        ('843 ms', '9 min 56 s')
    """
    seconds = max(0.0, float(seconds))
    return f"{1000 * seconds:.0f} ms" if seconds < 10 else format_duration(seconds)


def format_time_left(seconds: float) -> str:
    """A rough time left: "a few seconds left", "about 40 s left", "about 3 min left", "about 1 h 20 min left"
    (rounded to 10 s, to minutes, to 10 minutes: an estimate from a rate is no more precise).

    Args:
        seconds: the estimate, >= 0.

    Returns:
        the text.

    Example:
        >>> format_time_left(44), format_time_left(75), format_time_left(4800)
        ('about 40 s left', 'about 1 min left', 'about 1 h 20 min left')
    """
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return "a few seconds left"
    tens = round(seconds / 10) * 10
    if tens < 60:
        return f"about {tens} s left"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min left"
    minutes = round(seconds / 600) * 10
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h left" if minutes == 0 else f"about {hours} h {minutes} min left"


def progress_html(what: str, done: int, total: int, left: float | None = None) -> str:
    """The status line of a running stage: "⏳ loss surface 40%", with " · about 1 min left" once the time
    left can be estimated.

    Args:
        what: what is computed.
        done, total: units done and in all.
        left: the estimated seconds left, or None (not known yet).

    Returns:
        HTML.

    Example:
        >>> progress_html("loss surface", 40, 100, 75.0)
        '&#9203; loss surface 40% &middot; about 1 min left'
    """
    pct = 100 * done // total if total > 0 else 0
    text = f"&#9203; {html.escape(what)} {pct}%"
    return text if left is None else f"{text} &middot; {format_time_left(left)}"


def activity_text(activity: Activity | None, now: float | None = None) -> str:
    """What a worker still computes, in words: "still computing: loss surface 40% (started 2 min 3 s ago;
    about 1 min left in this stage)".

    Args:
        activity: ``LatestWorker.activity()`` (None: idle).
        now: ``time.perf_counter()`` (default: now).

    Returns:
        the text ("" when idle).
    """
    if activity is None:
        return ""
    now = time.perf_counter() if now is None else now
    if activity.started is None:
        return "a request is queued and has not started yet"
    ago = f"started {format_duration(now - activity.started)} ago"
    stage = activity.stage
    if stage is None:
        text = f"still computing ({ago}; no progress reported yet)"
    elif stage.done >= stage.total:
        text = f"still computing: {stage.what} done, finishing the frame ({ago})"
    else:
        left = stage.seconds_left(now)
        when = ago if left is None else f"{ago}; {format_time_left(left)} in this stage"
        text = f"still computing: {stage.what} {int(100 * stage.fraction)}% ({when})"
    if activity.pending:
        text += "; a newer request waits to start after it"
    return text


def tagged(widget, *css_classes: str):
    """``widget`` with CSS classes the browser suite (and users' CSS) can find it by."""
    for c in css_classes:
        widget.add_class(c)
    return widget


def described(widget, help_text: str):
    """``widget`` with ``help_text`` as its tooltip, shown on hover over the control and over its label.

    ipywidgets draws a Dropdown's or Checkbox's ``tooltip`` only when it has no description, so the
    description becomes a span carrying the same text as its title.
    """
    widget.tooltip = help_text
    if getattr(widget, "description", ""):
        widget.description_allow_html = True
        widget.description = f"<span title='{html.escape(help_text, quote=True)}'>{html.escape(widget.description)}</span>"
    return widget


def finite_number(value, name: str, *, low: float | None = None, high: float | None = None,
                  strict_low: bool = False) -> float:
    """``value`` as a float if it is a finite real number within the bounds; else a ``TraitError`` that
    says what was expected and what came.

    One rule for the whole package: this is the core's :func:`rashomon_widgets.core.validation.check_real`
    (any real number but a bool, a 0-dim real tensor too; NaN and infinities never pass), its
    ``TypeError`` or ``ValueError`` turned into the ``TraitError`` a ``@validate`` raises, so a value the
    core takes a widget takes, with the same message.

    Args:
        value: the proposed value.
        name: what it is called in the message.
        low, high: bounds (None: unbounded, but finite).
        strict_low: ``value > low`` instead of ``value >= low``.

    Returns:
        ``float(value)``.

    Raises:
        TraitError: not a real number, NaN, an infinity, or out of bounds; the message reads
            ``"t: expected a finite number in [0, 1], got inf"``.

    Example:
        >>> finite_number(0.5, "span", low=0, strict_low=True)
        0.5
    """
    if low is not None and high is not None:
        what = f"a finite number in {'(' if strict_low else '['}{low:g}, {high:g}]"
    elif low is not None:
        what = f"a finite number {'>' if strict_low else '>='} {low:g}"
    elif high is not None:
        what = f"a finite number <= {high:g}"
    else:
        what = "a finite number"
    try:
        return check_real(value, name, low, high, low_open=strict_low, what=what)
    except (TypeError, ValueError) as exc:
        raise TraitError(str(exc)) from None


def slider_grid(value: float, low: float, high: float, step: float) -> float:
    """The value an ipywidgets slider in the browser shows for ``value``: snapped to its step grid with the
    same floating-point operations as its JavaScript (noUiSlider 15).

    A value the browser would snap differently is sent back to the kernel, possibly after later changes
    (a check cell that sets 0.7 on a 0.04 grid and then resets found the slider at 0.72 afterwards).
    Values that already equal this are never echoed.

    Example:
        >>> slider_grid(0.7, -2.0, 2.0, 0.04)
        0.7200000000000002
    """
    if value >= high:
        return float(high)
    span = high - low
    offset = value + abs(low) if low < 0 else value - low
    pct = min(max(100 * offset / span / (100 / 100), 0.0), 100.0)
    if pct != 100:
        unit = 100 * step / span / (100 / 100)
        pct = math.floor(pct / unit + 0.5) * unit
    if pct >= 100:
        return float(high)
    return pct * (100 / 100) * span / 100 + low


def _refuse(control, message: str) -> None:
    """Raise ``message`` as a ``TraitError`` about ``control``, after showing it in the control's
    ``on_refused`` (the explorer's error area), so a refusal in the browser is seen, not only raised."""
    refused = TraitError(message)
    on_refused = getattr(control, "on_refused", None)
    if on_refused is not None:
        on_refused(refused)
    raise refused


def _control_name(control) -> str:
    return getattr(control, "rw_name", "") or getattr(control, "description", "") or "value"


def _checked(control, value, low: float | None = None, high: float | None = None) -> float:
    """``value`` for ``control`` if it is a finite real number (:func:`finite_number`'s rule; the bounds
    only name the control's range in the message); else the refusal goes to :func:`_refuse`."""
    what = "a finite number" if low is None else f"a finite number in [{low:g}, {high:g}]"
    try:
        return check_real(value, _control_name(control), what=what)
    except (TypeError, ValueError) as exc:
        message = str(exc)
    _refuse(control, message)


class GridSlider(widgets.FloatSlider):
    """A FloatSlider that refuses NaN and infinities (JSON cannot carry them to the browser, and an
    infinity set from Python is no position on the slider: "expected a finite number in [min, max]")
    and keeps only values on its step grid, snapped as the browser snaps them (:func:`slider_grid`): a
    value set from Python is never sent back changed, however late (a check cell's 0.7 on a 0.04 grid
    came back as 0.72 after a reset). A finite value outside [min, max] is clamped into it, as the
    browser's slider does; the explorers' traits refuse such values from Python with a message."""

    @validate("value")
    def _validate_value(self, proposal):
        value = _checked(self, proposal["value"], self.min, self.max)
        value = super()._validate_value({**proposal, "value": value})  # clamped into [min, max], as the browser does
        return slider_grid(float(value), self.min, self.max, self.step)


class FiniteText(widgets.FloatText):
    """A FloatText that refuses NaN and infinities (JSON cannot carry them to the browser)."""

    @validate("value")
    def _validate_value(self, proposal):
        return _checked(self, proposal["value"])


class ChoiceDropdown(widgets.Dropdown):
    """A Dropdown whose refusals say what was expected: ``"x axis: expected an index in [0, 2] (one of
    'null 1', 'null 2', 'top 1'), got 99"`` instead of ipywidgets' "Invalid selection: index out of
    bounds"; the message also goes to the control's ``on_refused`` (the explorer's error area)."""

    def _refused(self, what: str, value):
        choices = ", ".join(map(repr, self._options_labels))
        _refuse(self, f"{_control_name(self)}: expected {what} (one of {choices}), got {value!r}")

    @validate("index")
    def _validate_index(self, proposal):
        index = proposal["value"]
        if index is None or 0 <= index < len(self._options_labels):
            return index
        self._refused(f"an index in [0, {len(self._options_labels) - 1}]", index)

    @validate("value")
    def _validate_value(self, proposal):
        try:
            return super()._validate_value(proposal)
        except TraitError:
            self._refused("one of its options", proposal["value"])

    @validate("label")
    def _validate_label(self, proposal):
        try:
            return super()._validate_label(proposal)
        except TraitError:
            self._refused("one of its labels", proposal["value"])


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
        self.status_html = tagged(widgets.HTML("&#9203; computing&hellip;"), "rw-status")
        self.loss_html = tagged(widgets.HTML(), "rw-loss")
        self.reset_button = tagged(widgets.Button(description="reset", icon="undo", tooltip="back to the starting state",
                                                  layout=widgets.Layout(width="90px")), "rw-reset")
        self.export_button = tagged(widgets.Button(description="export", icon="download",
                                                   tooltip="save every view as PNG and SVG in the working folder",
                                                   layout=widgets.Layout(width="100px")), "rw-export")
        self.reset_button.on_click(lambda _: self.reset())
        self.export_button.on_click(lambda _: self._export_clicked())
        self._worker = LatestWorker(self._show_error)
        self._start_state: dict | None = None
        self._errors_shown = 0   # counts _show_error calls: a job clears only errors older than itself

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
        checked = {}
        for name, value in state.items():  # validate everything first: all or nothing
            trait = self.traits()[name]
            checked[name] = trait._validate(self, value)
        self._quiet = True
        try:
            with self.hold_trait_notifications():
                for name, value in checked.items():
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

        A control's new value goes through the trait's validator; a refused one is shown in the error
        area and the control returns to the trait's value. A trait set from Python moves the control.
        """
        def current():
            value = getattr(self, name)
            return value[index] if index is not None else value

        def from_control(change):
            if getattr(self._syncing, "on", False):
                return
            try:
                if index is None:
                    setattr(self, name, change["new"])
                else:
                    values = list(getattr(self, name))
                    values[index] = change["new"]
                    setattr(self, name, values)
            except TraitError as exc:
                self._show_error(exc)
            # the control shows the value kept (the snapped value, or the last good one)
            self._set_control(control, to_control(current()) if to_control else current())

        def from_trait(change):
            self._set_control(control, to_control(current()) if to_control else current())

        control.on_refused = self._show_error
        control.rw_name = name if index is None else control.description
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
        """A play button animating one of ``choices`` (``_animate(choice, phase)``, phase in [0, 1)) at a
        chosen speed; every frame goes through the same latest-wins path as a slider."""
        self.play = tagged(widgets.Play(value=0, min=0, max=frames - 1, step=1, interval=150, repeat=True,
                                        tooltip="animate the chosen control", layout=widgets.Layout(width="auto")),
                           "rw-play")
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
        return widgets.HBox([self.play, self.play_choice, self.play_speed], layout=widgets.Layout(flex_flow="row wrap"))

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
        state = self.state
        self._worker.submit(lambda current: self._run(state, current))

    def _run(self, state: dict, current: Callable[[], bool]) -> None:
        started = time.perf_counter()
        errors_before = self._errors_shown
        timer = CLOCK.call_later(0.5, lambda: current() and setattr(self.status_html, "value",
                                                                     "&#9203; computing&hellip;"))
        try:
            if self._job(state, current, started) is False or not current():
                return
            if self._errors_shown != errors_before:
                return   # an input was refused while this job ran: its message stays until the next job
            self.error_html.value = ""
            self.status_html.value = f"updated in {format_elapsed(time.perf_counter() - started)}"
        finally:
            timer.cancel()

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
        after half a second, show "⏳ {what} {pct}%", with a rough time left once the stage's rate tells it."""
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
        # state: Cannot read properties of undefined", seen in JupyterLab). Large models display after
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
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._show_error(exc)


def help_line(*items: tuple[str, str]) -> widgets.HTML:
    """A short grey explanation under the controls: ``(name, what it does)`` pairs."""
    text = "<br>".join(f"<b>{html.escape(n)}</b>: {html.escape(t)}" for n, t in items)
    return tagged(widgets.HTML(f"<div style='font-size:12px;line-height:1.35;opacity:0.8'>{text}</div>"), "rw-help")

