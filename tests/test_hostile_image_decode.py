"""Hostile inputs to the imagefolder source's decoding (:mod:`winnow.image_decode`, :mod:`winnow.image_damage`) from
real-world files that were misread: WebP and JPEG files refused as never written, cut-short BMPs, PNG text chunks
past Pillow's limit, 12-bit data in 16-bit PNGs, class folders named alike but for case, and Pillow's own warnings.

Each case reads a small folder with :func:`winnow.image_files.load_imagefolder` in this process (the ingest stage
calls it and writes its rows and lines as they are) and asserts the exact rejected rows, pixels, ``warning:`` lines
or ``error`` text.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from winnow.image_damage import ZERO_TAIL
from winnow.image_files import load_imagefolder

UNWRITTEN = "its image data ends in zeros: the end of the file was never written (an interrupted copy or download)"


def encoded(pixels: np.ndarray, format: str, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format, **options)
    return out.getvalue()


def decoded(data: bytes) -> np.ndarray:
    """Pillow's own RGB pixels of ``data``."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def zero_filled(data: bytes) -> bytes:
    """``data`` with its second half zeros: a copy or download cut short at full length."""
    return data[:len(data) // 2] + bytes(len(data) - len(data) // 2)


def pixels_of(loaded, image_id: str) -> np.ndarray:
    return loaded.images[list(loaded.ids).index(image_id)]


@pytest.mark.hostile("imagefolder")
def test_a_lossy_webp_ending_in_flat_macroblocks_and_a_jpeg_whose_trailer_ends_in_zeros_are_read(tmp_path):
    # before: libwebp writes the flat macroblocks of a white bottom band as a run of zero bytes, which the decoder
    # reads, and such a file was a row "its image data ends in zeros": a whole WebP data set failed ingest; a JPEG
    # followed by a trailer (a motion photo's video) ending in zeros was refused when the trailer held a
    # start-of-scan pair of bytes after its last end-of-image pair, by chance
    banded = np.full((768, 768, 3), 255, np.uint8)
    yy, xx = np.mgrid[:576, :768]
    banded[:576] = np.stack([xx // 3, yy // 3, (xx + yy) // 6 % 256], -1)
    webp = encoded(banded, "WEBP", quality=80)
    assert webp.endswith(bytes(ZERO_TAIL))  # the encoder's own zeros, as many as the check counts
    photo = np.random.default_rng(0).integers(0, 256, (768, 768, 3), dtype=np.uint8)
    jpeg = encoded(photo, "JPEG", quality=90)
    trailer = bytes(np.random.default_rng(1).integers(1, 256, 4096, dtype=np.uint8)) + b"\xff\xd9\xff\xda" + bytes(128)
    for name, data in (("a/banded.webp", webp), ("a/cut.webp", zero_filled(encoded(photo, "WEBP", quality=90))),
                       ("b/motion.jpg", jpeg + trailer), ("b/cut.jpg", zero_filled(jpeg))):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    loaded = load_imagefolder(tmp_path, size=None)
    assert loaded.rejected == [(f"{tmp_path}/a/cut.webp", UNWRITTEN), (f"{tmp_path}/b/cut.jpg", UNWRITTEN)]
    np.testing.assert_array_equal(pixels_of(loaded, "a/banded.webp"), decoded(webp))
    np.testing.assert_array_equal(pixels_of(loaded, "b/motion.jpg"), decoded(jpeg))


def warnings_of(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")]


@pytest.mark.hostile("imagefolder")
def test_a_bmp_whose_end_is_zero_rows_is_named_in_a_warning_and_one_with_a_dark_margin_is_not(tmp_path, capsys):
    # before: a BMP cut short at full length (its second half zeros) was read with its top 16 rows black (a BMP is
    # stored bottom up) without a word; its zeros are pixels as written too, so the file is read and named
    rng = np.random.default_rng(0)
    for name in ("a/0.bmp", "a/cut.bmp", "b/0.bmp", "b/margin.bmp"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(1, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "a/cut.bmp").write_bytes(zero_filled((tmp_path / "a/cut.bmp").read_bytes()))
    margin = np.asarray(Image.open(tmp_path / "b/margin.bmp")).copy()
    margin[:7] = 0  # a dark top margin of 7 of 32 rows, under a quarter: not named
    Image.fromarray(margin).save(tmp_path / "b/margin.bmp")
    loaded = load_imagefolder(tmp_path, size=None)
    assert warnings_of(capsys) == [
        f"warning: ingest.path: 1 BMP file(s) end in rows of zero bytes, a quarter of their rows or more (first "
        f"{tmp_path}/a/cut.bmp: 16 of its 32 rows, read as colour 0: black, or its palette's first colour): a copy cut "
        "short leaves its end zero-filled, which a BMP cannot tell from rows of colour 0 as written; check them, and "
        "copy them again from their source if they were cut"]
    assert loaded.rejected == []
    np.testing.assert_array_equal(pixels_of(loaded, "b/margin.bmp"), margin)


@pytest.mark.hostile("imagefolder")
def test_a_palette_bmp_whose_zero_rows_are_white_is_not_said_to_be_read_as_black(tmp_path, capsys):
    # before: the line said "read as black" and "cannot tell from black rows" of a palette BMP whose first colour is
    # white (a scanned glyph on a white background, its blank top rows zero bytes), whose rows are read as white
    rng = np.random.default_rng(0)
    glyph = np.zeros((32, 32), np.uint8)
    glyph[12:28, 8:24] = rng.integers(0, 2, (16, 16))  # ink (1) on the background (0) below a blank top
    for name in ("a/0.bmp", "a/1.bmp", "b/0.bmp", "b/1.bmp"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        image = Image.fromarray(glyph if name == "a/0.bmp" else glyph[::-1], "P")
        image.putpalette([255, 255, 255, 0, 0, 0])  # 0 white, 1 black
        image.save(tmp_path / name)
    loaded = load_imagefolder(tmp_path, size=None)
    assert warnings_of(capsys) == [
        f"warning: ingest.path: 1 BMP file(s) end in rows of zero bytes, a quarter of their rows or more (first "
        f"{tmp_path}/a/0.bmp: 12 of its 32 rows, read as colour 0: black, or its palette's first colour): a copy cut "
        "short leaves its end zero-filled, which a BMP cannot tell from rows of colour 0 as written; check them, and "
        "copy them again from their source if they were cut"]
    np.testing.assert_array_equal(pixels_of(loaded, "a/0.bmp")[..., 0], np.where(glyph == 1, 0, 255))


@pytest.mark.hostile("imagefolder")
def test_a_png_whose_compressed_text_inflates_past_one_megabyte_is_read_with_its_xmp_orientation(tmp_path):
    # before: Pillow refuses a zTXt or compressed iTXt chunk inflating past PngImagePlugin.MAX_TEXT_CHUNK (1 MB), so
    # a PNG with alpha, a palette or 16 bits (read by Image.open) and a photo editor's 2 MB XMP packet was a row
    # "unreadable: Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK", its pixels whole
    rng = np.random.default_rng(0)
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="3"/></rdf:RDF>'
           + " " * (2 << 20) + "</x:xmpmeta>")
    turned, comment = PngImagePlugin.PngInfo(), PngImagePlugin.PngInfo()
    turned.add_itxt("XML:com.adobe.xmp", xmp, zip=True)
    comment.add_text("Comment", "x" * (2 << 20), zip=True)  # a zTXt chunk
    opaque = [np.dstack([rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), np.full((16, 16), 255, np.uint8)])
              for _ in range(2)]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / name / "0.png")
    Image.fromarray(opaque[0], "RGBA").save(tmp_path / "a/xmp.png", pnginfo=turned)
    Image.fromarray(opaque[1], "RGBA").save(tmp_path / "b/comment.png", pnginfo=comment)
    loaded = load_imagefolder(tmp_path, size=None)
    assert loaded.rejected == []
    assert loaded.oriented == [("a/xmp.png", 3)]
    np.testing.assert_array_equal(pixels_of(loaded, "a/xmp.png"), opaque[0][::-1, ::-1, :3])  # turned 180 degrees
    np.testing.assert_array_equal(pixels_of(loaded, "b/comment.png"), opaque[1][..., :3])


@pytest.mark.hostile("imagefolder")
def test_16_bit_grey_pngs_holding_12_bit_data_are_counted_in_a_warning(tmp_path, capsys):
    # before: 12-bit samples in 16-bit grey PNGs (DICOM, X-ray and microscope exports) were scaled from the full
    # 16-bit range to 8 bits, 17 grey levels left, without a word
    rng = np.random.default_rng(0)
    twelve = [rng.integers(0, 4096, (16, 16)).astype(np.uint16) for _ in range(3)]
    twelve[0][0, 0] = 4095
    sixteen = rng.integers(0, 65536, (16, 16)).astype(np.uint16)  # the whole range: not counted
    for name, pixels in (("a/0.png", twelve[0]), ("a/1.png", twelve[1]), ("b/0.png", twelve[2]), ("b/1.png", sixteen)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / name)
    loaded = load_imagefolder(tmp_path, size=None)
    assert warnings_of(capsys) == [
        f"warning: ingest.path: 3 16-bit grey image file(s) peak at or below 4095, their low 12 bits alone (first "
        f"{tmp_path}/a/0.png: peak 4095); scaled to 8 bits from the full 16-bit range they keep at most 17 of 256 "
        "grey levels (0 to 16); if they hold 12-bit data, scale it to the full range (multiply by 16) before ingest"]
    # read as before: scaled from the full range, not guessed
    expected = np.rint(twelve[0].astype(np.float64) * 255 / 65535).astype(np.uint8)[..., None]
    np.testing.assert_array_equal(pixels_of(loaded, "a/0.png"), expected)


@pytest.mark.hostile("imagefolder")
def test_class_folders_named_alike_but_for_letter_case_are_read_as_two_classes_with_a_warning(tmp_path, capsys):
    # before: a letter data set's A and a (legal on Linux, where ingest reads them) was refused whole, and Maße and
    # Masse were refused as "equal but for letter case", which macOS and Windows hold as two folders
    for name in ("A", "a", "B", "b", "Masse", "Maße"):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((8, 8), 40 * i + ord(name[-1]) % 37, np.uint8)).save(tmp_path / name / f"{i}.png")
    loaded = load_imagefolder(tmp_path, size=None)
    assert warnings_of(capsys) == [
        f"warning: ingest.path: 2 pair(s) of class folders have names equal but for letter case (first {tmp_path}/A "
        f"and {tmp_path}/a): each read as a class of its own, though macOS and Windows hold such a pair as one "
        "folder; if a pair is one class, merge its folders into one"]
    assert loaded.classes == ["A", "B", "Masse", "Maße", "a", "b"]
    assert [loaded.classes[label] for label in loaded.labels] == ["A"] * 2 + ["B"] * 2 + ["Masse"] * 2 \
        + ["Maße"] * 2 + ["a"] * 2 + ["b"] * 2


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("size", [None, 8])
def test_pillow_warnings_while_decoding_are_one_warning_line_naming_the_first_file(tmp_path, capsys, size):
    # before: Pillow's own "UserWarning: Corrupt EXIF data" and the line of its source reached stderr, once for all
    # files, naming neither the file nor what it meant
    exif = b"Exif\0\0II*\0\x08\0\0\0\x05\0"  # an IFD of 5 entries, none there
    for i, name in enumerate(("a/0.jpg", "a/1.jpg", "b/0.jpg", "b/1.jpg")):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        whole = encoded(np.full((16, 16, 3), 50 * i + 9, np.uint8), "JPEG")
        if name in ("a/1.jpg", "b/0.jpg"):
            whole = whole[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif + whole[2:]
        (tmp_path / name).write_bytes(whole)
    loaded = load_imagefolder(tmp_path, size=size)
    out = capsys.readouterr()
    assert [line for line in out.out.splitlines() if line.startswith("warning: ")] == [
        f"warning: ingest.path: Pillow warned while decoding 2 image file(s) (first {tmp_path}/a/1.jpg: 'Corrupt EXIF "
        "data. Expecting to read 12 bytes but only got 0.'); they were read without what it could not read (of a "
        "corrupt EXIF block, the tags it skipped: an orientation among them is not applied); check them"]
    assert out.err == ""
    assert loaded.rejected == []


@pytest.mark.hostile("imagefolder")
def test_pillow_warning_of_an_exif_block_cut_after_its_orientation_does_not_say_none_was_applied(tmp_path, capsys):
    # before: the line said "a corrupt EXIF block: no orientation applied", though Pillow reads an IFD entry by
    # entry, and the orientation read before the damage turned the file (listed in oriented)
    entry = (0x0112).to_bytes(2, "little") + (3).to_bytes(2, "little") + (1).to_bytes(4, "little") + b"\6\0\0\0"
    exif = b"Exif\0\0II*\0\x08\0\0\0\x02\0" + entry  # an IFD of 2 entries, the orientation (6) alone there
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for name in ("a/0.jpg", "a/turned.jpg", "b/0.jpg", "b/1.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(encoded(pixels, "JPEG", quality=100))
    whole = (tmp_path / "a/turned.jpg").read_bytes()
    (tmp_path / "a/turned.jpg").write_bytes(whole[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
                                           + whole[2:])
    loaded = load_imagefolder(tmp_path, size=None)
    assert warnings_of(capsys) == [
        f"warning: ingest.path: Pillow warned while decoding 1 image file(s) (first {tmp_path}/a/turned.jpg: 'Corrupt "
        "EXIF data. Expecting to read 12 bytes but only got 0.'); they were read without what it could not read (of a "
        "corrupt EXIF block, the tags it skipped: an orientation among them is not applied); check them"]
    assert loaded.oriented == [("a/turned.jpg", 6)]
    np.testing.assert_array_equal(pixels_of(loaded, "a/turned.jpg"), np.rot90(pixels_of(loaded, "a/0.jpg"), -1))


def with_chunk(png: bytes, at: int, kind: bytes, body: bytes) -> bytes:
    """``png`` with a chunk ``kind`` of ``body`` put at byte ``at`` (33: behind the header; -12: before IEND)."""
    framed = len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    return png[:at] + framed + png[at:]


@pytest.mark.hostile("imagefolder")
def test_a_png_gamma_other_than_srgbs_without_a_profile_is_counted_with_the_foreign_profiles(tmp_path, capsys):
    # before: a gAMA of 1.0 without an sRGB chunk or a profile was read without a word, though browsers apply it
    # (grey 64 shows near 137); sRGB's own 1/2.2 (45455) is not counted
    for name in ("a/0.png", "a/linear.png", "b/0.png", "b/srgb.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((8, 8), 64 + len(name), np.uint8)).save(tmp_path / name)
    for name, gamma in (("a/linear.png", 100000), ("b/srgb.png", 45455)):
        path = tmp_path / name
        path.write_bytes(with_chunk(path.read_bytes(), 33, b"gAMA", gamma.to_bytes(4, "big")))
    loaded = load_imagefolder(tmp_path, size=None)
    assert warnings_of(capsys) == [
        f"warning: ingest.path: 1 image file(s) carry a colour profile that is not sRGB (first "
        f"{tmp_path}/a/linear.png: 'no profile but a PNG gamma of 1 (sRGB: 0.45455)'); their pixels are read as stored, not converted, as "
        "PIL-based training loaders read them, so their colours differ from a colour-managed viewer's"]
    np.testing.assert_array_equal(pixels_of(loaded, "a/linear.png"), np.full((8, 8, 1), 76, np.uint8))


@pytest.mark.hostile("imagefolder")
def test_a_png_exif_orientation_after_the_image_data_is_not_applied_and_one_before_it_is(tmp_path):
    # before: an eXIf chunk after IDAT turned the image by its orientation (3: 180 degrees) and listed it in
    # oriented.csv, though PNG places eXIf before the image data and browsers ignore a late one
    exif = Image.Exif()
    exif[0x0112] = 3
    body = exif.tobytes()[6:]  # an eXIf chunk holds the TIFF structure without JPEG's "Exif\0\0"
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    for name in ("a/0.png", "a/late.png", "b/0.png", "b/early.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / name)
    (tmp_path / "a/late.png").write_bytes(with_chunk((tmp_path / "a/late.png").read_bytes(), -12, b"eXIf", body))
    (tmp_path / "b/early.png").write_bytes(with_chunk((tmp_path / "b/early.png").read_bytes(), 33, b"eXIf", body))
    loaded = load_imagefolder(tmp_path, size=None)
    assert loaded.oriented == [("b/early.png", 3)]
    np.testing.assert_array_equal(pixels_of(loaded, "a/late.png"), pixels)
    np.testing.assert_array_equal(pixels_of(loaded, "b/early.png"), pixels[::-1, ::-1])
