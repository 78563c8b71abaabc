"""The report of ``python -m benchmarks.cnn``: each row's cell (time, peak memory, what it computed), issue 22's
targets, the machine, and the Markdown of benchmarks/results-cnn.md."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

import rashomon_widgets as rw

from . import timing
from .cnn_case import CASES, TRAIN
from .cnn_tasks import LIBS, MOVES, TASKS

NAMES = {"ours": "ours", "curvlinops": "curvlinops", "pyhessian": "PyHessian", "loss-landscapes": "loss-landscapes"}
MEMORY_TARGET_MIB = 2048


def sec(x) -> str:
    return "?" if x is None else f"{x:.1f} s"


def cell(r: dict | None) -> str:
    if r is None:
        return "not run"
    if "failed" in r:
        partial = f" (constructor returned at {sec(r['constructor'])}" if "constructor" in r else ""
        partial += f", first slice at {sec(r['first_slice'])})" if "first_slice" in r else (")" if partial else "")
        partial += f"; peak {r['peak_mib']:.0f} MiB when last reported" if "peak_mib" in r else ""
        return f"**{r['failed'][:120]}**{partial}".replace("|", "\\|")
    mem = f" / {r['peak_mib']:.0f} MiB" + (f" (GPU {r['gpu_peak_mib']:.0f})" if "gpu_peak_mib" in r else "")
    if r["task"] in ("explorer", "curve"):
        grids = r.get("grids", ["?"])
        what = "slice" if r["task"] == "explorer" else "readout"
        moves = ", ".join(sec(m) for m in r.get("moves", []))
        return (f"constructor {sec(r['constructor'])}, first slice ({grids[0]}x{grids[0]}) {sec(r['first_slice'])}, "
                f"refined ({grids[-1]}x{grids[-1]}) {sec(r['refined_slice'])}, full frame {sec(r['first_frame'])}; "
                f"{MOVES} steps, {what} redrawn in {moves}; after the last, every panel in {sec(r['move_all'])}"
                + mem)
    text = f"{r['time']:.3g} s" + (f" (first {r['first']:.3g} s)" if "first" in r else "") + mem
    error = f" ± {r['error']:.2g}" if r.get("error") is not None else ""
    value = f"{r['value']:.4g}{error}" if "value" in r else ""
    extras = [value, ", ".join(f"{v:.4g}" for v in r.get("values", [])), r.get("note", ""),
              f"{r['products']} HVPs" if "products" in r else "", f"{r['points']} points" if "points" in r else ""]
    return "; ".join([text] + [e for e in extras if e])


def ok(r: dict | None) -> bool:
    return r is not None and "failed" not in r


def targets(rows: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met?) for issue 22's targets on one case; None: not measured."""
    ours = {task: rows.get(("ours", task)) for task in TASKS}
    peaks = {t: r["peak_mib"] for t, r in ours.items() if ok(r)}
    unmeasured = f" ({len(TASKS) - len(peaks)} of {len(TASKS)} rows not measured)" if len(peaks) < len(TASKS) else ""
    over = any(m > MEMORY_TARGET_MIB for m in peaks.values())
    h, tr = ours["hvp"], ours["trace"]

    out = [(f"every row of ours peaks within {MEMORY_TARGET_MIB} MiB resident (issue 22: on cnn1.2m)",
            ", ".join(f"{t} {m:.0f} MiB" for t, m in peaks.items()) + unmeasured,
            False if over else (None if unmeasured else True)),
           ("first HVP <= 1.5 x a later one",
            f"{h['first']:.3g} s vs {h['time']:.3g} s ({h['first'] / h['time']:.2f}x)" if ok(h) else "",
            h["first"] <= 1.5 * h["time"] if ok(h) else None),
           ("trace: error <= \\|value\\| (or a warning)",
            f"{tr['value']:.4g} ± {tr['error']:.2g}, {len(tr['warnings'])} warning(s)" if ok(tr) else "",
            (tr["error"] <= abs(tr["value"]) or bool(tr["warnings"])) if ok(tr) else None)]
    for task, what in (("explorer", "2-D slice (coarse grid)"), ("curve", "loss readout and marker")):
        ex = ours[task] or {}  # a row that timed out still carries what it measured before
        for name, key, limit, note in (
                ("constructor returns", "constructor", 10, ""),
                ("first 2-D slice", "first_slice", 30, f" (coarse; refined {sec(ex.get('refined_slice'))})"),
                (f"slowest of {MOVES} slider steps redrawn", "move_slice", 5,
                 f" ({what}; after the last step every panel in {sec(ex.get('move_all'))})")):
            value = ex.get(key)
            out.append((f"`{task}`: {name} <= {limit} s", "" if value is None else sec(value) + note,
                        None if value is None else value <= limit))
    return out


