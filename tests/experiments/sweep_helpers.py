"""Run functions for the sweep tests, importable by spawned workers and subprocesses (no torch)."""
from __future__ import annotations

import os
import time


def slow_run(*, width: int, seed: int, delay: float = 0.0, log: str | None = None, fail_seed: int = -1) -> dict:
    """Sleep ``delay`` seconds and return a record; log ``pid width seed`` when it starts."""
    if log:
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {width} {seed}\n")
    if seed == fail_seed:
        raise RuntimeError(f"seed {seed} fails on purpose")
    time.sleep(delay)
    return {"value": 1000 * width + seed, "pid": os.getpid()}
