"""Hostile imagefolder cases of the 71st probe. The ingest stage's ``main`` runs in-process.

- a PNG whose image data, a whole zlib stream with every CRC intact, inflates to fewer rows than its header says
  (a palette PNG, an RGBA one): a row in rejected.csv, not an image whose last rows are blank;
- an empty class folder in a split folder of a class that has a folder in another split: the refusal says the split
  would lack the class (not "a class with no images is not a class"), and each fix it gives is then read;
- JPEGs a browser saved as .jfif and a PNG without a suffix: rows saying they are images to rename (not "not an image
  file"), and the refusal over ingest.max_reject_fraction tells to rename them, not to move them out as sidecars;
- a class folder that cannot be listed for its network mount's sake (a stale NFS handle) or because it went since the
  folder above was listed: not told to fix its permissions.
"""

import errno
import os
import shutil
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_contracts import _stage_module
from test_hostile_ingest import image_folder
from winnow.errors import WinnowError


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def short_png(colour_type: int, channels: int, rows: int, *, extra: bytes = b"") -> bytes:
    """An 8x8 8-bit PNG of ``colour_type`` whose image data, a whole zlib stream, holds ``rows`` rows (filter byte 0
    and 8 pixels of ``channels`` bytes each, all 2)."""
    stream = zlib.compress(b"".join(b"\0" + bytes([2] * 8 * channels) for _ in range(rows)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, colour_type, 0, 0, 0)) + extra
            + chunk(b"IDAT", stream) + chunk(b"IEND", b""))


def project_of(tmp_path, data, **ingest):
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(data), size=None, **ingest)
    return make_project(tmp_path / "project", params)


@pytest.mark.hostile("imagefolder")
def test_a_png_whose_image_data_ends_before_its_last_row_is_a_row(tmp_path, monkeypatch):
    # before: Pillow's decoder stops at the stream's end without an error, so the palette PNG was read with its last 5
    # rows in the palette's first colour, and the RGBA one with its last 3 rows transparent, white once composited:
    # both kept as images, no row
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12})
    palette = chunk(b"PLTE", bytes([10, 20, 30, 200, 100, 50, 90, 90, 90]))
    (data / "a" / "palette.png").write_bytes(short_png(3, 1, 3, extra=palette))
    (data / "b" / "rgba.png").write_bytes(short_png(6, 4, 5))
    (data / "b" / "whole.png").write_bytes(short_png(6, 4, 8))  # the same file with its 8 rows: read
    project = project_of(tmp_path, data, max_reject_fraction=0.1)
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    # an 8x8 8-bit PNG's rows are 1 filter byte and 8 pixels: 8 * 9 bytes of palette indices, 8 * 33 of RGBA
    assert pd.read_csv(project / "data/ingest/rejected.csv").values.tolist() == [
        [f"{data}/a/palette.png", "cut short: its image data inflates to 27 of the 72 bytes of its 8x8 "
                                  "pixels (width x height; its encoder stopped early), and the rows missing would "
                                  "be read as blank; save it again from its source"],
        [f"{data}/b/rgba.png", "cut short: its image data inflates to 165 of the 264 bytes of its 8x8 "
                               "pixels (width x height; its encoder stopped early), and the rows missing would "
                               "be read as blank; save it again from its source"]]
    ids = pd.read_parquet(project / "data/ingest/manifest.parquet")["id"]
    assert len(ids) == 25 and "b/whole.png" in set(ids)


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("empty", ["test", "train"])
def test_an_empty_class_folder_of_one_split_is_told_the_split_lacks_the_class_and_each_fix_is_read(
        tmp_path, monkeypatch, empty):
    # before: "class folder .../test/c has no files directly inside it; a class with no images is not a class: add
    # its images or remove the folder", of a class with 6 train images; removing the folder was then refused, "the
    # test split holds no image of class 'c'"
    data = tmp_path / "data"
    image_folder(data / "train", {"a": 6, "b": 6, "c": 6})
    image_folder(data / "test", {"a": 2, "b": 2, "c": 2})
    shutil.rmtree(data / empty / "c")
    (data / empty / "c").mkdir()
    project = project_of(tmp_path, data, val_fraction=0.2)
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    other = "train" if empty == "test" else "test"
    fix = (f"remove {data / 'test'} to have ingest carve the test split from train" if empty == "test"
           else "remove its folders from every split to leave the class out")
    assert str(refused.value) == (
        f"ingest.path: class folder {data / empty / 'c'} has no files directly inside it, so the {empty} split would "
        f"hold no image of class 'c', which has a folder in {other}; add its {empty} images, or {fix}")
    assert_nothing_left(project, before)
    if empty == "test":
        shutil.rmtree(data / "test")
    else:
        shutil.rmtree(data / "train" / "c")
        shutil.rmtree(data / "test" / "c")
    _stage_module("ingest").main()
    manifest = pd.read_parquet(project / "data/ingest/manifest.parquet")
    tested = set(manifest.loc[manifest["split"] == "test", "label"])
    assert tested == ({0, 1, 2} if empty == "test" else {0, 1})
    assert np.load(project / "data/ingest/images.npy").shape[0] == len(manifest)


