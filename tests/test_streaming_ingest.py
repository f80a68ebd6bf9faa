"""Ingest streams: pixels go to disk a batch at a time, so its memory does not grow with the set, and the
streamed imageset holds exactly the pixels a plain Pillow read of each file gives."""

import os
import pickle
import runpy
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import winnow.image_decode
from hostile_harness import ROOT, default_params, make_project
from winnow.cifar10 import load_cifar10
from winnow.imageset import read_imageset, write_imageset
from winnow.npy_rows import NpyRows


def ingest_in_process(project: Path, monkeypatch) -> None:
    """The ingest stage's main() run in this process (so tracemalloc and monkeypatch reach it)."""
    monkeypatch.chdir(project)
    runpy.run_path(str(ROOT / "stages/ingest.py"), run_name="ingest")["main"]()


def folder_project(tmp_path: Path, **ingest) -> Path:
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(tmp_path / "images"), **ingest)
    return make_project(tmp_path / "project", params)


def solid_pngs(root: Path, n: int, side: int) -> None:
    """``n`` RGB ``side`` x ``side`` PNGs in two classes; one colour each, so they encode and decode fast."""
    for i in range(n):
        folder = root / f"c{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (side, side), (i % 251, i // 251 % 251, 7)).save(folder / f"{i:05d}.png")


def peak_bytes(tmp_path: Path, n: int, monkeypatch) -> int:
    solid_pngs(tmp_path / "images", n, 64)
    project = folder_project(tmp_path)
    tracemalloc.start()
    try:
        ingest_in_process(project, monkeypatch)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ingest_memory_does_not_grow_with_the_pixels_of_the_set(tmp_path, monkeypatch):
    small = peak_bytes(tmp_path / "small", 1000, monkeypatch)
    large = peak_bytes(tmp_path / "large", 4000, monkeypatch)
    extra_pixels = 3000 * 64 * 64 * 3  # 37 MB more pixels; holding them (list + stack) would add twice that
    assert large - small < extra_pixels / 4, (small, large)
    images = read_imageset(tmp_path / "large/project/data/ingest").images
    assert images.shape == (4000, 64, 64, 3)


def test_a_folder_larger_than_a_batch_streams_to_the_pixels_pillow_reads(tmp_path, monkeypatch, rng):
    """Grey files first and a colour one in a later batch (the rows so far become RGB), a broken file
    among them, a trusted folder appended: every stored image is the file as Pillow reads it."""
    monkeypatch.setattr(winnow.image_decode, "BATCH_FILES", 4)
    root = tmp_path / "images"
    for i in range(13):
        folder = root / f"c{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        if i == 9:
            Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
        else:
            Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    (root / "c0" / "99.png").write_bytes(b"not a png")
    trusted = tmp_path / "trusted" / "c1"
    trusted.mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).save(trusted / "t.png")
    project = folder_project(tmp_path, trusted_path=str(tmp_path / "trusted"), max_reject_fraction=0.5)
    ingest_in_process(project, monkeypatch)
    stored = read_imageset(project / "data/ingest")
    expected = {row.id: np.asarray(Image.open((root if not row.id.startswith("trusted/") else tmp_path / "trusted")
                                              / row.id.removeprefix("trusted/")).convert("RGB"))
                for row in stored.manifest.itertuples()}
    assert len(stored) == 14 and stored.images.shape == (14, 6, 6, 3)
    for i, image_id in enumerate(stored.manifest["id"]):
        np.testing.assert_array_equal(stored.images[i], expected[image_id], err_msg=image_id)
    assert pd.read_csv(project / "data/ingest/rejected.csv")["path"].str.endswith("c0/99.png").tolist() == [True]
    assert sorted(p.name for p in (project / "data/ingest").iterdir()) == [
        "classes.json", "images.npy", "manifest.parquet", "oriented.csv", "rejected.csv"]


def test_cifar10_streamed_to_disk_equals_the_batches(tmp_path, rng):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    data = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data[name] = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
        (root / name).write_bytes(pickle.dumps({b"data": data[name], b"labels": [0, 1, 2]}))
    loaded = load_cifar10(root, into=tmp_path / "rows.npy")
    assert isinstance(loaded.images, np.memmap) and loaded.images.shape == (18, 32, 32, 3)
    planar = np.concatenate(list(data.values())).reshape(18, 3, 32, 32)
    np.testing.assert_array_equal(loaded.images, planar.transpose(0, 2, 3, 1))


