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
import numbers
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import ipywidgets as widgets
from traitlets import CUnicode, TraitError, validate

from ..core.validation import check_path, check_real
from ._legend import MARKER, legend_html  # noqa: F401 -- re-exported for the explorers
from ._worker import CLOCK, Activity, LatestWorker, Superseded


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


def readout_html(text: str) -> str:
    """A readout line's HTML in a block with a line height for wrapped lines (the widget's own, 28 px, spreads
    a wrapped readout over widely spaced lines)."""
    return f"<div style='line-height:1.4'>{text}</div>"


#: the busy sign of a status line (Font Awesome 4, bundled with ipywidgets' controls)
HOURGLASS = '<i class="fa fa-hourglass-half" aria-hidden="true"></i>'


def progress_html(what: str, done: int, total: int, left: float | None = None) -> str:
    """The status line of a running stage: an hourglass, "loss surface 40%", and " · about 1 min left" once
    the time left can be estimated. The hourglass is Font Awesome's (which ipywidgets ships for its button
    icons), not the emoji U+23F3, which a browser without an emoji font draws as an empty box.

    Args:
        what: what is computed.
        done, total: units done and in all.
        left: the estimated seconds left, or None (not known yet).

    Returns:
        HTML.

    Example:
        >>> progress_html("loss surface", 40, 100, 75.0)
        '<i class="fa fa-hourglass-half" aria-hidden="true"></i> loss surface 40% &middot; about 1 min left'
    """
    pct = 100 * done // total if total > 0 else 0
    text = f"{HOURGLASS} {html.escape(what)} {pct}%"
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
    """``widget`` with ``help_text`` as its tooltip, shown on hover over the control or its label, never as markup.

    ipywidgets 8 draws a Dropdown's or Text box's ``tooltip`` only when it has no description, so there the
    description becomes a span carrying the same text as its title (the plain label is kept in ``rw_label``).
    A Checkbox's front end copies its description into the box's title attribute, and a ToggleButton shows
    it as text, so for those (and for every other widget) only ``tooltip`` is set: a span there would be
    shown as raw ``<span ...>`` markup. A ToggleButton's and a slider's tooltip is their title already.
    """
    widget.tooltip = help_text
    label = getattr(widget, "description", "")
    if label and isinstance(widget, (widgets.Dropdown, widgets.Select, widgets.RadioButtons, widgets.Text)):
        widget.rw_label = label
        widget.description_allow_html = True
        widget.description = f"<span title='{html.escape(help_text, quote=True)}'>{html.escape(label)}</span>"
    return widget


def switch(value: bool, description: str, help_text: str, width: str = "110px") -> widgets.ToggleButton:
    """An on/off control with ``help_text`` as a real tooltip: a ToggleButton that shows a check mark while on
    (a Checkbox cannot have both a label and a tooltip in ipywidgets 8: its front end copies the label into
    the box's title)."""
    button = widgets.ToggleButton(bool(value), description=description, tooltip=help_text,
                                  icon="check" if value else "", layout=widgets.Layout(width=width))
    button.observe(lambda change: setattr(button, "icon", "check" if change["new"] else ""), "value")
    return button


def number_text(value: float) -> str:
    """A number as a text box shows it: the shortest text that reads back as the same float, without a
    trailing ".0".

    Example:
        >>> number_text(1.0), number_text(0.0025), number_text(1e-05), number_text(1e308)
        ('1', '0.0025', '1e-05', '1e+308')
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def control_label(control) -> str:
    """What the user sees a control called: its description as plain text (``rw_label`` once
    :func:`described` has put markup around it)."""
    label = getattr(control, "rw_label", None) or getattr(control, "description", "") or ""
    return html.unescape(re.sub(r"<[^>]*>", "", label)).strip()


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
    have overwritten it; values that already equal this are never echoed.

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
    return getattr(control, "rw_name", "") or control_label(control) or "value"


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
    value set from Python is never sent back changed, however late (0.7 on a grid of 0.04 from -2 would
    come back as 0.72). A finite value outside [min, max] is clamped into it, as the
    browser's slider does; the explorers' traits refuse such values from Python with a message."""

    @validate("value")
    def _validate_value(self, proposal):
        value = _checked(self, proposal["value"], self.min, self.max)
        value = super()._validate_value({**proposal, "value": value})  # clamped into [min, max], as the browser does
        return slider_grid(float(value), self.min, self.max, self.step)


