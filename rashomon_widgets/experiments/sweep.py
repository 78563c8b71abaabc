"""Seeds x widths sweeps over any ``concurrent.futures.Executor``, resumable from a JSON-lines file.

Every finished run is appended to the results file at once, as one line written by one ``write`` on a
file opened with ``O_APPEND`` (by the process that submitted the runs: there is one writer), so a sweep
that is killed keeps everything it finished, and running it again redoes only the missing runs. A run
is identified by its key (stored in each record as ``"key"``): the run function's name, ``width``,
``seed`` and the options passed (``activation``, ``init_std``, ...); records with other keys in the same
file are left alone. A torn last line (a crash mid-write on some
file systems) is skipped on reading, so that run is simply done again.

The executor can be anything with ``submit``: the default is a local ``ProcessPoolExecutor`` with two
workers (started with ``spawn``, so no half-initialised torch threads are forked); for a cluster, pass
``distributed.Client(...).get_executor()``. Runs must be picklable top-level functions of keyword
arguments returning a JSON-serialisable dict. In a script, call :func:`sweep` under
``if __name__ == "__main__":`` (spawned workers re-import the main module); notebooks need nothing.
Nothing here imports a widget library.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable, Iterable

from ..core.validation import check_callable, check_choice, check_int, check_ints, check_path
from .records import ResultsWarning, SweepResult, TextProgress, append_record, load_results, run_key

__all__ = ["sweep", "mlp_run", "default_executor", "SweepResult", "TextProgress", "load_results", "Progress",
           "ResultsWarning"]

#: ``progress(done, total, record)``
Progress = Callable[[int, int, dict], None]


# ----------------------------------------------------------------------------- the default run
def mlp_run(*, width: int, seed: int, task: str = "xor", activation: str = "sigmoid", init_std: float = 1.0,
            num_points: int = 4, data_seed: int = 0, tol: float | None = None, loss_tol: float = 1e-10,
            max_epochs: int = 20, init_ulps: int = 0) -> dict:
    """Train one 2-``width``-1 net from a Gaussian initialisation and measure its minimum (write-ups 3, 4).

    ``rw.models.xor_mlp(width, activation, seed=seed, init_std=init_std)`` (float64, ``4 * width + 1``
    parameters, linear output) is trained with full-batch L-BFGS on the sum-of-squares loss until the
    loss is far below ``loss_tol`` or an epoch gains under 10% (a local minimum), at most
    ``max_epochs`` epochs.

    Args:
        width: hidden units of the net.
        seed: seed of its initialisation (and of L-BFGS's shuffling, unused on the full batch).
        task: ``"xor"`` (the four XOR points) or ``"random"`` (``num_points`` standard-normal inputs in
            R^2 with standard-normal targets, drawn from ``data_seed``: an ultra-small regression).
        activation: hidden activation (see :class:`~rashomon_widgets.models.MLP`).
        init_std: the standard deviation of the Gaussian initialisation.
        num_points, data_seed: the ``"random"`` task's size and seed.
        tol: relative tolerance for near-zero Hessian eigenvalues (default ``default_tol``: 1e-6).
        loss_tol: the loss below which the run counts as a global minimum.
        max_epochs: L-BFGS epochs at most.
        init_ulps: move every initial weight up by this many units in the last place before training
            (0: the seed's initialisation exactly). A probe of how fragile a run is: a run whose result
            changes under a one-ulp move also changes with another CPU's rounding (see
            :func:`~rashomon_widgets.experiments.shipped.fragility`).

    Returns:
        A JSON-serialisable dict: ``num_params``; ``num_points``; ``loss`` (final sum of squares);
        ``converged`` (``loss < loss_tol``: a global minimum); ``spectrum`` (all Hessian eigenvalues,
        exact, ascending); ``tol`` and ``near_zero`` (how many eigenvalues satisfy
        ``|lambda| <= tol * max |lambda|``); ``rank_G`` (rank of the behavioural gradients, singular
        values compared with ``sqrt(tol)``, so that ``near_zero == num_params - rank_G`` at a global
        minimum); ``epochs``; ``seconds``.

    Raises:
        ValueError: an unknown task; the errors of the model builder and of training.
    """
    import torch

    from ..core import Landscape, default_tol
    from ..core.comparison.behaviour import behaviour_rank
    from ..data import xor
    from ..models import sum_of_squares, train, xor_mlp
    from ..models.training import converged_or_stuck

    start = time.perf_counter()
    tol = default_tol(torch.float64) if tol is None else float(tol)
    if check_choice(task, "task", ("xor", "random")) == "xor":
        data = xor(torch.float64)
    else:
        g = torch.Generator().manual_seed(int(data_seed))
        data = (torch.randn(num_points, 2, generator=g, dtype=torch.float64),
                torch.randn(num_points, 1, generator=g, dtype=torch.float64))
    model = xor_mlp(width, activation=activation, dtype=torch.float64, seed=seed, init_std=init_std)
    with torch.no_grad():
        for p in model.parameters():
            for _ in range(check_int(init_ulps, "init_ulps", 0)):
                p.copy_(torch.nextafter(p, torch.full_like(p, math.inf)))
    seen: list[float] = []
    history = train(model, sum_of_squares, data, epochs=max_epochs, optimizer="lbfgs", seed=seed,
                    callback=lambda epoch, loss: converged_or_stuck(seen, loss, loss_tol))
    ls = Landscape(model, sum_of_squares, data, reduction="sum")
    spectrum = ls.spectrum(tol=tol)
    return {
        "num_params": ls.num_params,
        "num_points": ls.num_samples,
        "loss": ls.loss(),
        "converged": bool(ls.loss() < loss_tol),
        "spectrum": [float(v) for v in spectrum.values],
        "tol": tol,
        "near_zero": spectrum.num_near_zero,
        "rank_G": behaviour_rank(ls, tol=tol),
        "epochs": len(history),
        "seconds": time.perf_counter() - start,
    }


def _init_worker() -> None:
    import torch
    torch.set_num_threads(1)
    _exit_with_parent()


def _exit_with_parent() -> None:
    """End this worker process when the process that started it dies (a killed sweep or kernel must not
    leave workers behind, each holding its own copy of torch and its data). The parent's sentinel becomes
    ready when it is gone, however it died."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="rashomon-parent-watch").start()


def default_executor(max_workers: int = 2) -> cf.ProcessPoolExecutor:
    """A local process pool (``spawn``), one torch thread per worker.

    Args:
        max_workers: worker processes.

    Returns:
        the pool; shut it down when done (or use it in a ``with`` block).
    """
    return cf.ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_init_worker)