def test_rows_written_in_batches_are_the_bytes_numpy_saves(tmp_path, rng):
    images = rng.integers(0, 256, (37, 5, 6, 3), dtype=np.uint8)
    np.save(tmp_path / "saved.npy", images)
    rows = NpyRows.create(tmp_path / "rows.npy", (10, 5, 6, 3))
    rows.resize(37)  # grown in place: the header keeps its length
    for start in range(0, 37, 8):
        rows.write(start, images[start:start + 8])
    assert (tmp_path / "rows.npy").read_bytes() == (tmp_path / "saved.npy").read_bytes()
    rows.resize(5)
    np.save(tmp_path / "five.npy", images[:5])
    assert (tmp_path / "rows.npy").read_bytes() == (tmp_path / "five.npy").read_bytes()
    write_imageset(tmp_path / "set", images, _manifest(37), ["a"])
    assert (tmp_path / "set/images.npy").read_bytes() == (tmp_path / "saved.npy").read_bytes()


def _manifest(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"i{k}" for k in range(n)], "split": "train", "label": 0, "source": "t",
                         "orig_h": 5, "orig_w": 6, "orig_mode": "RGB"})


def test_a_batch_holds_at_most_batch_bytes_of_decoded_pixels_and_at_least_one_file(tmp_path, monkeypatch):
    # before: a batch was always 256 files, so 128 grey 3000x3000 plain PNGs were all held at full resolution
    # before resizing (3.5 GB with ingest.size 16)
    monkeypatch.setattr(winnow.image_decode, "BATCH_FILES", 4)
    monkeypatch.setattr(winnow.image_decode, "BATCH_BYTES", 500)
    sides = {"a": 10, "b": 10, "c": 20, "d": 10, "e": 10, "f": 10, "g": 10, "h": 10, "i": 30, "j": 10}
    for name, side in sides.items():  # plain grey PNGs: a 10x10 file holds 100 bytes of pixels, 20x20 400, 30x30 900
        Image.new("L", (side, side), 9).save(tmp_path / f"{name}.png")
    Image.new("RGB", (9, 9)).convert("P").save(tmp_path / "k.png")  # not plain: decoded alone, held as size x size RGB
    Image.new("RGB", (9, 9)).save(tmp_path / "l.jpg")
    paths = [tmp_path / f"{name}.png" for name in sides] + [tmp_path / "k.png", tmp_path / "l.jpg"]

    def boundaries(size):
        return [(first, len(streams)) for first, streams in winnow.image_decode._batches(paths, size)]

    # 100+100 (+400 is over 500) | 400+100 | four files | 900, over the budget alone | 100 + k + l
    assert boundaries(4) == [(0, 2), (2, 2), (4, 4), (8, 1), (9, 3)]  # k and l count 4*4*3 = 48 bytes each
    # at full size k and l count 9*9*3 = 243 bytes each, from their headers: 100 + 243 (+243 is over 500)
    assert boundaries(None) == [(0, 2), (2, 2), (4, 4), (8, 1), (9, 2), (11, 1)]


def test_short_writes_land_every_byte_where_it_belongs(tmp_path, monkeypatch):
    # before: a short pwrite was retried from data[done:] of the 4-D view, which skips rows, not bytes: the rest
    # of the rows went elsewhere, then an empty write returned 0 forever (a full disk hung ingest at 100% CPU)
    from winnow.npy_rows import NpyRows

    real = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: real(fd, bytes(data)[:1000], offset))
    rows = (np.arange(10 * 16 * 16) % 251).astype(np.uint8).reshape(10, 16, 16, 1)
    NpyRows.create(tmp_path / "images.npy", rows.shape).write(0, rows)
    np.testing.assert_array_equal(np.load(tmp_path / "images.npy"), rows)


def test_a_write_the_disk_takes_nothing_of_is_an_error_not_a_hang(tmp_path, monkeypatch):
    from winnow.npy_rows import NpyRows

    out = NpyRows.create(tmp_path / "images.npy", (2, 4, 4, 1))
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: 0)
    with pytest.raises(OSError, match="No space left on device"):
        out.write(0, np.zeros((2, 4, 4, 1), np.uint8))
