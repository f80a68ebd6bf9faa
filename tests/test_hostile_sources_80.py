"""Hostile inputs to the imagefolder source, round 80: 16-bit colour PNGs scaled to 8 bits; an ``ingest.path`` typed
on Windows, or with stray spaces or a byte-order mark; WebP files under a Pillow built without WebP.

Each case reads generated files with :func:`winnow.image_files.load_imagefolder` and asserts the stored pixels, or
runs ``stages/ingest.py`` through the harness and asserts its one ``error:`` line and that nothing was written.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image, features

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_imagefolder_files import chunk
from test_hostile_ingest import image_folder, run_ingest
from test_hostile_ingest_71r import ADAM7
from winnow.errors import WinnowError
from winnow.image_files import load_imagefolder


def _png16(samples: np.ndarray, color_type: int, *, interlaced: bool = False) -> bytes:
    """A 16-bit PNG (``color_type`` 0: grey, 2: RGB, 4: grey and alpha, 6: RGBA) of ``samples`` (uint16 ``(H, W, C)``),
    written by hand (Pillow writes no 16-bit colour PNG); ``interlaced``: Adam7, each pass row unfiltered."""
    height = samples.shape[0]
    wide = samples.astype(">u2")
    if interlaced:
        rows = b"".join(b"\0" + wide[row, column::column_step].tobytes()
                        for column, first, column_step, row_step in ADAM7 for row in range(first, height, row_step)
                        if wide[row, column::column_step].size)
    else:
        rows = b"".join(b"\0" + wide[y].tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", samples.shape[1], height, 16, color_type, 0, 0, int(interlaced))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("interlaced", [False, True])
def test_one_picture_saved_as_16_bit_grey_rgb_rgba_or_grey_alpha_reads_as_the_same_rounded_pixels(tmp_path, interlaced):
    # before: a 16-bit grey PNG was scaled by 255/65535 and rounded, but a colour or grey-and-alpha one kept each
    # sample's high byte (Pillow's): 511 read as 2 in the grey file and 1 in the RGB one, 0x7FFF as 127 and 0x80FF as
    # 128 in both only by chance; the same picture was two images, with two digests
    values = np.array([[0, 255, 256, 511, 0x7FFF, 0x8000, 0x80FF, 0xFEFF],
                       [0xFF00, 65535, 1000, 12345, 40000, 257, 128, 60000]] * 4, np.uint16)  # (8, 8)
    opaque = np.full_like(values, 65535)
    for name, samples, color_type in (("grey", values[..., None], 0), ("rgb", np.dstack([values] * 3), 2),
                                      ("rgba", np.dstack([values] * 3 + [opaque]), 6),
                                      ("grey_alpha", np.dstack([values, opaque]), 4)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "0.png").write_bytes(_png16(samples, color_type, interlaced=interlaced))
    loaded = load_imagefolder(tmp_path, size=None)
    # v * 255 / 65535 rounded is v / 257 rounded (65535 = 255 * 257): 511 -> 2 (1.988, high byte 1), 0x7FFF -> 127
    # (127.498), 0x8000 -> 128 (127.502), 0x80FF -> 128 (128.49), 1000 -> 4 (3.89, high byte 3), 128 -> 0 (0.498)
    expected = np.array([[0, 1, 1, 2, 127, 128, 128, 254], [254, 255, 4, 48, 156, 1, 0, 233]] * 4, np.uint8)
    ids = list(loaded.ids)
    assert loaded.images.shape == (4, 8, 8, 3)  # the colour files make the set RGB: grey repeated
    for name in ("grey", "rgb", "rgba", "grey_alpha"):
        np.testing.assert_array_equal(loaded.images[ids.index(f"{name}/0.png")], np.dstack([expected] * 3), err_msg=name)


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("typed, said", [
    ("..\\data\\raw", "ingest.path: ..\\data\\raw does not exist; '\\' separates folders on Windows but is part of a "
                      "name here: write ../data/raw"),
    ("C:\\Users\\ana\\raw", "ingest.path: C:\\Users\\ana\\raw is a Windows path (drive C:), not a folder of this "
                            "machine; write the folder's path here, with '/' (WSL mounts C: at /mnt/c)"),
    ("../data/raw ", "ingest.path: '../data/raw ' does not exist; it holds surrounding spaces: write '../data/raw'"),
    ("\ufeff../data/raw", "ingest.path: '\\ufeff../data/raw' does not exist; it holds the invisible character "
                          "'\\ufeff': write '../data/raw'"),
])
def test_a_windows_path_or_one_with_stray_spaces_or_a_bom_is_refused_naming_the_path_to_write(tmp_path, typed, said):
    # before: "ingest.path: ..\data\raw does not exist (expected root/<class>/<image files>)" of a folder that was there
    # (a params.yaml written on Windows), and "'../data/raw  does not exist", its trailing space or BOM unseen
    image_folder(tmp_path / "data" / "raw", {"cat": 4, "dog": 4})
    project, before, done = run_ingest(tmp_path, "imagefolder", typed)
    assert assert_error_line(done) == f"error: {said}"
    assert_nothing_left(project, before)


@pytest.mark.hostile("imagefolder")
def test_webp_files_under_a_pillow_built_without_webp_stop_ingest_in_one_line_not_rows_of_damage(tmp_path, monkeypatch):
    # before: each WebP file was a row "cut short or damaged in its header: it starts as a WEBP file, but its 44 bytes
    # hold no header Pillow can read (an interrupted copy or download?); copy it again from its source", a fix that
    # cannot work, and a set with few WebP files was ingested without them where a machine with WebP read them
    data = image_folder(tmp_path / "data", {"cat": 12, "dog": 12})
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(data / "dog" / "photo.webp", lossless=True)
    # a Pillow built without libwebp: no WebP plugin registered, and features.check says so
    monkeypatch.delitem(Image.OPEN, "WEBP")
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name != "WEBP"])
    monkeypatch.setattr(features, "check_module", lambda feature: feature != "webp")
    into = tmp_path / "out" / "images.npy"
    into.parent.mkdir()
    with pytest.raises(WinnowError) as refused:
        load_imagefolder(data, size=None, into=into)
    assert str(refused.value) == (
        f"ingest.path: {data}/dog/photo.webp is a WebP file, and the Pillow installed here was built without WebP "
        "support (PIL.features.check('webp') is False), so no WebP file can be read; nothing was ingested: install "
        "Pillow's own wheel (pip install --force-reinstall pillow) or build it with libwebp, or convert the WebP files "
        "to PNG")


@pytest.mark.hostile("imagefolder")
def test_an_avif_named_jpg_under_a_pillow_without_avif_is_a_row_naming_avif(tmp_path, monkeypatch):
    # before: "not a decodable image", where a Pillow with its AVIF plugin named the format (a CDN's AVIF that a
    # browser saved as .jpg)
    data = image_folder(tmp_path / "data", {"cat": 6, "dog": 6})
    (data / "dog" / "saved.jpg").write_bytes(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + bytes(64))
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name != "AVIF"])
    loaded = load_imagefolder(data, size=None)
    assert dict(loaded.rejected) == {str(data / "dog" / "saved.jpg"): (
        "content is AVIF, not an image format read here (PNG, JPEG, BMP, WebP) whatever the suffix says; convert it "
        "to PNG or JPEG")}
