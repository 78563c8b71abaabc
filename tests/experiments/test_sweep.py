"""Sweeps: results appended as runs finish, resume after a real kill, any Executor (threads, processes, Dask)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rashomon_widgets.experiments import ResultsWarning, TextProgress, load_results, local_cluster, mlp_run, sweep
from rashomon_widgets.experiments.sweep import default_executor

# slow_run by its bare module name, as the killed sweeps' subprocesses below import it: a sweep's record key
# names the run function's module, so both sides must call it sweep_helpers.slow_run to resume each other
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_helpers import slow_run

HERE = Path(__file__).resolve().parent


def _keys(records):
    return sorted((r["width"], r["seed"]) for r in records)


def test_resume_after_a_kill_redoes_no_finished_run(tmp_path):
    results, log = tmp_path / "runs.jsonl", tmp_path / "calls.log"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from sweep_helpers import slow_run\n"
        "from rashomon_widgets.experiments import sweep\n"
        "sweep(range(10), (1, 2), sys.argv[2], run=slow_run, executor=ThreadPoolExecutor(2), delay=0.15,\n"
        "      log=sys.argv[3])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(HERE), str(results), str(log)])
    try:
        deadline = time.monotonic() + 300   # generous: a loaded machine starts Python and torch slowly
        while len(load_results(results)) < 5:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the sweep wrote no results in 300 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    finished = _keys(load_results(results))
    assert 5 <= len(finished) < 20, "the kill should land mid-sweep"

    calls = []
    result = sweep(range(10), (1, 2), results, run=slow_run, executor=ThreadPoolExecutor(2), delay=0.0, log=str(log),
                   progress=lambda done, total, record: calls.append((done, total)))
    # delay is part of the key: 0.0 is another sweep, so everything runs again; with the same options it resumes
    assert result.ran == 20 and result.reused == 0
    before = len(log.read_text().splitlines())
    result = sweep(range(10), (1, 2), results, run=slow_run, executor=ThreadPoolExecutor(2), delay=0.15, log=str(log))
    resumed = [tuple(map(int, line.split()[1:])) for line in log.read_text().splitlines()[before:]]
    assert not set(resumed) & set(finished), "a finished run was redone"
    assert sorted(set(resumed) | set(finished)) == [(w, s) for w in (1, 2) for s in range(10)]
    assert result.reused == len(finished) and result.ran == 20 - len(finished) == len(resumed)
    assert _keys(result.records) == [(w, s) for w in (1, 2) for s in range(10)]
    assert all(r["value"] == 1000 * r["width"] + r["seed"] for r in result.records)
    # every key of the killed sweep is in the file exactly once
    keyed = [r["key"] for r in load_results(results) if r["delay"] == 0.15]
    assert len(keyed) == len(set(keyed)) == 20
    assert calls[-1] == (20, 20)


def test_a_torn_line_is_skipped_and_that_run_redone(tmp_path):
    results = tmp_path / "runs.jsonl"
    first = sweep(range(3), (1,), results, run=slow_run, executor=ThreadPoolExecutor(1))
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])   # a crash mid-write
    with pytest.warns(ResultsWarning, match="skipped 1 line.*line 3: a run killed while writing"):
        assert len(load_results(results)) == 2
    with pytest.warns(ResultsWarning):
        again = sweep(range(3), (1,), results, run=slow_run, executor=ThreadPoolExecutor(1))
    assert again.ran == 1 and again.reused == 2
    assert [r["value"] for r in again.records] == [r["value"] for r in first.records]
    # the redone record starts on a line of its own: read back from the file, nothing is lost
    with pytest.warns(ResultsWarning, match="line 3"):
        on_disk = load_results(results)
    assert sorted(r["value"] for r in on_disk) == [r["value"] for r in first.records]
    # with the same torn file, the old append (no newline first) glued the record onto the torn line
    glued = tmp_path / "glued.jsonl"
    glued.write_text(lines[0] + "\n" + lines[2][: len(lines[2]) // 2] + lines[2] + "\n")
    with pytest.warns(ResultsWarning):
        assert len(load_results(glued)) == 1


def test_lines_that_are_not_utf8_json_are_skipped_with_a_warning(tmp_path):
    results = tmp_path / "runs.jsonl"
    sweep(range(2), (1,), results, run=slow_run, executor=ThreadPoolExecutor(1))
    with results.open("ab") as f:
        f.write(b"\xff\xfe not a record\n[1, 2]\n")
    with pytest.warns(ResultsWarning, match="skipped 2 line"):
        again = sweep(range(2), (1,), results, run=slow_run, executor=ThreadPoolExecutor(1))
    assert again.reused == 2 and again.ran == 0


def test_killing_a_sweep_leaves_no_worker_behind_and_loses_no_record(tmp_path):
    psutil = pytest.importorskip("psutil")
    results, log = tmp_path / "runs.jsonl", tmp_path / "calls.log"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from sweep_helpers import slow_run\n"
        "from rashomon_widgets.experiments import sweep\n"
        "if __name__ == '__main__':\n"
        "    sweep(range(40), (1,), sys.argv[2], run=slow_run, delay=0.3, log=sys.argv[3])\n"
    )
    main = tmp_path / "main.py"
    main.write_text(script)
    proc = subprocess.Popen([sys.executable, str(main), str(HERE), str(results), str(log)])
    try:
        deadline = time.monotonic() + 300   # generous: spawned workers import torch, slowly under load
        while len(load_results(results)) < 3:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the sweep wrote no results in 300 s"
            time.sleep(0.02)
        workers = {int(line.split()[0]) for line in log.read_text().splitlines()} - {proc.pid}
        assert len(workers) == 2, f"expected the two process-pool workers, got {workers}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    def alive(pid):
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + 120
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if alive(p)], "workers outlived the killed sweep"
    finished = load_results(results)
    again = sweep(range(40), (1,), results, run=slow_run, executor=ThreadPoolExecutor(4), delay=0.3, log=str(log))
    assert again.reused == len(finished) and again.ran == 40 - len(finished)
    keys = [r["key"] for r in load_results(results)]
    assert len(keys) == len(set(keys)) == 40


def test_a_failing_run_is_reported_after_the_others_are_written(tmp_path):
    results = tmp_path / "runs.jsonl"
    with pytest.raises(RuntimeError, match=r"(?s)1 of 4 runs raised.*seed 2 fails on purpose"):
        sweep(range(4), (1,), results, run=slow_run, executor=ThreadPoolExecutor(2), fail_seed=2)
    assert sorted(r["seed"] for r in load_results(results)) == [0, 1, 3]


def test_mlp_run_records_spectrum_count_and_rank(tmp_path):
    result = sweep((0, 1), (2, 3), tmp_path / "xor.jsonl", executor=ThreadPoolExecutor(1))
    assert len(result.records) == 4
    for r in result.records:
        n = 4 * r["width"] + 1
        assert r["num_params"] == n and len(r["spectrum"]) == n and r["num_points"] == 4
        values = [abs(v) for v in r["spectrum"]]
        assert r["near_zero"] == sum(v <= r["tol"] * max(values) for v in values)
        assert r["spectrum"] == sorted(r["spectrum"])
        if r["converged"]:   # claim 3 at a global minimum: dim null H == N - rank G
            assert r["near_zero"] == n - r["rank_G"] and r["loss"] < 1e-10
    counts = result.by_width("near_zero")
    assert set(counts) <= {2, 3}
    single = mlp_run(width=2, seed=0, task="random", data_seed=3)
    assert single["num_points"] == 4 and single["converged"]
    with pytest.raises(ValueError, match="task: expected one of 'xor', 'random', got 'mnist'"):
        mlp_run(width=2, seed=0, task="mnist")


def test_default_executor_is_a_process_pool(tmp_path, capsys):
    result = sweep(range(3), (1,), tmp_path / "runs.jsonl", run=slow_run, progress="text")
    assert result.ran == 3 and {r["pid"] for r in result.records}.isdisjoint({os.getpid()})
    out = capsys.readouterr().out
    assert "sweep: 3/3 runs (100%)" in out
    assert default_executor(1)._mp_context.get_start_method() == "spawn"


def test_dask_local_cluster_executor(tmp_path, monkeypatch):
    distributed = pytest.importorskip(
        "distributed",
        reason="dask.distributed is not installed (pip install dask distributed) to run sweeps on a cluster")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    with local_cluster(1, threads_per_worker=2) as cluster, \
            distributed.Client(cluster) as client:
        result = sweep(range(4), (1, 2), tmp_path / "dask.jsonl", run=slow_run, executor=client.get_executor())
        worker_pids = set(client.run(os.getpid).values())
        # every server of the cluster, the dashboard included, listens on the loopback interface only
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert all(a.startswith("tcp://127.0.0.1:") for a in client.scheduler_info()["workers"])
        assert cluster.dashboard_link.startswith("http://127.0.0.1:")
        psutil = pytest.importorskip("psutil")
        listening = {c.laddr.ip for c in psutil.Process().net_connections("tcp") if c.status == "LISTEN"}
        assert listening <= {"127.0.0.1"}, f"servers on other interfaces: {listening}"
    assert result.ran == 8
    assert {r["pid"] for r in result.records} <= worker_pids and os.getpid() not in worker_pids
    assert _keys(load_results(tmp_path / "dask.jsonl")) == [(w, s) for w in (1, 2) for s in range(4)]


def test_bad_arguments_say_what_was_expected(tmp_path):
    path = tmp_path / "r.jsonl"
    with pytest.raises(ValueError, match=r"seeds\[0\]: expected an int >= 0, got -1"):
        sweep([-1], (2,), path, run=slow_run)
    with pytest.raises(ValueError, match=r"widths\[1\]: expected an int >= 1, got 0"):
        sweep([0], (2, 0), path, run=slow_run)
    with pytest.raises(TypeError, match=r"widths\[0\]: expected an int >= 1, got float 2.5"):
        sweep([0], (2.5,), path, run=slow_run)
    with pytest.raises(TypeError, match="seeds: expected an iterable"):
        sweep(5, (2,), path, run=slow_run)
    with pytest.raises(TypeError, match="executor: expected a concurrent.futures.Executor"):
        sweep([0], (2,), path, run=slow_run, executor=object())
    with pytest.raises(TypeError, match="results: expected a file path"):
        sweep([0], (2,), 3, run=slow_run)
    with pytest.raises(ValueError, match="results: expected a file path, got the directory"):
        sweep([0], (2,), tmp_path, run=slow_run)
    with pytest.raises(TypeError, match="options: expected JSON-serialisable values"):
        sweep([0], (2,), path, run=slow_run, delay=object())
    with pytest.raises(TypeError, match="progress"):
        sweep([0], (2,), path, run=slow_run, progress="bar")
    assert not path.exists()


def test_text_progress_prints_about_every_tenth(capsys):
    progress = TextProgress(every=0.5)
    for done in range(1, 11):
        progress(done, 10, {"width": 2, "seed": done})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/10", "6/10", "10/10"]
    assert json.loads(json.dumps({"ok": True}))   # records are plain JSON
