"""The memory benchmark: resident memory before and after many HVPs, by ``ls.hvp`` calls and inside one
``hessian_operator`` block (host RSS: run on the CPU only)."""
from __future__ import annotations

import gc

import torch

import rashomon_widgets as rw

from .cases import Case


def bench_memory(case: Case, ls: rw.Landscape, n: int) -> dict:
    """Resident memory (MiB, after ``gc.collect()``) before and after ``n`` HVPs: ``ls.hvp`` calls, then
    products inside one ``hessian_operator`` block, and after leaving the block."""
    import psutil
    proc = psutil.Process()
    v = torch.randn(ls.num_params, generator=torch.Generator().manual_seed(0), dtype=ls.dtype).to(ls.device)

    def rss():
        gc.collect()
        return proc.memory_info().rss / 2**20

    out = {"n": n}
    for _ in range(10):
        ls.hvp(v)
    out["hvp_before"] = rss()
    for _ in range(n):
        ls.hvp(v)
    out["hvp_after"] = rss()
    with ls.hessian_operator() as op:
        op.matvec(v)
        out["op_before"] = rss()
        for _ in range(n):
            op.matvec(v)
        out["op_after"] = rss()
    out["op_exit"] = rss()
    return out
