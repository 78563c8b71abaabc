"""Controls bound to validated values: sliders on the browser's grid, number boxes that hear every typed
text, dropdowns of choices, switches, tooltips and help lines, and the one refusal path they share.

A value a control refuses raises a ``TraitError`` after it is shown in the control's ``on_refused`` (the
explorer's error area): the browser user sees the message, and the control goes back to the kept value.
"""
from __future__ import annotations

import html
import math
import numbers
import re

import ipywidgets as widgets
from traitlets import CUnicode, TraitError, validate

from ..core.validation import check_real
from ._text import number_text


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


def refusal_text(message: str, name: str, shown_as: str, kept) -> str:
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


def help_line(*items: tuple[str, str]) -> widgets.HTML:
    """A short grey explanation under the controls: ``(name, what it does)`` pairs."""
    text = "<br>".join(f"<b>{html.escape(n)}</b>: {html.escape(t)}" for n, t in items)
    return tagged(widgets.HTML(f"<div style='font-size:12px;line-height:1.35;opacity:0.8'>{text}</div>"), "rw-help")
