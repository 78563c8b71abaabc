"""Background work for widgets with "latest request wins".

Dragging a slider submits many requests; only the newest matters. :class:`LatestWorker` runs one job at a
time on a single daemon thread; a newer submission replaces the pending one, and the running job sees
``is_current() == False`` between its stages and stops early. Nothing stale is ever queued.

At interpreter exit every worker is stopped and joined (:func:`stop_all`, registered with ``atexit``): a
daemon thread still inside torch when the interpreter tears down can abort the process ("terminate called
without an active exception"), losing whatever the script was about to write.
"""
from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable

Job = Callable[[Callable[[], bool]], None]


class Superseded(Exception):
    """Raised inside a job (e.g. by its progress callback) when a newer request has arrived; the
    worker ends that job quietly."""


class LatestWorker:
    """Run submitted jobs off the UI thread; only the latest one is kept.

    Args:
        on_error: called with the exception when a job raises (the widget shows it).
    """

    def __init__(self, on_error: Callable[[BaseException], None]):
        self._on_error = on_error
        self._lock = threading.Lock()
        self._generation = 0
        self._pending: tuple[int, Job] | None = None
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        _WORKERS.add(self)

    def submit(self, job: Job) -> None:
        """Queue ``job(is_current)``, replacing any job not yet started and superseding the running one."""
        with self._lock:
            self._generation += 1
            self._pending = (self._generation, job)
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True, name="rashomon-worker")
                self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    self._idle.set()
                    self._thread = None
                    return
                generation, job = self._pending
                self._pending = None
            try:
                job(lambda g=generation: g == self._generation)
            except Superseded:
                pass  # a newer request replaced this one: nothing to report
            except BaseException as exc:  # shown in the widget, never swallowed
                self._on_error(exc)

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Supersede the running job, drop the pending one and wait for the thread to end.

        Args:
            timeout: seconds to wait for the running job to reach its next stage (None: no limit).

        Returns:
            True if no job is running any more.
        """
        with self._lock:
            self._generation += 1
            self._pending = None
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return thread is None

    def wait(self, timeout: float | None = 60.0) -> bool:
        """Block until no job is running or pending (for scripts and tests); True if idle."""
        return self._idle.wait(timeout)


_WORKERS: weakref.WeakSet[LatestWorker] = weakref.WeakSet()


def stop_all(timeout: float = 10.0) -> None:
    """Stop every live worker (run at interpreter exit).

    Args:
        timeout: seconds to wait for each worker's running job.
    """
    for worker in list(_WORKERS):
        worker.stop(timeout)


atexit.register(stop_all)