def render(results: dict, meta: dict) -> str:
    lines = ["# Reference case (issue 22): a CNN on real MNIST digits", "",
             f"`python -m benchmarks.cnn{meta['args']}`, {meta['date']}, {meta['total']:.0f} s in all.", ""]
    lines += [f"- **{k}**: {v}" for k, v in meta["machine"].items()]
    lines += ["", "Each cell: wall time / peak resident memory of the row's own process (Python, torch, model, "
              "data and task; VmHWM), then what it computed. Ratios: the peer's time / ours "
              "(> 1: ours is faster); for `hvp` the later products. PyHessian's times include its constructor "
              "(the first gradient, with its graph). `explorer`: seconds from the call of `NullSpaceExplorer(ls)` on a "
              "fresh landscape (rashomon_widgets' lazy import of its widgets, done before, is not counted).", ""]
    for case, info in results.items():
        cfg, rows = CASES[case], info["rows"]
        lines += [f"## {case}: `mnist_cnn({cfg['channels']})`, {info['params']:,} parameters, {cfg['images']:,} "
                  f"images in {cfg['images'] // cfg['batch']} batch(es) of {cfg['batch']}", "",
                  f"Trained {TRAIN['epochs']} Adam epochs (batch {TRAIN['batch_size']}, lr {TRAIN['lr']}, seed "
                  f"{TRAIN['seed']}): train accuracy {info['train_accuracy']:.1%}, test accuracy (1,000 other "
                  f"images) {info['test_accuracy']:.1%}.", "",
                  "| task | " + " | ".join(NAMES.values()) + " | " + " | ".join(f"{NAMES[p]} / ours" for p in
                                                                               list(NAMES)[1:]) + " |",
                  "|---" * (2 * len(NAMES)) + "|"]
        for task in TASKS:
            cells = [cell(rows.get((lib, task))) if task in LIBS[lib] else "—" for lib in NAMES]
            ours = rows.get(("ours", task))
            ratios = [f"{rows[(p, task)]['time'] / ours['time']:.2f}x" if ok(ours) and ok(rows.get((p, task)))
                      and task not in ("explorer", "curve") else "" for p in list(NAMES)[1:]]
            lines.append(f"| `{task}` | " + " | ".join(cells + ratios) + " |")
        setup = [r["setup_mib"] for r in rows.values() if "setup_mib" in r]
        if setup:
            lines += ["", f"Resident memory once the model, the data (and our `Landscape`) are loaded, before the "
                      f"task: {min(setup):.0f} to {max(setup):.0f} MiB."]
        if ok(rows.get(("ours", "explorer"))):
            lines += ["", f"The explorer's status line at the end: `{rows[('ours', 'explorer')]['status']}`."]
        lines += ["", "| target (issue 22) | measured | |", "|---|---|---|"]
        for name, measured, met in targets(rows):
            verdict = "not measured" if met is None else ("**met**" if met else "**missed**")
            lines.append(f"| {name} | {measured} | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def machine_info(load_start: float) -> dict:
    import importlib.metadata as md
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    installed = {d.metadata["Name"].lower(): d.version for d in md.distributions()}
    peers = ", ".join(f"{name} {installed.get(name, 'missing')}"
                      for name in ("pyhessian", "curvlinops-for-pytorch", "loss-landscapes"))
    device = "CPU" if timing.DEVICE.type == "cpu" else f"CUDA: {torch.cuda.get_device_name(timing.DEVICE)}"
    return {"CPU": f"{cpu}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}",
            "device (`--device`)": device,
            "load average (1 min)": f"{load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end",
            "versions": f"Python {platform.python_version()}, torch {torch.__version__}, rashomon_widgets "
                        f"{rw.__version__}; {peers}"}
