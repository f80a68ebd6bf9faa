"""Grey thumbnails, for checking that two images are copies of one another.

A thumbnail is the image's grey levels averaged over a grid of about ``side`` cells on its shorter edge
(area averaging: each cell the mean of the pixels it covers, fractions of pixels weighted), then made
zero-mean with unit norm. Brightness, contrast and saturation changes are (up to clipping) affine maps
of the grey levels, so a colour-jittered copy correlates with its source at nearly 1 and a different
image does not.

A copy may also be mirrored or cropped. A thumbnail of the centre crop (``crop``: the share of height
and width cut from each side) lands on the same grid as the whole image's, so a copy zoomed in by
about that much correlates with its source's crop thumbnail; the grid is symmetric, so a mirrored
image's thumbnail is the thumbnail with its columns reversed (:func:`mirrored`), at no extra cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np

from winnow.engine import Engine
from winnow.mapped_rows import release_rows, spill_array
from winnow.phash import turned
from winnow.pixel_batches import batch_rows
from winnow.sharpness import area_matrix

# thumbnails take 1 KiB an image and view on the default 16x16 grid: above this they live on disk, so dedup's
# memory stays flat (1.6 million 32x32 images: 3.2 GiB of whole and crop thumbnails)
IN_MEMORY_BYTES = 1 << 30
# pairs of spilled thumbnails are read this many bytes of rows at a time from each side (pair_correlation)
WINDOW_BYTES = 128 << 20
# bytes of one side's gathered thumbnails in a block of pairs (pair_correlation): 16,384 pairs of 16x16 ones. Counted
# in pairs, 8x2048 images (16,384-cell thumbnails: the grid keeps ``side`` cells on the shorter edge) gathered 1 GiB
# a side, and 125 MiB of thumbnails took a 3 GiB peak to correlate
BLOCK_BYTES = 16 << 20


def thumbnail_grid(shape: tuple[int, ...], *, side: int = 16) -> tuple[int, int]:
    """(rows, columns) of the thumbnail of an image of ``shape = (H, W, ...)``: an integer factor
    ``min(H, W) // side`` (at least 1) fewer cells than pixels on each edge."""
    height, width = shape[:2]
    factor = max(1, min(height, width) // side)
    return height // factor, width // factor


def crop_pixels(shape: tuple[int, ...], fraction: float) -> tuple[int, int]:
    """Pixels cut from each side of an image of ``shape = (H, W, ...)`` for a centre crop of ``fraction``:
    rounded, at least one when ``fraction > 0``, and always leaving at least one pixel."""
    if fraction <= 0:
        return 0, 0
    return tuple(min(max(1, round(fraction * size)), (size - 1) // 2) for size in shape[:2])


# pixels of one batch: 4,096 images of 32x32. Counted in images, a batch of 256x256 RGB images held 4 GiB of
# float32 temporaries, and 1024x1024 ones would have needed 64 GiB
BATCH_PIXELS = 4096 * 32 * 32


def thumbnail_features(images: np.ndarray, *, side: int = 16, crop: float = 0.0, batch_size: int = 4096,
                       engine: Engine = Engine()) -> np.ndarray:
    """Standardised grey thumbnails of the images, or of their centre crops.

    Args:
        images: uint8 ``(N, H, W, C)``, C in {1, 3}.
        side: sets the grid, :func:`thumbnail_grid` of the whole image whatever ``crop``.
        crop: share of height and width cut from each side first (:func:`crop_pixels`); 0 = none.
        engine: where the batches run (:class:`winnow.engine.Engine`).

    Returns:
        float32 ``(N, rows * columns)``, each row zero-mean with unit norm (all zeros for a flat image).
    """
    views = {"thumbnail": crop}
    return engine.map(partial(_thumbnail_batch, side=side, views=views), images,
                      batch_size=batch_rows(images, batch_size, pixels=BATCH_PIXELS))["thumbnail"]


FLAT_LEVELS = 1e-3  # a thumbnail's rms spread, in grey levels, at or below which the image reads as flat


def _thumbnail_batch(batch: np.ndarray, *, side: int, views: dict[str, float]) -> dict[str, np.ndarray]:
    """``{name: float32 (B, D)}``: :func:`thumbnail_features` of uint8 ``(B, H, W, C)`` for each ``{name:
    crop share}`` of ``views``."""
    height, width, channels = batch.shape[1:]
    rows, columns = thumbnail_grid(batch.shape[1:], side=side)
    weights = np.array([0.2989, 0.587, 0.114], np.float32) if channels == 3 else np.ones(1, np.float32)
    gray = batch.astype(np.float32) @ weights
    out = {}
    for name, crop in views.items():
        cut_h, cut_w = crop_pixels(batch.shape[1:], crop)
        down = area_matrix(height, rows, low=cut_h, high=height - cut_h)
        across = area_matrix(width, columns, low=cut_w, high=width - cut_w)
        thumbs = (down @ gray @ across.T).reshape(len(gray), -1)
        thumbs -= thumbs.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(thumbs, axis=1, keepdims=True)
        # flat below a thousandth of a grey level (rms over the cells): float32 rounding leaves about 1e-5 of noise
        # in a flat image's thumbnail, which unit length made a random pattern, and solid images of different
        # colours correlated 1 (a train image of grey 137 dropped as a copy of a test image of white)
        flat = norms <= FLAT_LEVELS * np.sqrt(thumbs.shape[1])
        out[name] = np.divide(thumbs, norms, out=np.zeros_like(thumbs), where=~flat)
    return out


def flat_images(images: np.ndarray, *, side: int = 16, batch_size: int = 4096, engine: Engine = Engine()) -> np.ndarray:
    """bool ``(N,)``: which uint8 ``(N, H, W, C)`` images are flat (their :func:`thumbnail_features` all zeros):
    every flat image has the same pHash give or take a bit and correlates 0 with everything, so only its digest
    can tell a copy of it. ``engine``: where the batches run."""
    return engine.map(partial(_flat_batch, side=side), images,
                      batch_size=batch_rows(images, batch_size, pixels=BATCH_PIXELS))["flat"]


def _flat_batch(batch: np.ndarray, *, side: int) -> dict[str, np.ndarray]:
    """``{"flat": bool (B,)}``: :func:`flat_images` of uint8 ``(B, H, W, C)``."""
    return {"flat": ~_thumbnail_batch(batch, side=side, views={"whole": 0.0})["whole"].any(axis=1)}


def mirrored(features: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The thumbnails of the left-right mirrored images: ``features`` ``(N, rows * columns)`` with each
    thumbnail's columns reversed (a view)."""
    rows, columns = grid
    return features.reshape(len(features), rows, columns)[:, :, ::-1].reshape(len(features), -1)


def pair_correlation(features: np.ndarray, pairs: np.ndarray, *, other: np.ndarray | None = None,
                     mirror: tuple[int, int] | None = None, turn: tuple[tuple[int, int], str] | None = None,
                     block: int = 1 << 14) -> np.ndarray:
    """float32 ``(P,)``: the correlation of row ``i`` of ``features`` with row ``j`` of ``other`` (default
    ``features``) for each ``(i, j)`` of int ``(P, 2)`` ``pairs``; with ``mirror`` (the thumbnails' grid),
    of row ``i`` mirrored (:func:`mirrored`); with ``turn`` (the grid, a :data:`winnow.phash.TURNS` name), turned.
    The rows are gathered ``block`` pairs at a time, fewer where
    their thumbnails would take more than :data:`BLOCK_BYTES` a side (long thumbnails of wide images): a
    block holds two float32 ``(block, D)`` copies (16 MiB each for 16x16 thumbnails); mirroring only the
    gathered rows never copies all N thumbnails. Each pair's correlation is its own, whatever the blocks.

    From spilled thumbnails (:meth:`Looks.of`) the pairs go window by window (:func:`_window_groups`) and
    each window's pages leave this process when its pairs are done, so at most two windows are mapped in:
    on Linux a read maps the whole page-cache folio around it (up to 2 MiB on ext4), and one block of
    random pairs used to map the whole file (1.6 GiB at 1.6 million images)."""
    other = features if other is None else other
    block = max(1, min(block, BLOCK_BYTES // max(1, features[:1].nbytes)))
    out = np.empty(len(pairs), np.float32)
    for group, windows in _window_groups(pairs, features, other):
        out[group] = _block_correlation(features, other, pairs[group], mirror=mirror, turn=turn, block=block)
        for array, (first, stop) in windows:  # spilled: back to the page cache
            release_rows(array, first, stop)
    return out


def _block_correlation(features: np.ndarray, other: np.ndarray, pairs: np.ndarray, *,
                       mirror: tuple[int, int] | None, block: int,
                       turn: tuple[tuple[int, int], str] | None = None) -> np.ndarray:
    """float32 ``(P,)``: :func:`pair_correlation` of int ``(P, 2)`` ``pairs``, ``block`` pairs at a time."""
    out = np.empty(len(pairs), np.float32)
    for start in range(0, len(pairs), block):
        chunk = pairs[start:start + block]
        if len(chunk) == 1:  # numpy's einsum sums a lone row past 8,192 cells in another order than rows of a block
            chunk = np.repeat(chunk, 2, axis=0)
        left = features[chunk[:, 0]]
        if turn is not None:
            left = turned(left.reshape(len(left), *turn[0]), turn[1]).reshape(len(left), -1)
        found = np.einsum("ij,ij->i", left if mirror is None else mirrored(left, mirror), other[chunk[:, 1]])
        out[start:start + block] = found[:min(block, len(pairs) - start)]
    return out


def _window_groups(pairs: np.ndarray, features: np.ndarray, other: np.ndarray
                   ) -> Iterator[tuple[slice | np.ndarray, list[tuple[np.ndarray, tuple[int, int]]]]]:
    """The rows of ``pairs`` in the order :func:`pair_correlation` reads them, a group at a time (an index:
    a slice or int rows), each with the ``(array, (first, stop))`` row windows to release after it.

    In memory: one group, every pair in order (a slice: no copy), nothing to release. Spilled (either
    array a memory map): the pairs grouped by the :data:`WINDOW_BYTES` window of ``features`` holding
    ``i`` and of ``other`` holding ``j``, windows of ``features`` in order. The window of ``other`` is
    released after each group, that of ``features`` after its last group: each is read once per group or
    once (a refault from the page cache, not the disk), and two are mapped in at a time."""
    if not (isinstance(features, np.memmap) or isinstance(other, np.memmap)):
        yield slice(None), []
        return
    window = max(1, WINDOW_BYTES // max(1, features[:1].nbytes))
    tiles = np.asarray(pairs, np.int64) // window
    count = -(-len(features) // window)
    # a stable sort of small integers is a radix sort in numpy: linear in the number of pairs
    key = (tiles[:, 0] * count + tiles[:, 1]).astype(np.uint16 if count * count <= 1 << 16 else np.int64)
    order = np.argsort(key, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(key[order])) + 1) if len(order) else []
    lefts = [int(tiles[group[0], 0]) for group in groups] + [-1]
    for k, group in enumerate(groups):
        done = [(other, int(tiles[group[0], 1]))] + ([(features, lefts[k])] if lefts[k + 1] != lefts[k] else [])
        yield group, [(array, (tile * window, (tile + 1) * window)) for array, tile in done]


@dataclass(frozen=True)
class Looks:
    """Every image's thumbnail, whole and of its centre crop, on one grid, and which views count.

    Attributes:
        whole: float32 ``(N, D)`` from :func:`thumbnail_features`.
        crop: float32 ``(N, D)`` of the centre crops, or None when crops are not compared.
        grid: the thumbnails' (rows, columns).
        flip: mirrored views are compared too.
    """

    whole: np.ndarray
    crop: np.ndarray | None
    grid: tuple[int, int]
    flip: bool

    @classmethod
    def of(cls, images: np.ndarray, *, flip: bool = False, crop: float | None = None, side: int = 16,
           batch_size: int = 4096, engine: Engine = Engine()) -> Looks:
        """The looks of uint8 ``(N, H, W, C)`` images, in one pass; ``crop``: see :func:`thumbnail_features`
        (None: off); ``engine``: where the batches run. Thumbnails of more than :data:`IN_MEMORY_BYTES` go
        to a temporary file (:func:`winnow.mapped_rows.spill_array`), read a block of pairs at a time."""
        views = {"whole": 0.0, "crop": crop} if crop else {"whole": 0.0}
        grid = thumbnail_grid(images.shape[1:], side=side)
        spill = len(images) * len(views) * grid[0] * grid[1] * 4 > IN_MEMORY_BYTES
        found = engine.map(partial(_thumbnail_batch, side=side, views=views), images,
                           batch_size=batch_rows(images, batch_size, pixels=BATCH_PIXELS),
                           allocate=spill_array if spill else np.empty)
        return cls(whole=found["whole"], crop=found.get("crop"), grid=grid, flip=flip)

    def flat(self) -> np.ndarray:
        """bool ``(N,)``: :func:`flat_images` read off the whole thumbnails (all zeros), without making them again;
        spilled ones are read :data:`BLOCK_BYTES` at a time, each block's pages let go after it."""
        out = np.empty(len(self.whole), bool)
        step = max(1, BLOCK_BYTES // max(1, self.whole[:1].nbytes))
        for start in range(0, len(self.whole), step):
            out[start:start + step] = ~self.whole[start:start + step].any(axis=1)
            release_rows(self.whole, start, start + step)
        return out

    def views(self) -> list[tuple[np.ndarray, tuple[int, int] | None]]:
        """The mirrored images, the crops and the mirrored crops, those on: each as float32 ``(N, D)``
        thumbnails and the grid to mirror them by (None: as they are), mirrored rows made only when read."""
        crops = [] if self.crop is None else [self.crop]
        return [(t, self.grid) for t in [self.whole, *crops] if self.flip] + [(t, None) for t in crops]

    def correlation(self, pairs: np.ndarray, *, whole: bool) -> np.ndarray:
        """float32 ``(P,)``: for each ``(i, j)`` of int ``(P, 2)`` ``pairs``, the best correlation of a view of
        one image (:meth:`views`) with the whole other one, and of the two whole images when ``whole``."""
        best = pair_correlation(self.whole, pairs) if whole else np.full(len(pairs), -np.inf, np.float32)
        for view, mirror in self.views():
            for ordered in (pairs, pairs[:, ::-1]):
                best = np.maximum(best, pair_correlation(view, ordered, other=self.whole, mirror=mirror))
        return best


@dataclass(frozen=True)
class TurnedLooks:
    """The whole thumbnails of :class:`Looks` compared turned (dedup.orientations: any), as
    :func:`winnow.copies.flip_crop_pairs` confirms a candidate by :meth:`correlation`.

    Attributes:
        whole: float32 ``(N, D)``, :attr:`Looks.whole`; grid: its (rows, columns).
        turns: the :data:`winnow.phash.TURNS` compared (closed under inverse, so one image turned suffices).
    """

    whole: np.ndarray
    grid: tuple[int, int]
    turns: tuple[str, ...]

    def correlation(self, pairs: np.ndarray, *, whole: bool = False) -> np.ndarray:
        """float32 ``(P,)``: the best correlation of image ``i`` turned by one of :attr:`turns` with the whole image
        ``j``, for each ``(i, j)`` of int ``(P, 2)`` ``pairs`` (``whole``: and of the two upright)."""
        best = pair_correlation(self.whole, pairs) if whole else np.full(len(pairs), -np.inf, np.float32)
        for turn in self.turns:
            best = np.maximum(best, pair_correlation(self.whole, pairs, turn=(self.grid, turn)))
        return best
