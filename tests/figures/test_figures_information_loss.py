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
        share = sum(r["num_params"] - r["near_zero"] < 4 for r in runs) / len(runs)
        assert 0.0 <= share <= 1.0
