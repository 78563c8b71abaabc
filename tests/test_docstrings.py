"""Every public callable of the public API has a Google-style docstring that matches its code.

Walked: the ``__all__`` of ``rashomon_widgets`` (but not the widget classes it loads lazily),
``rashomon_widgets.core``, ``.models``, ``.data`` and ``.experiments`` (a module listed there
contributes its own public functions and classes), and the public methods and properties of every
public class (inherited ones from the package included). Each must have a docstring; one with
parameters (besides self/cls) an ``Args:`` section naming each of them (a class documents its
constructor's in ``Args:`` or, for a data class, ``Attributes:``); one that returns a value a
``Returns:`` section (properties and dunder methods exempt); one whose own code raises a
``Raises:`` section.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

PUBLIC_MODULES = ("rashomon_widgets", "rashomon_widgets.core", "rashomon_widgets.models", "rashomon_widgets.data",
                  "rashomon_widgets.experiments")
SECTION = re.compile(r"^(\s*)([A-Z][A-Za-z ]*):\s*$")
DUNDERS = ("__call__",)  # dunder methods walked as part of a class's public interface


# ----------------------------------------------------------------------------------------- walking
def _is_ours(obj) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("rashomon_widgets")


def _lazy_widget(module, name: str) -> bool:
    """A name the package loads lazily from rashomon_widgets.widgets (never imported here)."""
    target = getattr(module, "_LAZY", {}).get(name)
    return target is not None and importlib.util.resolve_name(target, module.__name__).startswith(
        "rashomon_widgets.widgets")


def _module_members(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_") and getattr(v, "__module__", None)
                 == module.__name__ and (inspect.isfunction(v) or inspect.isclass(v))]
    for name in names:
        if _lazy_widget(module, name):
            continue
        yield module, name, getattr(module, name)


def _walk():
    """``(qualified name, kind, object, owner class or None)`` of every public callable, once each."""
    seen: set[str] = set()
    queue = [importlib.import_module(m) for m in PUBLIC_MODULES]
    done_modules: set[str] = set()
    while queue:
        module = queue.pop(0)
        if module.__name__ in done_modules:
            continue
        done_modules.add(module.__name__)
        for _, _, obj in _module_members(module):
            if isinstance(obj, types.ModuleType):
                if obj.__name__.startswith("rashomon_widgets.widgets"):
                    continue
                if obj.__name__ not in PUBLIC_MODULES:
                    queue.append(obj)
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not _is_ours(obj):
                continue
            qual = f"{obj.__module__}.{obj.__qualname__}"
            if qual in seen:
                continue
            seen.add(qual)
            if inspect.isclass(obj):
                yield qual, "class", obj, None
                yield from _walk_class(obj, seen)
            else:
                yield qual, "function", obj, None


def _walk_class(cls, seen):
    for klass in cls.__mro__:
        if not _is_ours(klass):
            continue
        for name, raw in vars(klass).items():
            if name.startswith("_") and name not in DUNDERS:
                continue
            if isinstance(raw, property):
                kind, func = "property", raw.fget
            elif isinstance(raw, (staticmethod, classmethod)):
                kind, func = "method", raw.__func__
            elif inspect.isfunction(raw):
                kind, func = "method", raw
            else:
                continue
            if any(name in vars(k) for k in cls.__mro__[:cls.__mro__.index(klass)]):
                continue  # overridden: the override is the one walked
            qual = f"{klass.__module__}.{klass.__qualname__}.{name}"
            if qual in seen:
                continue
            seen.add(qual)
            yield qual, kind, func, klass


# ----------------------------------------------------------------------------------------- parsing
def _sections(doc: str) -> dict[str, list[str]]:
    """``{section title: its lines}`` of a cleaned (dedented) Google-style docstring."""
    out: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        m = SECTION.match(line)
        if m and not m.group(1):
            current = m.group(2)
            out[current] = []
        elif current is not None:
            if line.strip() and not line.startswith((" ", "\t")):
                current = None  # back to prose
            else:
                out[current].append(line)
    return out


def _documented_names(lines: list[str]) -> set[str]:
    """Parameter names of an ``Args:``/``Attributes:`` section: ``name:``, ``a, b:``, ``**kwargs:``,
    ``name (type):`` at the section's first indentation."""
    entries = [ln for ln in lines if ln.strip()]
    if not entries:
        return set()
    indent = min(len(ln) - len(ln.lstrip()) for ln in entries)
    names = set()
    for ln in entries:
        if len(ln) - len(ln.lstrip()) != indent:
            continue
        head = ln.strip().split(":", 1)[0]
        head = re.sub(r"\s*\(.*\)$", "", head)
        for part in head.split(","):
            names.add(part.strip().lstrip("*"))
    return names


def _tree(func):
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    node = ast.parse(source).body[0]
    return node


def _returns_value(func) -> bool:
    ann = inspect.signature(func).return_annotation
    if ann not in (inspect.Signature.empty, None, "None"):
        return True
    node = _tree(func)
    if node is None:
        return False

    def visit(n) -> bool:
        for child in ast.iter_child_nodes(n):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue  # a nested function's return is not this one's
            if isinstance(child, ast.Return) and child.value is not None and not (
                    isinstance(child.value, ast.Constant) and child.value.value is None):
                return True
            if visit(child):
                return True
        return False

    return visit(node)


