"""What a sweep writes and reports: the JSON-lines results file, progress lines, the result.

Every finished run is one line of the results file, written by one ``write`` on a file opened with
``O_APPEND`` and synced, so a killed sweep keeps everything it finished; a torn last line is skipped on
reading (with a warning) and the next record starts on a new line. A record's ``"key"`` (:func:`run_key`)
identifies its run.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path


# ----------------------------------------------------------------------------- results file
def run_key(run_name: str, config: dict) -> str:
    """The identity of a run: the run function's name, width, seed and options, as canonical JSON."""
    return json.dumps({"run": run_name, **config}, sort_keys=True)


class ResultsWarning(UserWarning):
    """Lines of a results file that are not records (a run killed mid-write, or not UTF-8 JSON) were
    skipped; their runs are redone."""


def read_lines(lines, accept=lambda record: isinstance(record, dict)) -> tuple[list[tuple[int, dict]], list[int]]:
    """The records among raw JSON lines, and the numbers of the lines that are not records.

    The one reader of results files (:func:`load_results`) and of the shipped sweeps
    (``shipped.records``): blank lines are skipped; a line that is not UTF-8 JSON (torn by a kill) or that
    ``accept`` refuses is counted as skipped, never read as a record.

    Args:
        lines: an iterable of ``bytes`` lines (an open binary file, plain or gzip).
        accept: whether a decoded JSON value is a record.

    Returns:
        ``([(line number, record), ...], [skipped line numbers])``, line numbers from 1.
    """
    records, skipped = [], []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
            ok = accept(record)
        except (UnicodeDecodeError, json.JSONDecodeError):
            ok = False
        if ok:
            records.append((number, record))
        else:
            skipped.append(number)  # that run is redone (a results file) or missing (a shipped file)
    return records, skipped


def skipped_text(skipped: list[int]) -> str:
    """``"3, 7, 12 ..."``: the first ten skipped line numbers, for a warning."""
    return ", ".join(map(str, skipped[:10])) + (" ..." if len(skipped) > 10 else "")


def load_results(path) -> list[dict]:
    """The records of a results file, in file order; blank lines are skipped, and so are lines that are
    not records (torn by a kill, or not UTF-8 JSON), with one :class:`ResultsWarning` naming them.

    Args:
        path: the JSON-lines file (a missing file has no records).

    Returns:
        one dict per record.

    Example:
        >>> load_results("xor_sweep.jsonl")[:1]                     # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        return []
    with path.open("rb") as f:
        numbered, skipped = read_lines(f)
    if skipped:
        warnings.warn(f"results: skipped {len(skipped)} line(s) of {str(path)!r} that are not records (line "
                      f"{skipped_text(skipped)}: a run killed while writing, or not UTF-8 JSON); their runs are "
                      "redone", ResultsWarning, stacklevel=2)
    return [record for _, record in numbered]


def append_record(path: Path, record: dict) -> None:
    """Append one record as one line, by one ``write`` on a file opened with ``O_APPEND``, synced.

    A file that does not end in a newline (a write torn by a kill) gets one first, so the record never
    joins the torn line.
    """
    data = (json.dumps(record, sort_keys=True, allow_nan=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- progress
class TextProgress:
    """Prints ``sweep: done/total (share) ... elapsed`` about every ``every`` share of the runs.

    Args:
        every: the share of the runs between two lines, e.g. 0.1.
        stream: where to print (default ``sys.stdout``).
    """

    def __init__(self, every: float = 0.1, stream=None):
        self.every, self.stream = float(every), stream
        self._next, self._start = 0.0, time.perf_counter()

    def __call__(self, done: int, total: int, record: dict) -> None:
        """Print a line if another ``every`` of the runs is done (always for the last one).

        Args:
            done: runs finished so far.
            total: runs in the sweep.
            record: the record of the run that just finished (its width and seed are printed).
        """
        share = done / total if total else 1.0
        if share + 1e-12 >= self._next or done == total:
            self._next = share + self.every
            print(f"sweep: {done}/{total} runs ({share:.0%}), last width={record.get('width')} "
                  f"seed={record.get('seed')}, {time.perf_counter() - self._start:.1f} s",
                  file=self.stream or sys.stdout, flush=True)


@dataclass
class SweepResult:
    """What :func:`sweep` did.

    Attributes:
        records: every record of this sweep's runs (from the file and new), sorted by width, seed.
        path: the results file.
        ran: how many runs this call executed.
        reused: how many were found finished in the file.
        failed: ``{key: error message}`` of runs that raised (not written; a rerun retries them).
    """
    records: list[dict]
    path: Path
    ran: int
    reused: int
    failed: dict = field(default_factory=dict)

    def by_width(self, value: str = "near_zero", *, converged_only: bool = True) -> dict:
        """One field of the records, grouped by width.

        Args:
            value: the record field, e.g. ``"near_zero"`` or ``"rank_G"``.
            converged_only: keep only runs that reached a global minimum (``"converged"``).

        Returns:
            ``{width: [value of each run, by seed]}``, widths ascending.
        """
        out: dict = {}
        for r in self.records:
            if converged_only and not r.get("converged", True):
                continue
            out.setdefault(r["width"], []).append(r[value])
        return dict(sorted(out.items()))
