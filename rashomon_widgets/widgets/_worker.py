"""Background work for widgets with "latest request wins".

Dragging a slider submits many requests; only the newest matters. :class:`LatestWorker` runs one job at a
time on one long-lived daemon thread (started on the first request, kept until :meth:`LatestWorker.stop`):
a newer submission replaces the pending one, and the running job sees ``is_current() == False`` between
its stages and stops early. Nothing stale is ever queued, and no move starts a thread, so the thread's
private model copies (see ``core.curvature._params``) are made once.

A running job may :meth:`LatestWorker.report` its stage ("loss surface", 40 of 100 done); :meth:`LatestWorker.
activity` tells another thread what the worker is doing (a :class:`Stage` with its rate, for "about 1 min
left"), so a ``wait`` that times out can say what it still waits for.

Delayed status lines ("computing..." after half a second) go through one process-wide :class:`Clock`
thread instead of a timer thread per request.

At interpreter exit every worker and the clock are stopped and joined (:func:`stop_all`, registered with
``atexit``): a daemon thread still inside torch when the interpreter tears down can abort the process
("terminate called without an active exception"), losing whatever the script was about to write.
"""
from __future__ import annotations

import atexit
import heapq
import itertools
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

Job = Callable[[Callable[[], bool]], None]


class Superseded(Exception):
    """Raised inside a job (e.g. by its progress callback) when a newer request has arrived; the
    worker ends that job quietly."""


#: a stage's time left is estimated only after it has run this long (seconds) and made some progress
MIN_ESTIMATE_S = 1.0


def seconds_left(elapsed: float, done: float, remaining: float) -> float | None:
    """A rough time left from a constant rate: ``elapsed`` seconds did ``done`` units, ``remaining`` are left.

    Args:
        elapsed: seconds the measured part took.
        done: units of work done in that time.
        remaining: units still to do.

    Returns:
        seconds, or None when it cannot be told yet (under :data:`MIN_ESTIMATE_S` seconds or no progress).

    Example:
        >>> seconds_left(30.0, 40, 60)
        45.0
    """
    if elapsed < MIN_ESTIMATE_S or done <= 0 or remaining < 0:
        return None
    return elapsed * remaining / done


@dataclass(frozen=True)
class Stage:
    """One stage of a running job, as its progress callback last reported it.

    Attributes:
        what: what it computes ("loss surface").
        done, total: units done and in all.
        started: ``time.perf_counter()`` at the stage's first report.
        done_at_start: ``done`` at that first report (the rate counts only what was done since).
        updated: ``time.perf_counter()`` at the last report.
    """

    what: str
    done: int
    total: int
    started: float
    done_at_start: int
    updated: float

    @property
    def fraction(self) -> float:
        """The share done, in [0, 1]."""
        return min(max(self.done / self.total, 0.0), 1.0) if self.total > 0 else 0.0

    def seconds_left(self, now: float | None = None) -> float | None:
        """A rough estimate from the stage's own rate so far (:func:`seconds_left`).

        Args:
            now: ``time.perf_counter()`` (default: now).

        Returns:
            seconds, or None when it cannot be told yet.
        """
        now = time.perf_counter() if now is None else now
        return seconds_left(now - self.started, self.done - self.done_at_start, self.total - self.done)


@dataclass(frozen=True)
class Activity:
    """What a :class:`LatestWorker` is doing (:meth:`LatestWorker.activity`).

    Attributes:
        started: ``time.perf_counter()`` when the running job started, or None (no job running).
        stage: the running job's last reported :class:`Stage`, or None.
        pending: a newer request waits for the running one to stop.
    """

    started: float | None
    stage: Stage | None
    pending: bool


