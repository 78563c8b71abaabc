"""The explorers' shared validators and controls (widgets/_controls.py, _base.py) through their traits."""
import math
import re
import threading
import time

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from traitlets import Float, TraitError, validate

from rashomon_widgets.core.validation import check_real
from rashomon_widgets.widgets._base import Explorer
from rashomon_widgets.widgets._controls import ChoiceDropdown, GridSlider, NumberBox, described, finite_number, switch
from rashomon_widgets.widgets._text import number_text, updated_text


@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.25), np.float64(0.75), np.int64(1), torch.tensor(0.5)])
def test_finite_number_takes_what_the_cores_check_real_takes(value):
    assert finite_number(value, "t", low=0, high=1) == check_real(value, "t", 0, 1) == float(value)


@pytest.mark.parametrize("value, kwargs, message", [
    (math.inf, {"low": 0, "high": 1}, "t: expected a finite number in [0, 1], got inf"),
    (math.nan, {"low": 0, "high": 1}, "t: expected a finite number in [0, 1], got nan"),
    (1.5, {"low": 0, "high": 1}, "t: expected a finite number in [0, 1], got 1.5"),
    (0.0, {"low": 0, "strict_low": True}, "t: expected a finite number > 0, got 0.0"),
    (-math.inf, {"low": 0}, "t: expected a finite number >= 0, got -inf"),
    (math.inf, {}, "t: expected a finite number, got inf"),
    (True, {}, "t: expected a finite number, got bool True"),
    ("1", {}, "t: expected a finite number, got str '1'"),
    (torch.tensor([0.5, 0.5]), {}, "t: expected a finite number, got tensor of shape (2,)"),
])
def test_finite_number_refuses_with_the_cores_message_as_a_trait_error(value, kwargs, message):
    with pytest.raises(TraitError, match=re.escape(message)):
        finite_number(value, "t", **kwargs)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_grid_slider_refuses_infinity_and_nan_instead_of_clamping_them(bad):
    refused = []
    slider = GridSlider(0.5, min=0.0, max=1.0, step=0.01, description="t")
    slider.on_refused = refused.append  # what an explorer's _bind installs: its error area
    with pytest.raises(TraitError, match=re.escape(f"t: expected a finite number in [0, 1], got {bad}")):
        slider.value = bad
    assert slider.get_state()["value"] == 0.5 and [str(e) for e in refused] == [
        f"t: expected a finite number in [0, 1], got {bad}"]
    slider.value = 1.5  # a finite value beyond the end is clamped, as the browser's slider does
    assert slider.value == 1.0


@pytest.mark.parametrize("typed, message", [
    ("NaN", "span: expected a finite number, got 'NaN'"),
    ("1e999", "span: expected a finite number, got '1e999'"),
    ("-inf", "span: expected a finite number, got '-inf'"),
    ("abc", "span: expected a number such as 0.5 or 1e-3, got 'abc'"),
    ("", "span: expected a number such as 0.5 or 1e-3, got ''"),
])
def test_a_number_box_takes_any_text_and_reads_only_finite_numbers(typed, message):
    # a FloatText's front end dropped "NaN" and "1e999" without telling the kernel: the earlier error stayed
    box = NumberBox(1.0, description="span")
    assert box.value == "1" and box.get_state()["value"] == "1" and box.continuous_update is False
    box.value = typed                      # what the browser sends: the text as typed
    assert box.get_state()["value"] == typed
    with pytest.raises(TraitError, match=re.escape(message)):
        box.number()
    assert box.number(" 2.5e-3 ") == 0.0025 and box.number("\u22121") == -1.0


@pytest.mark.parametrize("value, text", [(0.5, "0.5"), (1.0, "1"), (np.float64(2.5e-3), "0.0025"), (1e308, "1e+308"),
                                         (torch.tensor(0.25, dtype=torch.float64), "0.25"), (3, "3")])
def test_a_number_box_shows_a_number_set_from_python_as_text(value, text):
    box = NumberBox(0.0)
    box.value = value
    assert box.value == text == number_text(float(value)) and box.number() == float(value)