class _Text(CUnicode):
    """A text trait that takes a number too, as :func:`number_text` writes it (``box.value = 0.5`` from Python)."""

    def validate(self, obj, value):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return number_text(value)
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):   # a 0-dim tensor or array
            return number_text(value.item()) if isinstance(value.item(), numbers.Real) else str(value)
        return super().validate(obj, value)


class NumberBox(widgets.Text):
    """A text box for one number: its ``value`` is the text as typed, and :meth:`number` reads it.

    A FloatText's front end drops what it cannot parse ("NaN", "1e999", "abc") and quietly puts its last value
    back, so the kernel never hears of it and an earlier error stays on screen. This box sends the text as it
    is (on Enter or when it loses focus); the explorer's binding (:meth:`Explorer._bind`) reads it with
    :meth:`number`, refuses it with a message naming the box and quoting the text, and shows the kept value
    again. From Python a number may be assigned too (``box.value = 0.5`` shows "0.5").
    """

    value = _Text(help="the text in the box").tag(sync=True)

    def __init__(self, value: float | str = "", **kwargs):
        kwargs.setdefault("continuous_update", False)   # send on Enter or blur, not on every keystroke
        super().__init__(value=value, **kwargs)

    def number(self, text: str | None = None) -> float:
        """``text`` (default: the box's text) as a finite float.

        Raises:
            TraitError: not a number ("span: expected a number such as 0.5 or 1e-3, got 'abc'") or not finite
                ("span: expected a finite number, got 'NaN'"); the name is the box's.
        """
        text = self.value if text is None else str(text)
        name = _control_name(self)
        try:
            value = float(text.strip().replace("\u2212", "-"))   # a typographic minus pasted from a text
        except ValueError:
            raise TraitError(f"{name}: expected a number such as 0.5 or 1e-3, got {text!r}") from None
        if not math.isfinite(value):
            raise TraitError(f"{name}: expected a finite number, got {text!r}")
        return value


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
                self._show_error(TraitError(_refusal_text(str(exc), name, shown_as, kept())))
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
        except Exception as exc:  # shown in the widget
            self._show_error(exc)


def _refusal_text(message: str, name: str, shown_as: str, kept) -> str:
    """A trait's refusal as the user of a control reads it: named after the control (``shown_as``) instead
    of the trait (``name``) where they differ, and ending with what the control shows again."""
    if shown_as != name and message.startswith(f"{name}: "):
        message = f"{shown_as}: {message[len(name) + 2:]}"
    if " stays " not in message:   # (the grid checks say it themselves)
        if isinstance(kept, float):
            kept = number_text(kept)
        elif isinstance(kept, str) and not _is_number_text(kept):
            kept = repr(kept)      # a direction's name: 'null 2'
        message = f"{message}; {shown_as} stays {kept}"
    return message


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def updated_text(asked: float, drawn: Sequence[tuple[str, float]], end: float) -> str:
    """The status line once a request is drawn: how long the user waited for what they see, from the request
    (``asked``) to the main views (the last ``("", time)`` in ``drawn``; else ``end``), then to each later
    panel: "updated in 18 ms &middot; spectrum in 352 ms".

    Example:
        >>> updated_text(0.0, [("", 0.018), ("spectrum", 0.352)], 0.36)
        'updated in 18 ms &middot; spectrum in 352 ms'
        >>> updated_text(0.0, [], 12.5)
        'updated in 12.5 s'
    """
    main = [t for what, t in drawn if not what]
    text = f"updated in {format_elapsed((main[-1] if main else end) - asked)}"
    for what, t in drawn:
        if what:
            text += f" &middot; {html.escape(what)} in {format_elapsed(t - asked)}"
    return text


def help_line(*items: tuple[str, str]) -> widgets.HTML:
    """A short grey explanation under the controls: ``(name, what it does)`` pairs."""
    text = "<br>".join(f"<b>{html.escape(n)}</b>: {html.escape(t)}" for n, t in items)
    return tagged(widgets.HTML(f"<div style='font-size:12px;line-height:1.35;opacity:0.8'>{text}</div>"), "rw-help")

