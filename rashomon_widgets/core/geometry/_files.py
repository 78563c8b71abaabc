"""Atomic checkpoint files for curves and fits, read back with ``torch.load(..., weights_only=True)``.

A curve file holds :meth:`CurveFiles.state`: a plain dict of tensors and numbers (the control points,
the fit state, a format tag and version), so loading it runs no pickled code.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import torch

from ..validation import check_path, describe

FORMAT = "rashomon_widgets.curve"
VERSION = 1


def atomic_save(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` through a temporary file in the same folder and ``os.replace``:
    an interrupted save never leaves a half-written file.

    Args:
        obj: what to save.
        path: the file (str or os.PathLike) in an existing folder.

    Returns:
        the path written, as a ``Path``.

    Raises:
        TypeError: ``path`` is not a path.
        FileNotFoundError: the folder does not exist.
    """
    path = check_path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"path: expected a file in an existing folder, but {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f"{path.stem}.", suffix=f"{path.suffix}.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def device_of(like):
    """The device of a Landscape or a tensor (None for None or anything without one)."""
    if like is None:
        return None
    if isinstance(like, torch.Tensor):
        return like.device
    return getattr(like, "device", None)


def shape_of(like):
    """``(P, dtype, what it is in words)`` of a Landscape's model or of a flat parameter vector."""
    if isinstance(like, torch.Tensor):
        return like.numel(), like.dtype, "the given parameter vector"
    if hasattr(like, "num_params") and hasattr(like, "dtype"):
        return int(like.num_params), like.dtype, "this Landscape's model"
    raise TypeError(f"like: expected an rw.Landscape or a flat parameter vector, got {describe(like)}")


# ---------------------------------------------------------------------------------------- curves
#: curve kind -> class, filled by ``curves.py`` (the families live there, the file format here)
KINDS: dict[str, type] = {}


class CurveFiles:
    """Saving and loading of a curve (the part of :class:`Curve` that reads and writes files).

    A curve file holds :meth:`state`: tensors and plain values only, so it is read back with
    ``torch.load(..., weights_only=True)`` and no pickled code ever runs.
    """

    kind = "curve"

    def state(self) -> dict:
        """Everything needed to rebuild the curve, as tensors and plain values (``weights_only``-safe).

        Returns:
            a dict: format tag and version, kind, control points, fit state.
        """
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, "num_bends": self.num_bends,
                "num_params": self.num_params, "dtype": str(self.dtype),
                "control_points": self.control_points.detach().cpu(),
                "fit_step": int(self.fit_state["step"]),
                "fit_losses": torch.tensor(self.fit_state["losses"], dtype=torch.float64),
                "optimizer": self.fit_state["optimizer"]}

    def save(self, path) -> Path:
        """Write the curve (and its fit state) to ``path`` atomically: a temporary file in the same
        folder, then ``os.replace``; an interrupted save never leaves a half-written file.

        Args:
            path: the file, in an existing folder.

        Returns:
            the path written.
        """
        return atomic_save(self.state(), path)

    @classmethod
    def load(cls, path, like=None):
        """Read a curve written by :meth:`save` (``torch.load(..., weights_only=True)``: no pickle code).

        Args:
            path: the file.
            like: a :class:`Landscape` or a flat parameter vector: the curve must belong to a model with
                the same number of parameters and dtype (and is moved to its device).

        Returns:
            the curve, of the kind saved (``cls`` or a subclass).

        Raises:
            FileNotFoundError: no such file.
            ValueError: not a curve file, a curve of another kind, or a curve for another model.
        """
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"curve file: expected an existing file, got {str(path)!r}")
        device = device_of(like)
        try:
            state = torch.load(path, map_location=device or "cpu", weights_only=True)
        except Exception as exc:  # unpickling errors come in many types
            raise ValueError(f"curve file {str(path)!r}: expected a curve saved by rashomon_widgets, "
                             f"but it could not be read safely ({type(exc).__name__}: {exc})") from None
        return cls.from_state(state, like=like, source=repr(str(path)))

    @classmethod
    def from_state(cls, state, *, like=None, source: str = "state"):
        """Rebuild a curve from :meth:`state`, validated as :meth:`load` validates a file.

        Args:
            state: a dict from :meth:`state`.
            like: as for :meth:`load`.
            source: what the state came from, for messages.

        Returns:
            the curve, of the kind saved (``cls`` or a subclass).

        Raises:
            ValueError: not a curve state, another format version, a curve of another kind, damaged
                control points, or a curve for another model than ``like``.
        """
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"curve {source}: expected a curve saved by rashomon_widgets (format {FORMAT!r}), "
                             f"got {describe(state) if not isinstance(state, dict) else 'another file'}")
        if state.get("version") != VERSION:
            raise ValueError(f"curve {source}: expected format version {VERSION}, got {state.get('version')!r}")
        kind = state.get("kind")
        klass = KINDS.get(kind)
        if klass is None or not issubclass(klass, cls):
            want = cls.kind if cls.kind in KINDS else " or ".join(map(repr, KINDS))
            raise ValueError(f"curve {source}: expected a {want} curve, got a {kind!r} curve")
        control = state["control_points"]
        p, dtype = int(state["num_params"]), str(state["dtype"])
        if (not isinstance(control, torch.Tensor) or control.ndim != 2 or control.shape[1] != p
                or str(control.dtype) != dtype or control.shape[0] != int(state["num_bends"]) + 2):
            raise ValueError(f"curve {source}: the control points {describe(control)} do not match the "
                             f"header (P={p}, {dtype}, {state['num_bends']} bends); the file is damaged")
        if like is not None:
            want_p, want_dtype, what = shape_of(like)
            if p != want_p or dtype != str(want_dtype):
                raise ValueError(f"curve {source}: a curve for another model: it holds P={p:,} parameters "
                                 f"in {dtype}, but {what} has P={want_p:,} in {want_dtype}")
        curve = klass(control[0], control[-1], int(state["num_bends"]), bends=control[1:-1].clone())
        losses = state.get("fit_losses")
        curve.fit_state = {"step": int(state.get("fit_step", 0)),
                           "losses": [] if losses is None else [float(v) for v in losses],
                           "optimizer": state.get("optimizer")}
        return curve
