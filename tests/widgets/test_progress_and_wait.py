"""Issue 22, long runs: times read in minutes, progress says roughly how long is left, and ``wait()`` says
what it still waits for."""
import threading
import time
import warnings

import pytest
from traitlets import Float

from rashomon_widgets.widgets._base import Explorer, StillComputingWarning
from rashomon_widgets.widgets._text import (
    HOURGLASS,
    activity_text,
    format_duration,
    format_elapsed,
    format_time_left,
    progress_html,
)
from rashomon_widgets.widgets._worker import MIN_ESTIMATE_S, Activity, LatestWorker, Stage, seconds_left


# ------------------------------------------------------------------------------------ formatting
@pytest.mark.parametrize("seconds, text", [
    (0.0, "0 ms"), (0.8434, "843 ms"), (9.4, "9400 ms"), (9.9994, "9999 ms"),   # under 10 s: milliseconds
    (10.0, "10.0 s"), (12.34, "12.3 s"), (59.94, "59.9 s"),
    (59.97, "1 min 0 s"), (123.0, "2 min 3 s"), (596.286, "9 min 56 s"),        # "updated in 596286 ms" was
    (3599.4, "59 min 59 s"), (3900.0, "1 h 5 min"), (7322.0, "2 h 2 min"),
])
def test_format_elapsed_keeps_ms_under_10_s_and_reads_minutes_above(seconds, text):
    assert format_elapsed(seconds) == text


