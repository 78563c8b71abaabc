"""Keypress-to-redraw latency of a notebook's explorer widgets in a real browser (not a test).

Serves a notebook in Voila (or JupyterLab with --mode lab), opens it in Debian's Chromium (software
WebGL) and reports:
- page load: navigation start to every view drawn (the 2-D and spectrum figures laid out, the 3-D
  figure's WebGL canvas has drawn), with a cold kernel;
- for N arrow-key presses on the first ``.rw-slider``: the time from the keydown event in the page to
  the animation frame that paints the first change of the ``.rw-loss`` readout, of the ``.rw-surface2d``
  figure (a DOM mutation: bqplot's HeatMap swaps its image), and to the first WebGL draw call of the
  3-D view; "settled" is the last such change before the page stays quiet for --quiet-ms.
The explorers draw a coarse grid first and refine it: the first change of the 2-D view is the first
(coarse) frame, its last change the refined frame. The summary compares them with the targets of
"Explorers 2.0" (XOR quickstart: refined frame median < 150 ms; digits MLP: first frame p90 < 600 ms).
Timings on shared machines vary: compare runs on the same machine only; the tests assert none of them.

    .venv/bin/python -m benchmarks.browser_latency [notebook.ipynb] [--presses 20] [--mode voila|lab]
    .venv/bin/python -m benchmarks.browser_latency --presses 10                          # XOR quickstart
    .venv/bin/python -m benchmarks.browser_latency --presses 10 --set MODEL='"digits"'   # digits MLP

from the repository root; the browser suite's harness comes from the package ``tests.browser``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tests.browser import _browser as B
from tests.browser.notebook_specs import spec_of

REPO = Path(__file__).resolve().parents[1]

# Installed once the widgets are drawn. A keydown on the slider handle (capture phase) starts a
# measurement; MutationObservers and the WebGL probe (B.GL_PROBE_JS) record the first and last change
# of each view after it, as the time of the animation frame that paints the change.
LATENCY_JS = r"""
([root, slider, loss, surface2d, surface3d]) => {
  const r = root ? document.querySelector(root) : document.body;
  const st = window.__rwLat = {key: null, first: {}, last: {}};
  const handle = r.querySelector(slider + ' .noUi-handle');
  handle.addEventListener('keydown', (e) => {
    st.key = performance.now(); st.first = {}; st.last = {};
    st.glBase = window.__rwGL ? window.__rwGL.drawTimes.length : 0;
  }, true);
  const mark = (name) => {
    if (st.key === null) return;
    requestAnimationFrame((t) => {
      if (st.first[name] === undefined) st.first[name] = t;
      st.last[name] = t;
    });
  };
  const watch = (sel, name, opts) => {
    const el = sel && r.querySelector(sel);
    if (el) new MutationObserver(() => mark(name)).observe(el, opts);
    return !!el;
  };
  return {
    loss: watch(loss, 'loss', {subtree: true, childList: true, characterData: true}),
    surface2d: watch(surface2d, 'surface2d', {subtree: true, childList: true, attributes: true, characterData: true}),
    surface3d: !!(surface3d && r.querySelector(surface3d + ' canvas')),
  };
}
"""

# Collect one measurement: ms from keydown to first / last change of each view; null if none.
COLLECT_JS = r"""
() => {
  const st = window.__rwLat;
  const out = {first: {}, last: {}};
  for (const k of Object.keys(st.first)) { out.first[k] = st.first[k] - st.key; out.last[k] = st.last[k] - st.key; }
  if (window.__rwGL) {
    const draws = window.__rwGL.drawTimes.slice(st.glBase).filter(t => t >= st.key);
    if (draws.length) {
      out.first.surface3d = draws[0] - st.key;
      out.last.surface3d = draws[draws.length - 1] - st.key;
    }
  }
  out.quietFor = performance.now() - Math.max(st.key, ...Object.values(st.last),
      ...(window.__rwGL ? window.__rwGL.drawTimes.slice(-1) : []));
  return out;
}
"""


# (label, statistic key) of the frames reported, and the targets of "Explorers 2.0" by model
FRAMES = (("first frame (coarse)", "surface2d.first"), ("refined frame", "surface2d.last"))
TARGETS = {"xor": {("refined frame", "median"): 150.0}, "digits": {("first frame (coarse)", "p90"): 600.0}}


def model_of(notebook: str) -> str:
    """The quickstart's MODEL parameter ("xor" unless a --set changed it); other notebooks: ""."""
    if "00_quickstart" not in notebook:
        return ""
    import nbformat
    nb = nbformat.read(REPO / notebook, as_version=4)
    for c in nb.cells:
        if "parameters" in c.get("metadata", {}).get("tags", []):
            found = None
            for line in c.source.splitlines():
                if line.replace(" ", "").startswith("MODEL="):
                    found = line.split("=", 1)[1].split("#")[0].strip().strip("'\"")
            return found or ""
    return ""


