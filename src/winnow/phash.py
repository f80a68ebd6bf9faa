"""The 64-bit perceptual hash, bit-identical to ``imagehash.phash``: Pillow's grey conversion and LANCZOS resize
reproduced in fixed point on whole batches, and only the 8x8 DCT coefficients the hash reads. dedup links near
copies by it; the score stage computes it in the same pass as the quality scores (:mod:`winnow.quality`)."""

from __future__ import annotations

import math
from functools import lru_cache, partial

import numpy as np

from winnow.engine import Engine
from winnow.pixel_batches import CHUNK_PIXELS, batch_rows, check_images

_PHASH_SIZE = 32


def phash64(images: np.ndarray, *, batch_size: int = 4096, engine: Engine = Engine()) -> np.ndarray:
    """64-bit perceptual hashes, bit-identical to ``int(str(imagehash.phash(Image.fromarray(img))), 16)``.

    As imagehash: Pillow's 'L' conversion, Pillow's LANCZOS resize to 32x32 (its two passes in the order the
    installed Pillow runs them, :func:`_pillow_vertical_first`), 2-D DCT-II (scipy.fftpack,
    rows first), the top-left 8x8 coefficients compared with their median, bits read row by row with
    the first as the most significant. The conversion and the resize reproduce Pillow's fixed-point
    arithmetic on whole batches.

    Only the 8x8 coefficients are computed, by two matrix products, not the whole 32x32 transform. Their
    rounding differs from scipy's FFT by about 1e-15 of the DC coefficient (which bounds every coefficient;
    at most 64 roundings of terms it bounds, ~1e-14); a bit could flip only where the two middle
    coefficients lie that close, so images whose middle gap is below 1e-9 of it (ties: flat images,
    mirror-symmetric ones) are hashed with scipy's own transform.

    Args:
        images: uint8 ``(N, H, W, C)`` with C in {1, 3}, or ``(N, H, W)``.
        engine: where the batches run (:class:`winnow.engine.Engine`).

    Returns:
        uint64 ``(N,)``.
    """
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = images[..., None]
    check_images(images)
    step = batch_rows(images, batch_size, pixels=CHUNK_PIXELS)
    return engine.map(_phash_rows, images, batch_size=step, threads=True)["phash"]


def _phash_rows(batch: np.ndarray) -> dict[str, np.ndarray]:
    return {"phash": phash_batch(batch)}


def phash_batch(batch: np.ndarray) -> np.ndarray:
    """uint64 ``(B,)``: :func:`phash64` of uint8 ``(B, H, W, C)``."""
    height, width = batch.shape[1:3]
    gray = _pillow_resize(_pillow_gray(batch), vertical_first=_pillow_vertical_first(height, width))
    dct = _low_dct(gray)
    middle = np.partition(dct, (31, 32), axis=1)
    near_tie = middle[:, 32] - middle[:, 31] <= _PHASH_TIE * (1.0 + np.abs(dct[:, 0]))
    # np.median of 64 values: the mean of the two middle ones of the same partition, (a + b) / 2, bit for bit; read off
    # the partition made for the ties, not by a second one (#20)
    median = (middle[:, 31] + middle[:, 32]) / 2
    if near_tie.any():
        from scipy import fftpack

        exact = fftpack.dct(fftpack.dct(gray[near_tie].astype(np.uint8), axis=1), axis=2)
        dct[near_tie] = exact[:, :8, :8].reshape(-1, 64)
        median[near_tie] = np.median(dct[near_tie], axis=1)
    bits = dct > median[:, None]
    return np.packbits(bits, axis=1).view(">u8")[:, 0].astype(np.uint64)


_PHASH_TIE = 1e-9  # relative gap of the middle coefficients below which scipy's transform decides (phash64)


def _pillow_resize(gray: np.ndarray, *, vertical_first: bool) -> np.ndarray:
    """Integer ``(B, H, W)`` resized to ``(B, 32, 32)`` as Pillow's LANCZOS resize does: a horizontal and a
    vertical pass, in the order given, each rounding and clipping to 8 bits (a pass is skipped where the
    size is already 32)."""
    height, width = gray.shape[1:3]

    def across(values: np.ndarray) -> np.ndarray:
        if width == _PHASH_SIZE:
            return values
        return _fixed_point_pass(values, _pillow_lanczos_matrix(width, _PHASH_SIZE))

    def down(values: np.ndarray) -> np.ndarray:
        if height == _PHASH_SIZE:
            return values
        matrix = _pillow_lanczos_matrix(height, _PHASH_SIZE)
        return _fixed_point_pass(values.transpose(0, 2, 1), matrix).transpose(0, 2, 1)

    return across(down(gray)) if vertical_first else down(across(gray))


