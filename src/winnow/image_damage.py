"""Whether an image file that Pillow decoded is still damaged: its end never written (a copy or download cut short
at full length, its end zero-filled), a PNG chunk of its image data failing its CRC check, or a PNG's image data
ending before its last row. libjpeg, libwebp and Pillow's PNG decoder read such files without an error, their pixels
garbage or blank below the damage; winnow.image_decode sets them aside with the reason given here.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, UnidentifiedImageError

from winnow import plain_png

ZERO_TAIL = 64  # a file ends in fewer zero bytes than this as written (none of 603 CIFAR and MNIST images more than 4)
# but a lossy WebP whose last macroblocks are flat: its bit coder writes their all-end-of-block coefficients as zero
# bytes (104 to 405 measured in 768x768 to 2048x2048 images), and libwebp reads back all of them but 3 at most; of
# zeros written over a cut stream it reads a part (11 to 1,129 of 68 to 27,708 in 32x32 to 256x256 images), and of
# shorter runs too: a lossy WebP is checked from UNREAD zeros on (690 lossy WebPs of 8x8 to 256x256, quality 30 to
# 95, methods 0 to 6, of noise, flat bands, shapes, all black, ended in 13 at most, libwebp leaving 3 at most unread
# of 480 of them; of 732 more none was set aside). Before, from ZERO_TAIL on: a 32x32 lossy WebP of noise whose last
# 48 bytes were zeroed was read whole, its last macroblock garbage. A lossless WebP stays at ZERO_TAIL: libwebp's
# fastest method ends one whose last rows are flat in 8 to hundreds of zeros its decoder reads (10 of 30 64-px and
# smaller ones)
UNREAD = 8


def unwritten_end(data: bytes, img: Image.Image) -> str | None:
    """Why a JPEG or WebP file that decoded (``img``, loaded) still lacks its end, or None. A copy or download cut
    short often leaves the file at full length with its end zero-filled, and libjpeg and libwebp decode those zeros
    into garbage pixels without an error: a WebP's image chunk then ends in a run of zero bytes, and a JPEG ends in
    one inside its own data, before its end-of-image marker (zeros hold no marker). What follows a JPEG's end marker
    (a phone's motion-photo video, padding) or a WebP's image chunk (EXIF) is the file's own. A JPEG cut and closed
    with a new end marker still decodes, grey below the cut.

    A lossy WebP's run of zeros is its encoder's own where the decoder reads it: the same pixels decode from the
    chunk less its last :data:`UNREAD` bytes when the zeros were written over data the decoder no longer needs
    (before: every lossy WebP ending in flat macroblocks was refused, a whole WebP data set with a white band)."""
    if img.format == "WEBP":
        at, image = _webp_image_chunk(data)
        zeros = _zeros_at_end(image) if image is not None else 0
        unwritten = zeros >= ZERO_TAIL if data[at - 8:at - 4] == b"VP8L" else zeros >= UNREAD and _same_pixels(
            _webp_cut(data, at, len(image) - UNREAD), img)
    else:
        # the JPEG's own end, not the last end marker in the file: a trailer (a motion photo's video) holds start-
        # and end-of-scan bytes by chance (before: a JPEG with a trailer ending in zeros was refused or not by them).
        # Any zero ends a JPEG as written only after its end marker: ZERO_TAIL is the WebP encoder's, and under it a
        # 32x32 JPEG whose last 32 bytes were never written was read with a quarter of its pixels garbage
        zeros = _zeros_at_end(data)
        end = _jpeg_end(data) if zeros else 0
        unwritten = end is None or end > len(data) - zeros
    return UNWRITTEN if unwritten else None


UNWRITTEN = "its image data ends in zeros: the end of the file was never written (an interrupted copy or download)"


def png_damage(data: bytes, img: Image.Image | None = None) -> str | None:
    """Why a PNG that Pillow decoded is still damaged, or None. Pillow checks the CRC of the chunks before the image
    data only, so an IDAT whose end was never written (zero-filled by an interrupted copy) or whose bits changed
    decoded into garbage rows without an error (before: kept as an image); every chunk's CRC is checked here up to
    the end of the image data (:func:`winnow.plain_png.chunks`), and the image data's length (:func:`_short_stream`).
    A file cut or damaged after its image data (IEND missing, a text chunk cut) keeps its whole pixels and is read.
    ``img``: the image Pillow decoded from ``data``, which spares most files the image data's second inflate."""
    seen_image, header, image = False, None, []
    for kind, body, fault in plain_png.chunks(data):
        header = body if header is None else header  # IHDR, first: Pillow decodes no PNG that starts otherwise
        image += [body] if kind == b"IDAT" else []
        if fault and (kind == b"IDAT" or not seen_image):
            if _zeros_at_end(data) >= ZERO_TAIL:
                return UNWRITTEN
            if fault == "cut":
                return "cut short: its image data runs past the end of the file (an interrupted copy or download)"
            return ("damaged: a chunk of its image data fails its CRC check (a broken copy or disk), so its pixels "
                    "cannot be trusted; copy the file again from its source")
        seen_image = seen_image or kind == b"IDAT"
    return _short_stream(header, image, img) if header is not None else None


# the passes of an interlaced (Adam7) PNG: first column and row, column and row step
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by PNG colour type: grey, RGB, palette, grey and alpha, RGBA
_INFLATE_STEP = 16 << 20  # bytes inflated at a time while counting: memory held, whatever the image's size


def _short_stream(header: memoryview, image: list[memoryview], img: Image.Image | None = None) -> str | None:
    """Why a PNG whose chunks are whole still lacks pixels, or None: its image data, a zlib stream that ends as it
    should, inflates to fewer bytes than its header's rows need. Pillow's decoder stops there without an error and
    leaves the rows missing as zeros (black, the palette's first colour, or transparent, so white over white): a
    broken encoder's file became an image whose end is blank (before: kept unsaid). Counted without holding the
    inflated rows; a stream broken before that is Pillow's to refuse, as it did. ``header``: the body of the IHDR
    chunk, ``image`` those of the IDAT chunks; ``img`` (if given) the image Pillow decoded from them, whose row that
    the image data ends with (:func:`_last_row_held`) it checks first."""
    if len(header) < 13:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack_from(">IIBBBBB", header)
    if img is not None and _last_row_held(img, width=width, height=height, interlaced=bool(interlace)):
        return None
    bits = depth * _CHANNELS.get(colour, 0)
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    needed = 0
    for column, row, column_step, row_step in passes:
        columns, rows = -(-max(width - column, 0) // column_step), -(-max(height - row, 0) // row_step)
        needed += rows * (1 + -(-columns * bits // 8)) if columns else 0
    if not bits or not needed:
        return None
    inflater, pending, got = zlib.decompressobj(), b"".join(image), 0
    try:
        while got < needed:
            inflated = len(inflater.decompress(pending, min(_INFLATE_STEP, needed - got)))
            pending, got = inflater.unconsumed_tail, got + inflated
            if not inflated and (inflater.eof or not pending):
                break
    except zlib.error:
        return None
    if got >= needed or not inflater.eof:
        return None
    # width x height, said so: ingest's stretch and mixed-sizes lines give a size height first (said so)
    return (f"cut short: its image data inflates to {got} of the {needed} bytes of its {width}x{height} pixels (width "
            "x height; its encoder stopped early), and the rows missing would be read as blank; save it again from its "
            "source")


def _last_row_held(img: Image.Image, *, width: int, height: int, interlaced: bool) -> bool:
    """Whether ``img``, as Pillow decoded a ``width`` x ``height`` PNG, holds a value other than zero in the row its
    image data ends with: the last row, or where ``interlaced`` (Adam7) the last odd one, all of the seventh pass.
    Pillow's decoder writes a row only once its bytes are all inflated, into zeros, so such an image's data reached
    its end, and the second inflate (a big RGBA PNG's decode again, before: +25-35% of ingest's time on such files)
    is spared; an image whose end row is all zeros (a black border) is inflated again, as an interlaced one a row
    high (its last pass a row's odd pixels, beside the earlier passes' even ones)."""
    if img.size != (width, height) or (interlaced and height < 2):
        return False
    row = height - 1 if not interlaced or height % 2 == 0 else height - 2
    return bool(img.crop((0, row, width, row + 1)).tobytes().strip(b"\0"))


def bmp_zero_rows(data: bytes) -> tuple[int, int] | None:
    """``(rows, height)`` when an uncompressed BMP's pixel array ends in whole rows of zero bytes (stored last: the
    top rows of a bottom-up BMP), :data:`ZERO_TAIL` bytes or more and a quarter of its rows or more; else None.

    A copy cut short at full length leaves such an end, and Pillow reads it as rows of colour 0 without an error
    (before: kept unsaid). Unlike a JPEG's, WebP's or PNG's, a BMP's zeros are pixels as written too (black, or
    palette entry 0: before, the warning said black of a white one), so they cannot be told from a band of that
    colour: the file is read, and named in a warning; a quarter keeps the dark margins of most images (MNIST's
    digits leave 4 of 28 rows) out of it."""
    if len(data) < 34 or data[:2] != b"BM":
        return None
    header = int.from_bytes(data[14:18], "little")
    if header == 12:  # OS/2's core header: 16-bit sizes, never compressed
        width, height, bits = (int.from_bytes(data[at:at + 2], "little") for at in (18, 20, 24))
        compression = 0
    else:
        width, height = (int.from_bytes(data[at:at + 4], "little", signed=True) for at in (18, 22))
        bits, compression = int.from_bytes(data[28:30], "little"), int.from_bytes(data[30:34], "little")
    stride, height = (width * bits + 31) // 32 * 4, abs(height)
    start = int.from_bytes(data[10:14], "little")
    pixels = data[start:start + stride * height]
    if compression not in (0, 3, 6) or stride <= 0 or len(pixels) < stride * height:  # RLE: zeros are its codes
        return None
    rows = _zeros_at_end(pixels) // stride
    return (rows, height) if rows * stride >= ZERO_TAIL and rows * 4 >= height else None


def _zeros_at_end(data: bytes) -> int:
    """How many zero bytes ``data`` ends in."""
    return len(data) - len(data.rstrip(b"\0"))


def _webp_image_chunk(data: bytes) -> tuple[int, bytes | None]:
    """``(offset, payload)`` of a WebP's image chunk (``VP8 `` or ``VP8L``), the payload as far as the file holds it;
    None when the RIFF chunks do not lead to one (Pillow decoded the file: nothing more is checked)."""
    at = 12  # "RIFF", size, "WEBP"
    while at + 8 <= len(data):
        kind, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if kind in (b"VP8 ", b"VP8L"):
            return at + 8, data[at + 8:at + 8 + size]
        at += 8 + size + (size & 1)
    return at, None


def _webp_cut(data: bytes, at: int, keep: int) -> bytes:
    """The WebP ``data`` with its image chunk (payload at ``at``) cut to ``keep`` bytes, its chunks after it kept."""
    size = int.from_bytes(data[at - 4:at], "little")
    riff = data[12:at - 4] + keep.to_bytes(4, "little") + data[at:at + keep] + bytes(keep & 1) \
        + data[at + size + (size & 1):]
    return b"RIFF" + (len(riff) + 4).to_bytes(4, "little") + b"WEBP" + riff


def _same_pixels(data: bytes, img: Image.Image) -> bool:
    """Whether ``data`` decodes to the pixels of ``img`` (False when it does not decode)."""
    try:
        with Image.open(io.BytesIO(data)) as other:
            other.load()
            return other.mode == img.mode and other.tobytes() == img.tobytes()
    except Exception:  # noqa: BLE001 - cut short of what the decoder reads: libwebp refuses it, as it should
        return False


def _jpeg_end(data: bytes) -> int | None:
    """The offset past the end-of-image marker that ends the JPEG ``data`` starts with, or None when no marker ends
    it. Its segments are stepped over by their lengths (an EXIF thumbnail holds markers of its own) and each scan's
    data up to the next marker (``FF`` then ``00``, stuffing, or a restart marker are scan data)."""
    at = 2  # past the start-of-image marker
    while (at := data.find(b"\xff", at)) >= 0 and at + 1 < len(data):  # libjpeg skips stray bytes between segments
        marker = data[at + 1]
        if marker == 0xD9:
            return at + 2
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # a fill byte, a marker without a length
            at += 1 if marker == 0xFF else 2
            continue
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
        while marker == 0xDA and 0 <= (at := data.find(b"\xff", at)) < len(data) - 1 \
                and (data[at + 1] == 0 or 0xD0 <= data[at + 1] <= 0xD7):
            at += 2
        if at < 0:  # a scan that runs to the end of the file
            return None
    return None


def _jpeg_precision(data: bytes) -> int | None:
    """The bits per sample its first frame header (SOF) gives the JPEG ``data`` (8, 12 or 16 as written; 0 where
    zeros fill it), or None before one (a file cut or zero-filled there). Segments are stepped over by their
    lengths, as :func:`_jpeg_end` does."""
    at = 2  # past the start-of-image marker
    while (at := data.find(b"\xff", at)) >= 0 and at + 4 < len(data):
        marker = data[at + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a frame header, not DHT, JPG or DAC
            return data[at + 4]
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # a fill byte, a marker without a length
            at += 1 if marker == 0xFF else 2
            continue
        if marker in (0xD9, 0xDA):  # its end, or a scan, before any frame header
            return None
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return None


# room beyond an image's pixels in a file of the largest image read here (text, profiles, EXIF, previews): a file past
# Pillow's limit in pixels at 8 bytes each (16-bit RGBA, stored uncompressed) and this is no image (largest_file_bytes)
METADATA_BYTES = 256 << 20


class OversizeFile(OSError):
    """A local file larger than any image read here (:func:`largest_file_bytes`), not read: its size in ``size``."""

    def __init__(self, size: int):
        super().__init__(f"{size} bytes")
        self.size = size


def largest_file_bytes() -> int | None:
    """The most bytes a file of an image read here can hold: Pillow's ``Image.MAX_IMAGE_PIXELS`` at 8 bytes a pixel
    plus :data:`METADATA_BYTES` (None where that limit is off)."""
    return Image.MAX_IMAGE_PIXELS * 8 + METADATA_BYTES if Image.MAX_IMAGE_PIXELS else None


def oversize(size: int, suffix: str) -> str:
    """The reason of a file of ``size`` bytes past :func:`largest_file_bytes`, set aside unread."""
    return (f"{size:,} bytes, more than a file of an image of Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} pixels "
            f"holds ({largest_file_bytes():,} at most), so it was not read: a video, an archive or another file named "
            f"{suffix}? move it out of the image folder")


# the most bytes of a JPEG Pillow's header scan is given: it steps over bytes that are no marker one at a time, 0.1 s a
# MB, so a JPEG's first bytes followed by junk or zeros (a download preallocated, never written) took minutes a file
# (a 300 MB one over 40 s), and one still being written held ingest as long as it grew; a real header ends well before
JPEG_HEADER_BYTES = 16 << 20


def jpeg_header(data: bytes) -> None:
    """Raise Pillow's ``UnidentifiedImageError`` where the first :data:`JPEG_HEADER_BYTES` of ``data``, a JPEG's bytes,
    hold no header Pillow reads, so its reader words the whole file's reason without Pillow's scan through all of it."""
    if len(data) <= JPEG_HEADER_BYTES:
        return
    try:
        with Image.open(io.BytesIO(data[:JPEG_HEADER_BYTES])):
            pass
    except UnidentifiedImageError:
        raise
    except Exception:  # noqa: BLE001 - any other failure of the header is found again, and worded, on the whole file
        pass


LFS_REASON = "a Git LFS pointer"  # the start of such a file's reason, which the ingest stage counts and words a fix of
# how such a file begins (the bytes winnow.revisions.LFS_POINTER names for the gate's reads; not imported from that
# git module, which ingest does not depend on)
_LFS_START = b"version https://git-lfs.github.com/spec/"
# the brands of an ISO media file's ftyp box that are HEIF: an iPhone's photos (.heic), which Pillow cannot read
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


def _ftyp_brands(data: bytes) -> set[bytes]:
    """The brands an ISO media file's leading ftyp box names, its major brand and its compatible ones (empty where
    ``data`` does not start with one). Before, the major brand alone: an AVIF whose major brand is the generic image
    brand ``mif1`` (``avif`` among its compatible brands, as some encoders write) was called HEIF."""
    if data[4:8] != b"ftyp":
        return set()
    end = min(len(data), max(int.from_bytes(data[:4], "big"), 16), 16 + 4 * 256)  # a crafted size: 256 brands read
    return {data[8:12]} | {data[at:at + 4] for at in range(16, end - 3, 4)}


def unidentified(data: bytes, signature: str | None) -> str | None:
    """Why ``data``, a file Pillow found no image format in, is no image, or None where its bytes say nothing more
    (before: "not a decodable image" of them all, so a whole folder of LFS pointers stopped ingest with "8 of 12 files
    could not be read" and no word of ``git lfs pull``). ``signature``: the format of
    :data:`winnow.image_formats.READ_FORMATS` its first bytes start as (:func:`winnow.image_formats.image_format`)."""
    if not data:
        return ("empty (0 bytes): an interrupted copy or download, or a cloud drive's placeholder never fetched; copy "
                "it again from its source")
    if not data.strip(b"\0"):
        return (f"all of its {len(data)} bytes are zeros: the file was never written (an interrupted copy or "
                "download); copy it again from its source")
    if data.startswith(_LFS_START):
        return (f"{LFS_REASON}, not the image (the repository was cloned or copied without its LFS files): run `git "
                "lfs pull` in the repository that holds it")
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:14].lower().startswith((b"<!doctype html", b"<html", b"<head")):
        return ("a web page (HTML), not an image: a download that saved a site's page (an error, a login or a consent "
                "page) in its place; download it again")
    brands = _ftyp_brands(data)
    if brands & {b"avif", b"avis"}:
        # before: "not a decodable image" where Pillow has no AVIF plugin (a CDN's AVIF saved by a browser as .jpg);
        # with one, Image.open names it and ingest sets it aside as a format not read here
        return ("content is AVIF, not an image format read here (PNG, JPEG, BMP, WebP) whatever the suffix says; "
                "convert it to PNG or JPEG")
    if brands & set(_HEIF_BRANDS):
        return ("content is HEIF/HEIC (an iPhone's photo format), not an image format read here (PNG, JPEG, BMP, "
                "WebP) whatever the suffix says; convert it to JPEG or PNG")
    if signature == "JPEG" and (bits := _jpeg_precision(data) or 0) in range(2, 17) and bits != 8:
        # before: "cut short or damaged in its header ... copy it again", and "never written" with padding after its
        # end, of a whole 12-bit JPEG (a medical scanner's): Pillow refuses any JPEG whose samples are not 8 bits
        return (f"a {bits}-bit JPEG (as medical scanners and some cameras write), which Pillow does not read: convert "
                "it to an 8-bit JPEG or a PNG")
    if signature is not None and _zeros_at_end(data) >= ZERO_TAIL:
        return UNWRITTEN
    if signature is not None:
        return (f"cut short or damaged in its header: it starts as a {signature} file, but its {len(data)} bytes hold "
                "no header Pillow can read (an interrupted copy or download?); copy it again from its source")
    return None


def undecoded(data: bytes) -> str | None:
    """Why a file Pillow identified but failed to decode is damaged, where its bytes say: its end zero-filled
    (:data:`UNWRITTEN`), or a WebP whose RIFF header declares more bytes than the file holds, a copy or download cut
    short (before: "unreadable: could not create decoder object", libwebp's words, at any cut; "unreadable: cannot
    load this image" of a JPEG zero-filled from inside its header)."""
    if _zeros_at_end(data) >= ZERO_TAIL and data[:2] != b"BM":  # a BMP's zeros are pixels, its failure Pillow's words
        return UNWRITTEN
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    declared = int.from_bytes(data[4:8], "little") + 8
    if declared <= len(data):
        return None
    return (f"cut short: its RIFF header declares {declared} bytes, the file holds {len(data)} (an interrupted copy or "
            "download); copy it again from its source")
