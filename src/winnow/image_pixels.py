"""A loaded Pillow image as uint8 pixels for :mod:`winnow.image_decode`: turned upright by its EXIF orientation,
converted to 'L' or 'RGB' as :mod:`winnow.sources` describes (transparency composited over white) and resized
(:func:`_pixels`)."""

from __future__ import annotations

import numpy as np
from PIL import ExifTags, Image, ImageOps

from winnow import image_notes
from winnow.ingest import all_grey


_SINGLE_CHANNEL_MODES = ("1", "L", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def _pixels(img: Image.Image, size: int | None, *, rawmode: str = "", alpha: Image.Image | None = None) -> tuple:
    """(pixels uint8 (H, W, C), mode, (orig_h, orig_w), orientation, notes) of a loaded image: turned upright
    by its EXIF orientation, converted (``rawmode``: the file's own pixel layout, :func:`_to_8bit`) and
    resized. ``alpha``: a colour key's transparency Pillow cannot see (:func:`winnow.image_decode._wide_png`).
    ``notes`` holds
    ``flattened`` when compositing over white made an image of varied pixels one flat colour: its content was in
    its alpha alone (a white glyph on transparency) or all of it was transparent (before: a blank image unsaid);
    ``low_bits``, the peak of a 16-bit grey image that uses its low 12 bits alone
    (:data:`winnow.image_notes.LOW_BITS_PEAK`); a 16-bit colour or grey-and-alpha PNG's, ``low_bits_colour``, is
    noted by :func:`winnow.image_decode._decode`, which alone sees its samples whole."""
    fmt, mode = img.format, img.mode
    if alpha is not None:  # laid out as the file's pixels: before turning (the EXIF travels in img.info)
        img = img.convert("RGBA")
        img.putalpha(alpha)
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - Pillow parses a PNG text key "exif" or "xmp" as EXIF or XMP, and a plain
        if fmt != "PNG":  # note there ("camera: phone") raised: no orientation in it, so none to apply
            raise
        orientation = 1
    if orientation in range(2, 9):
        img = ImageOps.exif_transpose(img)
    else:
        orientation = 1  # absent or out of the EXIF range: nothing to apply
    orig = (img.height, img.width)
    varied = (img.mode in ("LA", "RGBA", "PA") or "transparency" in img.info) and not _one_colour(img)
    peak = int(np.asarray(img).max()) if img.mode.startswith("I;16") else None
    img = _to_8bit(img, rawmode=rawmode, fmt=fmt)
    notes = {"flattened": True} if varied and _one_colour(img) else {}
    if peak is not None and peak <= image_notes.LOW_BITS_PEAK:
        notes["low_bits"] = peak
    if size is not None and (img.height, img.width) != (size, size):
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(img)
    return (pixels[..., None] if pixels.ndim == 2 else pixels), mode, orig, int(orientation), notes


def _one_colour(img: Image.Image) -> bool:
    """Whether every pixel of ``img`` holds the same values (a palette image's compared by their colours)."""
    pixels = np.asarray(img.convert("RGBA") if img.mode in ("P", "PA") else img)
    return bool((pixels == pixels[:1, :1]).all())


def _to_8bit(img: Image.Image, *, rawmode: str = "", fmt: str | None = None) -> Image.Image:
    """An 'L' or 'RGB' image, following the conversions in :mod:`winnow.sources`: a palette whose shown
    pixels are all grey is one channel; transparency (an alpha channel, a palette's or a colour key,
    PNG ``tRNS``) is composited over white. ``rawmode`` (the file's pixel layout, as Pillow's decoder names
    it) and ``fmt`` (Pillow's format) settle what the loaded mode hides: a 16-bit grey-and-alpha PNG
    (``LA;16B``, loaded as RGBA) stays grey; a 2- or 4-bit grey PNG's colour key is in the file's units,
    its pixels already scaled to 8 bits; a BMP whose alpha is 0 everywhere has no alpha (Windows writes
    the fourth byte unused, and viewers show such a file opaque)."""
    if fmt == "BMP" and img.mode == "RGBA" and img.getchannel("A").getextrema() == (0, 0):
        img = img.convert("RGB")
    if img.mode in ("L", "RGB") and "transparency" not in img.info:
        return img
    palette = img.mode in ("P", "PA")
    key = img.info.get("transparency")
    bits = {"L;2": 2, "L;4": 4}.get(rawmode)
    if bits and isinstance(key, int):  # Pillow scaled the pixels (1 -> 85 at 2 bits) but not the key
        key = key * 255 // (2**bits - 1)
        img.info["transparency"] = key
    if img.mode == "P":
        img = img.convert("RGBA" if key is not None else "RGB")
    elif key is not None and img.mode in ("1", "L", "RGB"):  # a colour key: pixels of that value are transparent
        img = img.convert("RGBA" if img.mode == "RGB" else "LA")
    if img.mode in ("LA", "RGBA", "PA"):
        grey = img.mode == "LA" or rawmode.startswith("LA")
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("L" if grey else "RGB")
    if palette and all_grey(img):  # "P without colour": one channel, its values exactly the palette's grey
        return img.convert("L")
    if img.mode in ("1", "L"):
        return img.convert("L")
    if img.mode in _SINGLE_CHANNEL_MODES:
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(values.max()), 1.0)
        scaled = np.clip(np.rint(values * 255.0 / top), 0, 255).astype(np.uint8)
        if isinstance(key, int):  # a 16-bit or 32-bit grey colour key: fully transparent over white
            scaled[values == key] = 255
        return Image.fromarray(scaled, "L")
    return img.convert("RGB")
