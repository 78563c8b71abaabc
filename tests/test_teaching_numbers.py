"""One source of truth for the numbers in prose: docs/teaching.md and the notebooks' markdown against what
the notebooks compute.

A number in that prose which a notebook computes either points at what the notebook prints ("in our run",
"the notebook prints ...": run-dependent values the teacher may quote), or is checked here against the same
computation, done again: parameter counts by building the models the notebooks build (with the values of
their parameters cells), seeds per width by reading the shipped sweeps, and the small deterministic results
(the XOR minimum's spectrum, the blank pixels of notebook 01's exact model, the ranks of notebook 04, the
shares of notebook 03's sweep) by running the library calls the notebooks run. Two sweeping checks catch new
text: every "N-parameter" / "N parameters" must be the size of a model some notebook builds, and every
"N seeds / trainings / networks / runs" must be the shipped number per width (the write-ups' own 150 aside).
test_the_checks_fail_on_the_old_text keeps the text this file was written against failing.
"""
from __future__ import annotations

import ast
import collections
import re
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
import torch

import rashomon_widgets as rw
from rashomon_widgets.core.comparison import behaviour
from rashomon_widgets.experiments import information_loss, shipped

REPO = Path(__file__).resolve().parents[1]
TEACHING = "docs/teaching.md"
NB00, NB01, NB02, NB03, NB04 = (
    "notebooks/00_quickstart.ipynb", "notebooks/01_rashomon_manifold_mode_connectivity.ipynb",
    "notebooks/02_skeletons_on_rashomon_ridge.ipynb", "notebooks/03_broad_basins_xor.ipynb",
    "notebooks/04_information_loss_basin_flatness.ipynb")
NOTEBOOKS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "notebooks").glob("*.ipynb"))


# ---------------------------------------------------------------------------------------------------
# The texts
# ---------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _notebook(path: str):
    return nbformat.read(REPO / path, as_version=4)


def prose(path: str) -> str:
    """docs/teaching.md, or a notebook's markdown cells (one blank line between cells)."""
    if path.endswith(".md"):
        return (REPO / path).read_text()
    return "\n\n".join(c.source for c in _notebook(path).cells if c.cell_type == "markdown")


def code(path: str) -> str:
    return "\n\n".join(c.source for c in _notebook(path).cells if c.cell_type == "code")


def parameters(path: str) -> dict:
    """The full-size values of a notebook's parameters cell (RASHOMON_SMALL unset), evaluated like the cell."""
    (cell,) = [c for c in _notebook(path).cells if "parameters" in c.metadata.get("tags", [])]
    tree = ast.parse(cell.source)
    values = {"SMALL": False}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == "SMALL":
                continue
            try:
                values[name] = eval(compile(ast.Expression(node.value), path, "eval"), {"SMALL": False})
            except NameError:   # refers to something else of the cell (os...): not a number we need
                pass
    return values


def number(text: str) -> float:
    return float(text.replace(",", ""))


def one(pattern: str, text: str, where: str) -> re.Match:
    """The single match of ``pattern`` (whitespace in it matches any whitespace, line breaks included)."""
    regex = re.compile(re.sub(r"(?<!\\) ", r"\\s+", pattern))
    found = list(regex.finditer(text))
    assert len(found) == 1, f"{where}: expected one sentence matching {pattern!r}, found {len(found)}"
    return found[0]


def context(text: str, m: re.Match, width: int = 60) -> str:
    return " ".join(text[max(0, m.start() - width):m.end() + width].split())


# ---------------------------------------------------------------------------------------------------
# What the notebooks compute, computed again
# ---------------------------------------------------------------------------------------------------

