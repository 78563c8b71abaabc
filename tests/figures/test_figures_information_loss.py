"""FIGURES.md section 4 (write-up 4, behavioural gradients): 4e and the ranks away from a global minimum here;
4a-4d in tests/core/test_behaviour.py."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

import rashomon_widgets as rw
from rashomon_widgets.core.comparison import behaviour
from rashomon_widgets.experiments import information_loss as W
from rashomon_widgets.experiments import shipped, sweep, verdicts


def test_4e_share_of_non_full_rank_hessians_per_width(tmp_path):
    result = sweep(range(8), (2, 5), tmp_path / "runs.jsonl", executor=ThreadPoolExecutor(1))
    for width in (2, 5):
        runs = [r for r in result.records if r["width"] == width and r["converged"]]
        assert runs, f"no global minimum at width {width}"
        for r in runs:
            rank_h = r["num_params"] - r["near_zero"]
            assert rank_h == r["rank_G"] <= 4            # claim 3, and k = 4 data points
        # the rank of H read off each record's own spectrum (not its near_zero field): a count that
        # disagreed with the eigenvalues, or a share computed from the wrong field, would fail here
        ranks = []
        for r in runs:
            values = [abs(v) for v in r["spectrum"]]
            ranks.append(sum(v > r["tol"] * max(values) for v in values))
        assert ranks == [r["num_params"] - r["near_zero"] for r in runs]
        share = sum(rank < 4 for rank in ranks) / len(runs)
        assert share == sum(r["rank_G"] < 4 for r in runs) / len(runs)


def test_4b_ranks_differ_at_a_strict_non_global_minimum_with_as_many_parameters_as_points():
    # write-up 4: "at *global* minima, Rank(Hessian) = Rank(G) should be true without exception"; away from one,
    # G r = 0 with r != 0 forces rank G <= k - 1, while a strict minimum has rank H = N: they differ when N >= k
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    star = torch.tensor([1.0, 0.5, 0.3], dtype=torch.float64)
    ls = W.cosine_landscape((0.0, 0.0, 0.0), x=tuple(x.tolist()), theta_star=tuple(star.tolist()))
    theta = W.non_global_minimum(ls, seed=0)
    assert theta is not None
    H, G = ls.hessian(theta), behaviour.behavioural_gradients(ls, theta)
    assert ls.loss(theta) > 1e-3 and float(ls.grad(theta).norm()) < 1e-10
    assert float(torch.linalg.eigvalsh(H).min()) > 0                       # a strict local minimum
    r = (ls.outputs(theta) - ls.outputs(star)).reshape(-1)
    assert float(r.abs().max()) > 0.1
    # the Hessian is 2 G G^T plus the residual term, each computed here by hand for sum_j cos(theta_j x)
    g_hand = -x[None, :] * torch.sin(theta[:, None] * x[None, :])           # (N, k): d f_i / d theta_j
    torch.testing.assert_close(G, g_hand, rtol=1e-12, atol=1e-12)
    second = torch.diag_embed(-(x[:, None] ** 2) * torch.cos(x[:, None] * theta[None, :]))   # (k, N, N)
    torch.testing.assert_close(H, 2 * G @ G.T + 2 * (r[:, None, None] * second).sum(0), rtol=1e-10, atol=1e-10)
    assert float((G @ r).norm()) < 1e-10                                     # the gradient 2 G r vanishes
    assert behaviour.hessian_rank(ls, theta) == 3 > behaviour.behaviour_rank(ls, theta)


def test_4b_ranks_can_agree_at_a_non_global_minimum_with_fewer_parameters_than_points():
    ls = W.cosine_landscape((0.0,), theta_star=(1.0,))                    # cos(theta x) on x = 1, 2, 3
    theta = W.non_global_minimum(ls, seed=0)
    assert theta is not None and ls.loss(theta) > 1e-3
    H, G = ls.hessian(theta), behaviour.behavioural_gradients(ls, theta)
    assert float((H - 2 * G @ G.T).abs().max()) > 0.1 * float(H.abs().max())   # H = 2 G G^T fails ...
    assert behaviour.hessian_rank(ls, theta) == behaviour.behaviour_rank(ls, theta) == 1   # ... the ranks agree


def test_4e_sigmoid_xor_trend_depends_on_the_tolerance():
    # the shipped sweep: the share of non-full-rank minima, recounted from each record's spectrum at two tolerances
    records = shipped.load((2, 8), task="xor", activation="sigmoid", init_std=1.0).records
    outcomes = {}
    for tol in (1e-6, 1e-2):
        counts = {}
        for width in (2, 8):
            minima = [r for r in records if r["width"] == width and r["converged"]]
            ranks = [len(r["spectrum"]) - rw.core.count_near_zero(r["spectrum"], tol) for r in minima]
            counts[width] = (sum(rank < 4 for rank in ranks), len(minima))
        outcomes[f"tolerance {tol:g}"] = verdicts.trend_verdict(verdicts.trend(counts), "falls")
    assert verdicts.over_choices(outcomes, "the tolerance") == (
        "depends on the tolerance: agrees for tolerance 1e-06; contradicts for tolerance 0.01"), outcomes
