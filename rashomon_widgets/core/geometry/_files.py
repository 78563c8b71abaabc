"""Atomic checkpoint files for curves and fits (read back with ``weights_only=True``)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import torch

from ..validation import describe


def atomic_save(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or os.PathLike), got {describe(path)}")
    path = Path(path).expanduser()
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
    if like is None:
        return None
    if isinstance(like, torch.Tensor):
        return like.device
    return getattr(like, "device", None)


def shape_of(like):
    if isinstance(like, torch.Tensor):
        return like.numel(), like.dtype, "the given parameter vector"
    if hasattr(like, "num_params") and hasattr(like, "dtype"):
        return int(like.num_params), like.dtype, "this Landscape's model"
    raise TypeError(f"like: expected an rw.Landscape or a flat parameter vector, got {describe(like)}")
