"""Plain PNGs decoded many at a time give exactly the pixels each file holds: every PNG row filter, files of
several sizes and modes in one call, and the files that must leave the fast path for ``Image.open``."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import winnow.image_decode
import winnow.image_notes
import winnow.ingest
import winnow.plain_png
from winnow.image_files import load_imagefolder
from winnow.ingest import resize_batch
from winnow.plain_png import decode_many, filtered_rows


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def encode(pixels: np.ndarray, filters, *, idat_chunks: int = 1, after_stream: bytes = b"") -> bytes:
    """A PNG of uint8 ``(H, W)`` or ``(H, W, 3)`` ``pixels`` with the given filter type (0-4) on each row,
    filtered as the PNG specification defines, written from scratch (not by Pillow, whose decoder is under
    test); a type above 4 is written as given, the row unfiltered."""
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    values = pixels.reshape(height, width * channels).astype(int)
    raw = bytearray()
    for y, kind in enumerate(filters):
        raw.append(kind)
        for x in range(width * channels):
            left = values[y, x - channels] if x >= channels else 0
            up = values[y - 1, x] if y else 0
            corner = values[y - 1, x - channels] if y and x >= channels else 0
            predicted = (0, left, up, (left + up) // 2, _paeth(left, up, corner))[kind] if kind < 5 else 0
            raw.append((values[y, x] - predicted) % 256)
    stream = zlib.compress(bytes(raw)) + after_stream
    cuts = np.linspace(0, len(stream), idat_chunks + 1).astype(int)
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + b"".join(_chunk(b"IDAT", stream[a:b]) for a, b in zip(cuts[:-1], cuts[1:])) + _chunk(b"IEND", b""))


def as_hwc(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., None] if pixels.ndim == 2 else pixels


@pytest.mark.parametrize("shape", [(9, 7, 3), (6, 11), (1, 1, 3), (1, 5), (4, 1, 3)])
def test_every_row_filter_decodes_to_the_encoded_pixels_and_to_pillows(tmp_path, rng, shape):
    images, files = [], []
    for k in range(12):  # several files of one size share one decoder call
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        if k % 3 == 1:  # smooth and flat images: the filters' predictions land on equal neighbours
            pixels = np.sort(pixels, axis=1)
        elif k % 3 == 2:
            pixels[:] = rng.integers(0, 256)
        files.append(encode(pixels, rng.integers(0, 5, shape[0]), idat_chunks=1 + k % 3))
        images.append(as_hwc(pixels))
    decoded = decode_many([filtered_rows(data) for data in files])
    for k, data in enumerate(files):
        np.testing.assert_array_equal(decoded[k], images[k])
        (tmp_path / "f.png").write_bytes(data)
        np.testing.assert_array_equal(decoded[k], as_hwc(np.asarray(Image.open(tmp_path / "f.png"))))


def test_files_of_several_sizes_and_modes_keep_their_order_across_calls(rng, monkeypatch):
    monkeypatch.setattr(winnow.plain_png, "JOIN_BYTES", 100)  # a handful of files per decoder call
    shapes = [(5, 4, 3), (5, 4), (3, 8, 3), (5, 4, 3)] * 6
    images = [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes]
    streams = [filtered_rows(encode(p, rng.integers(0, 5, p.shape[0]))) for p in images]
    streams[5] = None  # a file that is not a plain PNG stays None, in place
    decoded = decode_many(streams)
    assert decoded[5] is None
    for k, pixels in enumerate(images):
        if k != 5:
            np.testing.assert_array_equal(decoded[k], as_hwc(pixels))


def test_data_after_the_last_row_is_ignored_as_pillow_ignores_it(rng):
    pixels = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    data = encode(pixels, [4] * 6, after_stream=b"\x00" * 50)
    np.testing.assert_array_equal(decode_many([filtered_rows(data)])[0], pixels)


def test_a_stream_inflating_far_past_the_image_is_cut_at_the_last_row(rng):
    pixels = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels) + bytes(50_000_000)  # a 50 MB zip bomb behind
    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b""))
    stream = filtered_rows(data)
    assert len(stream[3]) == 4 * 5  # the rows of the image only, never the 50 MB
    np.testing.assert_array_equal(decode_many([stream])[0], pixels[..., None])


def with_header(data: bytes, body: bytes) -> bytes:
    """``data`` (from :func:`encode`) with its IHDR chunk's 13 bytes replaced by ``body``."""
    return data[:8] + _chunk(b"IHDR", body) + data[33:]


