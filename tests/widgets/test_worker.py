"""LatestWorker: one job at a time off the calling thread; the newest request wins; errors are reported,
a superseded job ends quietly."""
import threading

from rashomon_widgets.widgets._worker import LatestWorker, Superseded


def test_latest_request_wins_and_a_running_job_sees_it_is_stale():
    errors, done, seen_stale = [], [], []
    started, release = threading.Event(), threading.Event()
    worker = LatestWorker(errors.append)

    def slow(current):
        started.set()
        release.wait(10)
        seen_stale.append(not current())
        done.append("slow")

    worker.submit(slow)
    assert started.wait(10)
    for k in range(5):  # queued while `slow` runs: only the last survives
        worker.submit(lambda current, k=k: done.append(k))
    release.set()
    assert worker.wait(10)
    assert done == ["slow", 4] and seen_stale == [True] and errors == []


def test_errors_are_reported_and_superseded_jobs_end_quietly():
    errors, done = [], []
    worker = LatestWorker(errors.append)

    def fails(current):
        raise ValueError("bad input")

    def superseded(current):
        raise Superseded

    worker.submit(fails)
    assert worker.wait(10)
    worker.submit(superseded)
    assert worker.wait(10)
    worker.submit(lambda current: done.append(current()))
    assert worker.wait(10)
    assert [type(e).__name__ for e in errors] == ["ValueError"] and str(errors[0]) == "bad input"
    assert done == [True]


def test_stop_supersedes_the_running_job_and_joins_the_thread():
    errors, seen = [], []
    started = threading.Event()
    worker = LatestWorker(errors.append)

    def busy(current):
        started.set()
        while current():
            threading.Event().wait(0.01)
        seen.append("stopped")

    worker.submit(busy)
    assert started.wait(10)
    assert worker.stop(10)
    assert seen == ["stopped"] and errors == []


def test_a_job_still_running_at_interpreter_exit_is_stopped_cleanly(tmp_path):
    """A daemon thread inside torch at interpreter teardown can abort the process; the atexit hook stops
    and joins it first, so the script exits 0 and the job ends at its next stage."""
    import subprocess
    import sys

    marker = tmp_path / "ended"
    script = f"""
import threading, torch
from rashomon_widgets.widgets._worker import LatestWorker
started = threading.Event()
def job(current):
    a = torch.randn(300, 300)
    started.set()
    while current():
        a = torch.tanh(a @ a.T / 300)
    open({str(marker)!r}, "w").write("stopped")
LatestWorker(print).submit(job)
started.wait(30)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "terminate called" not in done.stderr
    assert marker.read_text() == "stopped"
