"""What a loss grid must be before a view draws it: the same refusals for the views (``ValueError`` from
``update``) and for the explorers' span and margin traits (``TraitError`` from their ``@validate``).

A NaN or infinite loss has no colour, an infinite coordinate no place on an axis, and neither can travel
to the browser as JSON: such a grid is refused with a message that says what was expected and what came,
never drawn with a colour scale up to ``inf``.
"""
from __future__ import annotations

import numpy as np
import torch
from traitlets import TraitError

from ..core import Plane, Surface
from ..core.validation import all_finite

#: the largest coordinate or height the 3-D view draws: ipyvolume sends float64 arrays as float32 (WebGL has
#: no float64), so beyond float32's range (with room for the marker and round axis limits) values become inf
WEBGL_LIMIT = float(np.finfo(np.float32).max) / 4


def check_surface(surface, name: str = "surface") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``surface``'s coordinates and loss grid as float64 arrays, if a view can draw them.

    Args:
        surface: an :class:`rw.Surface`.
        name: what it is called in the messages.

    Returns:
        ``(xs, ys, loss)``.

    Raises:
        TypeError: not an :class:`rw.Surface`, or arrays that are not real numbers.
        ValueError: coordinates that are not 1-D with at least 2 finite values each; a loss grid whose
            shape is not ``(len(ys), len(xs))`` (the message names both shapes); NaN or infinite losses
            (the message counts them and names the first one's coordinates), or a range of losses too wide
            for a float (the colour scale's span would be inf).

    Example:
        >>> s = Surface(None, np.array([0.0, 1.0]), np.array([0.0, 1.0, 2.0]), np.ones((2, 2)))
        >>> check_surface(s)
        Traceback (most recent call last):
        ...
        ValueError: surface: expected a loss grid of shape (len(ys), len(xs)) = (3, 2), got shape (2, 2)
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"{name}: expected an rw.Surface (ls.surface(plane, ...)), got {type(surface).__name__}")
    arrays = {}
    for part in ("xs", "ys", "loss"):
        value = getattr(surface, part)
        try:
            arrays[part] = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value,
                                      dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name}.{part}: expected an array of real numbers, got {type(value).__name__}") from None
    xs, ys, loss = arrays["xs"], arrays["ys"], arrays["loss"]
    for part, coords in (("xs", xs), ("ys", ys)):
        if coords.ndim != 1 or coords.size < 2:
            raise ValueError(f"{name}.{part}: expected a 1-D array of at least 2 grid coordinates, got shape "
                             f"{coords.shape}")
        if not np.isfinite(coords).all():
            raise ValueError(f"{name}.{part}: expected finite grid coordinates, got {coords[~np.isfinite(coords)][0]} "
                             "(a span too large for a float?)")
    if loss.shape != (ys.size, xs.size):
        raise ValueError(f"{name}: expected a loss grid of shape (len(ys), len(xs)) = {(ys.size, xs.size)}, got shape "
                         f"{loss.shape}")
    bad = ~np.isfinite(loss)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}: expected finite losses, got {int(bad.sum())} of {loss.size} grid points NaN or "
                         f"inf (the first, {loss[i, j]}, at (x, y) = ({xs[j]:.4g}, {ys[i]:.4g})); a loss that is "
                         "not finite has no colour: use a smaller span or margin, or check the model at those "
                         "points")
    with np.errstate(over="ignore"):
        width = loss.max() - loss.min()
    if not np.isfinite(width):
        raise ValueError(f"{name}: expected losses whose range fits in a float, got {loss.min():.3g} to "
                         f"{loss.max():.3g}; use a smaller span or margin")
    return xs, ys, loss


def finite_point(x, y, name: str = "point") -> tuple[float, float]:
    """``(float(x), float(y))`` if both are finite real numbers: a marker at NaN or inf has no place.

    Raises:
        ValueError: a coordinate that is not a finite real number.
    """
    try:
        point = float(x), float(y)
    except (TypeError, ValueError):
        point = (np.nan, np.nan)
    if not np.isfinite(point).all():
        raise ValueError(f"{name}: expected finite plane coordinates (x, y), got ({x!r}, {y!r})")
    return point


