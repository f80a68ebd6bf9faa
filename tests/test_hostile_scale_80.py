"""Hostile cases for scale, probe 80 (files larger than an image should be, read by ingest's per-image decoder)."""

import errno
import os
import resource
import tempfile
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from winnow.errors import WinnowError, fault_line
from winnow.image_decode import _read
from winnow.image_files import load_imagefolder
from winnow.mapped_rows import spill_array


def _peak_while(call):
    """(what ``call()`` returns, the most bytes Python held at once meanwhile beyond what it held before)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = call()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_large_file_is_read_into_memory_once_not_twice(tmp_path):
    # before: read in 1 MiB chunks then joined, so the file was held twice at the join: a stray 600 MiB file named
    # .png took ingest to 1.3 GiB, and one of half the machine's memory killed it
    file = tmp_path / "big.png"
    body = np.random.default_rng(0).integers(0, 256, 48 << 20, dtype=np.uint8).tobytes()
    file.write_bytes(body)
    for at_once in (False, True):
        data, peak = _peak_while(lambda: _read(file, at_once=at_once))
        assert data == body
        assert peak < len(body) + (4 << 20)  # the bytes returned, and no second copy of them


def test_a_file_growing_past_its_size_when_opened_is_read_to_its_end(tmp_path, monkeypatch):
    # the one read asks for the size fstat gave; bytes written since are read too, not cut off
    file = tmp_path / "a.png"
    file.write_bytes(b"x" * 1000)
    import winnow.image_decode as image_decode

    real = image_decode.os.fstat

    def smaller(fd):  # the size the file had when opened, before 990 bytes were appended
        fields = list(real(fd))[:10]
        fields[6] = 10
        return os.stat_result(fields)

    monkeypatch.setattr(image_decode.os, "fstat", smaller)
    assert _read(file) == b"x" * 1000


def test_a_folder_with_a_huge_zero_file_rejects_it_and_keeps_the_images(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(np.full((4, 4, 3), 40 * i, np.uint8)).save(tmp_path / name / f"{i}.png")
    with open(tmp_path / "a" / "big.png", "wb") as handle:
        handle.truncate(32 << 20)
    loaded = load_imagefolder(tmp_path, size=None)
    assert len(loaded.images) == 6
    assert loaded.rejected == [(str(tmp_path / "a" / "big.png"), f"all of its {32 << 20} bytes are zeros: the file "
                                "was never written (an interrupted copy or download); copy it again from its source")]


def test_a_spill_file_past_the_file_size_limit_names_the_limit_not_free_space(tmp_path, monkeypatch):
    # before: "cannot make a 4 MiB temporary file in ... (File too large): free space there, or set TMPDIR to a
    # writable folder with room", under `ulimit -f` with the disk empty: a fix that changes nothing
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, hard))  # Python ignores SIGXFSZ: the write fails with EFBIG
    try:
        with pytest.raises(WinnowError) as refused:
            spill_array((4, 1 << 20), np.uint8)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(refused.value) == (
        f"cannot make a 4 MiB temporary file in {tmp_path} (File too large): the file is larger than this process may "
        "write (`ulimit -f`) or than its file system holds (FAT32: 4 GiB); raise the limit, or write to another file "
        "system; TMPDIR names where it is made")
    assert list(tmp_path.iterdir()) == []


def test_a_stage_output_past_the_file_size_limit_names_the_limit_not_free_space():
    line, status = fault_line(OSError(errno.EFBIG, "File too large", "data/score/scores.parquet"))
    assert (status, line) == (1, "data/score/scores.parquet: File too large [EFBIG]; the file is larger than this "
                                 "process may write (`ulimit -f`) or than its file system holds (FAT32: 4 GiB); raise "
                                 "the limit, or write to another file system, then rerun")
