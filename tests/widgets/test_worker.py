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
    assert worker.wait(300)
    assert done == ["slow", 4] and seen_stale == [True] and errors == []


def test_errors_are_reported_and_superseded_jobs_end_quietly():
    errors, done = [], []
    worker = LatestWorker(errors.append)

    def fails(current):
        raise ValueError("bad input")

    def superseded(current):
        raise Superseded

    worker.submit(fails)
    assert worker.wait(300)
    worker.submit(superseded)
    assert worker.wait(300)
    worker.submit(lambda current: done.append(current()))
    assert worker.wait(300)
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


def test_one_long_lived_thread_serves_every_request_and_wait_means_finished():
    """Twenty settled requests run on one thread (its thread-local state, such as a landscape's model
    copies, is made once); ``wait`` returns only after the job has returned."""
    errors, threads, finished = [], set(), []
    worker = LatestWorker(errors.append)

    def job(current):
        threads.add(threading.current_thread())
        threading.Event().wait(0.02)
        finished.append(True)

    for k in range(20):
        worker.submit(job)
        assert worker.wait(300)
        assert len(finished) == k + 1          # the job had returned when wait did
    assert len(threads) == 1 and worker.threads_started == 1
    (thread,) = threads
    assert thread.is_alive()                   # kept for the next request, not dropped half-way
    assert worker.stop(10) and not thread.is_alive()
    worker.submit(job)                         # a stopped worker starts again on the next request
    assert worker.wait(300) and worker.threads_started == 2 and errors == []
    assert worker.stop(10)


def test_the_clock_runs_calls_later_on_one_thread_and_cancel_drops_them():
    from rashomon_widgets.widgets._worker import CLOCK

    ran, done = [], threading.Event()
    dropped = CLOCK.call_later(0.05, lambda: ran.append("dropped"))
    CLOCK.call_later(0.1, lambda: (ran.append("kept"), done.set()))
    dropped.cancel()
    assert done.wait(300)
    assert ran == ["kept"]
    clocks = [t for t in threading.enumerate() if t.name == "rashomon-clock"]
    assert len(clocks) == 1


def test_an_explorer_uses_one_worker_thread_and_one_model_copy_and_close_joins_it(xor_min):
    import rashomon_widgets as rw

    ls = rw.Landscape(rw.models.xor_minimum(), rw.models.sum_of_squares, rw.data.xor(), reduction="sum")
    before = ls._f.copies_made
    explorer = rw.NullSpaceExplorer(ls, num_null=2, num_top=1)
    assert explorer.wait(300)
    copies = ls._f.copies_made
    for k in range(20):
        explorer.coefficients = [0.05 * (k + 1), 0.0, 0.0]
        assert explorer.wait(300)
    assert explorer.error_html.value == ""
    assert explorer._worker.threads_started == 1
    assert ls._f.copies_made == copies <= before + 2   # the worker thread's copies, made on the first move only
    thread = explorer._worker._thread
    assert thread is not None and thread.is_alive()
    explorer.close()
    assert not thread.is_alive()
    assert explorer.history[-1]["coefficients"][0] == 1.0   # what the user made stays readable
