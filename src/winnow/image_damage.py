"""Whether an image file that Pillow decoded is still damaged: its end never written (a copy or download cut short
at full length, its end zero-filled), or a PNG chunk of its image data failing its CRC check. libjpeg, libwebp and
Pillow's PNG decoder read such files without an error, their pixels garbage below the damage; winnow.image_decode
sets them aside with the reason given here.
"""

from __future__ import annotations

from winnow import plain_png

ZERO_TAIL = 64  # a lossy WebP's encoder ends its data with up to 4 zero bytes (none of 603 CIFAR and MNIST images more)


def unwritten_end(data: bytes, format: str) -> str | None:
    """Why a JPEG or WebP file that decoded still lacks its end, or None. A copy or download cut short often leaves
    the file at full length with its end zero-filled, and libjpeg and libwebp decode those zeros into garbage pixels
    without an error: a WebP's image chunk then ends in a run of zero bytes, and a JPEG ends in one with no
    end-of-image marker after its last scan before it (zeros hold no marker). What follows a JPEG's end marker (a
    phone's motion-photo video, padding) or a WebP's image chunk (EXIF) is the file's own. A JPEG cut and closed
    with a new end marker still decodes, grey below the cut."""
    if format == "WEBP":
        image = _webp_image_chunk(data)
        unwritten = image is not None and len(image) - len(image.rstrip(b"\0")) >= ZERO_TAIL
    else:
        written = data.rstrip(b"\0")
        last_scan = written.rfind(b"\xff\xda")
        unwritten = (len(data) - len(written) >= ZERO_TAIL and last_scan >= 0
                     and written.find(b"\xff\xd9", last_scan) < 0)
    return UNWRITTEN if unwritten else None


UNWRITTEN = "its image data ends in zeros: the end of the file was never written (an interrupted copy or download)"


def png_damage(data: bytes) -> str | None:
    """Why a PNG that Pillow decoded is still damaged, or None. Pillow checks the CRC of the chunks before the image
    data only, so an IDAT whose end was never written (zero-filled by an interrupted copy) or whose bits changed
    decoded into garbage rows without an error (before: kept as an image); every chunk's CRC is checked here up to
    the end of the image data (:func:`winnow.plain_png.chunks`). A file cut or damaged after its image data (IEND
    missing, a text chunk cut) keeps its whole pixels and is read."""
    seen_image = False
    for kind, _, fault in plain_png.chunks(data):
        if fault and (kind == b"IDAT" or not seen_image):
            if len(data) - len(data.rstrip(b"\0")) >= ZERO_TAIL:
                return UNWRITTEN
            if fault == "cut":
                return "cut short: its image data runs past the end of the file (an interrupted copy or download)"
            return ("damaged: a chunk of its image data fails its CRC check (a broken copy or disk), so its pixels "
                    "cannot be trusted; copy the file again from its source")
        seen_image = seen_image or kind == b"IDAT"
    return None


def _webp_image_chunk(data: bytes) -> bytes | None:
    """The payload of a WebP's image chunk (``VP8 `` or ``VP8L``), as far as the file holds it; None when the RIFF
    chunks do not lead to one (Pillow decoded the file: nothing more is checked)."""
    at = 12  # "RIFF", size, "WEBP"
    while at + 8 <= len(data):
        kind, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if kind in (b"VP8 ", b"VP8L"):
            return data[at + 8:at + 8 + size]
        at += 8 + size + (size & 1)
    return None
