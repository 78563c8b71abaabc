"""The figure checks of ``figure_checks`` catch what they claim to catch, and pass what they should."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from .figure_checks import figure_problems


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _labelled():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0], label="a line")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return fig, ax


def test_a_labelled_figure_passes():
    fig, ax = _labelled()
    ax.legend()
    assert figure_problems(fig) == []


def test_missing_y_label_is_reported_and_a_reasoned_waiver_lifts_it():
    fig, ax = _labelled()
    ax.set_ylabel("")
    assert any("no y label" in p for p in figure_problems(fig))
    ax.set_gid("no-ylabel: the tick labels name the models")
    assert figure_problems(fig) == []
    ax.set_gid("no-ylabel:")
    assert any("without giving a reason" in p for p in figure_problems(fig))


def test_figure_wide_waiver_and_empty_axes():
    fig, axes = plt.subplots(1, 2)
    axes[0].imshow(np.eye(3))
    assert len(figure_problems(fig)) == 2          # the image axes: no x and no y label; the empty one: nothing
    fig.set_gid("no-axis-labels: sample images")
    assert figure_problems(fig) == []


def test_shared_axes_labelled_once_and_suplabels_count():
    fig, axes = plt.subplots(2, 2, sharex=True, sharey=True)
    for ax in axes.ravel():
        ax.plot([0, 1], [0, 1])
    for ax in axes[-1]:
        ax.set_xlabel("t")
    for ax in axes[:, 0]:
        ax.set_ylabel("loss")
    assert figure_problems(fig) == []
    fig2, axes2 = plt.subplots(1, 2)
    for ax in axes2:
        ax.plot([0, 1], [0, 1])
    assert len(figure_problems(fig2)) == 4
    fig2.supxlabel("t")
    fig2.supylabel("loss")
    assert figure_problems(fig2) == []


def test_colour_bar_needs_a_label():
    fig, ax = _labelled()
    im = ax.imshow(np.eye(3))
    cbar = fig.colorbar(im)
    assert any("colour bar" in p for p in figure_problems(fig))
    cbar.set_label("log10 loss")
    assert figure_problems(fig) == []


@pytest.mark.parametrize("style", ["w--", "wo", "wD"])
def test_white_on_white_legend_entries_are_reported(style):
    fig, ax = _labelled()
    ax.plot([0, 1], [0.5, 0.5], style, label="white")
    ax.legend()
    problems = figure_problems(fig)
    assert len(problems) == 1 and "'white'" in problems[0] and "invisible" in problems[0]


def test_white_entry_visible_on_a_dark_legend_or_with_a_dark_edge():
    fig, ax = _labelled()
    ax.plot([0, 1], [0.5, 0.5], "wo", markeredgecolor="black", label="edged")
    ax.bar([0.5], [0.2], color="white", edgecolor="black", label="bar")
    ax.legend()
    assert figure_problems(fig) == []
    fig2, ax2 = _labelled()
    ax2.plot([0, 1], [0.5, 0.5], "w--", label="white")
    ax2.legend(facecolor="0.3", framealpha=1)
    assert figure_problems(fig2) == []


def test_white_patch_and_scatter_entries_are_reported():
    fig, ax = _labelled()
    ax.bar([0.5], [0.2], color="white", linewidth=0, label="bar")
    ax.scatter([0.2], [0.2], c="white", edgecolors="none", label="points")
    ax.legend()
    assert len([p for p in figure_problems(fig) if "invisible" in p]) == 2


def test_legend_on_the_x_label_is_reported():
    fig, ax = _labelled()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02))
    assert any("overlaps its x label" in p for p in figure_problems(fig))
    fig2, ax2 = _labelled()
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))
    assert figure_problems(fig2) == []
