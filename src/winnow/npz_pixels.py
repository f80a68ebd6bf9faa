"""An .npz's image arrays read into uint8 ``(N, H, W, C)`` (:func:`npz_images`), by the pixel rules
:mod:`winnow.npz_files`' docstring sets out: the shapes an image array may have, the scales its values may be stored
at (one scale for every split of a file: :func:`check_one_scale`), and each refusal one line naming the file and
the key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from winnow.errors import WinnowError
from winnow.sources import row_layout


def npz_images(pixels: np.ndarray, key: str, path: Path) -> np.ndarray:
    """uint8 ``(N, H, W, C)`` from one image array ``pixels`` (key ``key`` of ``path``), converted as
    :mod:`winnow.npz_files`' docstring says."""
    if pixels.ndim == 2:
        if pixels.shape[1] == 784:
            pixels = pixels.reshape(-1, 28, 28, 1)
        elif pixels.shape[1] == 3072:
            if row_layout(pixels, height=32, width=32) == "pixel_by_pixel":
                raise WinnowError(f"{path}: {key} holds flat rows of 3072 values laid out pixel by pixel (R, G, B, "
                                  "R, G, B, ...), not CIFAR's planar layout (1024 R, then G, then B) that flat rows are "
                                  "read as; store them as (N, 32, 32, 3) instead")
            pixels = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        else:  # before: "flat rows of 16 values" alone of one 16x16 image saved without its batch axis
            raise WinnowError(f"{path}: {key} has shape {pixels.shape}: flat rows of {pixels.shape[1]} values, or one "
                              f"{pixels.shape[0]}x{pixels.shape[1]} image without its batch axis? store images as "
                              f"(N, H, W[, C]) (one image: np.expand_dims(image, 0), of shape (1, {pixels.shape[0]}, "
                              f"{pixels.shape[1]}))")
    elif pixels.ndim == 3:
        pixels = pixels[..., None]
    elif pixels.ndim == 1 and len(pixels) in (784, 3072):  # before: the shape alone of one flat row
        raise WinnowError(f"{path}: {key} has shape {pixels.shape}: one flat row of {len(pixels)} values without its "
                          f"batch axis? store it as images[None], of shape (1, {len(pixels)})")
    if pixels.ndim != 4 or pixels.shape[3] not in (1, 3) or 0 in pixels.shape[1:3]:
        # before: the shapes alone, of torch's channels-first batches and MATLAB's images-last arrays
        order = "" if pixels.ndim != 4 or pixels.shape[3] in (1, 3) else (
            "; channels first (N, C, H, W), as torch stores them? store images.transpose(0, 2, 3, 1)"
            if pixels.shape[1] in (1, 3) else
            "; images last (H, W, C, N), as MATLAB stores them? store np.moveaxis(images, -1, 0)"
            if pixels.shape[2] in (1, 3) else "")
        raise WinnowError(f"{path}: {key} must be (N, H, W) or (N, H, W, C) with C in 1 or 3 and H, W > 0, "
                          f"got {pixels.shape}{order}")
    sample = pixels[:1000]  # a copy of these rows alone, not of the whole array
    if pixels.shape[3] == 3 and len(sample) >= 10 and min(pixels.shape[1:3]) >= 8 and row_layout(
            sample.reshape(len(sample), -1), height=pixels.shape[1], width=pixels.shape[2]) == "planar":
        # a warning, not a refusal: a legal set of grey horizontal gratings reads the same (a review's finding)
        print(f"warning: {path}: {key} holds {pixels.shape} images whose values seem to run channel by channel "
              "(all R, then G, then B): planar rows reshaped straight to (N, H, W, 3) scramble every image; if so, "
              "reshape them to (N, 3, H, W) and transpose to (N, H, W, 3), or store the flat rows")
    return _to_uint8(pixels, key, path)


def check_one_scale(arrays: dict, keys: list[str], path: Path) -> None:
    """Refuse float image arrays of one file stored at two scales: each was converted on its own, so a train split
    in [0, 255] and a val split in [0, 1] were both read as 8 bits, one multiplied by 255, without a word (within
    one array :func:`_to_uint8` refuses the mix)."""
    peaks = {key: float(arrays[key].max()) for key in keys
             if arrays[key].dtype.kind == "f" and arrays[key].size and np.isfinite(arrays[key]).all()}
    fractions = [key for key, peak in peaks.items() if peak <= 1]
    eight_bit = [key for key, peak in peaks.items() if peak > 1]
    if fractions and eight_bit:
        raise WinnowError(f"{path}: {eight_bit[0]} reaches {peaks[eight_bit[0]]:g} ([0, 255]) but {fractions[0]} stays "
                          "within [0, 1]: the splits are stored at two scales; scale every split alike")


def _to_uint8(pixels: np.ndarray, key: str, path: Path) -> np.ndarray:
    kind = pixels.dtype.kind
    if kind not in "iuf":
        raise WinnowError(f"{path}: {key} has pixels of type {pixels.dtype}; store uint8, or floats in [0, 1] or [0, 255]")
    if pixels.dtype == np.uint8 or pixels.size == 0:
        if pixels.size and pixels.max() <= 1:  # legal 8-bit values, but a 0/1 mask stored as uint8 reads as black
            print(f"warning: {path}: {key} is uint8 with every pixel 0 or 1, read as 8 bits: every image is "
                  "black; if 1 means white, multiply by 255")
        return pixels.astype(np.uint8, copy=False)
    if kind == "f":
        broken = ~np.isfinite(pixels)
        if broken.any():
            first = int(np.flatnonzero(broken.reshape(len(pixels), -1).any(axis=1))[0])
            raise WinnowError(f"{path}: {key} has {int(broken.sum())} NaN or infinite pixel values (first in image "
                              f"{first}); repair or drop those images")
    lo, hi = pixels.min(), pixels.max()
    if lo < 0 or hi > 255:
        outside = int(((pixels < 0) | (pixels > 255)).sum())
        raise WinnowError(f"{path}: {key} has {outside} {pixels.dtype} pixel values outside [0, 255] (range "
                          f"[{lo:g}, {hi:g}]); scale them to 8 bits yourself, a cast would wrap or clip them")
    if hi == 1 and np.isin(pixels, (0, 1)).all():
        raise WinnowError(f"{path}: {key} has {'float' if kind == 'f' else pixels.dtype} pixels that are all 0 or 1: "
                          "[0, 1] (black and white: multiply by 255) or [0, 255] (black)? store them as uint8")
    if kind in "iu":
        return pixels.astype(np.uint8)
    if 1 < hi < 2:
        raise WinnowError(f"{path}: {key} has float pixels up to {hi:g}, just above 1: [0, 1] values that overshoot, "
                          "or a nearly black [0, 255] image? clip to [0, 1] or store uint8")
    if hi > 1:  # read as [0, 255]: an image of fractions within [0, 1] is one of another scale, joined in
        flat = pixels.reshape(len(pixels), -1)
        other = (flat.max(axis=1) <= 1) & ((flat > 0) & (flat < 1)).any(axis=1)
        if other.any():
            first = int(np.flatnonzero(other)[0])
            raise WinnowError(f"{path}: {key} mixes scales: its pixels reach {hi:g} ([0, 255]), but {int(other.sum())} "
                              f"image(s) hold fractions within [0, 1] (first: image {first}), which [0, 255] would store "
                              "black; scale every image alike")
    scale = 255.0 if hi <= 1 else 1.0
    return np.rint(pixels.astype(np.float32, copy=False) * np.float32(scale)).astype(np.uint8)
