"""Hostile inputs to the imagefolder source from real-world files: a PNG whose image data fails its CRC check, a
16-bit RGB PNG's colour key, colour profiles, images whose content is in their alpha alone, hidden image files and
a Synology NAS's own folders.

Each case runs ``stages/ingest.py`` through the harness (see :mod:`test_hostile_ingest`, whose helpers it reuses)
and asserts the exact rejected rows, stored pixels or ``warning:`` lines.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_ingest import assert_ingested, image_folder, ingested, rejected, run_ingest
from test_hostile_ingest_more import grey_folder


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def stored(project: Path, image_id: str) -> np.ndarray:
    """The pixels ingest stored for ``image_id``."""
    row_of = ingested(project).reset_index(drop=True)
    return np.load(project / "data/ingest/images.npy")[row_of.index[row_of["id"] == image_id][0]]


def warnings_of(done) -> list[str]:
    """The ``warning:`` lines of the source's reading (not those of the splits ingest carves)."""
    return [line for line in done.stdout.splitlines()
            if line.startswith(("warning: ingest.path", "warning: ingest.trusted_path"))]


def gradient(seed: int) -> np.ndarray:
    """A 64x64 RGB gradient with a little noise: compressible, as photos are (a PNG of noise alone is stored
    uncompressed, which is not the case a zero-filled end of a photo makes)."""
    yy, xx = np.mgrid[:64, :64]
    noise = np.random.default_rng(seed).integers(0, 30, (64, 64, 3))
    return (np.stack([xx * 2 + seed, yy * 2, xx + yy], -1) + noise).clip(0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", **options)
    return out.getvalue()


@pytest.mark.hostile("imagefolder")
def test_a_png_whose_image_data_fails_its_crc_is_a_row_and_one_without_its_end_chunk_is_read(tmp_path):
    # before: Pillow checks no IDAT CRC, so a PNG whose last 2048 bytes were zeros (an interrupted copy) was read
    # with garbage rows from row 49 down, and no row in rejected.csv
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        for i in range(6):
            (data / name / f"{i}.png").write_bytes(png_bytes(gradient(10 * i + ord(name) - 90)))
    whole = png_bytes(gradient(99))
    (data / "a" / "zeros.png").write_bytes(whole[:-2048] + bytes(2048))
    crc_at = whole.rindex(b"IEND") - 8  # the stored CRC of the last IDAT chunk
    flipped = bytearray(whole)
    flipped[crc_at] ^= 0x01
    (data / "a" / "flipped.png").write_bytes(bytes(flipped))
    (data / "b" / "cut.png").write_bytes(whole[:crc_at + 2])  # the last IDAT's CRC cut in two, no IEND
    (data / "b" / "no_end.png").write_bytes(whole[:-12])  # IEND missing, the image data whole: read
    project, _, done = run_ingest(tmp_path, "imagefolder", data, max_reject_fraction=0.25)
    assert_ingested(done)
    assert rejected(project) == {
        f"{data}/a/zeros.png": "its image data ends in zeros: the end of the file was never written (an interrupted "
                               "copy or download)",
        f"{data}/a/flipped.png": "damaged: a chunk of its image data fails its CRC check (a broken copy or disk), so "
                                 "its pixels cannot be trusted; copy the file again from its source",
        f"{data}/b/cut.png": "cut short: its image data runs past the end of the file (an interrupted copy or "
                             "download)"}
    assert len(ingested(project)) == 13
    np.testing.assert_array_equal(stored(project, "b/no_end.png"), gradient(99))


@pytest.mark.hostile("imagefolder")
def test_a_16_bit_rgb_png_colour_key_is_composited_over_white_by_its_whole_samples(tmp_path):
    # before: Pillow holds the high bytes of the pixels but the key in 16 bits, so no pixel matched and the key
    # colour (18, 86, 154) was stored; comparing high bytes alone would also take 0x12FF for the key 0x1200
    pixels = np.zeros((16, 16, 3), ">u2")
    pixels[:4] = (0x1200, 0x5678, 0x9ABC)  # the key: white
    pixels[4:8] = (0x12FF, 0x5678, 0x9ABC)  # the key's high bytes, not the key: kept
    rows = b"".join(b"\0" + pixels[y].tobytes() for y in range(16))
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6}, shape=(16, 16))
    (data / "a" / "key16.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 16, 2, 0, 0, 0))
        + chunk(b"tRNS", struct.pack(">HHH", 0x1200, 0x5678, 0x9ABC)) + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b""))
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    expected = np.zeros((16, 16, 3), np.uint8)
    expected[:4] = 255
    expected[4:8] = (19, 86, 154)  # (0x12FF, 0x5678, 0x9ABC) * 255 / 65535, rounded, as 16-bit grey is
    np.testing.assert_array_equal(stored(project, "a/key16.png"), expected)


