"""The large XOR sweeps of notebooks 03 and 04, shipped with the package as gzipped JSON lines.

Deciding a trend of a few percent between widths takes thousands of trainings per width (a 95%
interval on a share from 100 runs is several percent wide). Those runs are too many to repeat in a
notebook, so their records ship in ``rashomon_widgets/data/files/xor_sweeps.jsonl.gz`` (one
:func:`~rashomon_widgets.experiments.mlp_run` record per line, as :func:`~rashomon_widgets.experiments.sweep`
writes it, with eigenvalues and loss rounded to 6 significant digits, eigenvalues below 1e-12 of
the largest stored as 0, and the machine-dependent ``seconds`` left out), and the notebooks read them by default.
They are made by one command::

    python -m rashomon_widgets.experiments.shipped --seeds 2000 --engine dask --workers 2

which runs :data:`GRID` through :func:`~rashomon_widgets.experiments.sweep` on a Dask ``LocalCluster``
(``--engine processes`` uses a local process pool instead), keeps the raw records in a resumable work
file (``--work``) and writes the shipped file (``--out``).

**What a record promises.** A run on a plateau (or with an eigenvalue near the tolerance) amplifies
rounding, so on another CPU (another BLAS, another order of floating-point sums) it can end elsewhere,
in its digits or in its verdict. So every run is
made twice, the second time with its initial weights moved by one ulp (``mlp_run(init_ulps=1)``), and
the fields in which the two differ are stored in the record as ``"fragile"`` (:func:`fragility`); the
record promises only the others (:func:`robust_fields`); the notebooks print how many records of the
shipped file are fragile, and in which fields. ``tests/experiments/test_shipped.py`` re-runs a sample and
compares exactly the robust fields; notebooks 03 and 04 show that no verdict changes without the fragile records.

Example:
    >>> from rashomon_widgets.experiments import shipped
    >>> result = shipped.load((2, 6), task="xor", activation="sigmoid", init_std=1.0)   # doctest: +SKIP
    >>> result.by_width("near_zero")[2][:5]                                                # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import time
import warnings
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..core import count_near_zero
from ..core.validation import check_ints
from .records import ResultsWarning, SweepResult, read_lines, run_key, skipped_text
from .sweep import mlp_run, sweep

__all__ = ["FIELDS", "GRID", "PATH", "compact", "differing_fields", "fragility", "load", "make", "matches", "records",
           "robust_fields", "write"]

#: The file the package ships.
PATH = Path(__file__).resolve().parents[1] / "data" / "files" / "xor_sweeps.jsonl.gz"

#: What the shipped file holds: ``(options of mlp_run, widths)``; every setup with seeds ``range(seeds)``.
#: Notebook 03 uses XOR with sigmoid and ReLU units at widths 2, 3, 4, 6; notebook 04 XOR and 4 random
#: points at widths 2, 3, 5, 8.
GRID: tuple[tuple[dict, tuple[int, ...]], ...] = (
    ({"task": "xor", "activation": "sigmoid", "init_std": 1.0}, (2, 3, 4, 5, 6, 8)),
    ({"task": "xor", "activation": "relu", "init_std": 1.0}, (2, 3, 4, 5, 6, 8)),
    ({"task": "random", "activation": "sigmoid", "init_std": 1.0}, (2, 3, 5, 8)),
)

_DIGITS = 6
_FLOOR = 1e-12
_RUN_NAME = f"{mlp_run.__module__}.{mlp_run.__qualname__}"


# ----------------------------------------------------------------------------- reading
def _is_record(record) -> bool:
    """A shipped record: a dict with a JSON ``key`` naming its run, and int ``width`` and ``seed``."""
    try:
        ok = isinstance(record, dict) and isinstance(json.loads(record.get("key")), dict)
    except (TypeError, json.JSONDecodeError):
        return False
    return ok and all(isinstance(record.get(k), int) and not isinstance(record.get(k), bool) for k in ("width", "seed"))


_cache: dict[tuple[str, float], list[dict]] = {}


def records(path=None) -> list[dict]:
    """Every record of a shipped (gzipped JSON-lines) file, read once per process and cached.

    Args:
        path: the file (default :data:`PATH`).

    Returns:
        the records, sorted by setup, width and seed (do not modify them: they are shared).

    Raises:
        FileNotFoundError: the file is missing (a checkout without the data file: make it with the
            command in this module's docstring).
        ValueError: the compressed data is cut short or damaged (a truncated or bit-flipped file; the
            message names the file and the last line read), or two records have the same key (the
            message names the key and both lines).

    Warns:
        ResultsWarning: lines that are not records (torn, not UTF-8 JSON, or without ``key``, ``width``
            and ``seed``) were skipped, as :func:`~rashomon_widgets.experiments.records.load_results`
            skips them; the message names the file and the lines.
    """
    path = Path(PATH if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(f"shipped sweeps: {str(path)!r} is missing; make it with `python -m "
                                "rashomon_widgets.experiments.shipped`, or recompute the sweep in the notebook")
    stamp = (str(path), path.stat().st_mtime)
    if stamp not in _cache:
        read = 0

        def counted(f):
            nonlocal read
            for raw in f:
                read += 1
                yield raw

        try:
            with gzip.open(path, "rb") as f:
                numbered, skipped = read_lines(counted(f), _is_record)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # cut short, or bytes changed (CRC)
            raise ValueError(f"shipped sweeps: {str(path)!r} cannot be read past line {read}: its compressed data "
                             f"is cut short or damaged ({type(exc).__name__}: {exc}); expected a whole gzip file: "
                             "restore it, or make it again with `python -m rashomon_widgets.experiments.shipped`"
                             ) from exc
        lines: dict[str, int] = {}
        for number, record in numbered:
            if record["key"] in lines:
                raise ValueError(f"shipped sweeps: {str(path)!r} holds the record {record['key']} twice (lines "
                                 f"{lines[record['key']]} and {number}); expected one record per run: make the "
                                 "file again with `python -m rashomon_widgets.experiments.shipped`")
            lines[record["key"]] = number
        if skipped:
            warnings.warn(f"shipped sweeps: skipped {len(skipped)} line(s) of {str(path)!r} that are not records "
                          f"(line {skipped_text(skipped)}: torn, not UTF-8 JSON, or without key, width and seed)",
                          ResultsWarning, stacklevel=2)
        _cache[stamp] = [record for _, record in numbered]
    return _cache[stamp]


def load(widths: Iterable[int], *, seeds: Iterable[int] | None = None, path=None, **options) -> SweepResult:
    """The shipped records of one setup, as the :class:`SweepResult` that :func:`sweep` would return.

    Args:
        widths: hidden widths wanted (each must be in the shipped grid).
        seeds: seeds wanted (default: all shipped).
        path: the shipped file (default :data:`PATH`).
        **options: the run's options exactly as passed to :func:`sweep`, e.g. ``task="xor",
            activation="sigmoid", init_std=1.0`` (records whose key has the same options are returned).

    Returns:
        a :class:`SweepResult` (``ran == 0``; ``reused`` is the number of records).

    Raises:
        ValueError: a width, an option set or requested seeds that the file does not hold (the message
            says what it holds, or which seeds of which width are missing); a damaged file or duplicate
            records (see :func:`records`).

    Warns:
        ResultsWarning: lines of the file that are not records were skipped (see :func:`records`).

    Example:
        >>> result = load((2, 3), task="xor", activation="relu", init_std=1.0)   # doctest: +SKIP
        >>> len(result.records)                                                   # doctest: +SKIP
        4000
    """
    widths = check_ints(widths, "widths", 1)
    wanted_seeds = None if seeds is None else set(check_ints(seeds, "seeds", 0))
    out, held = [], {}
    for r in records(path):
        config = {k: v for k, v in json.loads(r["key"]).items() if k not in ("run", "width", "seed")}
        held.setdefault(json.dumps(config, sort_keys=True), set()).add(r["width"])
        if config == options and r["width"] in widths and (wanted_seeds is None or r["seed"] in wanted_seeds):
            out.append(r)
    have = held.get(json.dumps(options, sort_keys=True))
    if have is None:
        raise ValueError(f"shipped sweeps: no records with the options {options!r}; the file holds "
                         f"{sorted(held)} (set RECOMPUTE = True in the notebook to run the sweep for other options)")
    missing = [w for w in widths if w not in have]
    if missing:
        raise ValueError(f"shipped sweeps: widths {missing} are not shipped for {options!r} (shipped: "
                         f"{sorted(have)}); set RECOMPUTE = True in the notebook to run them")
    if wanted_seeds is not None:
        found: dict[int, set] = {w: set() for w in widths}
        for r in out:
            found[r["width"]].add(r["seed"])
        absent = {w: sorted(wanted_seeds - s) for w, s in found.items() if wanted_seeds - s}
        if absent:
            def shown(seeds: list[int]) -> str:
                more = f", ... ({len(seeds)} in all)" if len(seeds) > 10 else ""
                return "[" + ", ".join(map(str, seeds[:10])) + more + "]"
            raise ValueError(f"shipped sweeps: requested seeds that are not shipped for {options!r}: "
                             + "; ".join(f"width {w}: seeds {shown(s)}" for w, s in absent.items())
                             + "; set RECOMPUTE = True in the notebook to run them, or ask for shipped seeds")
    out.sort(key=lambda r: (r["width"], r["seed"]))
    return SweepResult(out, Path(PATH if path is None else path), 0, len(out))


# ----------------------------------------------------------------------------- writing
def _round(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")


def compact(record: dict) -> dict:
    """A sweep record as shipped: ``seconds`` dropped, the loss and the eigenvalues rounded to 6
    significant digits (more where rounding would change the near-zero count), and eigenvalues below
    1e-12 of the largest (round-off, far below any tolerance used) stored as 0.

    Args:
        record: a record of :func:`~rashomon_widgets.experiments.mlp_run` as :func:`sweep` writes it.

    Returns:
        the compacted copy (the record itself is not changed).
    """
    out = {k: v for k, v in record.items() if k != "seconds"}
    out["loss"] = _round(record["loss"], _DIGITS)
    floor = _FLOOR * max((abs(v) for v in record["spectrum"]), default=0.0)
    for digits in (_DIGITS, 10, 17):
        out["spectrum"] = [_round(v, digits) if abs(v) >= floor else 0.0 for v in record["spectrum"]]
        if count_near_zero(out["spectrum"], record["tol"]) == record["near_zero"]:
            break
    return out


def write(runs: Iterable[dict], out) -> Path:
    """Write records, compacted and sorted, as a gzipped JSON-lines file with a fixed timestamp, so the
    same records always give the same bytes.

    Args:
        runs: sweep records (see :func:`compact`).
        out: the file to write (its folder is created).

    Returns:
        the path written.
    """
    out = Path(out)
    lines = sorted(json.dumps(compact(r), sort_keys=True) for r in runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
    out.write_bytes(buffer.getvalue())
    return out


def _one_thread() -> None:
    import torch
    torch.set_num_threads(1)


def _executor(engine: str, workers: int):
    """(executor, closer) for ``engine``: a Dask LocalCluster's, or the default process pool."""
    if engine == "dask":
        from .cluster import local_cluster, require_distributed

        Client = require_distributed().Client

        cluster = local_cluster(workers, threads_per_worker=1)
        client = Client(cluster)
        client.run(_one_thread)

        def close() -> None:
            client.close()
            cluster.close()
        return client.get_executor(), close
    from .sweep import default_executor
    pool = default_executor(max_workers=workers)
    return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)