class LatestWorker:
    """Run submitted jobs off the UI thread, one at a time, on one long-lived thread; only the latest
    job is kept.

    Args:
        on_error: called with the exception when a job raises (the widget shows it).
        name: the thread's name.

    Example:
        >>> worker = LatestWorker(on_error=print)
        >>> worker.submit(lambda is_current: None)
        >>> worker.wait(5)
        True
        >>> worker.stop()
        True
    """

    def __init__(self, on_error: Callable[[BaseException], None], name: str = "rashomon-worker"):
        self._on_error = on_error
        self._name = name
        self._cond = threading.Condition()
        self._generation = 0
        self._pending: tuple[int, Job] | None = None
        self._running = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._job_started: float | None = None   # perf_counter() when the running job started
        self._stage: Stage | None = None          # the running job's last report
        self.threads_started = 0   # how many threads this worker has started (one, unless stopped and reused)
        _WORKERS.add(self)

    def submit(self, job: Job) -> None:
        """Queue ``job(is_current)``, replacing any job not yet started and superseding the running one.
        A stopped worker starts again."""
        with self._cond:
            self._generation += 1
            self._pending = (self._generation, job)
            self._stopped = False
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name=self._name)
                self.threads_started += 1
                self._thread.start()
            self._cond.notify_all()

    def is_current(self, generation: int) -> bool:
        """Whether ``generation`` is still the latest request (and the worker was not stopped)."""
        return generation == self._generation and not self._stopped

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    self._running = False
                    self._cond.notify_all()
                    return
                generation, job = self._pending
                self._pending = None
                self._running = True
                self._job_started, self._stage = time.perf_counter(), None
            try:
                job(lambda g=generation: self.is_current(g))
            except Superseded:
                pass  # a newer request replaced this one: nothing to report
            except BaseException as exc:  # shown in the widget, never swallowed
                try:
                    self._on_error(exc)
                except BaseException:  # the error display itself failed: keep the worker alive
                    pass
            finally:
                del job
                with self._cond:
                    self._running = False
                    self._job_started, self._stage = None, None
                    self._cond.notify_all()

    def report(self, what: str, done: int, total: int) -> Stage:
        """Record the running job's progress (called from the job, e.g. by its progress callback).

        A new stage starts when ``what`` changes or ``done`` goes back (a second pass of the same work);
        its rate is measured from its first report on.

        Args:
            what: what the job computes now ("loss surface").
            done, total: units done and in all.

        Returns:
            the :class:`Stage` recorded.
        """
        now = time.perf_counter()
        with self._cond:
            last = self._stage
            if last is None or last.what != what or last.total != total or done < last.done:
                stage = Stage(what, done, total, now, done, now)
            else:
                stage = Stage(what, done, total, last.started, last.done_at_start, now)
            self._stage = stage
            return stage

    def activity(self) -> Activity | None:
        """What the worker is doing now, or None when it is idle.

        Returns:
            an :class:`Activity`: when the running job started, its last reported stage, whether a newer
            request waits.
        """
        with self._cond:
            if self._pending is None and not self._running:
                return None
            return Activity(self._job_started if self._running else None,
                            self._stage if self._running else None, self._pending is not None)

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (a job that ignores newer requests still ends on this)."""
        return self._stopped

    @property
    def idle(self) -> bool:
        """True when no job is running or pending."""
        with self._cond:
            return self._pending is None and not self._running

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Supersede the running job, drop the pending one, end the thread and join it.

        Args:
            timeout: seconds to wait for the running job to reach its next stage (None: no limit).

        Returns:
            True if the thread has ended (or never started).
        """
        with self._cond:
            self._generation += 1
            self._pending = None
            self._stopped = True
            thread = self._thread
            self._cond.notify_all()
        if thread is None:
            return True
        if thread is threading.current_thread():
            return False
        thread.join(timeout)
        if thread.is_alive():
            return False
        with self._cond:
            if self._thread is thread:
                self._thread = None
        return True

    def wait(self, timeout: float | None = 60.0) -> bool:
        """Block until no job is running or pending (for scripts and tests): the last job has returned.

        Args:
            timeout: seconds at most (None: no limit).

        Returns:
            True if idle.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._running, timeout)


class Clock:
    """One daemon thread that runs short callbacks after a delay (the explorers' delayed status lines).

    Example:
        >>> handle = CLOCK.call_later(0.5, lambda: print("still computing"))
        >>> handle.cancel()
    """

    class Handle:
        """A scheduled call; :meth:`cancel` drops it if it has not run."""

        def __init__(self):
            self.cancelled = False

        def cancel(self) -> None:
            """Do not run the call (if it has not started)."""
            self.cancelled = True

    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list = []
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call_later(self, delay: float, fn: Callable[[], object]) -> Clock.Handle:
        """Run ``fn()`` on the clock's thread after ``delay`` seconds; errors in ``fn`` are ignored.

        Args:
            delay: seconds.
            fn: a quick callable (it holds up the other calls while it runs).

        Returns:
            a handle whose ``cancel()`` drops the call.
        """
        import time

        handle = Clock.Handle()
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._counter), fn, handle))
            self._stopped = False
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="rashomon-clock")
                self._thread.start()
            self._cond.notify_all()
        return handle

    def _loop(self) -> None:
        import time

        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        _, _, fn, handle = heapq.heappop(self._heap)
                        break
                    self._cond.wait(None if not self._heap else self._heap[0][0] - now)
            if not handle.cancelled:
                try:
                    fn()
                except Exception:  # a status line that failed to update is not worth a crash
                    pass

    def stop(self, timeout: float = 10.0) -> None:
        """Drop every pending call and end the thread."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


#: The process's one clock thread.
CLOCK = Clock()
_WORKERS: weakref.WeakSet[LatestWorker] = weakref.WeakSet()


def stop_all(timeout: float = 10.0) -> None:
    """Stop every live worker and the clock, joining their threads (run at interpreter exit).

    Args:
        timeout: seconds to wait for each worker's running job.
    """
    for worker in list(_WORKERS):
        worker.stop(timeout)
    CLOCK.stop(timeout)


atexit.register(stop_all)