@lru_cache(maxsize=256)  # once per image shape and process
def _pillow_vertical_first(height: int, width: int) -> bool:
    """Whether the installed Pillow resizes a ``height x width`` grey image to 32x32 vertical pass first.

    Pillow up to 12 always ran the horizontal pass first; Pillow 13 runs the vertical one first for tall
    images (height above 32 and width below about ``(height + 32) / 2``: 200x7, 40x20, 33x31), and the
    rounding after each pass makes the order show in the hash: 17 of 20 random 200x7 images hashed apart
    from ``imagehash.phash`` when this always went horizontal first. The order is read off the installed
    Pillow itself, by resizing one noise image of the shape both ways; horizontal first where the two
    orders agree on it (or neither matches)."""
    if height == _PHASH_SIZE or width == _PHASH_SIZE:
        return False  # one pass only
    from PIL import Image

    probe = np.random.default_rng([height, width]).integers(0, 256, (height, width), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(probe).resize((_PHASH_SIZE, _PHASH_SIZE), Image.Resampling.LANCZOS))
    gray = probe[None].astype(np.float32)
    vertical = np.array_equal(_pillow_resize(gray, vertical_first=True)[0], expected)
    return vertical and not np.array_equal(_pillow_resize(gray, vertical_first=False)[0], expected)


def _low_dct(gray: np.ndarray) -> np.ndarray:
    """float64 ``(B, 64)``: the top-left 8x8 of scipy.fftpack's unnormalised 2-D DCT-II of ``(B, 32, 32)``,
    row by row."""
    # one small product per image: a single tall one would be split over BLAS threads, which on shared
    # cores costs several times its work
    return (_DCT_BASIS @ gray.astype(np.float64) @ _DCT_BASIS.T).reshape(len(gray), 64)


# the first 8 rows of the unnormalised DCT-II matrix: 2 cos(pi k (2n + 1) / 2N)
_DCT_BASIS = 2.0 * np.cos(np.pi * np.arange(8)[:, None] * (2 * np.arange(_PHASH_SIZE) + 1) / (2 * _PHASH_SIZE))


def _pillow_gray(batch: np.ndarray) -> np.ndarray:
    """``(B, H, W)`` integers in float32: Pillow's RGB→L, ``(19595 R + 38470 G + 7471 B + 2**15) >> 16``.

    The weights sum to 2**16, so every product and partial sum is an integer below 2**24, which float32
    holds exactly whatever order the matrix product adds in; dividing by 2**16 is exact too."""
    if batch.shape[3] == 1:
        return batch[..., 0].astype(np.float32)
    gray = batch.astype(np.float32) @ _PILLOW_GRAY_WEIGHTS
    gray += 0x8000
    gray /= 0x10000
    return np.floor(gray, out=gray)


_PILLOW_GRAY_WEIGHTS = np.array([19595, 38470, 7471], dtype=np.float32)
_PILLOW_PRECISION_BITS = 32 - 8 - 2


