"""Reading a shipped sweeps file that is damaged: a truncated or bit-flipped file, torn lines, duplicate
records and missing seeds are named (file, line, key, seeds), never a raw EOFError, zlib.error,
JSONDecodeError or KeyError, and never a silently smaller answer."""
from __future__ import annotations

import gzip
import io
import json

import pytest

from rashomon_widgets.experiments import shipped
from rashomon_widgets.experiments.records import ResultsWarning, run_key

OPTIONS = {"task": "xor", "activation": "sigmoid", "init_std": 1.0}


def _record(width: int, seed: int) -> dict:
    config = {"width": width, "seed": seed, **OPTIONS}
    return {**config, "key": run_key(shipped._RUN_NAME, config), "near_zero": 1, "tol": 1e-6,
            "spectrum": [0.0, 1.0], "loss": 0.0, "converged": True}


def _lines(records) -> list[bytes]:
    return [json.dumps(r, sort_keys=True).encode() for r in records]


def _gzip(lines: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as f:
        f.write(b"\n".join(lines) + b"\n")
    return buffer.getvalue()


def _good(n: int = 40) -> list[bytes]:
    return _lines(_record(w, s) for w in (2, 3) for s in range(n))


def test_a_truncated_file_names_the_file_and_the_last_line_read(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    data = _gzip(_good())
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError, match=r"shipped sweeps: '.*cut\.jsonl\.gz' cannot be read past line \d+: its "
                                         r"compressed data is cut short or damaged \(EOFError"):
        shipped.records(path)


def test_a_bit_flipped_file_is_refused_not_read_as_other_numbers(tmp_path):
    data = bytearray(_gzip(_good()))
    for offset in (len(data) // 2, len(data) - 6):  # inside the deflate stream; inside the CRC
        flipped = bytearray(data)
        flipped[offset] ^= 0x10
        path = tmp_path / f"flip{offset}.jsonl.gz"
        path.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match=rf"'.*flip{offset}\.jsonl\.gz' cannot be read past line \d+"):
            shipped.records(path)


def test_torn_lines_are_skipped_with_a_warning_naming_the_file_and_the_lines(tmp_path):
    lines = _good(3)
    lines[2] = lines[2][:25]                       # torn mid-record
    lines.insert(4, b'{"width": 2}')              # JSON, but not a record (no key, no seed)
    lines.insert(5, b"\xff\xfe not utf-8")
    path = tmp_path / "torn.jsonl.gz"
    path.write_bytes(_gzip(lines))
    with pytest.warns(ResultsWarning, match=r"skipped 3 line\(s\) of '.*torn\.jsonl\.gz' that are not records "
                                            r"\(line 3, 5, 6: torn"):
        got = shipped.records(path)
    assert len(got) == 5
    with pytest.raises(ValueError, match=r"requested seeds that are not shipped .*width 2: seeds \[2\]"):
        shipped.load((2, 3), seeds=range(3), path=path, **OPTIONS)


def test_a_record_held_twice_is_refused_naming_its_key(tmp_path):
    lines = _good(3)
    path = tmp_path / "twice.jsonl.gz"
    path.write_bytes(_gzip(lines + [lines[1]]))
    key = _record(2, 1)["key"]
    with pytest.raises(ValueError, match=r"holds the record .* twice \(lines 2 and 7\)") as info:
        shipped.records(path)
    assert key in str(info.value)


def test_load_says_which_requested_seeds_it_does_not_hold(tmp_path):
    path = shipped.write([_record(w, s) for w in (2, 3) for s in range(40) if (w, s) != (3, 7)],
                         tmp_path / "some.jsonl.gz")
    with pytest.raises(ValueError, match=r"requested seeds that are not shipped for .*: width 2: seeds "
                                         r"\[40, 41, 42, 43, 44, 45, 46, 47, 48, 49, \.\.\. \(60 in all\)\]; "
                                         r"width 3: seeds \[7, 40, 41"):
        shipped.load((2, 3), seeds=range(100), path=path, **OPTIONS)
    with pytest.raises(ValueError, match=r"width 3: seeds \[7\]; set RECOMPUTE"):
        shipped.load((2, 3), seeds=[5, 7], path=path, **OPTIONS)
    assert len(shipped.load((2, 3), seeds=[5, 6], path=path, **OPTIONS).records) == 4