def _raises(func) -> bool:
    node = _tree(func)
    return node is not None and any(isinstance(n, ast.Raise) and n.exc is not None for n in ast.walk(node))


def _params(func, *, skip_first: bool) -> list[inspect.Parameter]:
    params = list(inspect.signature(func).parameters.values())
    return params[1:] if skip_first and params else params


def _missing_args(params, documented: set[str]) -> list[str]:
    missing = []
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            ok = p.name in documented or "kwargs" in documented
        elif p.kind is p.VAR_POSITIONAL:
            ok = p.name in documented or "args" in documented or "kwargs" in documented
        else:
            ok = p.name in documented
        if not ok:
            missing.append(("**" if p.kind is p.VAR_KEYWORD else "*" if p.kind is p.VAR_POSITIONAL else "")
                           + p.name)
    return missing


def _problems(qual: str, kind: str, obj, owner) -> list[str]:
    doc = inspect.getdoc(obj) if kind != "class" else obj.__doc__
    if kind == "class" and doc:
        doc = inspect.cleandoc(doc)
    if kind != "class" and obj.__doc__ is None:
        doc = None  # an inherited docstring (getdoc) does not document this override
    if not doc:
        return ["no docstring"]
    sections = _sections(doc)
    problems = []
    if kind == "class":
        try:
            params = list(inspect.signature(obj).parameters.values())
        except (TypeError, ValueError):  # no Python-level constructor
            params = []
        if getattr(obj, "_is_protocol", False):  # a typing.Protocol is a contract, never instantiated
            params = []
        documented = _documented_names(sections.get("Args", [])) | _documented_names(sections.get("Attributes", []))
        missing = _missing_args(params, documented)
        if missing:
            problems.append(f"constructor arguments not under Args:/Attributes: {', '.join(missing)}")
        raising = [m for m in ("__init__", "__post_init__", "__new__")
                   if inspect.isfunction(getattr(obj, m, None)) and _is_ours(getattr(obj, m))
                   and _raises(getattr(obj, m))]
        if raising and "Raises" not in sections:
            problems.append(f"{'/'.join(raising)} raises, but there is no Raises: section")
        return problems
    skip_first = owner is not None and not isinstance(inspect.getattr_static(owner, qual.rsplit(".", 1)[1]),
                                                      staticmethod)
    params = _params(obj, skip_first=skip_first)
    if params:
        if "Args" not in sections:
            problems.append(f"parameters {', '.join(p.name for p in params)} but no Args: section")
        else:
            missing = _missing_args(params, _documented_names(sections["Args"]))
            if missing:
                problems.append(f"Args: does not name {', '.join(missing)}")
    name = qual.rsplit(".", 1)[1]
    exempt = kind == "property" or (name.startswith("__") and name.endswith("__"))
    if not exempt and "Returns" not in sections and "Yields" not in sections and _returns_value(obj):
        problems.append("returns a value, but there is no Returns: section")
    if _raises(obj) and "Raises" not in sections:
        problems.append("raises, but there is no Raises: section")
    return problems


def _failures() -> dict[str, list[str]]:
    return {qual: problems for qual, kind, obj, owner in _walk() if (problems := _problems(qual, kind, obj, owner))}


# ----------------------------------------------------------------------------------------- tests
def test_the_public_modules_have_an_all():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        assert isinstance(getattr(module, "__all__", None), (list, tuple)), f"{name} has no __all__"
        for member in module.__all__:
            assert _lazy_widget(module, member) or hasattr(module, member), f"{name}.__all__ names {member!r}, " \
                                                                            "which it does not define"


def test_the_walk_does_not_import_the_widgets():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_docstrings as t; list(t._walk()); "
            "assert 'ipywidgets' not in sys.modules, 'the walk imported ipywidgets'")
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_walk_covers_the_public_api():
    walked = {qual for qual, *_ in _walk()}
    for expected in ("rashomon_widgets.core.curvature.landscape.Landscape.check_theta",
                     "rashomon_widgets.core.geometry.curve_base.Curve.points",
                     "rashomon_widgets.core.geometry._files.CurveFiles.load",
                     "rashomon_widgets.core.geometry.curves.BezierCurve.weights",
                     "rashomon_widgets.core.geometry.paths.null_space_path",
                     "rashomon_widgets.models.training.train",
                     "rashomon_widgets.data.local.read_mnist",
                     "rashomon_widgets.experiments.sweep.sweep",
                     "rashomon_widgets.experiments.broad_basins.nudges"):
        assert expected in walked
    assert not any(q.startswith("rashomon_widgets.widgets") for q in walked)


def test_every_public_callable_is_documented():
    failures = _failures()
    report = "\n".join(f"  {q}: {'; '.join(p)}" for q, p in sorted(failures.items()))
    assert not failures, f"{len(failures)} public callables with incomplete docstrings:\n{report}"