def make(num_seeds: int, *, work, out=PATH, engine: str = "dask", workers: int = 2, progress="text",
         probe_work=None) -> Path:
    """Run every setup of :data:`GRID` for seeds ``range(num_seeds)``, probe every run's fragility
    (:func:`fragility`: the same runs with ``init_ulps=1``) and write the shipped file.

    Args:
        num_seeds: seeds per setup and width.
        work: the sweep's plain JSON-lines results file (resumable: a killed run continues from it).
        out: the shipped file to write.
        engine: ``"dask"`` (a ``distributed.LocalCluster``) or ``"processes"`` (a local process pool).
        workers: worker processes.
        progress: passed to :func:`sweep`.
        probe_work: the probes' resumable results file (default: ``work`` with ``-probe`` before its suffix).

    Returns:
        the path written.
    """
    work = Path(work)
    probe_work = work.with_name(work.stem + "-probe" + work.suffix) if probe_work is None else Path(probe_work)
    executor, close = _executor(engine, workers)
    try:
        kept, probes = [], []
        for options, widths in GRID:
            print(f"setup {options}, widths {widths}", flush=True)
            kept += sweep(range(num_seeds), widths, work, executor=executor, progress=progress, **options).records
            print("  fragility probe (init_ulps=1)", flush=True)
            probes += sweep(range(num_seeds), widths, probe_work, executor=executor, progress=progress,
                            init_ulps=1, **options).records
    finally:
        close()
    return write(fragility(kept, probes), out)


