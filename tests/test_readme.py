"""Every ```python block of README.md runs as written, top to bottom, in one namespace.

The blocks run in a fresh interpreter of this environment (a child process, in a temporary folder), so
the explorers' worker threads and anything the blocks set up end with it. A block whose first line is
exactly ``# needs: Jupyter`` (a magic, or a display that only a front end can do) or ``# needs: data``
(files a user must download) is skipped; the skipped set is printed and kept small.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP_MARKERS = ("# needs: Jupyter", "# needs: data")
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    return [m.group(1) for m in BLOCK.finditer(text)]


def runnable(blocks: list[str]) -> tuple[list[str], list[str]]:
    run, skipped = [], []
    for block in blocks:
        first = block.lstrip("\n").splitlines()[0].strip() if block.strip() else ""
        (skipped if first in SKIP_MARKERS else run).append(block)
    return run, skipped


def test_readme_has_python_blocks():
    blocks = python_blocks((REPO / "README.md").read_text())
    assert len(blocks) >= 3, "README.md lost its examples?"
    _, skipped = runnable(blocks)
    assert len(skipped) <= 1, f"keep the blocks that cannot run here to a minimum: {skipped}"


def test_readme_python_blocks_run_in_order(tmp_path):
    run, _ = runnable(python_blocks((REPO / "README.md").read_text()))
    # One script, each block introduced by a line that names it, so a failure points at its block.
    parts = []
    for i, block in enumerate(run, 1):
        parts.append(f"print('--- README python block {i} of {len(run)}', flush=True)\n{block}")
    # Let every explorer finish its latest request (`wait()`, "for scripts and tests") before the
    # interpreter exits: a worker thread still inside torch at exit aborts the process.
    parts.append("import ipywidgets as _w\nfor _v in list(globals().values()):\n"
                 "    if isinstance(_v, _w.Widget) and callable(getattr(_v, 'wait', None)):\n"
                 "        assert _v.wait(300), f'{type(_v).__name__} did not finish its work'\n")
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n".join(parts))
    proc = subprocess.run([sys.executable, "-W", "error::SyntaxWarning", str(script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"a README block failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    assert f"--- README python block {len(run)} of {len(run)}" in proc.stdout


def test_readme_binder_link_command(tmp_path):
    """The README's bash lines that print the Binder link run binder/link.sh (one implementation, checked for
    every form of origin in tests/test_binder_link.py), and give the link of a GitHub origin in a clone."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"^```bash[ \t]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    (block,) = [b for b in blocks if "make binder-link" in b]
    want = "https://mybinder.org/v2/gh/alice/rashomon-widgets/HEAD?urlpath=lab/tree/notebooks/00_quickstart.ipynb"
    assert want.replace("alice/rashomon-widgets", "<owner>/<repo>") in text, "README states the rule"
    assert "sh binder/link.sh" in block
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "binder").mkdir()
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    shutil.copy2(REPO / "binder" / "link.sh", tmp_path / "binder" / "link.sh")
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:alice/rashomon-widgets.git"],
                   check=True)
    for line in block.strip().splitlines():
        command = line.split("#", 1)[0].strip()
        # as typed in a shell: not inside `make test`'s make (whose MAKELEVEL makes make print its directory)
        env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
        out = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, check=True,
                             env=env)
        view = "voila" if "voila" in command else "lab"
        expected = want if view == "lab" else want.replace("lab/tree", "voila/render")
        assert out.stdout.strip() == expected, (command, out.stdout, out.stderr)
        alternative = line.split("#", 1)[1].split(":")[-1].strip()     # "sh binder/link.sh ..." in the comment
        assert alternative.startswith("sh binder/link.sh"), line
        alt = subprocess.run(["bash", "-c", alternative], cwd=tmp_path, capture_output=True, text=True, check=True)
        assert alt.stdout == out.stdout, (alternative, alt.stdout)


def test_readme_starts_the_class():
    """The first screen: right after the intro, a "Start here" with Binder, `make lab` with the CPU-only
    PyTorch line and the warning about CUDA wheels, and Voila (`make voila`, and `make lab`'s /voila/render)."""
    text = (REPO / "README.md").read_text()
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    assert sections[1].startswith("Start here\n"), "the first section after the intro must be \"Start here\""
    start = sections[1]
    assert len(start.splitlines()) <= 30, "keep \"Start here\" short"
    for needed in ("mybinder.org", "make binder-link", "make lab",
                   "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu make lab", "several GB", "nvidia-",
                   "make voila", "/voila/render/", "docs/teaching.md"):
        assert needed in start, f"\"Start here\" lacks {needed!r}"
    makefile = (REPO / "Makefile").read_text()
    phony = makefile.split(".PHONY:", 1)[1].splitlines()[0].split()
    assert {"lab", "voila", "binder-link"} <= set(phony), phony
    assert "jupyter-config" in makefile.split("\nvoila:", 1)[1].split("\n\n", 1)[0]


def test_readme_images_exist_and_are_small():
    text = (REPO / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\((docs/img/[^)\s]+\.png)\)", text)
    assert {"docs/img/null_space_explorer.png", "docs/img/curve_explorer.png",
            "docs/img/pruning_explorer.png"} <= set(images)
    for rel in images:
        path = REPO / rel
        assert path.is_file(), f"{rel} is missing: run `make screenshots`"
        assert path.stat().st_size < 150_000, f"{rel} is {path.stat().st_size} bytes; keep it under 150 kB"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
