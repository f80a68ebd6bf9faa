"""The fast paths of winnow.plain_png (#20's speed) answer as the general code does: the chunk walk's shortcut for a
PNG of IHDR, one IDAT and IEND (``_bare``), on every such file and every damaged copy of one; and the stored deflate
blocks the files are joined into for Pillow's decoder, on files too large for one block each."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import winnow.plain_png
from winnow.plain_png import decode_many, filtered_rows, pixel_stream


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _walked(data: bytes, monkeypatch):
    """pixel_stream's answer (or the exception it raises) with the shortcut off."""
    with monkeypatch.context() as patch:
        patch.setattr(winnow.plain_png, "_bare", lambda data: None)
        return _answer(data)


def _answer(data: bytes):
    try:
        return pixel_stream(data)
    except Exception as err:  # noqa: BLE001 - the walk's own failures, compared by kind
        return type(err)


@pytest.mark.parametrize("shape", [(5, 4, 3), (3, 6), (1, 1, 3)])
def test_the_shortcut_answers_as_the_walk_on_every_damaged_copy(rng, monkeypatch, shape):
    data = _png(rng.integers(0, 256, shape, dtype=np.uint8))
    assert winnow.plain_png._bare(data) is not None  # Pillow writes IHDR, IDAT, IEND
    copies = [data, data + b"trailing", data[:-12] + struct.pack(">I", 1) + b"IEND\0" + struct.pack(
        ">I", zlib.crc32(b"IEND\0"))]
    copies += [data[:cut] for cut in range(len(data))]
    for at in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            copies.append(data[:at] + bytes([data[at] ^ flip]) + data[at + 1:])
    for copy in copies:
        assert _answer(copy) == _walked(copy, monkeypatch)


def test_files_other_than_ihdr_idat_iend_take_the_walk(rng, monkeypatch):
    data = _png(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    ihdr, rest = data[8:33], data[33:]
    idat_end = 45 + struct.unpack(">I", rest[:4])[0] - 33
    stream = rest[8:idat_end - 4]
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    two_idats = data[:33] + chunk(b"IDAT", stream[:3]) + chunk(b"IDAT", stream[3:]) + data[33 + idat_end:]
    with_text = data[:33] + chunk(b"tEXt", b"a\0b") + data[33:]
    long_ihdr = data[:8] + chunk(b"IHDR", ihdr[8:21] + b"\0") + data[33:]
    for copy in (two_idats, with_text, long_ihdr):
        assert winnow.plain_png._bare(copy) is None
        assert _answer(copy) == _walked(copy, monkeypatch)
    assert pixel_stream(two_idats)[3] == pixel_stream(data)[3]


@pytest.mark.parametrize("shape", [(200, 120, 3), (300, 250), (1, 70000)])
def test_files_too_large_for_one_stored_block_decode_as_pillow_reads_them(rng, shape):
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(3)]
    pixels = decode_many([filtered_rows(_png(image)) for image in images])
    for image, decoded in zip(images, pixels):
        assert decoded.shape == (*shape[:2], 3 if len(shape) == 3 else 1)
        assert decoded.tobytes() == image.tobytes()


def test_many_small_files_in_stored_blocks_decode_as_pillow_reads_them(rng):
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(300)]
    files = [_png(image) for image in images]
    for image, decoded in zip(images, decode_many([filtered_rows(f) for f in files])):
        assert decoded.tobytes() == np.asarray(Image.open(io.BytesIO(_png(image)))).tobytes()
