"""FIGURES.md section 4 (write-up 4, behavioural gradients): 4e here; 4a-4d in tests/core/test_behaviour.py."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from rashomon_widgets.experiments import sweep


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
