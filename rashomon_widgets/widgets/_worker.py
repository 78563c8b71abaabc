"""Background work for widgets with "latest request wins".

Dragging a slider submits many requests; only the newest matters. :class:`LatestWorker` runs one job at a
time on a single daemon thread; a newer submission replaces the pending one, and the running job sees
``is_current() == False`` between its stages and stops early. Nothing stale is ever queued.
"""
from __future__ import annotations

import threading
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

    def wait(self, timeout: float | None = 60.0) -> bool:
        """Block until no job is running or pending (for scripts and tests); True if idle."""
        return self._idle.wait(timeout)
