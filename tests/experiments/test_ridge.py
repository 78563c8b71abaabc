"""Write-up 1's checks against null models (``rw.experiments.ridge``): the SLQ moment check passes for the
densities ``along_curve`` computes and fails for the same densities scaled by 0.8 or 1.2; the direction nulls
bracket what they should."""
import numpy as np
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.experiments.ridge import direction_nulls, slq_moment_check
from rashomon_widgets.models import cross_entropy, digits_mlp, train


@pytest.fixture(scope="module")
def curve_and_ls(one_torch_thread):
    split = rw.data.digits()
    data = (split.train[0][:300], split.train[1][:300])
    models = []
    for seed in (0, 1):
        m = digits_mlp((12,), seed=seed)
        train(m, cross_entropy, data, epochs=60, lr=3e-2, seed=seed)
        models.append(m)
    ls = rw.Landscape(models[0], cross_entropy, data)
    curve = rw.BezierCurve(ls.theta, ls.layout.flatten(models[1]), num_bends=1)
    rw.fit_curve(ls, curve, steps=30, lr=1e-2, num_t=4)
    return ls, curve


@pytest.mark.parametrize("exact", [False, True])
def test_moment_check_passes_for_the_table_density_and_fails_scaled(curve_and_ls, exact):
    ls, curve = curve_and_ls
    table = rw.core.along_curve(ls, curve, 3, curvature=True, exact=exact, hvp_samples=1, top_k=1,
                                slq_vectors=4, slq_steps=20, seed=3)
    for i, t in enumerate(table["t"]):
        nodes, weights = table.slq[i]
        check = slq_moment_check(lambda v: ls.hvp(v, curve(float(t))), nodes, weights, ls.num_params, 4, seed=3,
                                 dtype=ls.dtype, device=ls.device)
        assert check.passed, check.line()
        for factor in (0.8, 1.2):
            for scaled in ((factor * nodes, weights), (nodes, factor * weights)):
                bad = slq_moment_check(lambda v: ls.hvp(v, curve(float(t))), *scaled, ls.num_params, 4, seed=3,
                                       dtype=ls.dtype, device=ls.device)
                assert not bad.passed, (factor, bad.line())
                assert bad.relative_errors.max() > 0.15
    # the wrong start vectors (another seed) are caught too: the moments belong to the vectors
    nodes, weights = table.slq[0]
    other = slq_moment_check(lambda v: ls.hvp(v, curve(float(table["t"][0]))), nodes, weights, ls.num_params, 4,
                             seed=4, dtype=ls.dtype, device=ls.device)
    assert not other.passed


def test_moment_check_rejects_bad_arguments():
    with pytest.raises(ValueError):
        slq_moment_check(lambda v: v, np.ones(3), np.ones(2), 3, 1)
    with pytest.raises(ValueError):
        slq_moment_check(lambda v: v, np.ones(3), np.ones(3), 3, 1, moments=4)


def test_direction_nulls_bracket_a_line_and_random_steps():
    torch.manual_seed(0)
    p = 2000
    a, b, bend = torch.zeros(p), torch.randn(p), torch.randn(p)
    def curve(t):
        return (1 - t) ** 2 * a + 2 * t * (1 - t) * bend + t ** 2 * b
    line_steps = torch.outer(torch.tensor([1.0, -0.5, 2.0, 1.0, -1.0, 0.7]), torch.randn(p))
    on_line = direction_nulls(line_steps, curve, draws=20, seed=1)
    assert on_line.walk == pytest.approx(1.0, abs=1e-9)
    assert "no more spread than a walk that stays on the curve" in on_line.line()
    assert on_line.on_curve.max() <= 2 + 1e-9
    # random steps of the same lengths in 2,000 dimensions are nearly orthogonal: the participation ratio of
    # orthogonal steps of lengths l_i is (sum l_i^2)^2 / sum l_i^4
    sq = line_steps.norm(dim=1) ** 2
    orthogonal = float(sq.sum() ** 2 / (sq ** 2).sum())
    assert np.allclose(on_line.random, orthogonal, rtol=0.05)
    generic = direction_nulls(torch.randn(6, p), curve, draws=20, seed=1)
    assert "about as many directions as random steps" in generic.line()
    shared = torch.randn(6, p) + 0.7 * torch.randn(p)          # steps sharing one direction
    middle = direction_nulls(shared, curve, draws=20, seed=1)
    assert "share some directions" in middle.line()
    assert 0 < middle.position < 1


def test_direction_nulls_margin_decides_about_as_many_from_the_numbers():
    """A walk at 96% of the random null (as notebook 01's 7.30 against 7.67) reads "about as many directions"
    within a 10% margin, and "shares some directions" with a 2% margin; the line says it is below the random
    draws either way, and a walk at 65% shares directions at any margin up to 30%."""
    torch.manual_seed(0)
    p = 2000
    a, b, bend = torch.zeros(p), torch.randn(p), torch.randn(p)
    def curve(t):
        return (1 - t) ** 2 * a + 2 * t * (1 - t) * bend + t ** 2 * b
    torch.manual_seed(1)
    close = torch.randn(6, p) + 0.3 * torch.randn(p)
    wide = direction_nulls(close, curve, draws=20, seed=1, margin=0.1)
    share = wide.walk / float(np.median(wide.random))
    assert 0.9 <= share < 0.98 and wide.walk < wide.random.min()
    assert "about as many directions as random steps" in wide.line() and f"{share:.0%} of their value" in wide.line()
    assert "below 100% of the random draws" in wide.line()
    narrow = direction_nulls(close, curve, draws=20, seed=1, margin=0.02)
    assert "share some directions" in narrow.line() and "about as many" not in narrow.line()
    torch.manual_seed(1)
    far = direction_nulls(torch.randn(6, p) + 0.7 * torch.randn(p), curve, draws=20, seed=1, margin=0.3)
    assert "share some directions" in far.line()
    with pytest.raises(ValueError):
        direction_nulls(close, curve, margin=1.0)
