"""`make binder-link` (binder/link.sh): the mybinder.org link of a clone's GitHub `origin`, or a clear refusal.

Each case is a temporary git repository holding copies of the Makefile and binder/link.sh, with `origin` set
to one of the forms git accepts (https, ssh, scp-like; with and without .git), so the target and the script
run exactly as in a teacher's clone.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAB = "https://mybinder.org/v2/gh/alice/rashomon-widgets/HEAD?urlpath=lab/tree/notebooks/00_quickstart.ipynb"
VOILA = "https://mybinder.org/v2/gh/alice/rashomon-widgets/HEAD?urlpath=voila/render/notebooks/00_quickstart.ipynb"

GITHUB_FORMS = [
    "https://github.com/alice/rashomon-widgets",
    "https://github.com/alice/rashomon-widgets.git",
    "https://github.com/alice/rashomon-widgets/",
    "https://github.com/alice/rashomon-widgets.git/",
    "https://alice:token@github.com/alice/rashomon-widgets.git",
    "http://github.com/alice/rashomon-widgets",
    "git@github.com:alice/rashomon-widgets.git",
    "git@github.com:alice/rashomon-widgets",
    "github.com:alice/rashomon-widgets.git",
    "ssh://git@github.com/alice/rashomon-widgets.git",
    "ssh://git@github.com/alice/rashomon-widgets",
    "ssh://git@github.com:22/alice/rashomon-widgets.git",
    "git://github.com/alice/rashomon-widgets.git",
]

NOT_GITHUB = [
    "https://gitlab.com/alice/rashomon-widgets.git",
    "git@gitlab.com:alice/rashomon-widgets.git",
    "https://github.com.evil.example/alice/rashomon-widgets",
    "https://example.com/github.com/alice/rashomon-widgets",
    "/srv/git/alice/rashomon-widgets.git",
    "../alice/rashomon-widgets",
    "alice/rashomon-widgets",
    "https://github.com/alice",
    "https://github.com/alice/rashomon-widgets/tree/main",
]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def clone(tmp_path) -> Path:
    """A git repository with the Makefile and binder/link.sh, and no remote yet."""
    _git(tmp_path, "init", "-q")
    (tmp_path / "binder").mkdir()
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    shutil.copy2(REPO / "binder" / "link.sh", tmp_path / "binder" / "link.sh")
    return tmp_path


def _origin(clone: Path, url: str) -> None:
    subprocess.run(["git", "remote", "remove", "origin"], cwd=clone, capture_output=True, check=False)
    _git(clone, "remote", "add", "origin", url)


def make_binder_link(clone: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-s", "binder-link", *args], cwd=clone,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("url", GITHUB_FORMS)
def test_every_github_form_gives_the_link(clone, url):
    _origin(clone, url)
    out = make_binder_link(clone)
    assert out.returncode == 0, (url, out.stderr)
    assert out.stdout == LAB + "\n", (url, out.stdout, out.stderr)
    # the script alone (what the README's text runs), from another folder
    alone = subprocess.run(["sh", str(clone / "binder" / "link.sh")], cwd=clone.parent, capture_output=True,
                           text=True, timeout=60, check=True)
    assert alone.stdout == LAB + "\n"


def test_voila_view(clone):
    _origin(clone, "git@github.com:alice/rashomon-widgets.git")
    assert make_binder_link(clone, "BINDER_VIEW=voila").stdout == VOILA + "\n"
    bad = subprocess.run(["sh", "binder/link.sh", "notebook"], cwd=clone, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_no_origin_is_refused_with_the_reason(clone):
    out = make_binder_link(clone)
    assert out.returncode != 0 and out.stdout == ""
    assert "no git remote named origin" in out.stderr and "git remote add origin" in out.stderr, out.stderr


@pytest.mark.parametrize("url", NOT_GITHUB)
def test_an_origin_off_github_is_refused_with_the_reason(clone, url):
    _origin(clone, url)
    out = make_binder_link(clone)
    assert out.returncode != 0 and out.stdout == "", (url, out.stdout)
    assert "not a GitHub repository" in out.stderr, (url, out.stderr)


def test_the_refusal_hides_credentials(clone):
    _origin(clone, "https://alice:s3cret@gitlab.com/alice/rashomon-widgets.git")
    out = make_binder_link(clone)
    assert out.returncode != 0 and "s3cret" not in out.stderr and "gitlab.com/alice" in out.stderr


def test_one_implementation():
    """The Makefile, the README and binder/README.md all point at binder/link.sh; none keeps its own parser."""
    makefile = (REPO / "Makefile").read_text()
    assert "binder-link:\n\t@sh binder/link.sh $(BINDER_VIEW)\n" in makefile
    assert "binder-link" in makefile.split(".PHONY:", 1)[1].splitlines()[0]
    for doc in ("README.md", "binder/README.md", "docs/teaching.md"):
        text = (REPO / doc).read_text()
        assert "make binder-link" in text, doc
        assert "sed -E" not in text, f"{doc} keeps a second implementation of the link"
    assert "binder/link.sh" in (REPO / "README.md").read_text()