#: The fields of a record that :func:`matches` compares (``key`` is compared too, but is never fragile).
FIELDS = ("converged", "near_zero", "rank_G", "num_params", "epochs", "loss", "spectrum")


def matches(shipped: dict, fresh: dict, *, rtol: float = 1e-6, fields=FIELDS) -> list[str]:
    """How a freshly computed record differs from its shipped one (empty if it matches).

    The key, ``converged``, ``near_zero``, ``rank_G``, ``num_params`` and ``epochs`` must be equal;
    the loss and every eigenvalue within ``rtol`` relative (plus an absolute ``rtol`` times the
    largest eigenvalue, as the near-zero rule measures), after the shipped file's rounding of both
    (so a record of a sweep run here, not rounded, can be compared too).

    Args:
        shipped: the record from the shipped file.
        fresh: the record of the same run computed again (:func:`rerun`).
        rtol: relative tolerance of the loss and the eigenvalues.
        fields: which of :data:`FIELDS` to compare (the key always is); e.g. a record's robust ones,
            ``[f for f in FIELDS if f not in record["fragile"]]``.

    Returns:
        one line per difference, each starting with the field's name; an empty list when they match.

    Raises:
        ValueError: ``fields`` names a field not in :data:`FIELDS`.
    """
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"fields: expected some of {list(FIELDS)}, got {unknown}")
    problems = []
    for field in ("key",) + tuple(f for f in FIELDS[:5] if f in fields):
        if shipped.get(field) != fresh.get(field):
            problems.append(f"{field}: shipped {shipped.get(field)!r}, fresh {fresh.get(field)!r}")
    # both sides rounded as shipped (compact is idempotent), so a record of a sweep run here compares too
    shipped, fresh = compact(shipped), compact(fresh)
    if "loss" in fields and not np.isclose(shipped["loss"], fresh["loss"], rtol=rtol, atol=1e-12):
        problems.append(f"loss: shipped {shipped['loss']!r}, fresh {fresh['loss']!r}")
    a, b = np.asarray(shipped["spectrum"], dtype=float), np.asarray(fresh["spectrum"], dtype=float)
    if "spectrum" in fields and (a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=rtol * np.abs(a).max())):
        problems.append("spectrum differs")
    return problems