def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@lru_cache(maxsize=None)
def parameter_counts() -> dict[str, int]:
    """The size of every model a notebook builds (full-size parameters), by building it."""
    p00, p01, p02, p03, p04 = (parameters(nb) for nb in (NB00, NB01, NB02, NB03, NB04))
    later = information_loss.merged_later_landscape(0, num_inputs=p04["MAX_MERGED"])
    counts = {
        "00 XOR minimum": n_params(rw.models.xor_minimum()),
        "00/02 digits MLP (default widths)": n_params(rw.models.digits_mlp()),
        "01 digits MLP (HIDDEN)": n_params(rw.models.digits_mlp(p01["HIDDEN"])),
        "01 exact model (EXACT_HIDDEN)": n_params(rw.models.digits_mlp(p01["EXACT_HIDDEN"])),
        "01 PreResNet20": n_params(rw.models.preresnet20()),
        "01 CNN on MNIST (MODEL = 'mnist_cnn')": n_params(rw.models.mnist_cnn(p01["CNN_CHANNELS"],
                                                                              hidden=p01["CNN_HIDDEN"])),
        "02 CNN on MNIST (DATASET = 'mnist_cnn')": n_params(rw.models.mnist_cnn(p02["CNN_CHANNELS"],
                                                                                hidden=p02["CNN_HIDDEN"])),
        "01 toy": rw.Landscape(*rw.models.toy_quadratic(a=1.0, b=0.25, point=(0.0, 0.0, 3.0)),
                               reduction="sum").num_params,
        "04 contour model": information_loss.contour_landscape(45.0).num_params,
        "04 soft-target classifier": n_params(information_loss.soft_target_classifier(seed=0)[0]),
        "04 merged-input net": information_loss.merged_inputs_landscape(0, num_inputs=p04["MAX_MERGED"]).num_params,
        "04 later-merge net": later.num_params,
        "04 later-merge net, after the layer": information_loss.LATER_WIDTHS[-1] + 1,
        "04 later-merge net, before the layer": later.num_params - (information_loss.LATER_WIDTHS[-1] + 1),
    }
    assert p00["MODEL"] == "xor"
    for w in sorted(set(p03["WIDTHS"]) | set(p04["WIDTHS"])):
        counts[f"03/04 XOR net of width {w}"] = n_params(rw.models.xor_mlp(w))
    return counts


SETUPS_03 = {act: dict(task="xor", activation=act, init_std=1.0) for act in ("sigmoid", "relu")}
SETUPS_04 = {"XOR, sigmoid": dict(task="xor", activation="sigmoid", init_std=1.0),
             "XOR, ReLU": dict(task="xor", activation="relu", init_std=1.0),
             "4 random points, sigmoid": dict(task="random", activation="sigmoid", init_std=1.0)}


@lru_cache(maxsize=None)
def sweeps() -> dict:
    """{(notebook, setup): the shipped records that notebook reads}, as notebooks 03 and 04 load them."""
    out = {}
    for nb, setups in ((NB03, SETUPS_03), (NB04, SETUPS_04)):
        widths = parameters(nb)["WIDTHS"]
        for name, options in setups.items():
            out[nb, name] = shipped.load(widths, **options).records
    return out


@lru_cache(maxsize=None)
def seeds_per_width() -> set[int]:
    """Every number of seeds per (setup, width) of the shipped sweeps the notebooks read."""
    counts = set()
    for records in sweeps().values():
        by_width = collections.defaultdict(set)
        for r in records:
            by_width[r["width"]].add(r["seed"])
        counts |= {len(s) for s in by_width.values()}
    return counts


def share_at_maximum(records, width: int, tol: float) -> float:
    """Notebook 03's share of global minima with at least N - 3 near-zero eigenvalues at ``tol``, in %."""
    minima = [r for r in records if r["width"] == width and r["converged"]]
    return 100 * sum(rw.core.count_near_zero(r["spectrum"], tol) >= r["num_params"] - 3 for r in minima) / len(minima)


# ---------------------------------------------------------------------------------------------------
# The two sweeping checks, written as functions of a text so that they can be tried on the old text
# ---------------------------------------------------------------------------------------------------

PARAMETER_PHRASE = re.compile(r"(?<![~\d,.])(\d[\d,]*)(?:-parameter\b|\s+parameters\b)")
SEED_PHRASE = re.compile(r"(?<![\d,.])(\d[\d,]*)\s+(?:seeds|trainings|networks|runs)\b")
# the write-ups' own numbers, which the notebooks compare with and do not compute
WRITEUP_CONTEXT = re.compile(r"write-up\s+(?:trained|used)\s+$")


def parameter_problems(text: str) -> list[str]:
    known = set(parameter_counts().values())
    return [f"{m.group(1)} parameters is no model a notebook builds ({sorted(known)}): {context(text, m)!r}"
            for m in PARAMETER_PHRASE.finditer(text) if int(number(m.group(1))) not in known]


def seed_problems(text: str) -> list[str]:
    shipped_counts = seeds_per_width()
    problems = []
    for m in SEED_PHRASE.finditer(text):
        if WRITEUP_CONTEXT.search(text[max(0, m.start() - 30):m.start()]):
            continue
        if int(number(m.group(1))) not in shipped_counts:
            problems.append(f"{m.group(1)} seeds/runs: the shipped sweeps have {sorted(shipped_counts)} per width: "
                            f"{context(text, m)!r}")
    return problems


