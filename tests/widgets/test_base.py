"""The explorers' shared validators and controls (rashomon_widgets/widgets/_base.py) through their traits."""
import math
import re

import numpy as np
import pytest
import torch
from traitlets import TraitError

from rashomon_widgets.core.validation import check_real
from rashomon_widgets.widgets._base import ChoiceDropdown, FiniteText, GridSlider, finite_number


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


def test_a_finite_text_refuses_what_check_real_refuses():
    box = FiniteText(1.0, description="span")
    with pytest.raises(TraitError, match=re.escape("span: expected a finite number, got inf")):
        box.value = math.inf
    box.value = np.float32(0.5)
    assert box.get_state()["value"] == 0.5 and type(box.value) is float


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
