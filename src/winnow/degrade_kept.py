"""Which images a contamination of :mod:`winnow.degrade` left as a detector saw them, so that the ground truth records
only the images it damaged: a size kind where the file had the size (or aspect ratio) its score reads already, a
grayscale where the image is grey already to its score, any other where the pixels came back the same; and
:data:`KEPT_AT_ANY`, what a picked image holds that no stronger setting of a deterministic damage changes, so that a
refusal of one that changed nothing names the images, not the setting.
"""

from __future__ import annotations

import numpy as np

from winnow.imageset import equal_images


def left_as_it_was(kind: str, x: np.ndarray, damaged: np.ndarray, *, sizes: np.ndarray, shape) -> np.ndarray:
    """bool ``(N,)``: which of the images ``x`` (uint8 ``(N, H, W, C)``, their files' sizes ``sizes``, int ``(N, 2)``
    height and width) the damage ``kind`` left as a detector saw them: a size kind (``shape``, the file size it
    records) where the file had what its score reads of that size already, in the manifest (as many pixels for odd
    size, the aspect ratio for odd aspect ratio: a portrait photo of 960x640 is odd already where the ratio's file is
    480x320); grayscale where ``x`` is grey already to the grayscale score, its channels at most a grey level apart on
    average (the score's own cut: a black-and-white photo whose JPEG left a level of chroma noise in half its pixels is
    grey to it), which the conversion only makes equal and the score flagged before; any other where ``damaged``
    equals ``x``. Before, the first two were recorded as planted (5 grey photos of 30 picked, 5 files of 16x16 of 30
    made 16x16; 5 photos a level off grey, when only equal channels counted; 5 files of 16x8 made 8x4, when only that
    size counted)."""
    if shape is not None:  # the odd-size score reads log sqrt(h w), the odd-aspect score log(w / h)
        height, width = shape
        h, w = sizes[:, 0], sizes[:, 1]
        return h * w == height * width if kind == "odd_size" else w * height == h * width
    if kind == "grayscale":
        return grey_already(x)
    return equal_images(damaged, x)


def black(images: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: which of ``images`` (uint8 ``(N, H, W, C)``) are black, every value 0: what no thumbnail, and no
    near duplicate's jitter (brightness, contrast, saturation and hue), changes."""
    return (images == 0).all(axis=(1, 2, 3))


# the deterministic damages by what a picked image holds that none of their settings changes where one did not: (which
# of uint8 images (N, H, W, C) hold it, its words, the words for the others)
KEPT_AT_ANY = {
    **dict.fromkeys(("brightness", "gamma"), (lambda x: ((x == 0) | (x == 255)).all(axis=(1, 2, 3)),
                                              "black and white only (every value 0 or 255)", "of other values")),
    **dict.fromkeys(("blur", "downscale"), (lambda x: (x == x[:, :1, :1]).all(axis=(1, 2, 3)), "flat, one colour each",
                                            "of more than one colour")),
    "low_information": (black, "black", "other than black"),
}


def kept_at_any(kind: str, params: dict):
    """:data:`KEPT_AT_ANY`'s entry for a damage ``kind`` of ``params``, or ``(None, "", "")``: a darkening (brightness
    ``factor`` below 1) floors 255 below it at any factor, so only black is kept there, the black-and-white of a
    lightening (0 and a clipped 255) not. Before, black picks of brightness 0.5 among images of black and white were
    said to be "black and white only", and the advice counted none of the white-holding images it darkens."""
    if kind == "brightness" and params["factor"] < 1:
        return KEPT_AT_ANY["low_information"]
    return KEPT_AT_ANY.get(kind, (None, "", ""))


def grey_already(images: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: which of the colour images ``images`` (uint8 ``(N, H, W, 3)``) the grayscale score calls grey,
    their channels at most a grey level apart on average: the score's own cut, 1/255 (:mod:`winnow.quality`), in
    float32 as the threshold stage compares it."""
    spread = (images.max(axis=3) - images.min(axis=3)).mean(axis=(1, 2)) / 255
    return spread.astype(np.float32) <= np.float32(1 / 255)


def odd_already(kind: str, shape) -> str:
    """What the picked files of a size kind were already, its ``shape`` (height, width) as its score reads it."""
    return f"files of {shape[0]}x{shape[1]}'s {'pixel count' if kind == 'odd_size' else 'aspect ratio'}"
