"""Text for people in the explorers: durations, progress and time left, readouts and the status line.

Every status and readout an explorer shows is written by these functions, so a duration, a percentage or a
"time left" reads the same in every widget.
"""
from __future__ import annotations

import html
import time
from collections.abc import Sequence

from ._worker import Activity


def format_duration(seconds: float) -> str:
    """A duration as a person reads it: "0.4 s", "12.3 s", "9 min 56 s", "1 h 5 min".

    Args:
        seconds: a duration >= 0.

    Returns:
        the text.

    Example:
        >>> format_duration(12.34), format_duration(596.286), format_duration(3900)
        ('12.3 s', '9 min 56 s', '1 h 5 min')
    """
    seconds = max(0.0, float(seconds))
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min"


def format_elapsed(seconds: float) -> str:
    """How long a frame took, for "updated in ...": milliseconds under 10 s ("843 ms"), else
    :func:`format_duration` ("12.3 s", "9 min 56 s").

    Args:
        seconds: a duration >= 0.

    Returns:
        the text.

    Example:
        >>> format_elapsed(0.8434), format_elapsed(596.286)
        ('843 ms', '9 min 56 s')
    """
    seconds = max(0.0, float(seconds))
    return f"{1000 * seconds:.0f} ms" if seconds < 10 else format_duration(seconds)


def format_time_left(seconds: float) -> str:
    """A rough time left: "a few seconds left", "about 40 s left", "about 3 min left", "about 1 h 20 min left"
    (rounded to 10 s, to minutes, to 10 minutes: an estimate from a rate is no more precise).

    Args:
        seconds: the estimate, >= 0.

    Returns:
        the text.

    Example:
        >>> format_time_left(44), format_time_left(75), format_time_left(4800)
        ('about 40 s left', 'about 1 min left', 'about 1 h 20 min left')
    """
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return "a few seconds left"
    tens = round(seconds / 10) * 10
    if tens < 60:
        return f"about {tens} s left"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min left"
    minutes = round(seconds / 600) * 10
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h left" if minutes == 0 else f"about {hours} h {minutes} min left"


def readout_html(text: str) -> str:
    """A readout line's HTML in a block with a line height for wrapped lines (the widget's own, 28 px, spreads
    a wrapped readout over widely spaced lines)."""
    return f"<div style='line-height:1.4'>{text}</div>"


#: the busy sign of a status line (Font Awesome 4, bundled with ipywidgets' controls)
HOURGLASS = '<i class="fa fa-hourglass-half" aria-hidden="true"></i>'


def progress_html(what: str, done: int, total: int, left: float | None = None) -> str:
    """The status line of a running stage: an hourglass, "loss surface 40%", and " · about 1 min left" once
    the time left can be estimated. The hourglass is Font Awesome's (which ipywidgets ships for its button
    icons), not the emoji U+23F3, which a browser without an emoji font draws as an empty box.

    Args:
        what: what is computed.
        done, total: units done and in all.
        left: the estimated seconds left, or None (not known yet).

    Returns:
        HTML.

    Example:
        >>> progress_html("loss surface", 40, 100, 75.0)
        '<i class="fa fa-hourglass-half" aria-hidden="true"></i> loss surface 40% &middot; about 1 min left'
    """
    pct = 100 * done // total if total > 0 else 0
    text = f"{HOURGLASS} {html.escape(what)} {pct}%"
    return text if left is None else f"{text} &middot; {format_time_left(left)}"


def activity_text(activity: Activity | None, now: float | None = None) -> str:
    """What a worker still computes, in words: "still computing: loss surface 40% (started 2 min 3 s ago;
    about 1 min left in this stage)".

    Args:
        activity: ``LatestWorker.activity()`` (None: idle).
        now: ``time.perf_counter()`` (default: now).

    Returns:
        the text ("" when idle).
    """
    if activity is None:
        return ""
    now = time.perf_counter() if now is None else now
    if activity.started is None:
        return "a request is queued and has not started yet"
    ago = f"started {format_duration(now - activity.started)} ago"
    stage = activity.stage
    if stage is None:
        text = f"still computing ({ago}; no progress reported yet)"
    elif stage.done >= stage.total:
        text = f"still computing: {stage.what} done, finishing the frame ({ago})"
    else:
        left = stage.seconds_left(now)
        when = ago if left is None else f"{ago}; {format_time_left(left)} in this stage"
        text = f"still computing: {stage.what} {int(100 * stage.fraction)}% ({when})"
    if activity.pending:
        text += "; a newer request waits to start after it"
    return text


def number_text(value: float) -> str:
    """A number as a text box shows it: the shortest text that reads back as the same float, without a
    trailing ".0".

    Example:
        >>> number_text(1.0), number_text(0.0025), number_text(1e-05), number_text(1e308)
        ('1', '0.0025', '1e-05', '1e+308')
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def updated_text(asked: float, drawn: Sequence[tuple[str, float]], end: float) -> str:
    """The status line once a request is drawn: how long the user waited for what they see, from the request
    (``asked``) to the main views (the last ``("", time)`` in ``drawn``; else ``end``), then to each later
    panel: "updated in 18 ms &middot; spectrum in 352 ms".

    Example:
        >>> updated_text(0.0, [("", 0.018), ("spectrum", 0.352)], 0.36)
        'updated in 18 ms &middot; spectrum in 352 ms'
        >>> updated_text(0.0, [], 12.5)
        'updated in 12.5 s'
    """
    main = [t for what, t in drawn if not what]
    text = f"updated in {format_elapsed((main[-1] if main else end) - asked)}"
    for what, t in drawn:
        if what:
            text += f" &middot; {html.escape(what)} in {format_elapsed(t - asked)}"
    return text
