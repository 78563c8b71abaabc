"""Memory of a NullSpaceExplorer over many settled moves (not a test): the kernel must stay flat for hours.

Builds the quickstart's digits MLP (26,122 parameters, matrix-free), moves the sliders ``--moves`` times,
waiting for each move to be drawn (coarse and refined slice, spectrum, re-projection), and prints the
process's resident memory and ``len(explorer.history)`` every ``--every`` moves. ``history`` keeps the last
1,000 states (a few numbers each), so memory should stop growing once caches are warm.

    .venv/bin/python -m benchmarks.explorer_memory [--moves 1000] [--every 100]      # from the repository root
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import psutil
import torch

import rashomon_widgets as rw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--resolution", type=int, default=7, help="refined grid (coarse: 3)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    split = rw.data.digits()
    model = rw.models.digits_mlp(seed=0)
    rw.models.train(model, rw.models.cross_entropy, split.train, epochs=5, lr=1e-2, seed=0)
    ls = rw.Landscape(model, rw.models.cross_entropy, split.train, behaviour=lambda z: z.softmax(-1))
    explorer = rw.NullSpaceExplorer(ls, num_null=3, num_top=1, resolution=args.resolution, coarse=3)
    assert explorer.wait(300)
    proc = psutil.Process()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    print(f"P = {ls.num_params:,}; moves, resident MiB, history length, seconds")
    rows = []
    for move in range(1, args.moves + 1):
        explorer.coefficients = [float(v) for v in rng.uniform(-1.0, 1.0, 4)]
        assert explorer.wait(300)
        if move % args.every == 0 or move == 1:
            rss = proc.memory_info().rss / 2**20
            rows.append((move, rss))
            print(f"{move:6d} {rss:9.1f} {len(explorer.history):6d} {time.perf_counter() - started:8.1f}", flush=True)
    first_warm = rows[1][1] if len(rows) > 1 else rows[0][1]
    print(f"growth after move {rows[1][0] if len(rows) > 1 else 1}: {rows[-1][1] - first_warm:+.1f} MiB")


if __name__ == "__main__":
    main()