def chunks_of(data: bytes) -> list[bytes]:
    """The chunks of a PNG (length, kind, body and CRC each), signature left out."""
    found, pos = [], 8
    while pos < len(data):
        end = pos + 12 + struct.unpack_from(">I", data, pos)[0]
        found.append(data[pos:end])
        pos = end
    return found


@pytest.mark.parametrize("order", ["second IHDR", "IDAT before IHDR", "IDAT split by tEXt"])
def test_chunks_out_of_the_order_pillow_reads_leave_the_fast_path(order, rng):
    # before: a file IHDR(16x16) IDAT IHDR(8x8) was read here as 8x8 garbage from the last header, where Pillow
    # reads it as 16x16 from the first; IDAT before IHDR or split by a text chunk, which Pillow refuses, were read
    pixels = rng.integers(0, 5, (16, 16, 3), dtype=np.uint8)  # values <= 4 pass for filter bytes at 8x8 too
    ihdr, first, second = chunks_of(encode(pixels, [0] * 16, idat_chunks=2))[:3]
    end = _chunk(b"IEND", b"")
    body = {"second IHDR": [ihdr, first, second, _chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))],
            "IDAT before IHDR": [first, ihdr, second],
            "IDAT split by tEXt": [ihdr, first, _chunk(b"tEXt", b"Comment\0hello"), second]}[order]
    data = b"\x89PNG\r\n\x1a\n" + b"".join(body) + end
    assert filtered_rows(data) is None