@pytest.mark.hostile("imagefolder")
def test_files_with_a_colour_profile_other_than_srgb_are_counted_in_one_warning_and_read_as_stored(tmp_path):
    # before: a Display P3 or Adobe RGB photo's pixels were read as sRGB without a word, its colours unlike what a
    # colour-managed viewer shows; converting them would differ from what a PIL-based loader feeds the model
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6}, shape=(16, 16))
    colour = gradient(3)[:16, :16]
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    (data / "a" / "lab.png").write_bytes(png_bytes(colour, icc_profile=lab))
    (data / "a" / "srgb.png").write_bytes(png_bytes(colour, icc_profile=srgb))  # no warning
    Image.fromarray(colour).save(data / "b" / "odd.jpg", quality=95, icc_profile=b"not a profile")
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    assert warnings_of(done) == [
        f"warning: ingest.path: only 3 of the 15 image files read are colour (first {data}/a/lab.png) and the others "
        "single-channel, so the whole set is stored as RGB, each grey image repeated in three channels; if the set is "
        "grey, save those files as grey",
        f"warning: ingest.path: 2 image file(s) carry a colour profile that is not sRGB (first {data}/a/lab.png: "
        "'Lab identity built-in'); their pixels are read as stored, not converted, as PIL-based training loaders "
        "read them, so their colours differ from a colour-managed viewer's"]
    np.testing.assert_array_equal(stored(project, "a/lab.png"), colour)


def with_profile(png: bytes, body: bytes) -> bytes:
    """``png`` with an ``iCCP`` chunk of ``body`` behind its header (IHDR ends at byte 33)."""
    return png[:33] + chunk(b"iCCP", body) + png[33:]


@pytest.mark.hostile("imagefolder")
def test_a_png_whose_colour_profile_pillow_refuses_is_read_and_the_profile_counted_when_not_srgb(tmp_path):
    # before: a 1.2 MB sRGB profile (a histology scanner's) made the file a row "unreadable: Decompressed data too
    # large for PngImagePlugin.MAX_TEXT_CHUNK", and one with compression method 1 a row too: their pixels are whole
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6}, shape=(16, 16))
    colour = gradient(4)[:16, :16]
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    large = zlib.compress(srgb + np.random.default_rng(0).integers(0, 256, 1_200_000, np.uint8).tobytes())
    rgba = np.dstack([colour, np.full((16, 16), 255, np.uint8)])  # opaque: the pixels are colour's
    (data / "a" / "large.png").write_bytes(with_profile(png_bytes(colour), b"scanner\0\0" + large))
    (data / "a" / "large_rgba.png").write_bytes(with_profile(png_bytes(rgba), b"scanner\0\0" + large))
    (data / "b" / "method1.png").write_bytes(with_profile(png_bytes(colour), b"icc\0\1" + zlib.compress(srgb)))
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    assert rejected(project) == {}
    for name in ("a/large.png", "a/large_rgba.png", "b/method1.png"):
        np.testing.assert_array_equal(stored(project, name), colour)
    assert warnings_of(done) == [
        f"warning: ingest.path: only 3 of the 15 image files read are colour (first {data}/a/large.png) and the others "
        "single-channel, so the whole set is stored as RGB, each grey image repeated in three channels; if the set is "
        "grey, save those files as grey",
        f"warning: ingest.path: 1 image file(s) carry a colour profile that is not sRGB (first {data}/b/method1.png: "
        "'an unreadable profile'); their pixels are read as stored, not converted, as PIL-based training loaders "
        "read them, so their colours differ from a colour-managed viewer's"]


@pytest.mark.hostile("imagefolder")
def test_images_that_compositing_over_white_leaves_one_flat_colour_are_counted_in_one_warning(tmp_path):
    # before: a white glyph drawn on transparency, and an RGBA file whose alpha is 0 everywhere, became blank white
    # images without a word
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6}, shape=(16, 16))
    glyph = np.full((16, 16, 4), 255, np.uint8)
    glyph[..., 3] = 0
    glyph[4:12, 7:9, 3] = 255  # the stroke: white, opaque
    Image.fromarray(glyph).save(data / "a" / "glyph.png")
    hidden = np.dstack([gradient(5)[:16, :16], np.zeros((16, 16), np.uint8)])
    Image.fromarray(hidden).save(data / "b" / "clear.webp", lossless=True, exact=True)
    Image.fromarray(np.zeros((16, 16, 4), np.uint8)).save(data / "b" / "empty.png")  # one colour before: no count
    half = glyph.copy()
    half[..., :3] = 0  # a black stroke on transparency: white around it, the stroke kept
    Image.fromarray(half).save(data / "b" / "stroke.png")
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    assert warnings_of(done) == [
        f"warning: ingest.path: 2 image file(s) became one flat colour when their transparency was composited over "
        f"white (first {data}/a/glyph.png): their content is in the alpha channel alone, or every pixel is "
        "transparent; check them, or save them on an opaque background",
        f"warning: ingest.path: only 4 of the 16 image files read are colour (first {data}/a/glyph.png) and the others "
        "single-channel, so the whole set is stored as RGB, each grey image repeated in three channels; if the set is "
        "grey, save those files as grey"]
    assert (stored(project, "b/clear.webp") == 255).all()


