"""Hostile inputs to ingest met in review of stop 69's out-of-memory mends: a crafted file whose read fails as
memory running out would is the file's fault (a row, or one line naming it), never an "out of memory" stop that
sends the user to free memory on a machine that has plenty."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hostile_harness import default_params, files_under, make_project, run_stage


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.hostile("imagefolder")
def test_a_png_claiming_rows_wider_than_pillow_decodes_is_a_row_not_an_out_of_memory_stop(tmp_path):
    # before: this 90-byte PNG (40,000,000x1 16-bit RGBA: 40 million pixels, under Pillow's limit of 89 million) made
    # Pillow's decoder raise MemoryError for a row past 2**31 bits, and ingest stopped: "cannot read ... (out of
    # memory) ...; nothing was ingested: check free memory and the process's memory limit", whatever memory was free
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((8, 8), 20 * i + 7, np.uint8)).save(data / name / f"{i}.png")
    (data / "a" / "wide.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 40_000_000, 1, 16, 6, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(data), max_reject_fraction=0.25)
    project = make_project(tmp_path / "project", params)

    done = run_stage(project, "ingest", timeout=120)

    assert done.returncode == 0, done.stderr[-3000:]
    assert dict(pd.read_csv(project / "data/ingest/rejected.csv").itertuples(index=False)) == {
        str(data / "a" / "wide.png"): "unreadable: rows of 40000000 pixels, wider than Pillow decodes"}
    assert len(pd.read_parquet(project / "data/ingest/manifest.parquet")) == 12


@pytest.mark.hostile("npz")
def test_an_npz_member_claiming_more_than_it_holds_names_the_member_not_out_of_memory(tmp_path):
    # before: this 300-byte .npz, whose images.npy header claims 2**62 bytes (numpy allocates what a header claims
    # before reading it), said "error: stages/ingest.py: out of memory (MemoryError); free memory or lower the batch or
    # data size, then rerun", as memory running out does
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (2**31, 2**31)})
    labels = io.BytesIO()
    np.save(labels, np.arange(2))
    source = tmp_path / "d.npz"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("images.npy", header.getvalue() + bytes(64))
        archive.writestr("labels.npy", labels.getvalue())
    params = default_params()
    params["ingest"].update(source="npz", path=str(source), size=None)
    project = make_project(tmp_path / "project", params)
    before = files_under(project)

    done = run_stage(project, "ingest", timeout=120)

    assert (done.returncode, done.stderr) == (1, (
        f"error: {source}: member 'images.npy' claims 4,611,686,018,427,387,904 bytes of data (shape (2147483648, "
        "2147483648), uint8) but holds 64; the member is damaged or crafted: write the arrays again with np.savez\n"))
    assert files_under(project) == before