@pytest.mark.parametrize("case", ["unknown filter", "short stream", "palette", "interlaced", "16-bit"])
def test_files_the_fast_path_does_not_read_are_left_to_image_open(case, rng):
    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    if case == "unknown filter":  # a well-formed stream whose last row names filter type 5
        assert decode_many([filtered_rows(encode(pixels, [1] * 7 + [5]))]) == [None]
        return
    if case == "short stream":  # the header says 8 rows, the stream holds 5
        data = with_header(encode(pixels[:5], [1] * 5), struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
    else:
        depth, colour, interlace = {"palette": (8, 3, 0), "interlaced": (8, 2, 1), "16-bit": (16, 2, 0)}[case]
        data = with_header(encode(pixels, [1] * 8), struct.pack(">IIBBBBB", 8, 8, depth, colour, 0, 0, interlace))
    assert filtered_rows(data) is None


def test_a_png_with_a_colour_profile_stays_on_the_fast_path_its_profile_handed_on(rng):
    # before: any iCCP chunk sent the file to Image.open: 2,000 small sRGB PNGs took 0.28 s instead of 0.10 s
    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    plain = encode(pixels, [1] * 8)
    body = b"icc\0\0" + zlib.compress(b"a profile")
    stream = filtered_rows(plain[:33] + _chunk(b"iCCP", body) + plain[33:])  # behind IHDR, which ends at byte 33
    assert stream[4] == body
    np.testing.assert_array_equal(decode_many([stream])[0], pixels)


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("body", [b"icc\0\1" + zlib.compress(b"a profile"), b"icc\0\0" + zlib.compress(bytes(2000)),
                                  b"icc\0\0not zlib", b"icc\0\0" + zlib.compress(b"a profile")[:-6],
                                  b"icc\0\0" + zlib.compress(b""), b"no name end"],
                         ids=["method 1", "past MAX_PROFILE", "broken stream", "cut stream", "empty", "no name"])
def test_a_png_profile_that_cannot_be_inflated_is_named_unreadable(monkeypatch, body):
    # before: Pillow's reading of such an iCCP made the whole file a rejected row; a zip bomb is inflated no further
    monkeypatch.setattr(winnow.plain_png, "MAX_PROFILE", 1000)
    assert winnow.image_notes.png_profile(body) == "an unreadable profile"


@pytest.mark.parametrize("shape", [(4, 4, 3), (5, 9, 1), (37, 23, 3), (23, 37, 3), (60, 20, 1), (12, 30, 3)])
def test_images_resized_together_equal_pillow_resizing_each_alone(rng, monkeypatch, shape):
    """Up, down and mixed, grey and colour, shapes Pillow resizes rows first and shapes it resizes columns
    first, three images a call: each image is Pillow's bicubic resize of that image alone."""
    monkeypatch.setattr(winnow.ingest, "RESIZE_BYTES", 3 * int(np.prod(shape)))
    images = rng.integers(0, 256, (7, *shape), dtype=np.uint8)
    resized = resize_batch(images, 16)
    assert resized.shape == (7, 16, 16, shape[2])
    for image, result in zip(images, resized):
        expected = Image.fromarray(image[..., 0] if shape[2] == 1 else image).resize((16, 16), Image.Resampling.BICUBIC)
        np.testing.assert_array_equal(result, as_hwc(np.asarray(expected)))


@pytest.mark.parametrize(("ahead_bytes", "batch_files", "batch_bytes", "resize_bytes"),
                         [(64 << 20, 5, 256 << 20, 32 << 20), (0, 5, 256 << 20, 32 << 20),
                          (64 << 20, 64, 256 << 20, 32 << 20), (64 << 20, 64, 1000, 300)])
def test_imagefolder_through_the_fast_path_equals_pillow_file_by_file(tmp_path, rng, monkeypatch, ahead_bytes,
                                                                     batch_files, batch_bytes, resize_bytes):
    """Batches of plain PNGs beside files that are not plain (palette, RGBA, JPEG, broken), resized to one
    size (one by one in batches of 5, together in a batch of 64, or in batches cut at 1000 bytes of decoded
    pixels, decoded and resized 300 bytes at a time): every stored image is
    ``Image.open(...).convert(...).resize(..., BICUBIC)`` of its file."""
    monkeypatch.setattr(winnow.image_decode, "BATCH_FILES", batch_files)
    monkeypatch.setattr(winnow.image_decode, "BATCH_BYTES", batch_bytes)
    monkeypatch.setattr(winnow.image_decode, "RESIZE_BYTES", resize_bytes)
    monkeypatch.setattr(winnow.image_decode, "AHEAD_BYTES", ahead_bytes)
    monkeypatch.setattr(winnow.plain_png, "JOIN_BYTES", 300)
    for k in range(23):
        shape = [(12, 12, 3), (12, 12, 3), (5, 9, 3), (12, 12)][k % 4]
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        (tmp_path / f"c{k % 2}").mkdir(exist_ok=True)
        (tmp_path / f"c{k % 2}" / f"{k:02d}.png").write_bytes(encode(pixels, rng.integers(0, 5, shape[0])))
    colour = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(colour).convert("P").save(tmp_path / "c0" / "palette.png")
    Image.fromarray(np.dstack([colour, colour[..., :1]])).save(tmp_path / "c1" / "rgba.png")
    Image.fromarray(colour).save(tmp_path / "c1" / "photo.jpg")
    (tmp_path / "c0" / "broken.png").write_bytes(encode(colour, [2] * 12)[:-40])
    loaded = load_imagefolder(tmp_path, size=12)
    assert [path.rsplit("/", 1)[-1] for path, _ in loaded.rejected] == ["broken.png"]
    assert len(loaded.ids) == 26 and loaded.images.shape == (26, 12, 12, 3)
    for image_id, stored, orig_h, orig_w in zip(loaded.ids, loaded.images, loaded.orig_h, loaded.orig_w):
        with Image.open(tmp_path / image_id) as img:
            assert (orig_h, orig_w) == (img.height, img.width), image_id
            if img.mode == "RGBA":
                img = Image.alpha_composite(Image.new("RGBA", img.size, (255,) * 4), img)
            expected = img.convert("RGB").resize((12, 12), Image.Resampling.BICUBIC)
        np.testing.assert_array_equal(stored, np.asarray(expected), err_msg=image_id)