def differing_fields(shipped: dict, fresh: dict) -> list[str]:
    """The names of the fields of :data:`FIELDS` in which two records of one run differ (see
    :func:`matches`).

    Args:
        shipped, fresh: two records of the same run (same key).

    Returns:
        field names, in the order of :data:`FIELDS`.
    """
    named = {line.split(" ", 1)[0].rstrip(":") for line in matches(shipped, {**fresh, "key": shipped.get("key")})}
    return [f for f in FIELDS if f in named]


def robust_fields(record: dict) -> tuple[str, ...]:
    """The fields of a shipped record that it promises to reproduce on any CPU: :data:`FIELDS` less
    those its fragility probe changed (``record["fragile"]``, see :func:`fragility`).

    Args:
        record: a shipped record.

    Returns:
        field names.

    Raises:
        KeyError: the record has no ``"fragile"`` field (a file made before the probe existed).
    """
    if "fragile" not in record:
        raise KeyError(f"shipped record {record.get('key')!r} has no 'fragile' field; run `python -m "
                       "rashomon_widgets.experiments.shipped --fragility` to measure it")
    return tuple(f for f in FIELDS if f not in record["fragile"])


def fragility(runs: Iterable[dict], probes: Iterable[dict]) -> list[dict]:
    """Mark each run with the fields that a one-ulp move of its initial weights changed.

    A run on a plateau or near a tolerance amplifies rounding: another CPU's arithmetic (a different
    BLAS kernel, another summation order) moves it as a one-ulp change of its start does. So a shipped
    record promises only the fields that survive the probe: ``record["fragile"]`` lists the others
    (``[]``: the whole record is robust), and ``tests/experiments/test_shipped.py`` re-runs records and
    compares exactly their :func:`robust_fields`.

    Args:
        runs: the records (each with ``"key"``).
        probes: the same runs made with ``mlp_run(..., init_ulps=1)`` (their keys carry ``init_ulps``).

    Returns:
        copies of ``runs``, each with a ``"fragile"`` list.

    Raises:
        ValueError: a run without its probe.
    """
    by_key = {}
    for p in probes:
        config = {k: v for k, v in json.loads(p["key"]).items() if k != "init_ulps"}
        by_key[json.dumps(config, sort_keys=True)] = p
    out, missing = [], []
    for r in runs:
        probe = by_key.get(r["key"])
        if probe is None:
            missing.append(r["key"])
            continue
        out.append({**r, "fragile": differing_fields(r, probe)})
    if missing:
        raise ValueError(f"fragility: {len(missing)} runs have no probe, e.g. {missing[0]}")
    return out


def rerun(record: dict) -> dict:
    """Run the shipped record's configuration again (in this process).

    Args:
        record: a shipped record (its ``"key"`` names the run).

    Returns:
        the fresh record, in the sweep's format.
    """
    config = {k: v for k, v in json.loads(record["key"]).items() if k != "run"}
    return {**mlp_run(**config), **config, "key": run_key(_RUN_NAME, config)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rashomon_widgets.experiments.shipped",
                                     description="Make the shipped XOR sweeps of notebooks 03 and 04.")
    parser.add_argument("--seeds", type=int, default=2000, help="seeds per setup and width (default 2000)")
    parser.add_argument("--engine", choices=("dask", "processes"), default="dask",
                        help="a Dask LocalCluster (default) or a local process pool")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--work", default="xor_sweeps_work.jsonl",
                        help="resumable plain JSON-lines results file (default ./xor_sweeps_work.jsonl)")
    parser.add_argument("--out", default=str(PATH), help=f"the shipped file (default {PATH})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = make(args.seeds, work=args.work, out=args.out, engine=args.engine, workers=args.workers)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