@pytest.mark.hostile("imagefolder")
def test_hidden_image_files_in_a_class_folder_are_named_in_one_warning(tmp_path):
    # before: dog/.IMG_0001.png (a real PNG) was left out with no row and no word, where a hidden folder of
    # images is warned about
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    Image.fromarray(np.full((8, 8), 50, np.uint8)).save(data / "b" / ".IMG_0001.png")
    Image.fromarray(np.full((8, 8), 60, np.uint8)).save(data / "a" / ".IMG_0002.jpg")
    (data / "a" / "._0.png").write_bytes(b"\x00\x05\x16\x07" + bytes(60))  # a macOS AppleDouble file: silent
    (data / "a" / ".notes.png").write_text("not an image")  # silent
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    assert warnings_of(done) == [
        f"warning: ingest.path: left out 2 hidden image file(s) in class folders (first {data}/a/.IMG_0002.jpg): a "
        "name starting with '.' is never read; rename them if they are images of their class"]
    assert rejected(project) == {}
    assert len(ingested(project)) == 12


@pytest.mark.hostile("imagefolder")
def test_a_class_folder_of_hidden_image_files_alone_is_refused_naming_them(tmp_path):
    # before: "has no files directly inside it" alone: the warning naming the hidden files came after the error
    data = image_folder(tmp_path / "data", {"a": 3})
    (data / "b").mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 50 + i, np.uint8)).save(data / "b" / f".IMG_{i}.png")
    project, before, done = run_ingest(tmp_path, "imagefolder", data)
    assert assert_error_line(done) == (
        f"error: ingest.path: class folder {data / 'b'} has no files directly inside it (3 hidden image file(s), first "
        ".IMG_0.png: names starting with '.' are never read; rename them if they are its images); a class with no "
        "images is not a class: add its images or remove the folder")
    assert_nothing_left(project, before)


@pytest.mark.hostile("imagefolder")
def test_a_recycle_bin_beside_the_class_folders_is_left_out_without_a_word(tmp_path):
    # before: "left out the hidden folder .../#recycle (1 image file(s)): a name starting with '.' is never read;
    # rename it if it is a class", of a name that does not start with '.', advising to make a recycle bin a class
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    for name in ("#recycle", "@eaDir", "__MACOSX"):
        (data / name).mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(data / name / "old.png")
    image_folder(data, {".c": 2})  # a hidden folder of images is still named
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    assert warnings_of(done) == [
        f"warning: ingest.path: left out the hidden folder {data / '.c'} (2 image file(s)): a name starting with '.' "
        "is never read; rename it if it is a class"]
    assert rejected(project) == {}
    assert len(ingested(project)) == 12


@pytest.mark.hostile("imagefolder")
def test_a_synology_nas_thumbnail_folders_and_recycle_bin_are_never_read(tmp_path):
    # before: each image's two thumbnails in cat/@eaDir/<image>/ were "nested folder" rows whose "move it up" would
    # make them training images, and with them over max_reject_fraction ingest stopped
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    for name in ("a", "b"):
        for i in range(6):
            thumbs = data / name / "@eaDir" / f"{i}.png"
            thumbs.mkdir(parents=True)
            for size in ("S", "M"):
                Image.fromarray(np.zeros((4, 4), np.uint8)).save(thumbs / f"SYNOPHOTO_THUMB_{size}.jpg")
    (data / "#recycle" / "a").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(data / "#recycle" / "a" / "old.png")
    (data / "b" / "@EADIR").mkdir()  # the name in any case
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    assert rejected(project) == {}
    assert warnings_of(done) == []
    assert len(ingested(project)) == 12


@pytest.mark.hostile("ingest")
def test_a_hidden_folder_in_the_trusted_set_is_warned_about_under_its_own_parameter(tmp_path):
    # before: "warning: ingest.path: left out the hidden folder ..." for a folder of ingest.trusted_path
    data = grey_folder(tmp_path / "data", {"a": 20, "b": 20})
    # each class its own pictures: one picture under two classes of a label book is a warning of its own
    trusted = grey_folder(tmp_path / "trusted", {"a": 5, ".c": 3}, offset=5)
    grey_folder(trusted, {"b": 5}, offset=6)
    project, _, done = run_ingest(tmp_path, "imagefolder", data, trusted_path=str(trusted))
    assert_ingested(done)
    assert warnings_of(done) == [
        f"warning: ingest.trusted_path: left out the hidden folder {trusted / '.c'} (3 image file(s)): a name "
        "starting with '.' is never read; rename it if it is a class"]