def fits_webgl(name: str, what: str, values: np.ndarray, remedy: str) -> None:
    """Refuse ``values`` (finite) beyond :data:`WEBGL_LIMIT`, which the 3-D view cannot send to the browser.

    Raises:
        ValueError: the message names ``what`` and the ``remedy``.
    """
    biggest = float(np.abs(values).max())
    if biggest > WEBGL_LIMIT:
        raise ValueError(f"{name}: expected {what} within about ±{WEBGL_LIMIT:.2g} (the 3-D view is drawn in float32 "
                         f"by WebGL), got values up to {biggest:.3g}; {remedy}")


def drawable_grid(ls, plane: Plane, span, resolution: int, name: str, value: float, kept=None) -> None:
    """Refuse an explorer's setting (a span, a margin) whose loss grid could not be drawn.

    Checked in this order: the core's own grid rule (:meth:`rw.Plane.grid`: finite bounds, points that
    stay finite in the model's dtype), finite coordinates at ``resolution`` points per axis within the 3-D
    view's float32 range (:data:`WEBGL_LIMIT`), finite parameter vectors at the grid's four corners, and a
    finite loss there (small models only, :class:`rw.core.SizePolicy`). The corners are the points farthest
    from the slice's centre, where a loss that grows with the parameters overflows first; four losses (run
    here, on the thread that set the trait) cost little next to a small model's grid, but would hold up the
    UI thread for seconds on a large one, whose corners are not evaluated here. A loss that is not finite
    inside the grid (a NaN region of the model) is refused later, by the views (:func:`check_surface`), and
    the error appears in the widget.

    Args:
        ls: the :class:`rw.Landscape`.
        plane: the plane the grid lies on.
        span: what :meth:`rw.Plane.grid` takes (None: the plane's extent).
        resolution: points per axis of the finest grid the explorer draws.
        name: the trait's name, for the message.
        value: the value proposed, for the message.
        kept: the value the trait keeps (None: say nothing about it).

    Raises:
        TraitError: the grid could not be drawn; the message says why and what to do.
    """
    stays = "" if kept is None else f"; {name} stays {kept:g}"

    def refuse(reason: str):
        raise TraitError(f"{name}: expected a {name} whose loss grid can be drawn (finite coordinates and "
                         f"losses), got {value:g}: {reason}{stays}")

    with np.errstate(all="ignore"):
        try:
            xs, ys = plane.grid(span, resolution)
        except (TypeError, ValueError) as exc:
            message = str(exc)
            if message.startswith(f"{name}: "):  # the core's own words about this very setting
                raise TraitError(f"{message}{stays}") from None
            # the core's remedy names its own argument (span); here the setting is ours
            refuse(f"the plane's grid is refused ({message.split('; use a smaller')[0]}); use a smaller {name}")
        if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
            refuse(f"its grid coordinates overflow (x from {xs[0]:g} to {xs[-1]:g}, y from {ys[0]:g} to {ys[-1]:g}); "
                   f"use a smaller {name}")
        try:
            fits_webgl(name, "grid coordinates", np.concatenate([xs, ys]), f"use a smaller {name}")
        except ValueError as exc:
            raise TraitError(f"{exc}{stays}") from None
        corners = plane.points(xs[[0, -1]], ys[[0, -1]])
        if not all_finite(corners):
            refuse(f"the parameter vectors at its corners overflow {corners.dtype}; use a smaller {name}")
        if not ls.policy.is_small(ls.num_params):
            return  # four full forwards would hold up the UI thread: the views refuse what they cannot draw
        try:
            losses = np.asarray(ls.losses(corners).detach().double().cpu())
        except Exception as exc:  # a validator answers with a TraitError the widget shows
            refuse(f"the loss at its corners could not be evaluated ({type(exc).__name__}: {exc})")
    if not np.isfinite(losses).all():
        shown = ", ".join(f"{v:.3g}" for v in losses)
        refuse(f"the loss at its corners is {shown}, and a loss that is not finite has no colour; use a smaller "
               f"{name}")
