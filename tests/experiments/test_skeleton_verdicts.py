"""Write-up 2's "generally above 0.6, with one exception whose loss had degraded" (``floor_exception``) decides
from the numbers, with a stated tolerance for stray pairs, and the interval over seed pairs
(``hierarchical_bootstrap``) widens with the variation between seed pairs."""
import numpy as np
import pytest

from rashomon_widgets.experiments.skeleton_verdicts import floor_exception, hierarchical_bootstrap


def _notebook_like(stray: int, n_groups: int = 18, per_group: int = 4, degraded: float = 118.0):
    """Notebook 02's shape: 18 fine-tuned models x 4 copies (72 variants, 2,556 pairs); 76 pairs between group 5
    (loss ratio ``degraded``) and the others are below the floor, plus ``stray`` low pairs between other groups."""
    n = n_groups * per_group
    groups = [g for g in range(n_groups) for _ in range(per_group)]
    names = [f"g{g}c{c}" for g in range(n_groups) for c in range(per_group)]
    S = np.full((n, n), 0.8)
    np.fill_diagonal(S, 1.0)
    bad = [k for k in range(n) if groups[k] == 5]
    others = [k for k in range(n) if groups[k] != 5]
    pairs = [(i, j) for i in bad for j in others][:76]
    for i, j in pairs:
        S[i, j] = S[j, i] = 0.55
    strays = [(0, 9), (1, 10), (2, 11), (3, 12), (13, 30), (14, 31), (15, 32), (16, 33)][:stray]
    for i, j in strays:
        S[i, j] = S[j, i] = 0.58
    ratios = {g: 1.5 for g in range(n_groups)}
    ratios[5] = degraded
    return S, names, groups, ratios


def test_two_stray_pairs_agree_within_one_percent_and_name_them():
    S, names, groups, ratios = _notebook_like(stray=2)
    v = floor_exception(S, names, groups, ratios, labels={5: "M2 L1 0.001x20"}, stray_tolerance=0.01)
    assert v.num_pairs == 72 * 71 // 2 == 2556 and len(v.low_pairs) == 78
    assert v.outcome == "agrees" and v.exception == 5 and v.exception_pairs == 76 and v.worst
    line = v.line()
    assert line.startswith("agrees: ") and "76 of 78 low pairs involve M2 L1 0.001x20" in line
    assert "degraded (118x its original's, the worst of all)" in line
    assert "2 stray pairs (0.08% of all pairs" in line and "g0c0 vs g2c1" in line


def test_the_tolerance_decides_agrees_depends_contradicts():
    S, names, groups, ratios = _notebook_like(stray=2)
    # 2 of 2,556 = 0.078%: agrees at 1% (below 1% / 2), depends at 0.1% (within a factor 2), contradicts at 0.02%
    assert floor_exception(S, names, groups, ratios, stray_tolerance=0.001).outcome == "depends"
    depends = floor_exception(S, names, groups, ratios, stray_tolerance=0.001).line()
    assert depends.startswith("depends on the tolerance for stray pairs: agrees for a tolerance of at least 0.08%")
    strict = floor_exception(S, names, groups, ratios, stray_tolerance=0.0002)
    assert strict.outcome == "contradicts" and "more than one exception" in strict.line()
    # no stray pair at all agrees at any tolerance, zero included
    S0, *rest = _notebook_like(stray=0)
    assert floor_exception(S0, *rest, stray_tolerance=0.0).outcome == "agrees"


def test_an_exception_whose_loss_did_not_degrade_contradicts():
    S, names, groups, ratios = _notebook_like(stray=2, degraded=1.2)
    v = floor_exception(S, names, groups, ratios, loss_factor=2.0)
    assert v.outcome == "contradicts" and "did not degrade" in v.line()


def test_too_few_pairs_above_the_floor_contradicts():
    S, names, groups, ratios = _notebook_like(stray=2)
    v = floor_exception(S, names, groups, ratios, generally=0.99)     # 97.0% are above
    assert v.outcome == "contradicts" and "only 96.9% of the pairs" in v.line()


def test_no_low_pair_agrees_without_an_exception_and_bad_arguments_raise():
    S = np.full((3, 3), 0.9)
    v = floor_exception(S, list("abc"), [0, 1, 2], {0: 1.0, 1: 1.0, 2: 1.0})
    assert v.outcome == "agrees" and v.exception is None and "no exception here" in v.line()
    with pytest.raises(ValueError):
        floor_exception(np.ones((3, 2)), list("abc"), [0, 1, 2], {0: 1.0, 1: 1.0, 2: 1.0})
    with pytest.raises(ValueError):
        floor_exception(S, list("abc"), [0, 1, 2], {0: 1.0, 1: 1.0})
    with pytest.raises(ValueError):
        floor_exception(S, list("abc"), [0, 1, 2], {0: 1.0, 1: 1.0, 2: 1.0}, stray_tolerance=2.0)


def test_hierarchical_bootstrap_carries_the_spread_between_units():
    rng = np.random.default_rng(0)
    same = [rng.normal(0.1, 0.05, 200) for _ in range(3)]
    spread = [rng.normal(m, 0.05, 200) for m in (-0.2, 0.1, 0.4)]
    lo1, hi1, _ = hierarchical_bootstrap(lambda u, idx: same[u][idx].mean(), [200] * 3, draws=400, seed=1)
    lo2, hi2, _ = hierarchical_bootstrap(lambda u, idx: spread[u][idx].mean(), [200] * 3, draws=400, seed=1)
    assert lo1 < 0.1 < hi1 and hi1 - lo1 < 0.03
    assert hi2 - lo2 > 0.3                                  # the units' means differ: a far wider interval
    with pytest.raises(ValueError):
        hierarchical_bootstrap(lambda u, idx: 0.0, [])
    with pytest.raises(ValueError):
        hierarchical_bootstrap(lambda u, idx: 0.0, [3], level=1.0)
