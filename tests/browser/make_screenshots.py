"""Screenshots of the three explorers for the README: docs/img/*.png (`make screenshots`).

Not a test. Starts a Voila server on 127.0.0.1 (tests/browser/_browser.py, the browser suite's harness),
opens notebooks 00, 01 and 02 in Debian's Chromium at a fixed 1280 x 1400 viewport (tall enough for
the whole explorer: a taller element comes out blank where it leaves the viewport), waits until the
explorer has drawn and two consecutive shots agree, crops the shot to the explorer element and saves it
as a palette PNG (Pillow's quantize) so each file stays small enough to commit.

    .venv/bin/python -m tests.browser.make_screenshots            # the notebooks' default sizes
    .venv/bin/python -m tests.browser.make_screenshots --small    # RASHOMON_SMALL=1: faster, same views
    .venv/bin/python -m tests.browser.make_screenshots --only 00  # one notebook

from the repository root.

Each notebook runs in its own kernel, one at a time; the server (and its kernels) stop at the end.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from . import _browser as B
from .notebook_specs import spec_of

VIEWPORT = (1280, 1400)
MAX_BYTES = 150_000
OUT = B.REPO / "docs" / "img"

# (key, notebook, image name, what the picture shows)
SHOTS = [
    ("00", "notebooks/00_quickstart.ipynb", "null_space_explorer.png", "NullSpaceExplorer"),
    ("01", "notebooks/01_rashomon_manifold_mode_connectivity.ipynb", "curve_explorer.png", "CurveExplorer"),
    ("02", "notebooks/02_skeletons_on_rashomon_ridge.ipynb", "pruning_explorer.png", "PruningExplorer"),
]


def shrink(png: bytes, max_bytes: int = MAX_BYTES) -> bytes:
    """A palette PNG of the screenshot: fewer colours until it fits in max_bytes (64 at the least)."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    out = b""
    for colours in (256, 128, 64):
        buf = io.BytesIO()
        img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            buf, format="PNG", optimize=True)
        out = buf.getvalue()
        if len(out) <= max_bytes:
            break
    return out


def shoot(page, server: B.Server, notebook: str, timeout_s: float) -> bytes:
    spec = dict(spec_of(notebook))
    spec["load_timeout_s"] = max(spec["load_timeout_s"], timeout_s)
    B.open_notebook(page, server, notebook, spec)
    root = B.scoped(page, spec, "root")
    root.evaluate("(e) => { e.style.padding = '8px'; }")  # a margin, so the title is not cut at the edge
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # the coarse first frame is refined; let the refinement land
    return B.stable_screenshot(root)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="set RASHOMON_SMALL=1 (test sizes, faster)")
    ap.add_argument("--only", action="append", choices=[k for k, *_ in SHOTS], help="one notebook (repeatable)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNGs (default {OUT})")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per notebook")
    args = ap.parse_args(argv)
    if args.small:
        os.environ["RASHOMON_SMALL"] = "1"
    else:
        os.environ.pop("RASHOMON_SMALL", None)
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    failures = 0
    with tempfile.TemporaryDirectory(prefix="rw-screenshots-") as tmp:
        server = B.Server("voila", Path(tmp)).start()
        try:
            with sync_playwright() as p:
                browser = B.launch_chromium(p)
                try:
                    for key, notebook, name, what in SHOTS:
                        if args.only and key not in args.only:
                            continue
                        ctx, page, log = B.new_page(browser, VIEWPORT)
                        t0 = time.monotonic()
                        try:
                            png = shrink(shoot(page, server, notebook, args.timeout))
                        except Exception as e:  # report, go on with the next one
                            failures += 1
                            print(f"FAILED {what} ({notebook}): {e}\n{log.dump()[-2000:]}", file=sys.stderr)
                            continue
                        finally:
                            ctx.close()
                        path = args.out / name
                        path.write_bytes(png)
                        print(f"{path.relative_to(B.REPO) if path.is_relative_to(B.REPO) else path}: {what}, "
                              f"{len(png) / 1000:.0f} kB, {time.monotonic() - t0:.0f} s")
                        if len(png) > MAX_BYTES:
                            print(f"  warning: over {MAX_BYTES // 1000} kB even at 64 colours", file=sys.stderr)
                finally:
                    browser.close()
        finally:
            server.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
