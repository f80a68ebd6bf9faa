"""Plain PNG files decoded many at a time by one call of Pillow's PNG pixel decoder.

A plain PNG is 8-bit, non-interlaced grey or RGB without palette, transparency, animation (``acTL``), EXIF
(an ``eXIf`` chunk, or a text chunk Pillow reads an orientation from) or a gamma other than sRGB's without a profile,
every chunk's CRC intact: what most data sets hold; its colour profile (``iCCP``) is handed on as stored, for
winnow.image_decode to name one that is not sRGB. A small one costs ``Image.open`` far more in Python (plugin
sniffing, chunk objects, tile set-up, the array conversion) than in decoding, so here each file's
pixel stream is only inflated (``zlib``, in C) and the filtered rows of many files of one size are
joined and unfiltered by Pillow's ``zip`` decoder in a single call.

Joining is exact: PNG unfilters each row against the row above it, the first row of a file against a
row of zeros, so each file's rows go in behind one row of zeros (filter byte 0, "None"), which the
decoder leaves as zeros. Left neighbours never cross rows. Every pixel is therefore what Pillow
decodes from that file alone. Anything unusual or broken is None and goes through ``Image.open``,
which reads it or words the rejection.
"""

from __future__ import annotations

import struct
import threading
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MODES = {0: ("L", 1), 2: ("RGB", 3)}  # 8-bit colour types read here: grey, truecolour
_MAX_FILTER = 4  # PNG filter types 0..4 (None, Sub, Up, Average, Paeth)
# text chunks (tEXt, zTXt, iTXt) whose keyword Pillow reads an EXIF orientation from (Image.getexif, Pillow 13):
# ImageMagick's raw EXIF profile, Adobe's XMP packet (tiff:Orientation), and the plain keys exif and xmp
_ORIENTING_KEYWORDS = (b"Raw profile type exif", b"XML:com.adobe.xmp", b"exif", b"xmp")
MAX_PROFILE = 16 << 20  # bytes a colour profile may inflate to: above any real one (a printer's is a few MB)
MAX_TEXT = 16 << 20  # and a text chunk (an XMP packet with a photo editor's history): past it, a zip bomb
JOIN_BYTES = 8 << 20  # filtered rows unfiltered per decoder call: memory a call holds beyond the files
_IHDR13 = b"\0\0\0\x0dIHDR"  # an IHDR chunk's length and kind
_IEND = b"\0\0\0\0IEND\xaeB`\x82"  # a whole IEND chunk: its length, kind and CRC
_ZLIB_HEAD = b"\x78\x01"  # a zlib stream's header, as zlib.compress(level 0) writes it


