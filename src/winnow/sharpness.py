"""The blur score of :mod:`winnow.quality`: the finest detail against the next coarser (:func:`_sharpness`), measured
at each image's original size, which :func:`area_matrix` resamples back to (thumbnails resample with it too)."""

from __future__ import annotations

import math

import numpy as np


# i.i.d. noise's std of the 5-point Laplacian (sqrt(20) sigma) over the rms of its first differences (sqrt(4) sigma)
_WHITE_NOISE_LAPLACIAN_RATIO = math.sqrt(5.0)


def _sharpness(luma: np.ndarray, orig_h: np.ndarray, orig_w: np.ndarray) -> np.ndarray:
    """float ``(B,)`` in [0, 1]: Laplacian std over the gradient's rms, relative to white noise's ratio.

    Images whose original size is smaller than the stored one are first taken back to that size by
    area averaging: upscaling by ingest is not blur in the picture.
    """
    height, width = luma.shape[1:]
    target_h, target_w = np.minimum(orig_h, height), np.minimum(orig_w, width)
    out = np.empty(len(luma))
    at_stored_size = (target_h == height) & (target_w == width)
    out[at_stored_size] = _laplacian_ratio(luma if at_stored_size.all() else luma[at_stored_size])
    smaller = np.stack([target_h, target_w], axis=1)[~at_stored_size]
    for h, w in np.unique(smaller, axis=0):  # one pass per distinct original size, not per image
        rows = np.flatnonzero(~at_stored_size & (target_h == h) & (target_w == w))
        # two matrix products: einsum of the three ran one nested loop (2.1 s a 256x256 image from a 200x200
        # original, against 2 ms), which made a set ingest had upscaled take hours to score
        small = area_matrix(height, h) @ luma[rows] @ area_matrix(width, w).T
        out[rows] = _laplacian_ratio(small)
    return np.clip(out / _WHITE_NOISE_LAPLACIAN_RATIO, 0, 1)


def _laplacian_ratio(luma: np.ndarray) -> np.ndarray:
    """float ``(B,)``: std of the 5-point Laplacian (interior pixels) over the rms of the first differences
    (down and across, every pixel pair): how much of the image's change is in its finest detail. A blur
    takes the Laplacian down faster than the gradient; a smooth picture's slow changes add to neither.

    A flat image has no change to lose, so it scores as sharp (ratio = white noise's) instead of
    blurry; an image too small for two interior pixels does too.
    """
    # one interior pixel (3x3) has a Laplacian but no spread of it: its std of 0 scored every 3x3 image, and every
    # image upscaled from a 3x3 original, as blurry as can be, beside 2x2 images scored sharp
    if len(luma) == 0 or luma.shape[1] < 3 or luma.shape[2] < 3 or (luma.shape[1] - 2) * (luma.shape[2] - 2) < 2:
        return np.full(len(luma), _WHITE_NOISE_LAPLACIAN_RATIO)
    laplacian = luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1]  # summed in place, in the order of up + down + left + right
    laplacian += luma[:, 1:-1, :-2]
    laplacian += luma[:, 1:-1, 2:]
    laplacian -= 4 * luma[:, 1:-1, 1:-1]
    gradient = np.sqrt(np.square(np.diff(luma, axis=1)).mean(axis=(1, 2))
                       + np.square(np.diff(luma, axis=2)).mean(axis=(1, 2)))
    edges = laplacian.reshape(len(luma), -1).std(axis=1)
    # below a hundredth of a grey level from pixel to pixel the image is flat: nothing there to be blurred
    flat = gradient < 0.01
    return np.where(flat, _WHITE_NOISE_LAPLACIAN_RATIO, edges / np.where(flat, 1.0, gradient))


def area_matrix(in_size: int, out_size: int, *, low: float = 0.0, high: float | None = None) -> np.ndarray:
    """float32 ``(out_size, in_size)``: each output pixel the overlap-weighted mean of the input pixels it covers,
    the output spanning input pixels ``[low, high)`` (default: all of them)."""
    edges = np.linspace(low, in_size if high is None else high, out_size + 1)
    left, right = edges[:-1, None], edges[1:, None]
    pixel = np.arange(in_size)[None, :]
    overlap = np.clip(np.minimum(right, pixel + 1) - np.maximum(left, pixel), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)