def test_no_tooltip_is_raw_markup():
    """ipywidgets 8 copies a Checkbox's description into the box's title: a description wrapped in a titled span
    showed as "<span title=...>log colour</span>" on hover. described() wraps only where the front end renders
    the description as markup and never copies it into a title; switch() is a ToggleButton whose tooltip is
    its title."""
    checkbox = described(widgets.Checkbox(True, description="log colour"), "colour by log10 loss")
    assert checkbox.description == "log colour" and checkbox.tooltip == "colour by log10 loss"
    toggle = described(widgets.ToggleButton(True, description="log colour"), "colour by log10 loss")
    assert toggle.description == "log colour"
    dropdown = described(widgets.Dropdown(options=["a"], description="x axis"), "the 'x' direction")
    assert dropdown.description == "<span title='the &#x27;x&#x27; direction'>x axis</span>"
    button = switch(True, "log colour", "colour by log10 loss")
    assert isinstance(button, widgets.ToggleButton) and button.tooltip == "colour by log10 loss"
    assert "<" not in button.description and button.icon == "check"
    button.value = False
    assert button.icon == ""   # the check mark says whether it is on


# ------------------------------------------------------------------------------------ one explorer, all controls
class _Tiny(Explorer):
    """A span box and a threshold slider bound to two traits; the job notes its view drawn, then, ``pause``
    seconds later, a slower panel; ``gate`` (when set) holds a job until it is released."""

    span = Float(1.0, help="a half-width").tag(sync=True, state=True)
    threshold = Float(0.5, help="a threshold").tag(sync=True, state=True)

    def __init__(self, pause: float = 0.0):
        super().__init__()
        self.pause, self.gate, self.drawn = pause, None, []
        self.box = described(NumberBox(self.span, description="span"), "a half-width")
        self.exact = described(NumberBox(self.threshold, description="exact threshold"), "a threshold")
        self.slider = GridSlider(0.5, min=0.0, max=1.0, step=0.01, description="threshold")
        self._bind(self.box, "span")
        self._bind(self.exact, "threshold")
        self._bind(self.slider, "threshold")
        self._assemble("<b>tiny</b>", [self.box, self.exact, self.slider, self._player(["threshold"], frames=11)], [])

    @validate("span")
    def _valid_span(self, proposal):
        return finite_number(proposal["value"], "span", low=0, high=10, strict_low=True)

    @validate("threshold")
    def _valid_threshold(self, proposal):
        return finite_number(proposal["value"], "threshold", low=0, high=1)

    def _animate(self, choice, phase):
        self.threshold = round(phase * self._frames / (self._frames - 1), 10)

    def _job(self, state, current, started):
        if self.gate is not None:
            self.gate.wait(30)
        self.drawn.append(state)
        self._frame_drawn()
        time.sleep(self.pause)
        self._frame_drawn("spectrum")
        return True

    def _figure_panels(self):
        return []


@pytest.fixture
def tiny():
    explorer = _Tiny()
    assert explorer.wait(300)
    yield explorer
    explorer.close()


@pytest.mark.parametrize("typed, message", [
    ("1e308", "span: expected a finite number in (0, 10], got 1e+308; span stays 1"),
    ("NaN", "span: expected a finite number, got 'NaN'; span stays 1"),
    ("abc", "span: expected a number such as 0.5 or 1e-3, got 'abc'; span stays 1"),
    ("-1", "span: expected a finite number in (0, 10], got -1.0; span stays 1"),
])
def test_a_refused_text_returns_the_box_to_the_kept_value_and_says_why(tiny, typed, message):
    drawn = len(tiny.drawn)
    tiny.box.value = typed                         # as the browser sends it
    assert tiny.wait(300)
    assert tiny.box.value == tiny.box.get_state()["value"] == "1" and tiny.span == 1.0   # the box shows the kept value
    assert message.replace("'", "&#x27;") in tiny.error_html.value and len(tiny.drawn) == drawn
    tiny.box.value = "0.25"                        # a good value clears the message
    assert tiny.error_html.value == "" and tiny.wait(300)
    assert tiny.span == 0.25 and tiny.box.value == "0.25" and tiny.error_html.value == ""
    assert tiny.status_html.value.startswith("updated in")


def test_a_refusal_replaces_the_stale_message(tiny):
    tiny.box.value = "1e308"
    assert "got 1e+308" in tiny.error_html.value
    tiny.box.value = "NaN"                         # was: the box went back to 1 and "1e+308" stayed on screen
    assert "got &#x27;NaN&#x27;" in tiny.error_html.value and "1e+308" not in tiny.error_html.value
    assert tiny.box.value == "1"