def chunks(data: bytes):
    """Yield ``(kind, body, fault)`` for each chunk of the PNG ``data`` (its signature checked by the caller), up
    to and including ``IEND``: ``body`` a memoryview of the chunk's data, ``fault`` None, ``"crc"`` (the CRC
    stored after it does not match its bytes) or ``"cut"`` (it runs past the end of ``data``, ``body`` what
    is there); the walk ends at IEND, at a cut chunk, or where fewer bytes than a chunk's frame remain."""
    view, pos = memoryview(data), len(_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            yield kind, view[pos + 8 :], "cut"
            return
        intact = zlib.crc32(view[pos + 4 : end - 4]) == struct.unpack_from(">I", data, end - 4)[0]
        yield kind, view[pos + 8 : end - 4], None if intact else "crc"
        if kind == b"IEND":
            return
        pos = end


def filtered_rows(data: bytes) -> tuple[str, int, int, bytes, bytes | None] | None:
    """``(mode, height, width, rows, profile)`` of a plain PNG: ``rows`` its inflated pixel stream, ``height``
    rows of a filter byte and ``width * channels`` bytes (a longer stream is cut there, as Pillow's
    decoder stops at the last row), ``profile`` the body of its ``iCCP`` chunk (None without one); None for any
    other file, a broken one, or one larger than Pillow's ``Image.MAX_IMAGE_PIXELS`` (refused as a decompression
    bomb by ``Image.open``). :func:`pixel_stream` then :func:`inflated`: ingest's two threads share the second."""
    return inflated(pixel_stream(data))


def pixel_stream(data: bytes) -> tuple[str, int, int, bytes, bytes | None] | None:
    """:func:`filtered_rows` but for the inflation: ``(mode, height, width, stream, profile)``, ``stream`` the
    joined compressed ``IDAT`` data; None for a file that is not plain whatever its pixel stream holds."""
    if not data.startswith(_SIGNATURE):
        return None
    if (bare := _bare(data)) is not None:
        return bare
    header, idat, previous, profile, gamma, srgb = None, [], None, None, None, False
    for kind, body, fault in chunks(data):
        if fault:
            return None
        if (kind == b"IHDR") != (previous is None):
            return None  # IHDR first and only once, as Pillow requires: it keeps the first, refuses IDAT before it
        if kind == b"IHDR":
            header = struct.unpack_from(">IIBBBBB", body)
        elif kind == b"IDAT":
            if idat and previous != b"IDAT":
                return None  # PNG's IDATs are consecutive: Pillow refuses a stream split by another chunk
            idat.append(body)
        elif kind in (b"PLTE", b"tRNS", b"eXIf", b"acTL"):  # eXIf may carry an orientation: Image.open applies
            return None  # it; acTL makes an animated PNG, which Image.open sets aside
        elif kind == b"iCCP":  # read by winnow.image_decode, not Image.open (see without_profile)
            profile = bytes(body)
        elif kind == b"gAMA" and len(body) == 4:
            gamma = struct.unpack_from(">I", body)[0] / 100000
        elif kind == b"sRGB":
            srgb = True
        elif kind in (b"tEXt", b"zTXt", b"iTXt") and bytes(body).split(b"\0", 1)[0] \
                in _ORIENTING_KEYWORDS:  # so may these: before, such files were stored unturned
            return None
        previous = kind
    if previous != b"IEND" or (gamma is not None and profile is None and not srgb and foreign_gamma(gamma)):
        return None  # a gamma a browser applies: Image.open reads it, for winnow.image_decode to name
    if header is None or header[3] not in _MODES or header[2:] != (8, header[3], 0, 0, 0):
        return None
    width, height, mode = header[0], header[1], _MODES[header[3]][0]  # IHDR stores width first
    if not width or not height or (Image.MAX_IMAGE_PIXELS and height * width > Image.MAX_IMAGE_PIXELS):
        return None
    return mode, height, width, b"".join(idat), profile


def _bare(data: bytes) -> tuple[str, int, int, bytes, None] | None:
    """:func:`pixel_stream` of a PNG (its signature checked) that is an ``IHDR`` of 13 bytes, one ``IDAT`` and a
    whole ``IEND``, every CRC intact, as most encoders write a small image; None for any other file, which the
    chunk walk then reads (the same answer for these files at two thirds of the walk's cost: 8,068 CIFAR PNGs)."""
    if len(data) < 57 or not data.startswith(_IHDR13, 8) or not data.startswith(b"IDAT", 37):
        return None
    width, height, depth, colour, method, filtering, interlace, crc, length = struct.unpack_from(">IIBBBBBII", data, 16)
    end = 45 + length  # the IDAT's end
    if not data.startswith(_IEND, end) or zlib.crc32(data[12:29]) != crc \
            or zlib.crc32(memoryview(data)[37 : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
        return None
    if colour not in _MODES or (depth, method, filtering, interlace) != (8, 0, 0, 0) or not width or not height \
            or (Image.MAX_IMAGE_PIXELS and height * width > Image.MAX_IMAGE_PIXELS):
        return None
    return _MODES[colour][0], height, width, data[41 : end - 4], None


def inflated(stream: tuple[str, int, int, bytes, bytes | None] | None) -> tuple | None:
    """:func:`filtered_rows` of a :func:`pixel_stream` result: its stream inflated, or None (None stays None)."""
    if stream is None:
        return None
    mode, height, width, compressed, profile = stream
    size = height * (1 + width * len(mode))
    try:
        # max_length: a stream that inflates past the image (a zip bomb) is never inflated further
        rows = zlib.decompressobj().decompress(compressed, size)
    except zlib.error:
        return None
    return (mode, height, width, rows, profile) if len(rows) == size else None


def foreign_gamma(gamma: float) -> bool:
    """Whether a PNG's ``gAMA`` (its file gamma, Pillow's ``info["gamma"]``) is far from sRGB's 1/2.2: without an
    ``sRGB`` chunk or a profile, browsers apply it (grey 64 at gamma 1.0 shows near 137), PIL-based loaders do not;
    0.45 and 0.4545, as encoders round it, are sRGB's."""
    return abs(gamma * 2.2 - 1) > 0.02


def without_profile(data: bytes) -> tuple[bytes, bytes | None]:
    """``(data, profile)``: a PNG's bytes less its ``iCCP`` chunk (before the image data) and that chunk's body;
    any other file, or a PNG without one, as it is and None. Image.open refuses a whole PNG for a colour profile
    that inflates past 1 MB (a histology scanner's 1.2 MB sRGB profile) or names another compression method than
    0, though its pixels are whole: winnow.image_decode reads the profile itself and opens the rest."""
    for kind, pos, end in _frames(data):
        if kind in (b"IDAT", b"IEND"):
            break
        if kind == b"iCCP":  # its CRC is checked with the others' (winnow.image_damage.png_damage)
            return data[:pos] + data[end:], data[pos + 8 : end - 4]
    return data, None


def for_pillow(data: bytes) -> bytes:
    """A PNG's ``data`` as Image.open is to read it; any other file as it is. Each compressed text chunk (``zTXt``, an
    ``iTXt`` marked compressed) that inflates past Pillow's ``PngImagePlugin.MAX_TEXT_CHUNK`` (1 MB) is stored
    uncompressed, as a ``tEXt`` or an uncompressed ``iTXt``: Image.open refused the whole file for one (an XMP
    packet of 2 MB), though its pixels are whole (before: a row "unreadable"); stored so, Pillow reads it, an
    orientation in an XMP packet too. A chunk that inflates past :data:`MAX_TEXT`, or is broken, is left for
    Image.open to refuse or pass over. An ``eXIf`` chunk after the image data is left out: PNG places it before,
    and browsers ignore a late one, which Pillow read when loading (before: its orientation turned the image)."""
    parts, last, seen_image = [], 0, False
    for kind, pos, end in _frames(data):
        if kind == b"IEND":
            break
        if kind == b"eXIf" and seen_image:
            parts += [data[last:pos]]
            last = end
        elif kind in (b"zTXt", b"iTXt") and (stored := _stored_text(kind, data[pos + 8 : end - 4])) is not None:
            parts += [data[last:pos], stored]
            last = end
        seen_image = seen_image or kind == b"IDAT"
    return b"".join(parts) + data[last:] if parts else data


def _frames(data: bytes):
    """Yield ``(kind, start, end)`` of each whole chunk of the PNG ``data`` up to and including ``IEND`` (none for
    any other file); the walk ends before a chunk that runs past the end of ``data``, or where fewer bytes than a
    chunk's frame remain. :func:`chunks` walks the same frames, checking CRCs and yielding a cut chunk."""
    if not data.startswith(_SIGNATURE):
        return
    pos = len(_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            return
        yield kind, pos, end
        if kind == b"IEND":
            return
        pos = end


def _stored_text(kind: bytes, body: bytes) -> bytes | None:
    """The whole chunk (length, kind, body, CRC) that stores the compressed text chunk ``kind`` ``body`` uncompressed,
    or None when it inflates to at most Pillow's ``MAX_TEXT_CHUNK`` (Pillow reads it), past :data:`MAX_TEXT`, or is
    not a zlib stream."""
    name, _, rest = body.partition(b"\0")
    if kind == b"zTXt":  # keyword, 0, method, stream
        kind, head, method, stream = b"tEXt", name + b"\0", rest[:1], rest[1:]
    else:  # keyword, 0, compressed flag, method, language, 0, translated keyword, 0, stream
        language, _, rest_of = rest[2:].partition(b"\0")
        translated, _, stream = rest_of.partition(b"\0")
        head, method = name + b"\0\0\0" + language + b"\0" + translated + b"\0", rest[1:2]
        if rest[:1] != b"\1":
            return None
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(stream, MAX_TEXT) if method == b"\0" else b""
    except zlib.error:
        return None
    if len(text) <= PngImagePlugin.MAX_TEXT_CHUNK or not inflater.eof:
        return None
    body = head + text
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def inflated_profile(body: bytes) -> bytes:
    """The ICC profile an ``iCCP`` chunk ``body`` holds (a name, a 0 byte, the compression method, the zlib
    stream), inflated to at most :data:`MAX_PROFILE` bytes.

    Raises:
        ValueError: a compression method other than 0 (zlib, the only one PNG defines), a broken, cut or empty
            stream, or one that inflates past :data:`MAX_PROFILE` (a zip bomb).
    """
    name_end = body.find(b"\0")
    if name_end < 0 or body[name_end + 1 : name_end + 2] != b"\0":
        raise ValueError("not a zlib-compressed profile")
    inflater = zlib.decompressobj()
    try:
        icc = inflater.decompress(body[name_end + 2 :], MAX_PROFILE)
    except zlib.error as err:
        raise ValueError(str(err)) from err
    if not inflater.eof or not icc:  # not eof: cut, or stopped at MAX_PROFILE
        raise ValueError("cut, empty or past MAX_PROFILE")
    return icc


def decode_many(streams: list[tuple | None]) -> list[np.ndarray | None]:
    """uint8 ``(H, W, C)`` pixels of each :func:`filtered_rows` result (None stays None, and so does a
    stream with a filter byte PNG does not define); files of one mode and size are unfiltered together,
    :data:`JOIN_BYTES` of rows per call."""
    out: list[np.ndarray | None] = [None] * len(streams)
    groups: dict[tuple, list[int]] = {}
    for i, stream in enumerate(streams):
        if stream is not None:
            groups.setdefault(stream[:3], []).append(i)
    for (mode, height, width), members in groups.items():
        channels = len(mode)
        row = 1 + width * channels
        per_call = max(1, JOIN_BYTES // ((height + 1) * row))
        stored = (height + 1) * row <= 0xFFFF  # a file's rows, behind its row of zeros, fit one stored block
        for first in range(0, len(members), per_call):
            chunk = members[first : first + per_call]
            blank = bytes(row)  # the row of zeros each file's first row is unfiltered against
            joined = _joined([streams[i][3] for i in chunk], blank, stored)
            filters = _filter_bytes(joined, len(chunk), height + 1, row, stored)
            bad = (filters > _MAX_FILTER).any(axis=1)
            if bad.any():  # Pillow's decoder stops at an unknown filter: those files go to Image.open
                chunk = [i for i, b in zip(chunk, bad) if not b]
                if not chunk:
                    continue
                joined = _joined([streams[i][3] for i in chunk], blank, stored)
            # Pillow's zip decoder inflates as it unfilters; stored (uncompressed) deflate blocks only copy
            stream = joined if stored else zlib.compress(joined, 0)
            image = Image.frombytes(mode, (width, len(chunk) * (height + 1)), stream, "zip", mode)
            pixels = np.asarray(image).reshape(len(chunk), height + 1, width, channels)[:, 1:]
            for k, i in enumerate(chunk):
                out[i] = pixels[k]
    return out


def _joined(rows: list[bytes], blank: bytes, stored: bool) -> bytes:
    """``blank`` then each of ``rows`` in turn, joined; ``stored`` (each file's ``blank`` and rows fit one stored
    deflate block, 65,535 bytes): as the zlib stream Pillow's zip decoder reads, each file a stored (uncompressed)
    block of its own and no Adler-32 after the last (the decoder stops at the image's last row, before it), made by
    the one join, where ``zlib.compress(level 0)`` of the joined rows copied and summed them again (12 of the main
    thread's ms on the 8,068 benchmark PNGs); else the rows alone, for that."""
    if not stored:
        return b"".join(part for one in rows for part in (blank, one))
    size = len(blank) + len(rows[0])  # every file of a group inflates to the same length (inflated)
    head = struct.pack("<BHH", 0, size, size ^ 0xFFFF) + blank
    parts = [_ZLIB_HEAD]
    for one in rows:
        parts += (head, one)
    parts[-2] = b"\1" + head[1:]  # the last block, marked final
    return b"".join(parts)


def _filter_bytes(joined: bytes, files: int, height: int, row: int, stored: bool) -> np.ndarray:
    """The filter byte of each row (``files``, ``height`` counting the row of zeros) in :func:`_joined`'s bytes."""
    if not stored:
        return np.frombuffer(joined, np.uint8).reshape(files, height, row)[:, :, 0]
    blocks = np.frombuffer(joined, np.uint8, offset=len(_ZLIB_HEAD)).reshape(files, 5 + height * row)
    return blocks[:, 5:].reshape(files, height, row)[:, :, 0]


def _inflated_or_none(stream: tuple | None) -> tuple | None:
    """:func:`inflated`, None on any failure (Image.open then words the reason)."""
    try:
        return inflated(stream)
    except Exception:  # memory for a crafted stream: Image.open words the reason, or the machine's fault
        return None


class Inflating:
    """A batch's pixel streams inflated by two threads: ingest's reader (:func:`winnow.image_decode._batches`, on a
    pool thread) from the front, and ingest's main thread from the back once it has unfiltered the batch before and
    waits for this one (:meth:`awaited`). zlib releases the GIL, so the two inflate side by side. Before, the reader
    read, walked and inflated every file (about 250 ms of CPU for the 8,068 benchmark PNGs) while the main thread
    unfiltered and stored them (about 210 ms) and then waited: the reader was ingest's critical path. Each stream
    is inflated once, by one of the two, so the batch is the same whoever inflates what."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._streams: list | None = None  # the batch being inflated, None between batches
        self._front = self._back = self._busy = 0
        self._left = False  # the main thread stopped helping (Ctrl-C, an error): the reader waits on it no more

    def inflate(self, streams: list) -> list:
        """``streams`` (:func:`pixel_stream` results) inflated in place, with the main thread's
        help while it waits; returns the list."""
        with self._lock:
            self._streams, self._front, self._back = streams, 0, len(streams)
            self._lock.notify_all()
        while (index := self._claim(front=True)) is not None:
            streams[index] = _inflated_or_none(streams[index])
        with self._lock:
            self._lock.wait_for(lambda: not self._busy or self._left)  # the main thread's last stream
            self._streams = None
        return streams

    def awaited(self, ahead):
        """``ahead.result()`` (a :class:`~concurrent.futures.Future` of ``next(reader)``), inflating streams of
        the batch it reads meanwhile, from the back."""
        ahead.add_done_callback(lambda _: self._wake())
        try:
            while True:
                with self._lock:
                    self._lock.wait_for(lambda: ahead.done() or self._open())
                    if ahead.done():
                        break
                index = self._claim(front=False)
                if index is None:
                    continue
                try:
                    self._streams[index] = _inflated_or_none(self._streams[index])
                finally:
                    with self._lock:
                        self._busy -= 1
                        self._lock.notify_all()
        except BaseException:
            # a Ctrl-C landing between a claim and its try above left a stream counted busy for ever: the reader
            # waited on it, and the pool's shutdown on the reader, so ingest hung instead of stopping
            with self._lock:
                self._left = True
                self._lock.notify_all()
            raise
        return ahead.result()

    def _open(self) -> bool:
        return self._streams is not None and self._front < self._back

    def _wake(self) -> None:
        with self._lock:
            self._lock.notify_all()

    def _claim(self, *, front: bool) -> int | None:
        """The next stream to inflate from the front or the back (None streams skipped), or None when none is left."""
        with self._lock:
            while self._open():
                if front:
                    index, self._front = self._front, self._front + 1
                else:
                    self._back -= 1
                    index = self._back
                if self._streams[index] is not None:
                    self._busy += not front
                    return index
            return None