def sweep(seeds: Iterable[int], widths: Iterable[int], results, *, run: Callable[..., dict] = mlp_run,
          executor: cf.Executor | None = None, progress: Progress | str | None = None,
          **options) -> SweepResult:
    """Run ``run(width=w, seed=s, **options)`` for every seed and width, resuming from ``results``.

    Args:
        seeds, widths: the grid (duplicates are dropped).
        results: the JSON-lines file; created if missing, appended to as runs finish. Records
            already there with the same key (width, seed, options) are reused, not run again.
        run: a picklable top-level function returning a JSON-serialisable dict (default
            :func:`mlp_run`).
        executor: any ``concurrent.futures.Executor`` (e.g. ``distributed.Client().get_executor()``);
            default: :func:`default_executor` with two workers, shut down at the end. An executor
            you pass is left running.
        progress: ``progress(done, total, record)`` after each finished run, ``"text"`` for a
            :class:`TextProgress` line about every 10%, or None.
        **options: passed to ``run`` and part of each record's key (JSON-serialisable values).

    Returns:
        A :class:`SweepResult`.

    Raises:
        TypeError / ValueError: bad arguments.
        RuntimeError: after all other runs finished (and were written), if any run raised; the
            message lists them. Running the sweep again retries only those.

    Example:
        >>> from rashomon_widgets.experiments import sweep
        >>> result = sweep(range(150), (2, 3, 4), "xor_sweep.jsonl", progress="text")  # doctest: +SKIP
        >>> result.by_width("near_zero")                                               # doctest: +SKIP
    """
    seeds = check_ints(seeds, "seeds", 0)
    widths = check_ints(widths, "widths", 1)
    path = check_path(results, "results")
    if path.is_dir():
        raise ValueError(f"results: expected a file path, got the directory {str(path)!r}")
    check_callable(run, "run", "run(width=..., seed=..., **options)")
    if executor is not None and not isinstance(executor, cf.Executor):
        raise TypeError("executor: expected a concurrent.futures.Executor (e.g. ProcessPoolExecutor, or "
                        f"distributed.Client().get_executor()), got {type(executor).__name__}")
    if progress == "text":
        progress = TextProgress()
    elif progress is not None and not callable(progress):
        raise TypeError("progress: expected a callable progress(done, total, record), 'text' or None, "
                        f"got {progress!r}")
    try:
        json.dumps(options)
    except TypeError as exc:
        raise TypeError(f"options: expected JSON-serialisable values (they are part of each run's key), got "
                        f"{options!r}: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)

    name = f"{getattr(run, '__module__', '?')}.{getattr(run, '__qualname__', type(run).__name__)}"
    configs = [{"width": w, "seed": s, **options} for w in widths for s in seeds]
    wanted = {run_key(name, c): c for c in configs}
    done = {}
    for record in load_results(path):
        if record.get("key") in wanted:
            done[record["key"]] = record
    todo = [c for k, c in wanted.items() if k not in done]
    total, failed, ran = len(wanted), {}, 0

    own = executor is None and bool(todo)
    pool = default_executor() if own else executor
    try:
        futures = {pool.submit(run, **c): c for c in todo}
        finished = len(done)
        for future in cf.as_completed(futures):
            config = futures[future]
            try:
                out = future.result()
                if not isinstance(out, dict):
                    raise TypeError(f"run: expected a dict, got {type(out).__name__}")
            except Exception as exc:  # keep going: the other runs' results are worth keeping
                failed[run_key(name, config)] = f"{type(exc).__name__}: {exc}"
                continue
            record = {**out, **config, "key": run_key(name, config)}
            append_record(path, record)
            done[record["key"]] = record
            ran += 1
            finished += 1
            if progress is not None:
                progress(finished, total, record)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    records = sorted(done.values(), key=lambda r: (r["width"], r["seed"]))
    result = SweepResult(records, path, ran, total - len(todo), failed)
    if failed:
        lines = "\n".join(f"  {k}: {v}" for k, v in list(failed.items())[:10])
        if any("BrokenProcessPool" in v for v in failed.values()):
            lines += ("\n  (a worker process died. In a script, call the sweep under "
                      "`if __name__ == '__main__':`: spawned workers re-import the main module.)")
        raise RuntimeError(f"sweep: {len(failed)} of {total} runs raised (the other {total - len(failed)} are "
                           f"in {str(path)!r}; run the sweep again to retry):\n{lines}")
    return result