def test_a_refusal_names_the_control_the_user_touched(tiny):
    tiny.exact.value = "1.5"                       # the box's label is not the trait's name
    assert ("exact threshold (threshold): expected a finite number in [0, 1], got 1.5; exact threshold (threshold) "
            "stays 0.5") in tiny.error_html.value
    assert tiny.exact.value == "0.5" and tiny.slider.value == 0.5
    with pytest.raises(TraitError, match=re.escape("threshold: expected a finite number in [0, 1], got 1.5")):
        tiny.threshold = 1.5                       # from Python: the trait's own name
    tiny.exact.value = "0.75"                      # both controls follow a good value
    assert tiny.wait(300) and tiny.threshold == 0.75 and tiny.slider.value == 0.75 and tiny.error_html.value == ""


def test_the_status_times_what_the_user_saw():
    """From the request (not the job's start) to the view drawn (not the end of a slower panel)."""
    assert (updated_text(10.0, [("", 10.04), ("spectrum", 10.33)], 10.34)
            == "updated in 40 ms &middot; spectrum in 330 ms")
    assert updated_text(0.0, [("", 0.2), ("", 0.9)], 1.0) == "updated in 900 ms"   # the refined grid, after a coarse
    assert updated_text(0.0, [], 596.286) == "updated in 9 min 56 s"               # was "updated in 596286 ms"
    explorer = _Tiny(pause=0.4)
    try:
        assert explorer.wait(300)
        status = explorer.status_html.value
        match = re.fullmatch(r"updated in (\d+) ms &middot; spectrum in (\d+) ms", status)
        main, panel = (float(x) for x in match.groups())
        assert panel >= 400 and main < panel - 300, status     # was "updated in ~400 ms": the panel's time
        # a request that waits behind a running job: the wait is part of what the user saw
        explorer.gate = threading.Event()
        explorer.pause = 0.0
        explorer.span = 2.0                        # this job waits at the gate ...
        time.sleep(0.05)
        explorer.span = 3.0                        # ... and this request waits for it
        time.sleep(0.5)
        explorer.gate.set()
        assert explorer.wait(300) and explorer.drawn[-1]["span"] == 3.0
        main = float(re.match(r"updated in (\d+) ms", explorer.status_html.value).group(1))
        assert main >= 450, explorer.status_html.value   # was measured from the job's start: a few ms
    finally:
        explorer.gate = None
        explorer.close()


def test_pause_keeps_the_position_and_stop_rewinds(tiny):
    buttons = (tiny.play_button, tiny.pause_button, tiny.stop_button, tiny.loop_toggle, tiny.reset_button,
               tiny.export_button)
    for button in buttons:                         # every button says what it does, in plain text
        assert button.tooltip and "<" not in button.tooltip, button.description
    assert "keeps its position" in tiny.pause_button.tooltip and "rewind" in tiny.stop_button.tooltip
    assert tiny.play.layout.display == "none"     # the Play only times the frames: its buttons had no tooltips
    tiny.play_button.click()
    assert tiny.play.playing is True
    tiny.play.value = 5                            # the browser's timer moved the animation on
    assert tiny.wait(300) and tiny.threshold == 0.5
    tiny.pause_button.click()
    assert tiny.play.playing is False and tiny.play.value == 5 and tiny.threshold == 0.5
    tiny.play_button.click()
    assert tiny.play.playing is True and tiny.play.value == 5       # play goes on from where it paused
    tiny.stop_button.click()
    assert tiny.play.playing is False and tiny.play.value == 0      # stop rewinds
    assert tiny.wait(300) and tiny.threshold == 0.0
    tiny.loop_toggle.value = False
    assert tiny.play.repeat is False


def test_a_choice_dropdown_names_its_choices_instead_of_invalid_selection():
    refused = []
    box = ChoiceDropdown(options=["null 1", "null 2", "top 1"], value="null 1", description="x axis")
    box.on_refused = refused.append
    with pytest.raises(TraitError, match=re.escape(
            "x axis: expected an index in [0, 2] (one of 'null 1', 'null 2', 'top 1'), got 99")):
        box.index = 99
    with pytest.raises(TraitError, match=re.escape(
            "x axis: expected one of its options (one of 'null 1', 'null 2', 'top 1'), got 'null 9'")):
        box.value = "null 9"
    with pytest.raises(TraitError, match=re.escape(
            "x axis: expected one of its labels (one of 'null 1', 'null 2', 'top 1'), got 'nul'")):
        box.label = "nul"
    assert len(refused) == 3 and box.get_state()["index"] == 0 and box.value == "null 1"
    box.index = 2
    assert box.value == "top 1"