@pytest.mark.parametrize("path", [TEACHING, *NOTEBOOKS])
def test_every_parameter_count_is_a_model_the_notebooks_build(path):
    assert not parameter_problems(prose(path))


@pytest.mark.parametrize("path", [TEACHING, *NOTEBOOKS])
def test_every_seed_count_is_the_shipped_one(path):
    assert seeds_per_width() == {2000}, "the shipped sweeps changed: update the prose (and this line)"
    assert not seed_problems(prose(path))


def test_the_checks_fail_on_the_old_text():
    """The two numbers a teacher found wrong, as they stood, fail; what replaced them passes."""
    old_teaching = ("On the 610-parameter model of 1d, counted exactly, it moves between 83 and 88 along t, "
                    "and 32 of them are exact zeros (4 always-blank pixels x 8 hidden units).")
    old_00 = "- `03_broad_basins_xor`: how many zero eigenvalues do XOR minima have, over 150 seeds?"
    assert parameter_problems(old_teaching) and seed_problems(old_00)
    assert "610-parameter" not in prose(TEACHING) and "over 150 seeds" not in prose(NB00)
    assert not parameter_problems(prose(TEACHING)) and not seed_problems(prose(NB00))
    assert "2,000 seeds per width" in prose(NB00)


# ---------------------------------------------------------------------------------------------------
# Particular numbers, each against its computation
# ---------------------------------------------------------------------------------------------------

def test_notebook_01_exact_model_in_teaching():
    """Exercise 3 of 01: the exact model's size, its targets, P - rank G, and the blank pixels, as 1d builds
    them (EXACT_HIDDEN, EXACT_PER_CLASS of the parameters cell; the first images of each digit)."""
    text, p01 = prose(TEACHING), parameters(NB01)
    hidden, per_class = p01["EXACT_HIDDEN"], p01["EXACT_PER_CLASS"]
    images, labels = rw.data.digits(dtype=torch.float64).train
    pick = torch.cat([torch.nonzero(labels == digit)[:per_class, 0] for digit in range(10)])
    num_params = n_params(rw.models.digits_mlp(hidden))
    targets = len(pick) * 10
    blank = int((images[pick].abs().sum(0) == 0).sum())

    m = one(r"1d's exact model has ([\d,]+) parameters \(one hidden layer of (\d+) units\) and (\d+) images x "
            r"(\d+) outputs = ([\d,]+) targets", text, TEACHING)
    assert [number(g) for g in m.groups()] == [num_params, hidden[0], len(pick), 10, targets]
    m = one(r"P - rank G = ([\d,]+) - ([\d,]+) = ([\d,]+)", text, TEACHING)
    assert [number(g) for g in m.groups()] == [num_params, targets, num_params - targets]
    m = one(r'"(\d+) blank pixels x (\d+) hidden units = (\d+) exactly zero columns of H"', text, TEACHING)
    assert [number(g) for g in m.groups()] == [blank, hidden[0], blank * hidden[0]]
    # ... which is what the notebook prints, and the sizes its own comments state
    assert "blank pixels x {EXACT_HIDDEN[0]} hidden units = {int(flat.sum())} exactly zero" in code(NB01)
    assert f"({num_params} parameters)" in code(NB01)
    assert f"({len(pick)} images x 10 targets: fewer than {num_params})" in code(NB01)
    assert f"({n_params(rw.models.digits_mlp(p01['HIDDEN'])):,} parameters by default)" in code(NB01)
    m = one(r"bundled handwritten digits \(([\d,]+) 8x8 images", prose(NB01), NB01)
    split = rw.data.digits()
    assert number(m.group(1)) == len(split.train[1]) + len(split.test[1])