def summary(res: dict) -> list[str]:
    """One line per frame (median and p90), with the target that applies to this model, if any."""
    model = model_of(res["notebook"])
    lines = []
    for label, key in FRAMES:
        st = res["latency_ms"].get(key)
        if st is None:
            lines.append(f"  {label:<21} not measured (no 2-D view watched)")
            continue
        line = f"  {label:<21} median {st['median']:7.1f} ms   p90 {st['p90']:7.1f} ms"
        for (lab, stat), target in TARGETS.get(model, {}).items():
            if lab == label:
                ok = "meets" if st[stat] < target else "MISSES"
                line += f"   {ok} the {model} target: {stat} < {target:.0f} ms"
        lines.append(line)
    return lines


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def measure(notebook: str, presses: int, mode: str, quiet_ms: float, timeout_s: float) -> dict:
    from playwright.sync_api import sync_playwright

    spec = spec_of(notebook)
    work = Path(tempfile.mkdtemp(prefix="rw-latency-"))
    server = B.Server(mode, work).start()
    try:
        with sync_playwright() as p:
            browser = B.launch_chromium(p)
            ctx, page, log = B.new_page(browser)
            t0 = time.monotonic()
            if mode == "voila":
                page.goto(server.url(notebook), wait_until="commit", timeout=B.PAGE_LOAD_TIMEOUT_MS)
                drawn_ms = B.wait_widgets_drawn(page, spec, polling="raf")
            else:
                B.open_lab(page, server, notebook, spec)
                drawn_ms = None  # Lab: open + run all cells; the wall time below says it
            load_wall_s = time.monotonic() - t0
            watched = page.evaluate(LATENCY_JS, [spec.get("root"), spec["slider"], spec.get("loss"),
                                                 spec.get("surface2d"), spec.get("surface3d")])
            handle = B.slider_handle(page, spec)
            handle.scroll_into_view_if_needed()
            handle.focus()
            want = [k for k, ok in watched.items() if ok]
            samples = []
            for _ in range(presses):
                key = B.slider_key(handle)
                page.keyboard.press(key)
                deadline = time.monotonic() + timeout_s
                while True:  # until every watched view changed and the page stayed quiet
                    r = page.evaluate(COLLECT_JS)
                    if all(k in r["first"] for k in want) and r["quietFor"] >= quiet_ms:
                        break
                    if time.monotonic() > deadline:
                        missing = [k for k in want if k not in r["first"]]
                        raise SystemExit(f"no change of {missing} within {timeout_s:.0f} s of {key}")
                    page.wait_for_timeout(20)
                samples.append(r)
            errors = log.widget_errors()
            ctx.close()
            browser.close()
    finally:
        server.stop()
    out = {"notebook": notebook, "mode": mode, "presses": presses,
           "page_load_to_drawn_ms": drawn_ms, "page_load_wall_s": load_wall_s,
           "console_widget_errors": errors, "latency_ms": {}}
    for k in want:
        for which in ("first", "last"):
            xs = [s[which][k] for s in samples]
            out["latency_ms"][f"{k}.{which}"] = {
                "median": statistics.median(xs), "p90": percentile(xs, 0.9), "min": min(xs), "max": max(xs)}
    return out


def with_parameters(notebook: str, assignments: list[str]) -> str:
    """A copy of ``notebook`` (under build/, next to the original's folder depth) whose cell tagged
    "parameters" ends with ``assignments``; returns its path relative to the repository root."""
    import nbformat
    nb = nbformat.read(REPO / notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise SystemExit(f"{notebook} has no cell tagged 'parameters' to override")
    cells[0].source += "\n" + "\n".join(assignments)
    out = Path("build") / "latency" / Path(notebook).name
    (REPO / out).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, REPO / out)
    return str(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook", nargs="?", default="notebooks/00_quickstart.ipynb",
                    help="path relative to the repository root (default: %(default)s)")
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--mode", choices=("voila", "lab"), default="voila")
    ap.add_argument("--quiet-ms", type=float, default=300.0,
                    help="a press is done when nothing changed for this long (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one redraw")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a parameter of the notebook's parameters cell, e.g. --set MODEL='\"digits\"'")
    args = ap.parse_args(argv)
    if not (REPO / args.notebook).exists():
        ap.error(f"{args.notebook} not found under {REPO}")
    if args.set:
        args.notebook = with_parameters(args.notebook, args.set)
    if not B.CHROMIUM.exists():
        ap.error(B.CHROMIUM_MISSING)
    res = measure(args.notebook, args.presses, args.mode, args.quiet_ms, args.timeout)
    print(f"{res['notebook']} in {res['mode']} ({res['presses']} presses)")
    if res["mode"] == "voila":
        print(f"  page load to all widgets drawn: {res['page_load_to_drawn_ms']:8.0f} ms (cold kernel)")
    print(f"  wall time to widgets drawn:     {res['page_load_wall_s'] * 1000:8.0f} ms")
    print(f"  {'keydown ->':<20} {'median':>8} {'p90':>8} {'min':>8} {'max':>8}  (ms)")
    for name, st in res["latency_ms"].items():
        print(f"  {name:<20} {st['median']:8.1f} {st['p90']:8.1f} {st['min']:8.1f} {st['max']:8.1f}")
    model = model_of(res["notebook"])
    print(f"  summary ({model or 'notebook'}; 2-D view = {spec_of(res['notebook']).get('surface2d')}):")
    print("\n".join(summary(res)))
    if res["console_widget_errors"]:
        print("  console widget errors:\n    " + "\n    ".join(res["console_widget_errors"]))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
