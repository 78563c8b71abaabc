"""The shipped XOR sweeps (notebooks 03 and 04 read them by default): complete, reproducible, and made by
the documented command."""
import gzip
import json
import random

import pytest

from rashomon_widgets.core import count_near_zero
from rashomon_widgets.experiments import mlp_run, shipped
from rashomon_widgets.experiments.records import run_key


@pytest.fixture(scope="module")
def records():
    return shipped.records()


def _setup(record):
    return (record["task"], record["activation"], record["init_std"], record["width"])


def test_the_shipped_file_holds_thousands_of_seeds_for_every_setup_and_width(records):
    seeds = {}
    for r in records:
        seeds.setdefault(_setup(r), set()).add(r["seed"])
    expected = {(o["task"], o["activation"], o["init_std"], w) for o, widths in shipped.GRID for w in widths}
    assert set(seeds) == expected
    sizes = {len(s) for s in seeds.values()}
    assert len(sizes) == 1 and sizes.pop() >= 2000
    assert all(s == set(range(len(s))) for s in seeds.values())        # seeds 0..n-1, none missing
    assert len(records) == sum(len(s) for s in seeds.values())          # no duplicates


def test_every_record_says_which_fields_it_promises(records):
    """Each record carries its fragility probe's verdict (``fragile``: the fields that a one-ulp move of
    its initial weights changed); the rest are what it promises on any CPU."""
    for r in records:
        assert isinstance(r["fragile"], list) and set(r["fragile"]) <= set(shipped.FIELDS) - {"num_params"}, r
        assert shipped.robust_fields(r) == tuple(f for f in shipped.FIELDS if f not in r["fragile"])
    fragile = [r for r in records if r["fragile"]]
    assert 0 < len(fragile) < len(records) / 2


def test_a_sample_of_shipped_records_reproduces_exactly_what_it_promises(records):
    """Robust records are re-run in full (every eigenvalue); fragile ones on their robust fields only.
    The sample holds the plateau run that differed on another CPU (sigmoid, width 3, seed 448)."""
    rng = random.Random(2026)
    robust = [r for r in records if not r["fragile"]]
    fragile = [r for r in records if r["fragile"]]
    known = next(r for r in records if _setup(r) == ("xor", "sigmoid", 1.0, 3) and r["seed"] == 448)
    sample = rng.sample(robust, 10) + rng.sample(fragile, 4) + [known]
    for r in sample:
        assert shipped.matches(r, shipped.rerun(r), fields=shipped.robust_fields(r)) == [], (r["key"], r["fragile"])
    assert "spectrum" in known["fragile"]


def test_the_fragility_probe_marks_a_changed_field():
    r = {"key": "k", "converged": True, "near_zero": 5, "rank_G": 4, "num_params": 9, "epochs": 3, "loss": 1e-12,
         "spectrum": [0.0] * 5 + [0.1, 0.5, 1.0, 2.0], "tol": 1e-6}
    probe = {**r, "key": json.dumps({"init_ulps": 1}), "epochs": 4, "spectrum": [0.0] * 5 + [0.1, 0.5, 1.01, 2.0]}
    (marked,) = shipped.fragility([{**r, "key": json.dumps({})}], [probe])
    assert marked["fragile"] == ["epochs", "spectrum"]
    assert shipped.robust_fields(marked) == ("converged", "near_zero", "rank_G", "num_params", "loss")
    with pytest.raises(ValueError, match="no probe"):
        shipped.fragility([{**r, "key": json.dumps({"seed": 1})}], [probe])


def test_the_comparison_fails_on_a_changed_record(records):
    r = next(r for r in records if r["converged"] and r["width"] == 3)
    fresh = shipped.rerun(r)
    assert shipped.matches(r, fresh) == []
    assert any("near_zero" in p for p in shipped.matches({**r, "near_zero": r["near_zero"] + 1}, fresh))
    assert "spectrum differs" in shipped.matches({**r, "spectrum": [1.001 * v for v in r["spectrum"]]}, fresh)
    assert any("loss" in p for p in shipped.matches({**r, "loss": 2 * r["loss"] + 1e-9}, fresh))
    seed = f'"seed": {r["seed"]}'
    other = shipped.rerun({**r, "key": r["key"].replace(seed, f'"seed": {r["seed"] + 1}')})
    assert shipped.matches(r, other) != []


def test_compaction_keeps_every_count_and_writing_is_deterministic(tmp_path):
    config = {"width": 2, "seed": 3, "task": "xor", "activation": "sigmoid", "init_std": 1.0}
    raw = [{**mlp_run(**{**config, "seed": s}), **config, "seed": s,
            "key": run_key(shipped._RUN_NAME, {**config, "seed": s})} for s in range(4)]
    a, b = shipped.write(raw, tmp_path / "a.jsonl.gz"), shipped.write(raw[::-1], tmp_path / "b.jsonl.gz")
    assert a.read_bytes() == b.read_bytes()
    with gzip.open(a, "rt") as f:
        back = [json.loads(line) for line in f]
    assert [r["seed"] for r in sorted(back, key=lambda r: r["seed"])] == [0, 1, 2, 3]
    for r in back:
        assert "seconds" not in r
        assert count_near_zero(r["spectrum"], r["tol"]) == r["near_zero"]   # the package rule
    loaded = shipped.load((2,), path=a, task="xor", activation="sigmoid", init_std=1.0)
    assert len(loaded.records) == 4 and loaded.ran == 0 and loaded.reused == 4


def test_load_says_what_the_file_holds():
    with pytest.raises(ValueError, match=r"no records with the options .*RECOMPUTE"):
        shipped.load((2,), task="xor", activation="sigmoid", init_std=0.5)
    with pytest.raises(ValueError, match=r"widths \[7\] are not shipped .*shipped: \[2, 3, 4, 5, 6, 8\]"):
        shipped.load((2, 7), task="xor", activation="sigmoid", init_std=1.0)
    with pytest.raises(FileNotFoundError, match="missing; make it with"):
        shipped.records("/nonexistent/sweeps.jsonl.gz")


def test_the_documented_command_runs_the_grid_on_a_dask_local_cluster(tmp_path, monkeypatch):
    work, out = tmp_path / "work.jsonl", tmp_path / "out.jsonl.gz"
    assert shipped.main(["--seeds", "2", "--workers", "1", "--work", str(work), "--out", str(out)]) == 0
    made = shipped.records(out)
    assert len(made) == 2 * sum(len(widths) for _, widths in shipped.GRID)
    reference = {r["key"]: r for r in shipped.records()}
    for r in made:                                   # the same runs as in the shipped file
        assert shipped.matches(reference[r["key"]], r) == []
