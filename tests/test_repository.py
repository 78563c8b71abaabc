"""What a clone downloads: no tracked file over 1 MB except the data the package ships."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIMIT = 2**20
SHIPPED_DATA = "rashomon_widgets/data/files/"


def test_no_tracked_file_over_a_megabyte_outside_the_shipped_data():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing is tracked")
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    names = [n for n in names.decode().split("\0") if n]
    assert any(n.startswith(SHIPPED_DATA) for n in names), "expected the shipped data among the tracked files"
    big = {n: (REPO / n).stat().st_size for n in names
           if not n.startswith(SHIPPED_DATA) and (REPO / n).is_file() and (REPO / n).stat().st_size > LIMIT}
    assert not big, f"tracked files over 1 MB outside {SHIPPED_DATA} (every clone downloads them): {big}"


def test_make_phony_names_only_targets_that_exist_and_make_test_lints():
    makefile = (REPO / "Makefile").read_text()
    phony = {name for line in makefile.splitlines() if line.startswith(".PHONY:") for name in line.split()[1:]}
    targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile, flags=re.MULTILINE))
    assert phony and phony <= targets, f".PHONY names targets the Makefile does not define: {sorted(phony - targets)}"
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "ruff check ." in recipe.split("pytest", 1)[0], "make test must run the linter before the tests"
