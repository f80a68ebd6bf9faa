"""How the per-image passes (quality scores, pHash, dedup's thumbnails) cut a uint8 ``(N, H, W, C)`` array
into batches, and the check of that array they share; its own module so that :mod:`winnow.quality` and
:mod:`winnow.phash` both lean on it without importing each other."""

from __future__ import annotations

import numpy as np

from winnow.errors import WinnowError

# pixels scored or hashed at a time, a chunk per thread: each float32 temporary of such a chunk (256 images
# of 32x32) stays in the CPU's caches, which scoring 1,024 such images at once does not (a third slower)
CHUNK_PIXELS = 256 * 32 * 32


def batch_rows(images: np.ndarray, batch_size: int, *, pixels: int) -> int:
    """Images per batch of uint8 ``(N, H, W, C)`` ``images``: at most ``batch_size`` and at most ``pixels``
    pixels, at least one image."""
    return max(1, min(batch_size, pixels // max(1, images.shape[1] * images.shape[2])))


def check_images(images: np.ndarray) -> None:
    """Raise :class:`WinnowError` in one line unless ``images`` is uint8 ``(N, H, W, C)`` with C 1 or 3."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] not in (1, 3):
        raise WinnowError(
            f"images must be uint8 (N, H, W, C) with C in 1 or 3, got {getattr(images, 'dtype', type(images))} "
            f"{getattr(images, 'shape', '')}"
        )
