"""Loss grids evaluated in row blocks: here, or on the workers of any ``concurrent.futures.Executor``.

With an executor, the landscape and the plane are pickled once per call and every task carries the
bytes with a digest of them; a worker unpickles each digest once and keeps it in a small module-level
cache (:data:`_CACHE`), so a worker builds the landscape once however many blocks it evaluates, and a
later grid on the same landscape (coarse-to-fine, another plane) reuses it. A thread pool gets the
objects themselves (a Landscape is thread-safe), with nothing pickled.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

_CACHE: OrderedDict[str, object] = OrderedDict()  # digest -> unpickled object, in each worker process
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()
_LOADS = [0]  # unpickled payloads in this process (what a test asks each worker)
BLOCKS_PER_WORKER = 4


def rows_losses(ls, plane, xs: np.ndarray, ys: np.ndarray, chunk_bytes: int, progress=None,
                **losses_kwargs) -> np.ndarray:
    """Losses on the grid ``ys x xs`` of ``plane``, parameter vectors built at most ``chunk_bytes`` at a time.

    Args:
        ls: the landscape.
        plane: the plane.
        xs, ys: grid coordinates.
        chunk_bytes: the most bytes of parameter vectors built at once (at least one row).
        progress: ``progress(done, total)`` over this block's points.
        **losses_kwargs: passed to ``ls.losses``.

    Returns:
        (len(ys), len(xs)) float64 numpy array.
    """
    bytes_per_row = len(xs) * plane.origin.numel() * plane.origin.element_size()
    rows = max(1, min(len(ys), chunk_bytes // bytes_per_row))
    total = len(xs) * len(ys)
    loss = np.empty((len(ys), len(xs)))
    for r0 in range(0, len(ys), rows):
        block = plane.points(xs, ys[r0:r0 + rows]).to(ls.device)
        done = r0 * len(xs)
        inner = None if progress is None else (lambda d, _n, done=done: progress(done + d, total))
        values = ls.losses(block, progress=inner, **losses_kwargs)
        loss[r0:r0 + rows] = values.reshape(-1, len(xs)).double().cpu().numpy()
    return loss


def checked_block(block, r0: int, r1: int, width: int) -> np.ndarray:
    """A worker's block of grid rows ``r0:r1``, checked before it enters the grid.

    A block is what :func:`rows_losses` returns: a real floating-point numpy array of shape
    ``(r1 - r0, width)``. Its values may be NaN or inf, as in a grid evaluated here (the loss itself is
    not finite there); anything else (None, another shape, integers, complex numbers) is an error of
    the executor or its workers, refused rather than written into the grid.

    Args:
        block: what the task returned.
        r0, r1: the rows the block stands for.
        width: the grid's columns.

    Returns:
        the block as a float64 array.

    Raises:
        ValueError: not a real floating-point numpy array of shape ``(r1 - r0, width)``.
    """
    name = f"executor: the block of grid rows {r0}:{r1}"
    expected = f"a floating-point numpy array of shape ({r1 - r0}, {width})"
    if not isinstance(block, np.ndarray):
        raise ValueError(f"{name}: expected {expected} from the worker, got {type(block).__name__}")
    if block.shape != (r1 - r0, width):
        raise ValueError(f"{name}: expected {expected} from the worker, got shape {block.shape}")
    if not np.issubdtype(block.dtype, np.floating):
        raise ValueError(f"{name}: expected {expected} from the worker, got dtype {block.dtype}")
    return block.astype(np.float64, copy=False)


def _cached(digest: str, payload: bytes):
    with _CACHE_LOCK:
        if digest in _CACHE:
            _CACHE.move_to_end(digest)
            return _CACHE[digest]
        obj = pickle.loads(payload)
        _LOADS[0] += 1
        _CACHE[digest] = obj
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return obj


def cache_loads() -> int:
    """How many payloads this process has unpickled (a worker's count: each landscape and plane once).

    Returns:
        the count.
    """
    return _LOADS[0]


def remote_rows(ls_ref: tuple[str, bytes], plane_ref: tuple[str, bytes], xs: np.ndarray, ys: np.ndarray,
                chunk_bytes: int, losses_kwargs: dict) -> np.ndarray:
    """The task a worker runs: one block of grid rows, the landscape and plane unpickled once per worker.

    Args:
        ls_ref, plane_ref: ``(digest, pickled bytes)`` of the landscape and of the plane.
        xs, ys: the block's coordinates.
        chunk_bytes: see :func:`rows_losses`.
        losses_kwargs: passed to ``ls.losses``.

    Returns:
        (len(ys), len(xs)) float64 numpy array.
    """
    ls, plane = _cached(*ls_ref), _cached(*plane_ref)
    return rows_losses(ls, plane, xs, ys, chunk_bytes, **losses_kwargs)


def _pickled(obj, name: str) -> tuple[str, bytes]:
    try:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise TypeError(f"executor: the {name} must be pickled to reach the workers, and it cannot be "
                        f"({type(exc).__name__}: {exc}); define loss_fn, behaviour and the model's classes at "
                        "module level (no lambdas or local functions), or leave executor=None") from exc
    return hashlib.sha256(payload).hexdigest(), payload


def executor_workers(executor: cf.Executor) -> int:
    """How many tasks ``executor`` runs at once, where it says (process and thread pools, Dask's
    ``ClientExecutor``); else the CPU count.

    Args:
        executor: a ``concurrent.futures.Executor``.

    Returns:
        a positive int.
    """
    count = getattr(executor, "_max_workers", None)
    if count is None:
        client = getattr(executor, "_client", None)
        try:
            count = sum(client.nthreads().values()) if client is not None else None
        except Exception:  # any client that cannot say: fall back to the CPU count
            count = None
    return max(1, int(count or os.cpu_count() or 1))


def executor_losses(ls, plane, xs: np.ndarray, ys: np.ndarray, executor: cf.Executor, block_rows: int | None,
                    chunk_bytes: int, progress: Callable[[int, int], None] | None, losses_kwargs: dict) -> np.ndarray:
    """The grid's losses, its rows split into blocks evaluated on ``executor``'s workers.

    Args:
        ls, plane, xs, ys: the landscape, the plane and the grid.
        executor: a ``concurrent.futures.Executor``.
        block_rows: rows per task; None: :data:`BLOCKS_PER_WORKER` near-equal blocks per worker.
        chunk_bytes: see :func:`rows_losses` (applies inside each task).
        progress: ``progress(done, total)`` as blocks finish.
        losses_kwargs: passed to ``ls.losses`` on the workers.

    Returns:
        (len(ys), len(xs)) float64 numpy array.

    Raises:
        ValueError: a worker returned a block of the wrong kind or shape (see :func:`checked_block`).
    """
    if block_rows is None:  # near-equal blocks, a multiple of the workers: no worker is left with the tail
        count = min(len(ys), BLOCKS_PER_WORKER * executor_workers(executor))
        sizes = [len(ys) // count + (i < len(ys) % count) for i in range(count)]
    else:
        sizes = [min(block_rows, len(ys) - r0) for r0 in range(0, len(ys), block_rows)]
    blocks = [(r0, r0 + n) for r0, n in zip(np.cumsum([0, *sizes[:-1]]).tolist(), sizes)]
    if isinstance(executor, cf.ThreadPoolExecutor):  # same process: the objects themselves
        futures = {executor.submit(rows_losses, ls, plane, xs, ys[a:b], chunk_bytes, **losses_kwargs): a
                   for a, b in blocks}
    else:
        ls_ref, plane_ref = _pickled(ls, "landscape"), _pickled(plane, "plane")
        futures = {executor.submit(remote_rows, ls_ref, plane_ref, xs, ys[a:b], chunk_bytes, losses_kwargs): a
                   for a, b in blocks}
    ends = dict(blocks)
    loss, done, total = np.full((len(ys), len(xs)), np.nan), 0, len(xs) * len(ys)
    try:
        for future in cf.as_completed(futures):
            r0 = futures[future]
            block = checked_block(future.result(), r0, ends[r0], len(xs))
            loss[r0:ends[r0]] = block
            done += block.size
            if progress is not None:
                progress(done, total)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return loss