def test_notebook_00_numbers_in_teaching():
    """00's exercises: the top eigenvalue of section 2, the loss at the minimum, 5 of 9, J of 4 x 9, the dense limit."""
    text = prose(TEACHING)
    model = rw.models.xor_minimum()
    ls = rw.Landscape(model, rw.models.sum_of_squares, rw.data.xor(), reduction="sum")
    spectrum = ls.spectrum()
    top = float(spectrum.values.max())
    m = one(r"The top eigenvalue printed in section 2 is ([\d.]+)", text, TEACHING)
    assert m.group(1) == f"{top:.1f}"
    assert 1e-18 < ls.loss() < 1e-16, "the prose says the loss at the minimum is about 1e-17"
    m = one(r"0\.5 x (\d+) x 0\.01 = ([\d.]+)", text, TEACHING)
    assert number(m.group(1)) == round(top) and number(m.group(2)) == pytest.approx(0.5 * top * 0.01, abs=5e-3)
    m = one(r"Why exactly (\d+) near-zero eigenvalues of (\d+)\?", text, TEACHING)
    assert [number(g) for g in m.groups()] == [spectrum.num_near_zero, ls.num_params]
    m = one(r"(\d+) XOR points, so J is (\d+) x (\d+)", text, TEACHING)
    assert [number(g) for g in m.groups()] == [*ls.jacobian().shape[:1], *ls.jacobian().shape]
    m = one(r"The model has ([\d,]+) parameters, above the dense limit \(([\d,]+)\)", text, TEACHING)
    assert number(m.group(1)) == n_params(rw.models.digits_mlp())
    assert number(m.group(2)) == rw.core.SizePolicy().dense_limit < number(m.group(1))
    assert parameters(NB00)["NUM_NULL"] == 3 and parameters(NB00)["NUM_TOP"] == 1
    assert "three **null** sliders" in text and "one **top** slider" in text


def test_notebook_03_sweep_numbers_in_teaching():
    """Exercise 3 of 03: the modes, and the shares at N - 3 at the sweep's tolerance and at 1e-2, from the
    shipped records (recounted from their spectra, as the notebook does)."""
    text = prose(TEACHING)
    runs = {act: sweeps()[NB03, act] for act in SETUPS_03}
    widths = parameters(NB03)["WIDTHS"]
    sweep_tol = runs["sigmoid"][0]["tol"]

    m = one(r"the mode is N - 4 \(([\d, ]+) for N = ([\d, ]+)\)", text, TEACHING)
    sizes = [n_params(rw.models.xor_mlp(w)) for w in widths]
    assert [number(x) for x in m.group(2).split(",")] == sizes
    assert [number(x) for x in m.group(1).split(",")] == [n - 4 for n in sizes]
    for act, records in runs.items():
        for w, n in zip(widths, sizes):
            tally = collections.Counter(r["near_zero"] for r in records if r["width"] == w and r["converged"])
            assert max(tally, key=tally.get) == n - 4, (act, w, tally)

    m = one(r"is reached by ([\d.%, ]+) of sigmoid global minima \(widths ([\d, ]+)\) and by ([\d.%, ]+) of "
            r"ReLU ones", text, TEACHING)
    assert [number(x) for x in m.group(2).split(",")] == list(widths)
    for act, stated in (("sigmoid", m.group(1)), ("relu", m.group(3))):
        for w, value in zip(widths, stated.split(",")):
            value = value.strip().rstrip("%")
            decimals = len(value.split(".")[1]) if "." in value else 0
            assert abs(number(value) - share_at_maximum(runs[act], w, sweep_tol)) <= 0.5 * 10**-decimals, (act, w)
    assert float(one(r"at the sweep's tolerance \(([\d.e-]+)\)", text, TEACHING).group(1)) == sweep_tol

    loose = [share_at_maximum(runs[act], w, 1e-2) for act in runs for w in widths]
    m = one(r"At a looser tolerance \(1e-2\) the shares rise to (\d+)-(\d+)%", text, TEACHING)
    assert abs(number(m.group(1)) - min(loose)) <= 0.5 and abs(number(m.group(2)) - max(loose)) <= 0.5
    m = one(r"\(([\d.]+)% at width (\d+), ([\d.]+)% at width (\d+)\)", text, TEACHING)
    assert (number(m.group(2)), number(m.group(4))) == (widths[0], widths[-1])
    assert number(m.group(1)) == pytest.approx(share_at_maximum(runs["sigmoid"], widths[0], 1e-2), abs=0.05)
    assert number(m.group(3)) == pytest.approx(share_at_maximum(runs["sigmoid"], widths[-1], 1e-2), abs=0.05)


