"""The package installs beside a user's own stack: the wheel declares ranges, the lock pins the tested set.

``pyproject.toml`` declares, for every run-time requirement, the range the package is tested on (from the version
of ``requirements.lock`` to below the next major release); ``requirements.lock`` (and ``binder/``) pin the exact
set that ``make venv``, CI and Binder install. These tests build the wheel from a copy of the sources (no network,
no build isolation) and read what ``pip install rashomon-widgets`` would read: its metadata.
"""
from __future__ import annotations

import email.parser
import json
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
EXTRAS = {"lab", "test", "dask"}
# The linter is the one exact pin a user can get (through the `test` extra): a new ruff release adds rules, and
# `make test` must not start failing on an unchanged tree.
EXACT_ALLOWED = {("test", "ruff")}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    out = {}
    for raw in (REPO / "requirements.lock").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            out[_norm(req.name)] = next(iter(req.specifier)).version
    return out


def _extra(req: Requirement) -> str | None:
    """The extra a requirement belongs to (``extra == "lab"`` in its marker), or None for a run-time one."""
    found = re.search(r"""extra\s*==\s*["']([^"']+)["']""", str(req.marker or ""))
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources (the checkout gets no build/ or egg-info from it)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "rashomon_widgets", src / "rashomon_widgets",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(out), str(src)], check=True, capture_output=True, timeout=300)
    (built,) = out.glob("rashomon_widgets-*.whl")
    return built


@pytest.fixture(scope="module")
def metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode())


def test_the_wheel_declares_the_extras(metadata):
    assert EXTRAS <= set(metadata.get_all("Provides-Extra") or []), metadata.get_all("Provides-Extra")
    extras = {_extra(Requirement(r)) for r in metadata.get_all("Requires-Dist")}
    assert EXTRAS <= extras, f"an extra without requirements: {sorted(EXTRAS - extras)}"
    dask = {_norm(Requirement(r).name) for r in metadata.get_all("Requires-Dist")
            if _extra(Requirement(r)) == "dask"}
    assert {"dask", "distributed"} <= dask


def test_every_requirement_is_a_range_that_holds_the_locked_version(metadata):
    lock = _lock()
    problems = []
    for raw in metadata.get_all("Requires-Dist"):
        req = Requirement(raw)
        name, extra = _norm(req.name), _extra(req)
        if name not in lock:
            problems.append(f"{raw}: not in requirements.lock (the tested set)")
            continue
        ops = {spec.operator for spec in req.specifier}
        if (extra, name) in EXACT_ALLOWED:
            if req.specifier != Requirement(f"{name}=={lock[name]}").specifier:
                problems.append(f"{raw}: expected {name}=={lock[name]}, the lock's version")
            continue
        if ops & {"==", "==="}:
            problems.append(f"{raw}: an exact pin (pins belong to requirements.lock)")
        elif not ops & {">=", ">", "~="}:
            problems.append(f"{raw}: no lower bound")
        if not req.specifier.contains(Version(lock[name]), prereleases=True):
            problems.append(f"{raw}: excludes the lock's {name}=={lock[name]}")
    assert not problems, "\n".join(problems)


def test_the_wheel_installs_beside_this_environment_without_replacing_anything(wheel):
    """Offline: pip, asked to install the wheel here, finds every requirement already satisfied (the lock's
    versions lie inside the declared ranges) and installs the package alone."""
    report = wheel.parent / "report-here.json"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet",
                          "--report", str(report), str(wheel)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    installs = [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]
    assert installs == ["rashomon-widgets"], f"pip would also install or replace: {installs[1:]}"


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=5):
            return True
    except OSError:
        return False


def test_the_wheel_resolves_with_the_oldest_supported_torch(wheel, metadata, tmp_path):
    """A user who holds torch at the oldest version of the declared range (as a constraint) gets a resolution that
    keeps it: pip resolves the wheel's whole closure into an empty environment without touching torch."""
    if not _pypi_reachable():
        pytest.skip("PyPI is unreachable: resolving the wheel's dependencies needs the index")
    torch = next(Requirement(r) for r in metadata.get_all("Requires-Dist") if _norm(Requirement(r).name) == "torch")
    floor = min(Version(s.version) for s in torch.specifier if s.operator == ">=")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"torch=={floor}\n")
    report = tmp_path / "report.json"
    try:
        run = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                              "--report", str(report), "-c", str(constraints), str(wheel)],
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("resolving against PyPI took over 60 s (a slow or flaky network)")
    assert run.returncode == 0, f"pip could not resolve the wheel with torch=={floor}:\n{run.stderr}"
    got = {_norm(item["metadata"]["name"]): item["metadata"]["version"]
           for item in json.loads(report.read_text())["install"]}
    assert Version(got["torch"]).public == str(floor), f"pip chose torch {got['torch']}, not the held {floor}"


def test_a_missing_dask_says_which_extra_to_install(monkeypatch):
    from rashomon_widgets.experiments.cluster import require_distributed

    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    with pytest.raises(ImportError, match=re.escape("pip install 'rashomon-widgets[dask]'")):
        require_distributed()