def _fixed_point_pass(gray: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Resample the last axis of integer ``(B, H, W)`` by Pillow's int ``(out, W)`` weights, as Pillow rounds."""
    # float64 holds these integer sums exactly (< 2**40), and its matmul is BLAS-fast where int64's is not
    acc = (gray.astype(np.float64) @ matrix.T.astype(np.float64)).astype(np.int64) + (1 << (_PILLOW_PRECISION_BITS - 1))
    return np.clip(acc >> _PILLOW_PRECISION_BITS, 0, 255)


@lru_cache(maxsize=16)  # once per size pair and process, whatever the number of batches
def _pillow_lanczos_matrix(in_size: int, out_size: int) -> np.ndarray:
    """int64 ``(out_size, in_size)``: Pillow's fixed-point LANCZOS weights (``precompute_coeffs``).

    Computed with ``math.sin`` in the same order as Pillow's C code, so the rounding to fixed point
    lands on the same integers.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 3.0 * filter_scale

    def lanczos(x: float) -> float:
        if not -3.0 <= x < 3.0:
            return 0.0
        return _sinc(x) * _sinc(x / 3.0)

    matrix = np.zeros((out_size, in_size), np.int64)
    for out in range(out_size):  # out_size weights rows, once per size pair: not on the hot path
        center = (out + 0.5) * scale
        low = max(int(center - support + 0.5), 0)
        high = min(int(center + support + 0.5), in_size)
        weights = [lanczos((x - center + 0.5) * (1.0 / filter_scale)) for x in range(low, high)]
        total = sum(weights)
        for x, w in zip(range(low, high), weights):
            w = w / total if total != 0 else w
            matrix[out, x] = int(w * (1 << _PILLOW_PRECISION_BITS) + (0.5 if w >= 0 else -0.5))
    return matrix


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x *= math.pi
    return math.sin(x) / x


# the turns dedup.orientations: any searches, beside the upright image and its left-right mirror (dedup.flip's): each
# as (transposed, rows reversed, columns reversed) of an (H, W) image, applied in that order (rot90 is numpy's)
TURNS = {"upside_down": (False, True, False), "rot180": (False, True, True), "transpose": (True, False, False),
         "rot90": (True, True, False), "rot270": (True, False, True), "antitranspose": (True, True, True)}


def turns_for(height: int, width: int) -> tuple[str, ...]:
    """The :data:`TURNS` an image of ``height`` x ``width`` can be a copy under: a transposed non-square image has
    another shape than every image of its imageset."""
    return tuple(name for name, (transposed, _, _) in TURNS.items() if height == width or not transposed)


def turned(array: np.ndarray, turn: str) -> np.ndarray:
    """``(B, H, W, ...)`` with each image turned by ``turn`` of :data:`TURNS` (a view)."""
    transposed, rows, columns = TURNS[turn]
    out = array.swapaxes(1, 2) if transposed else array
    return out[:, ::-1 if rows else 1, ::-1 if columns else 1]


def turned_phashes(images: np.ndarray, *, turns: tuple[str, ...], batch_size: int = 4096,
                   engine: Engine = Engine()) -> np.ndarray:
    """uint64 ``(len(turns), N)``: the pHash of each image turned by each of ``turns`` (:data:`TURNS`), from one
    transform per image: reversing an axis multiplies DCT coefficient ``k`` along it by ``(-1)^k`` and transposing
    the image transposes its coefficients, so only each view's median and bits are made anew.

    Equal to :func:`phash64` of the turned pixels but where the resize's rounding differs for them (a pass order
    or a mirrored filter's fixed-point weights): a bit or two near a tie. dedup searches within a radius and
    confirms by thumbnails, so those stay copies. ``images``: uint8 ``(N, H, W, C)``."""
    check_images(images)
    if not turns:
        return np.empty((0, len(images)), np.uint64)
    step = batch_rows(images, batch_size, pixels=CHUNK_PIXELS)
    found = engine.map(partial(_turned_rows, turns=turns), images, batch_size=step, threads=True)
    return np.stack([found[turn] for turn in turns])


def _turned_rows(batch: np.ndarray, *, turns: tuple[str, ...]) -> dict[str, np.ndarray]:
    height, width = batch.shape[1:3]
    gray = _pillow_resize(_pillow_gray(batch), vertical_first=_pillow_vertical_first(height, width))
    dct = _low_dct(gray)
    # before: a coefficient that is 0 but for float rounding (~1e-14: half a gradient's or stripes' spectrum) kept its
    # rounding's sign, which the turn's (-1)^k flips, so those bits were noise: a gradient and its transpose, or
    # stripes turned 90 degrees, hashed 28-31 bits apart and their turned copies went unfound. Such coefficients are
    # 0 here (phash64's tie scale), on the same side of a median among them as every other such one
    dct[np.abs(dct) <= _PHASH_TIE * (1.0 + np.abs(dct[:, :1]))] = 0.0
    dct = dct.reshape(-1, 8, 8)
    out = {}
    for turn in turns:
        transposed, rows, columns = TURNS[turn]
        view = (dct.transpose(0, 2, 1) if transposed else dct) * np.outer(_SIGNS[rows], _SIGNS[columns])
        flat = view.reshape(-1, 64)
        bits = flat > np.median(flat, axis=1)[:, None]
        out[turn] = np.packbits(bits, axis=1).view(">u8")[:, 0].astype(np.uint64)
    return out


_SIGNS = {False: np.ones(8), True: (-1.0) ** np.arange(8)}  # DCT coefficient k of a reversed axis: times (-1)^k