@pytest.mark.parametrize("seconds, text", [
    (0.42, "0.4 s"), (3.25, "3.2 s"), (12.34, "12.3 s"), (123.4, "2 min 3 s"), (3900.0, "1 h 5 min"),
    (-1.0, "0.0 s"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [
    (0.0, "a few seconds left"), (9.9, "a few seconds left"), (14.0, "about 10 s left"), (44.0, "about 40 s left"),
    (54.0, "about 50 s left"), (56.0, "about 1 min left"), (75.0, "about 1 min left"), (95.0, "about 2 min left"),
    (59 * 60.0, "about 59 min left"), (3590.0, "about 1 h left"), (4800.0, "about 1 h 20 min left"),
    (2 * 3600 + 4 * 60.0, "about 2 h left"),
])
def test_format_time_left_is_rough(seconds, text):
    assert format_time_left(seconds) == text


def test_progress_html_adds_the_time_left_once_known():
    assert progress_html("loss surface", 40, 100) == HOURGLASS + " loss surface 40%"
    assert progress_html("loss surface", 40, 100, 75.0) == HOURGLASS + " loss surface 40% &middot; about 1 min left"
    assert progress_html("a <b>", 1, 3, None) == HOURGLASS + " a &lt;b&gt; 33%"
    assert progress_html("spectrum", 0, 0) == HOURGLASS + " spectrum 0%"


def test_seconds_left_from_the_rate_so_far():
    assert seconds_left(30.0, 40, 60) == 45.0
    assert seconds_left(MIN_ESTIMATE_S / 2, 40, 60) is None   # too early to tell
    assert seconds_left(30.0, 0, 100) is None                 # no progress yet
    stage = Stage("loss surface", 40, 100, started=100.0, done_at_start=10, updated=130.0)
    assert stage.fraction == 0.4
    assert stage.seconds_left(now=130.0) == pytest.approx(60.0)   # 30 units in 30 s, 60 to go
    assert Stage("x", 5, 0, 0.0, 0, 0.0).fraction == 0.0


def test_activity_text_says_the_stage_its_progress_and_when_it_started():
    now = 1000.0
    stage = Stage("loss surface", 40, 100, started=now - 80.0, done_at_start=0, updated=now - 1.0)
    text = activity_text(Activity(started=now - 123.0, stage=stage, pending=False), now=now)
    assert text == "still computing: loss surface 40% (started 2 min 3 s ago; about 2 min left in this stage)"
    young = Stage("spectrum", 1, 20, started=now - 0.2, done_at_start=0, updated=now)
    assert activity_text(Activity(now - 5.0, young, True), now=now) == (
        "still computing: spectrum 5% (started 5.0 s ago); a newer request waits to start after it")
    assert activity_text(Activity(now - 5.0, None, False), now=now) == (
        "still computing (started 5.0 s ago; no progress reported yet)")
    finished = Stage("spectrum", 20, 20, now - 3.0, 0, now)
    assert "spectrum done" in activity_text(Activity(now - 5.0, finished, False), now=now)
    assert activity_text(Activity(None, None, True), now=now) == "a request is queued and has not started yet"
    assert activity_text(None) == ""


# ------------------------------------------------------------------------------------ the worker
def test_a_worker_reports_what_its_running_job_does_and_nothing_when_idle():
    errors = []
    worker = LatestWorker(errors.append)
    reported, release = threading.Event(), threading.Event()
    stages = []

    def job(current):
        stages.append(worker.report("loss surface", 0, 10))
        stages.append(worker.report("loss surface", 4, 10))
        stages.append(worker.report("loss surface", 1, 10))   # done went back: a second pass, a new stage
        stages.append(worker.report("spectrum", 3, 20))
        reported.set()
        release.wait(30)

    assert worker.activity() is None
    t0 = time.perf_counter()
    worker.submit(job)
    assert reported.wait(300)
    activity = worker.activity()
    assert activity.started >= t0 and not activity.pending
    assert activity.stage == stages[-1] and activity.stage.what == "spectrum" and activity.stage.done == 3
    first, second, third, fourth = stages
    assert second.started == first.started and second.done_at_start == 0      # the same stage goes on
    assert third.done_at_start == 1 and third.started >= second.started      # a new pass starts over
    assert fourth.done_at_start == 3
    worker.submit(lambda current: None)
    assert worker.activity().pending
    release.set()
    assert worker.wait(300) and worker.activity() is None and errors == []
    assert worker.stop(10)


# ------------------------------------------------------------------------------------ explorers
class _Slow(Explorer):
    """An explorer whose job reports 40% of a loss surface, then waits for ``release``."""

    value = Float(0.0, help="a number").tag(sync=True, state=True)

    def __init__(self, pause: float = 0.0):
        super().__init__()
        self.reported, self.release, self.pause = threading.Event(), threading.Event(), pause
        self._assemble("<b>slow</b>", [], [])

    def _job(self, state, current, started):
        self._progress_status(started, "loss surface", 0, 10, current)
        time.sleep(self.pause)
        self._progress_status(started, "loss surface", 4, 10, current)
        self.reported.set()
        self.release.wait(30)
        return True

    def _figure_panels(self):
        return []


def test_wait_warns_what_is_still_running_and_returns_false():
    explorer = _Slow()
    try:
        assert explorer.reported.wait(300)
        with pytest.warns(StillComputingWarning) as record:
            got = explorer.wait(0.05)
        assert got is False
        (message,) = [str(w.message) for w in record]
        assert message.startswith("_Slow.wait: not drawn after 0.1 s; still computing: loss surface 40% (started ")
        assert "ago" in message and "wait(None)" in message
        assert explorer.StillComputingWarning is StillComputingWarning
        assert issubclass(StillComputingWarning, UserWarning)
        explorer.release.set()
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # a wait that succeeds says nothing
            assert explorer.wait(300) is True
        assert explorer.status_html.value.startswith("updated in ") and explorer.status_html.value.endswith(" ms")
    finally:
        explorer.release.set()
        explorer.close()


def test_progress_status_shows_a_rough_time_left_once_it_can_tell():
    explorer = _Slow(pause=MIN_ESTIMATE_S + 0.1)   # 4 of 10 done in ~1.1 s: a few seconds left
    try:
        assert explorer.reported.wait(300)
        assert explorer.status_html.value == HOURGLASS + " loss surface 40% &middot; a few seconds left"
        explorer.release.set()
        assert explorer.wait(300)
    finally:
        explorer.release.set()
        explorer.close()
