"""Pieces every explorer shares: DOM tags for the browser suite, errors shown in the widget, and
inputs whose bad values are reported and ignored (the widget keeps using the last good one)."""
from __future__ import annotations

import html
import threading
import time

from ._worker import Superseded  # noqa: F401 - re-exported for the explorers


def tagged(widget, css_class: str):
    """``widget`` with a CSS class the browser suite (and users' CSS) can find it by."""
    widget.add_class(css_class)
    return widget


def show_error(error_html, status_html, exc: BaseException) -> None:
    """Put ``exc`` in the widget's error area; the widget stays usable."""
    error_html.value = ("<div style='color:#b00020'>&#9888; " + html.escape(f"{type(exc).__name__}: {exc}")
                        + "</div>")
    status_html.value = "error: the last request failed; the widget still works"


def good_number(value, last_good: float, name: str, *, minimum: float = 0.0, strict: bool = True):
    """``(value, None)`` if ``value`` is a number above (or, non-strict, at least) ``minimum``; else
    ``(last_good, ValueError)`` saying what was expected, what came and what is kept."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        value > minimum if strict else value >= minimum)
    if ok:
        return float(value), None
    bound = "greater than" if strict else "at least"
    return last_good, ValueError(f"{name}: expected a number {bound} {minimum:g}, got {value!r}; "
                                 f"keeping {name} = {last_good:g}")


class ExplorerMixin:
    """What the explorers do the same way: wait for the worker, switch log colour, show errors, check the
    span box, show "computing". Needs ``_worker``, ``error_html``, ``status_html``, ``span`` and
    ``_request`` (and ``surface2d``, ``surface3d`` for the log colour)."""

    #: seconds that displaying an explorer waits for its first frame (see ``_repr_mimebundle_``)
    first_frame_timeout: float = 15.0

    def _repr_mimebundle_(self, **kwargs):
        # Finish the first frame (coarse and refined) before the front end builds the views. Model
        # updates that reach bqplot while it is still building a figure's views can find them without
        # their scales ("Error setting state: Cannot read properties of undefined" in the console, seen
        # in JupyterLab); after the views exist, updates are safe. Large models display after
        # first_frame_timeout seconds at the latest and keep drawing.
        self._worker.wait(self.first_frame_timeout)
        return super()._repr_mimebundle_(**kwargs)

    def wait(self, timeout: float | None = 120.0) -> bool:
        """Block until the latest update is drawn (for scripts and tests)."""
        return self._worker.wait(timeout)

    def _set_log(self, change) -> None:
        self.surface2d.log_color = change["new"]
        self.surface3d.log_color = change["new"]
        self._request()

    def _show_error(self, exc: BaseException) -> None:
        show_error(self.error_html, self.status_html, exc)

    def _span_value(self, change, last_good: float, name: str, *, strict: bool = True) -> tuple[float, bool]:
        """The ``span`` box's value if it is a good number, else ``last_good`` with the problem shown;
        and whether to go on (not when the change being handled is that bad value itself)."""
        value, problem = good_number(self.span.value, last_good, name, strict=strict)
        if problem is None:
            return value, True
        self._show_error(problem)
        return value, not (change is not None and change["owner"] is self.span)

    def _busy_timer(self, current) -> threading.Timer:
        """A started timer that shows "computing..." if the job still runs, and is current, after 0.5 s;
        cancel it when the job ends."""
        timer = threading.Timer(0.5, lambda: current() and setattr(self.status_html, "value",
                                                                    "&#9203; computing&hellip;"))
        timer.start()
        return timer

    def _finished(self, started: float) -> None:
        """A job drew everything: clear the error and say how long it took."""
        self.error_html.value = ""
        self.status_html.value = f"updated in {1000 * (time.perf_counter() - started):.0f} ms"
