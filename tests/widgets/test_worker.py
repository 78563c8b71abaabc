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
