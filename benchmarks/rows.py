"""A row of the comparison tables (task, method, wall time, products, error, ratio to ours, notes) and how its
cells are written; the benchmarks make rows, the report renders them."""
from __future__ import annotations


def row(task, method, wall=None, hvps=None, error=None, ratio=None, notes="") -> dict:
    return {"task": task, "method": method, "wall": wall, "hvps": hvps, "error": error, "ratio": ratio,
            "notes": notes}


def fmt_time(x) -> str:
    if x is None:
        return ""
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def fmt_num(x, kind: str) -> str:
    if x is None:
        return ""
    if kind == "error":
        return f"{x:.1e}"
    if kind == "ratio":
        return f"{x:.2f}x"
    if kind == "pps":
        return f"{x:,.0f}"
    return f"{x:,}" if isinstance(x, int) else str(x)