@pytest.mark.hostile("imagefolder")
def test_images_whose_suffix_is_not_read_are_told_to_be_renamed_not_moved_out_as_sidecars(tmp_path, monkeypatch):
    # before: each row said "not an image file (suffix .jfif; ...)", and the refusal "5 of them are not image files by
    # their suffix, most .jfif: move them out of the class folders; ... images of other formats are read once
    # converted to PNG or JPEG" of JPEGs: moving them out drops the images, and they are JPEGs already
    data = image_folder(tmp_path / "data", {"a": 10, "b": 10})
    for i in range(3):
        Image.fromarray(np.full((8, 8), 60 + 9 * i, np.uint8)).save(data / "a" / f"dl{i}.jfif", "JPEG")
    Image.fromarray(np.full((8, 8), 99, np.uint8)).save(data / "b" / "scraped", "PNG")
    (data / "b" / "0.xmp").write_text("<x:xmpmeta/>")
    project = project_of(tmp_path, data, val_fraction=0.2)
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert str(refused.value) == (
        "ingest: 5 of 25 files could not be read, above ingest.max_reject_fraction=0.05 (1 of them are not image files "
        f"by their suffix, most .xmp, first {data / 'b' / '0.xmp'}: move them out of the class folders; a photo tool's "
        "sidecars, .xmp .json .aae, are no images, and images of other formats are read once converted to PNG or JPEG) "
        "(4 of them are images by their content but not by their suffix, most .jfif, first "
        f"{data / 'a' / 'dl0.jfif'}: rename them with the suffix of their format, as each one's row says); see "
        "data/ingest/rejected.csv for each file and its reason")
    accepted = "accepted: .png, .jpg, .jpeg, .bmp, .webp"
    assert pd.read_csv(project / "data/ingest/rejected.csv").values.tolist() == [
        *([str(data / "a" / f"dl{i}.jfif"), f"an image file by its content (JPEG) but not by its suffix (.jfif; "
           f"{accepted}): rename it dl{i}.jpg to read it"] for i in range(3)),
        [str(data / "b" / "0.xmp"), f"not an image file (suffix .xmp; {accepted})"],
        [str(data / "b" / "scraped"), f"an image file by its content (PNG) but not by its suffix (none; {accepted}): "
                                      "rename it scraped.png to read it"]]
    assert_nothing_left(project, before, allowed={"data/ingest/rejected.csv"})
    for i in range(3):  # renamed as each row says: read
        (data / "a" / f"dl{i}.jfif").rename(data / "a" / f"dl{i}.jpg")
    (data / "b" / "scraped").rename(data / "b" / "scraped.png")
    _stage_module("ingest").main()
    ids = set(pd.read_parquet(project / "data/ingest/manifest.parquet")["id"])
    assert {"a/dl0.jpg", "a/dl1.jpg", "a/dl2.jpg", "b/scraped.png"} <= ids and len(ids) == 24


def listing_refused(tmp_path, monkeypatch, code: int) -> tuple[str, object]:
    """The one line ingest refuses a folder of classes a and b with, where listing b fails with OSError ``code``
    (nothing left behind: asserted here), and b's path."""
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    project = project_of(tmp_path, data, val_fraction=0.2)
    monkeypatch.chdir(project)
    before = files_under(project)
    scandir = os.scandir

    def failing(path="."):
        if not isinstance(path, int) and os.fspath(path) == str(data / "b"):  # an int: a folder's descriptor
            raise OSError(code, os.strerror(code), str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", failing)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert_nothing_left(project, before)
    return str(refused.value), data / "b"


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("code", [errno.ESTALE, errno.ENOENT, errno.EACCES])
def test_a_class_folder_that_cannot_be_listed_is_told_the_fix_for_its_cause(tmp_path, monkeypatch, code):
    # before: "ingest.path: cannot list .../b (Stale file handle); fix its permissions", and the same of a folder moved
    # away after the one above it was listed: no permission was at fault
    line, b = listing_refused(tmp_path, monkeypatch, code)
    said = {errno.ESTALE: f"cannot read {b} (Stale file handle), which its folder lists; nothing was "
                          "ingested: check the disk or its network mount, then rerun",
            errno.ENOENT: f"cannot list {b} (No such file or directory); it was there a moment before (moved "
                          "or removed meanwhile?): rerun once the data is no longer being changed",
            errno.EACCES: f"cannot list {b} (Permission denied); fix its permissions"}
    assert line == f"ingest.path: {said[code]}"
