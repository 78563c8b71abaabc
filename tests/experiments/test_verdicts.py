"""Verdicts from data: Wilson intervals and trends that can come out either way."""
import pytest
from scipy.stats import binomtest

from rashomon_widgets.experiments.verdicts import trend, wilson


def test_wilson_matches_scipy_and_handles_the_edges():
    share = wilson(7, 97)
    ci = binomtest(7, 97).proportion_ci(method="wilson")
    assert (share.low, share.high) == pytest.approx((ci.low, ci.high))
    assert wilson(0, 150).low == 0.0 and wilson(150, 150).high == pytest.approx(1.0)
    assert (wilson(0, 0).low, wilson(0, 0).high) == (0.0, 1.0)
    assert "7/97 = 7.2%" in str(share)
    with pytest.raises(ValueError, match="k"):
        wilson(5, 4)


@pytest.mark.parametrize("counts, direction", [
    ({2: (40, 2000), 4: (10, 2000), 6: (1, 2000)}, "falls"),
    ({2: (1, 2000), 6: (40, 2000)}, "rises"),
    ({2: (2, 97), 6: (0, 150)}, "not decided"),       # the 150-seed sweep's numbers: two runs decide nothing
    ({2: (20, 2000), 6: (20, 2000)}, "not decided"),
])
def test_trend_decides_only_when_the_intervals_do_not_overlap(counts, direction):
    result = trend(counts)
    assert result.direction == direction
    assert ("not decided" in result.verdict) == (direction == "not decided")


def test_trend_needs_two_widths_with_runs():
    with pytest.raises(ValueError, match="two widths"):
        trend({2: (1, 10), 6: (0, 0)})


def test_fragile_records_are_counted_by_field_and_left_out_by_what_a_verdict_reads():
    from rashomon_widgets.experiments.verdicts import count_fragile, side_by_side, without_fragile

    runs = [{"fragile": []}, {"fragile": ["spectrum"]}, {"fragile": ["loss", "spectrum"]},
            {"fragile": ["converged", "epochs", "loss", "spectrum"]}, {"near_zero": 5}]   # the last: run here
    counted = count_fragile(runs)
    assert (counted.total, counted.fragile, counted.unprobed) == (5, 3, 1)
    assert counted.fields == {"spectrum": 3, "loss": 2, "converged": 1, "epochs": 1}
    assert list(counted.fields) == ["spectrum", "loss", "converged", "epochs"]   # most often changed first
    assert str(counted) == "3/5 fragile (60.0%): spectrum 3, loss 2, converged 1, epochs 1; 1 not probed"
    assert str(count_fragile([{"fragile": []}])) == "0/1 fragile (0.0%)"
    assert count_fragile([]).total == 0
    assert without_fragile(runs) == [runs[0], runs[4]]
    assert without_fragile(runs, reads=("converged", "near_zero")) == [runs[0], runs[1], runs[2], runs[4]]
    assert without_fragile(iter(runs), reads=()) == runs
    full, robust = trend({2: (40, 2000), 6: (1, 2000)}), trend({2: (20, 1000), 6: (1, 2000)})
    assert side_by_side(full, robust) == "all: falls (w2 2.0%, w6 0.1%) | without fragile: falls (w2 2.0%, w6 0.1%)"


def test_share_verdict_reads_the_whole_interval():
    from rashomon_widgets.experiments.verdicts import share_verdict

    assert share_verdict(wilson(76, 100), 0.5) == "agrees"          # [66.8%, 83.4%]: wholly above one half
    assert share_verdict(wilson(8, 100), 0.5) == "contradicts"      # wholly below
    assert share_verdict(wilson(52, 100), 0.5) == "not decided"     # straddles one half
    assert share_verdict(wilson(0, 0), 0.5) == "not decided"        # no runs decide nothing
    with pytest.raises(ValueError, match="at_least"):
        share_verdict(wilson(1, 2), 1.5)


@pytest.mark.parametrize("counts, claimed, expected", [
    ({2: (40, 2000), 6: (1, 2000)}, "falls", "agrees"),
    ({2: (40, 2000), 6: (1, 2000)}, "rises", "contradicts"),
    ({2: (264, 1329), 8: (794, 2000)}, "falls", "contradicts"),
    ({2: (2, 97), 6: (0, 150)}, "falls", "not decided"),
])
def test_trend_verdict_scores_a_trend_against_the_claimed_direction(counts, claimed, expected):
    from rashomon_widgets.experiments.verdicts import trend_verdict

    assert trend_verdict(trend(counts), claimed) == expected


def test_trend_verdict_needs_a_direction():
    from rashomon_widgets.experiments.verdicts import trend_verdict

    with pytest.raises(ValueError, match="claimed"):
        trend_verdict(trend({2: (1, 10), 6: (2, 10)}), "flat")


def test_over_choices_names_the_values_behind_each_outcome():
    from rashomon_widgets.experiments.verdicts import over_choices

    assert over_choices({"a": "agrees", "b": "agrees"}, "x") == "agrees"
    assert over_choices({"a": "contradicts"}, "x") == "contradicts"
    assert over_choices({"a": "not decided", "b": "not decided"}, "x") == "not decided"
    mixed = over_choices({"r 0.5": "contradicts", "r 0.2": "agrees", "r 0.1": "not decided", "r 0.05": "agrees"},
                         "the radius")
    assert mixed == "depends on the radius: agrees for r 0.2, r 0.05; contradicts for r 0.5; not decided for r 0.1"
    # agreement at some values and no decision at the others is not "agrees"
    assert over_choices({"a": "agrees", "b": "not decided"}, "x") == "depends on x: agrees for a; not decided for b"
    with pytest.raises(ValueError, match="outcomes"):
        over_choices({}, "x")
    with pytest.raises(ValueError, match="outcomes"):
        over_choices({"a": "yes"}, "x")
