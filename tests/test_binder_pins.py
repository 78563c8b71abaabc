"""binder/requirements.txt pins what requirements.lock pins, and every runtime dependency."""
from __future__ import annotations

import re
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
    first = next(l for l in text.splitlines() if l.strip() and not l.startswith("#"))
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
