"""binder/requirements.txt pins every run-time package of requirements.lock at the lock's version."""
from __future__ import annotations

import json
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of the `name==version` lines; other lines must be pip options."""
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: not an exact pin: {raw!r}"
        assert norm(req.name) not in out, f"{path.name}: {req.name} pinned twice"
        out[norm(req.name)] = specs[0].version
    return out


def public(version: str) -> str:
    return Version(version).public  # 2.13.0+cpu -> 2.13.0


def test_binder_pins_match_the_lock():
    binder = pins(REPO / "binder" / "requirements.txt")
    lock = pins(REPO / "requirements.lock")
    differ = {n: (binder[n], lock[n]) for n in binder.keys() & lock.keys() if public(binder[n]) != lock[n]}
    assert not differ, f"binder/requirements.txt and requirements.lock disagree (binder, lock): {differ}"
    only_binder = binder.keys() - lock.keys()
    assert not only_binder, f"pinned in binder/requirements.txt but not in requirements.lock: {sorted(only_binder)}"


def test_binder_uses_the_cpu_torch_wheel():
    text = (REPO / "binder" / "requirements.txt").read_text()
    first = next(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    assert first.strip() == "--extra-index-url https://download.pytorch.org/whl/cpu"
    assert pins(REPO / "binder" / "requirements.txt")["torch"].endswith("+cpu")
    assert "+cpu" not in (REPO / "requirements.lock").read_text(), "only binder may ask for a +cpu torch"


def test_binder_pins_every_runtime_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    binder = pins(REPO / "binder" / "requirements.txt")
    # the notebooks open in JupyterLab or Voila on Binder: the `lab` extra is runtime there
    deps = list(project["dependencies"]) + list(project.get("optional-dependencies", {}).get("lab", []))
    missing, unsatisfied = [], []
    for dep in map(Requirement, deps):
        name = norm(dep.name)
        if name not in binder:
            missing.append(dep.name)
        elif not dep.specifier.contains(binder[name], prereleases=True):
            unsatisfied.append(f"{dep} (binder pins {binder[name]})")
    assert not missing, f"binder/requirements.txt does not pin: {missing}"
    assert not unsatisfied, f"binder pins outside pyproject.toml's ranges: {unsatisfied}"


def test_binder_postbuild_installs_the_package():
    post = REPO / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "pip install --no-deps ." in post.read_text()


# --- every run-time package of the lock, and nothing test-only ----------------------------------------

# Left out of binder/requirements.txt: what only `make test` needs. Everything else in the lock is needed
# at run time on Binder and must be pinned there at the lock's version.
TEST_ONLY = frozenset({"pytest", "pluggy", "iniconfig", "nbval", "coverage", "playwright", "greenlet", "ruff"})
# Run-time packages no pyproject dependency and no notebook import names: notebook 03 offers a Dask
# cluster's executor for the sweep (`client.get_executor()`), so Dask and distributed belong on Binder.
OFFERED = ("dask", "distributed")
# Installer packages every venv and Binder image has, which `pip freeze` (and so the lock) leaves out;
# torch 2.13 requires setuptools.
INSTALLER = frozenset({"pip", "setuptools", "wheel"})


def _notebook_imports() -> set[str]:
    """Top-level modules imported by the code cells of notebooks/*.ipynb."""
    mods = set()
    pattern = re.compile(r"^\s*(?:from\s+([A-Za-z_]\w*)[\w.]*\s+import|import\s+([A-Za-z_][\w., ]*))", re.MULTILINE)
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            for frm, imp in pattern.findall("".join(cell["source"])):
                names = [frm] if frm else [part.split()[0].split(".")[0] for part in imp.split(",") if part.strip()]
                mods.update(names)
    return mods


def _python_version() -> str:
    runtime = (REPO / "binder" / "runtime.txt").read_text().strip()  # e.g. python-3.11
    return runtime.split("-", 1)[1]


def _runtime_closure() -> dict[str, list[str]]:
    """{normalised distribution name: why it is needed} for the run-time roots and all their requirements,
    read from the installed distributions' metadata, markers evaluated for Binder's Python."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    roots = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["lab"]]
    roots += [Requirement(r) for r in OFFERED]
    by_module = metadata.packages_distributions()
    for mod in sorted(_notebook_imports()):
        if mod in sys.stdlib_module_names or mod == "rashomon_widgets":
            continue
        dists = by_module.get(mod)
        assert dists, f"a notebook imports {mod!r}, which no installed distribution provides"
        roots += [Requirement(d) for d in dists]
    env = {"python_version": _python_version()}
    why: dict[str, list[str]] = {}
    todo = [(req, "root") for req in roots]
    while todo:
        req, parent = todo.pop()
        name = norm(req.name)
        if name in why:
            continue
        why[name] = [parent]
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{req.name} (needed by {parent}) is not installed: rebuild .venv from "
                                 "requirements.lock") from None
        for dep in map(Requirement, requires):
            extras = [""] + sorted(req.extras)
            if dep.marker is None or any(dep.marker.evaluate({**env, "extra": e}) for e in extras):
                todo.append((dep, name))
    return why


def test_binder_pins_every_runtime_package_of_the_lock():
    binder = pins(REPO / "binder" / "requirements.txt")
    lock = pins(REPO / "requirements.lock")
    assert TEST_ONLY <= lock.keys(), f"TEST_ONLY names packages the lock lacks: {sorted(TEST_ONLY - lock.keys())}"
    missing = sorted(f"{n}=={v}" for n, v in lock.items() if n not in TEST_ONLY and n not in binder)
    assert not missing, ("requirements.lock pins run-time packages that binder/requirements.txt lacks "
                         f"(add them, or list them in TEST_ONLY if only the tests need them): {missing}")
    differ = {n: (binder[n], lock[n]) for n in lock.keys() & binder.keys() if public(binder[n]) != lock[n]}
    assert not differ, f"binder/requirements.txt and requirements.lock disagree (binder, lock): {differ}"
    test_only = sorted(TEST_ONLY & binder.keys())
    assert not test_only, f"binder/requirements.txt pins test-only packages: {test_only}"


def test_test_only_packages_are_not_needed_at_run_time():
    closure = _runtime_closure()
    needed = {n: closure[n] for n in TEST_ONLY & closure.keys()}
    assert not needed, f"TEST_ONLY lists packages the run time needs (package: required by): {needed}"
    lock = pins(REPO / "requirements.lock")
    unpinned = sorted(f"{n} (required by {closure[n][0]})" for n in closure.keys() - lock.keys() - INSTALLER)
    assert not unpinned, f"run-time requirements missing from requirements.lock: {unpinned}"
    assert {"dask", "distributed", "click", "toolz", "partd", "zict"} <= closure.keys()