def test_notebook_04_numbers_in_teaching():
    """04's exercises: the soft-target classifier's size and ranks (4c), the rank deficits of merged inputs (4d)."""
    text, p04 = prose(TEACHING), parameters(NB04)
    model_c, soft_ce, data_c = information_loss.soft_target_classifier(seed=0)
    as_logits = rw.Landscape(model_c, soft_ce, data_c, reduction="sum")
    as_probs = rw.Landscape(model_c, soft_ce, data_c, reduction="sum", behaviour=lambda z: z.softmax(-1))
    inputs, classes = data_c[0].shape[0], model_c(data_c[0]).shape[1]
    m = one(r"The notebook's (\d+)-parameter, (\d+)-input, (\d+)-class net: rank H = (\d+), rank G of the logits "
            r"(\d+), rank G of the probabilities (\d+)", text, TEACHING)
    assert [number(g) for g in m.groups()] == [
        as_logits.num_params, inputs, classes, behaviour.hessian_rank(as_logits),
        behaviour.behaviour_rank(as_logits), behaviour.behaviour_rank(as_probs)]
    assert f"({inputs} inputs, {classes} classes, {as_logits.num_params} parameters)" in prose(NB04)

    k = p04["MAX_MERGED"]
    deficits = [k - behaviour.behaviour_rank(information_loss.merged_inputs_landscape(m_, num_inputs=k))
                for m_ in range(k + 1)]
    m = one(r"Merge m of the (\d+) inputs", text, TEACHING)
    assert number(m.group(1)) == k
    m = one(r"for m = 0, 1, 2, \.\.\., (\d+) the deficit k - rank G is 0, 0, 1, 2, \.\.\., (\d+)", text, TEACHING)
    assert (number(m.group(1)), number(m.group(2))) == (k, deficits[-1])
    assert deficits == [max(m_ - 1, 0) for m_ in range(k + 1)]


def test_notebook_04_sizes_in_its_markdown():
    """The net sizes 04's markdown and comments state: 4-6-8-1 (95), 4-16-8-1 (216 before the layer, 9 after),
    width 5 as the write-up's ~20 parameters (21), and the widths' sizes in the parameters cell."""
    text, counts, p04 = prose(NB04), parameter_counts(), parameters(NB04)
    m = one(r"The net here is 4-6-8-1 \(ReLU, then tanh, (\d+) parameters\) on (\d+) inputs", text, NB04)
    assert (number(m.group(1)), number(m.group(2))) == (counts["04 merged-input net"], p04["MAX_MERGED"])
    m = one(r"output layer's (\d+) parameters, but (\d+) parameters before it", text, NB04)
    assert (number(m.group(1)), number(m.group(2))) == (counts["04 later-merge net, after the layer"],
                                                        counts["04 later-merge net, before the layer"])
    assert "a 4-16-8-1 net" in text and information_loss.LATER_WIDTHS == (4, 16, 8)
    m = one(r"Width (\d+) is the write-up's ~20 parameters \((\d+)\)", text, NB04)
    assert number(m.group(2)) == n_params(rw.models.xor_mlp(int(number(m.group(1)))))


@pytest.mark.parametrize("path", [NB03, NB04])
def test_widths_comment_of_the_parameters_cell(path):
    """`WIDTHS = (...)  # hidden units...: 9, 13, ... and N parameters` states the sizes of those widths."""
    line = next(ln for ln in code(path).splitlines() if ln.startswith("WIDTHS ="))
    stated = [number(x) for x in re.findall(r"\d+", line.split(":", 1)[1])]
    assert stated == [n_params(rw.models.xor_mlp(w)) for w in parameters(path)["WIDTHS"]], line


def test_the_cost_table_points_at_what_the_notebooks_print():
    """How many shipped records 03 and 04 re-run is printed by them ("re-ran N records"); the table says so
    rather than a number."""
    text = prose(TEACHING)
    assert "re-running a few shipped records (it prints how many)" in text
    assert not re.search(r"re-running \d+ shipped records", text)
    for nb in (NB03, NB04):
        assert 're-ran {' in code(nb), nb


def test_the_convergence_thresholds_are_the_code_s():
    """02 and its exercise state when two skeletons count as converged: SkeletonComparison.converged()'s defaults."""
    import inspect

    from rashomon_widgets.experiments.skeletons import SkeletonComparison
    defaults = {k: v.default for k, v in inspect.signature(SkeletonComparison.converged).parameters.items()
                if v.default is not inspect.Parameter.empty}
    m = one(r"\(overlap at least ([\d.]+)\) and behave nearly alike off distribution \(similarity at least ([\d.]+)\)",
            prose("notebooks/02_skeletons_on_rashomon_ridge.ipynb"), "02")
    assert (number(m.group(1)), number(m.group(2))) == (defaults["min_overlap"], defaults["min_similarity"])
    m = one(r'"converged" needs (\d+)% and an OOD similarity of (\d+(?:\.\d+)?)', prose(TEACHING), TEACHING)
    assert (number(m.group(1)) / 100, number(m.group(2))) == (defaults["min_overlap"], defaults["min_similarity"])
