"""Per-image quality scores and the 64-bit perceptual hash.

Every score lies in [0, 1] and lower means more likely a problem, as in CleanVision, whose scores
these start from; each departs from it where CleanVision is known to go wrong:

================= ==========================================================================
score             definition (``b`` = HSP brightness ``sqrt(.241 R² + .691 G² + .068 B²) / 255``)
================= ==========================================================================
dark              99th percentile of ``b`` (as CleanVision)
light             ``1 - (clipped + p) / 2``: ``clipped`` the share of pixels with a channel at 255
                  (blown highlights), ``p`` the ``light_percentile``-th percentile of ``b``.
                  CleanVision uses ``1 -`` the 5th percentile, which an overexposed image still
                  holding a few dark pixels passes
blurry            high-frequency share of the luminance: ``std(Laplacian) / (sqrt(20) std(Y))``,
                  measured at the image's original resolution; ``sqrt(20)`` is white noise's ratio.
                  Dividing by the contrast keeps flat, dark and low-contrast images from looking
                  blurry (CleanVision's edge variance calls a flat image blurry), and measuring at
                  the original size keeps an upscaled small image from looking blurry
low_information   the share of pixels off the image's most common exact brightness (``b``): 0 for
                  one flat colour, about 0.4 for a 20x20 picture on a 32x32 flat canvas (padding,
                  a placeholder, a file decoded only in part). CleanVision's 8-bit entropy also
                  falls when brightness is only scaled; an entropy over levels stretched to the
                  image's own range (winnow until stop 48) does not, but it scored that canvas
                  0.58 where 1% of clean CIFAR images score less, so a few such images went
                  unflagged (benchmarks/results/quality_detection.md)
grayscale         mean over pixels of ``(max(R,G,B) - min(R,G,B)) / 255``: 0 for equal channels
                  even in an RGB file (CleanVision only looks at the file's mode)
odd_size          IQR fences on ``log sqrt(h w)`` of the original size; 0.5 at a fence
odd_aspect_ratio  the same fences on ``log(w / h)``, so a set of panoramas is not odd
================= ==========================================================================

Scores are computed batch by batch from a (memory-mapped) uint8 ``(N, H, W, C)`` array with numpy
operations over whole batches; nothing loops over images except the blur score's resampling, which
loops over the distinct original sizes smaller than the stored one. Each image's scores depend on its
own pixels only, so the batches may run anywhere (:class:`winnow.engine.Engine`: here, or Ray tasks).
"""

from __future__ import annotations

import math
from functools import lru_cache, partial

import numpy as np
import pandas as pd

from winnow.engine import Engine
from winnow.errors import WinnowError
from winnow.stage import read_table, rerun_error
from winnow.thresholds import cut_issues

SCORES = ("dark", "light", "blurry", "low_information", "grayscale", "odd_size", "odd_aspect_ratio")
# where a score's own definition already says "a problem": the IQR fence, equal channels within rounding
REFERENCE_THRESHOLDS = {"odd_size": 0.5, "odd_aspect_ratio": 0.5, "grayscale": 1.0 / 255}
# the bottom of a score's range, within float32 rounding, is a problem whatever the other images score:
# all pixels black (dark), all clipped white (light), one grey level (low_information)
FLOORS = {"dark": 1e-6, "light": 1e-6, "low_information": 1e-6}
# clipped or crushed brightness lowers entropy by itself: a light or dark image is not also low-information
EXPLAINED_BY = {"low_information": ("dark", "light")}

_HSP_WEIGHTS = np.array([0.241, 0.691, 0.068], dtype=np.float32)
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_WHITE_NOISE_LAPLACIAN_RATIO = math.sqrt(20.0)  # std of the 5-point Laplacian of i.i.d. noise / its std
_PHASH_SIZE = 32
# pixels scored or hashed at a time, a chunk per thread: each float32 temporary of such a chunk (256 images
# of 32x32) stays in the CPU's caches, which scoring 1,024 such images at once does not (a third slower)
_CHUNK_PIXELS = 256 * 32 * 32


def batch_rows(images: np.ndarray, batch_size: int, *, pixels: int) -> int:
    """Images per batch of uint8 ``(N, H, W, C)`` ``images``: at most ``batch_size`` and at most ``pixels``
    pixels, at least one image."""
    return max(1, min(batch_size, pixels // max(1, images.shape[1] * images.shape[2])))


def _check_images(images: np.ndarray) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] not in (1, 3):
        raise WinnowError(
            f"images must be uint8 (N, H, W, C) with C in 1 or 3, got {getattr(images, 'dtype', type(images))} "
            f"{getattr(images, 'shape', '')}"
        )


def score_images(
    images: np.ndarray,
    *,
    orig_h: np.ndarray | None = None,
    orig_w: np.ndarray | None = None,
    light_percentile: float = 75.0,
    dark_percentile: float = 99.0,
    iqr_factor: float = 3.0,
    min_relative_spread: float = 0.1,
    batch_size: int = 1024,
    engine: Engine = Engine(),
    phash: bool = False,
) -> dict[str, np.ndarray]:
    """The seven quality scores of every image.

    Args:
        images: uint8 ``(N, H, W, C)``, C in {1, 3}; read at most ``batch_size`` images at a time, so
            a memory map is never loaded whole (fewer where a batch would outgrow the CPU caches).
        orig_h, orig_w: int ``(N,)`` original sizes before ingest resized the images; default the
            stored size.
        light_percentile, dark_percentile: brightness percentiles (0–100) for light and dark.
        iqr_factor: the odd-size and odd-aspect fences sit ``iqr_factor`` IQRs outside the quartiles.
        min_relative_spread: the IQR of log size / log aspect counts as at least ``log(1 +
            min_relative_spread)``, so a set of equal sizes does not call a 1-pixel difference odd.
        engine: where the batches run (:class:`winnow.engine.Engine`; the same numbers either way).
        phash: also ``phash``, uint64 ``(N,)`` (:func:`phash64`), from the same pass over the images.

    Returns:
        ``{score name: float32 (N,)}`` for each name in :data:`SCORES`.
    """
    _check_images(images)
    n, height, width = images.shape[:3]
    orig_h = np.full(n, height) if orig_h is None else np.asarray(orig_h, dtype=np.int64)
    orig_w = np.full(n, width) if orig_w is None else np.asarray(orig_w, dtype=np.int64)
    if orig_h.shape != (n,) or orig_w.shape != (n,) or (orig_h < 1).any() or (orig_w < 1).any():
        raise WinnowError(f"orig_h and orig_w must be {n} positive sizes, one per image")
    if not (0 <= light_percentile <= 100 and 0 <= dark_percentile <= 100):
        raise WinnowError("score.light_percentile and score.dark_percentile must lie in [0, 100]")
    step = batch_rows(images, batch_size, pixels=_CHUNK_PIXELS)  # chunks that stay in the CPU caches
    pixel_scores = engine.map(partial(_score_batch, light_percentile=light_percentile, dark_percentile=dark_percentile,
                                      phash=phash), images, batch_size=step, threads=True, orig_h=orig_h, orig_w=orig_w)
    spread = math.log1p(min_relative_spread)
    log_size = 0.5 * (np.log(orig_h) + np.log(orig_w))
    pixel_scores["odd_size"] = fence_scores(log_size, iqr_factor=iqr_factor, min_iqr=spread)
    pixel_scores["odd_aspect_ratio"] = fence_scores(np.log(orig_w / orig_h), iqr_factor=iqr_factor, min_iqr=spread)
    return pixel_scores


def score_table(images: np.ndarray, manifest: pd.DataFrame, *, batch_size: int = 1024, engine: Engine = Engine(),
                **options) -> pd.DataFrame:
    """The score stage's table, rows in ``manifest`` order: ``id``, the :data:`SCORES`, ``digest`` and
    ``phash`` (uint64).

    Args:
        images: uint8 ``(N, H, W, C)``.
        manifest: the imageset manifest (``id``, ``digest``, ``orig_h``, ``orig_w``), ``N`` rows.
        engine: where the batches run (params.yaml ``compute``).
        options: the percentiles and fences of :func:`score_images` (``params.yaml`` ``score:``).
    """
    scores = score_images(images, orig_h=manifest["orig_h"].to_numpy(), orig_w=manifest["orig_w"].to_numpy(),
                          batch_size=batch_size, engine=engine, phash=True, **options)
    return pd.DataFrame({"id": manifest["id"].to_numpy(), **{name: scores[name] for name in SCORES},
                         "digest": manifest["digest"].to_numpy(), "phash": scores["phash"]})


def read_scores(path, *, imageset: str, ids, columns=(), digests=None) -> pd.DataFrame:
    """The score stage's table at ``path``, checked before a stage uses it: one row for each image of the
    imageset folder ``imageset`` (its ``ids``) and no other (:func:`winnow.stage.read_table` ``rows_of``),
    and every score of :data:`SCORES` a number in [0, 1], the range each score's definition gives it.
    ``columns``: further columns needed (``phash``). ``digests``: the imageset's pixel digests, one per id
    of ``ids`` in their order; each row's ``digest`` (the score stage writes one) must be its image's.

    Raises:
        WinnowError: one line naming the file and the score stage: a repeated, missing or unknown id, a
            row scored from other pixels than its image now holds (a table the score stage wrote before the
            images changed under the same ids), a missing score (NaN: below no cut, the image would pass
            unexamined) or one outside [0, 1] (an infinity or a foreign number, flagged or passed by a cut it
            was never meant for).
    """
    table = read_table(path, written_by="score", columns=("id", *SCORES, *columns), rows_of=(imageset, ids))
    if digests is not None and "digest" in table.columns:  # a table made by hand may leave it out
        # the ids alone say nothing of the pixels: degrade rerun with other damage keeps every id, and scores of
        # the old pixels passed black images unflagged with exit 0
        now = pd.Series(np.asarray(digests, dtype=object), index=pd.Index(ids)).reindex(table["id"]).to_numpy()
        stale = np.flatnonzero(table["digest"].to_numpy(dtype=object) != now)
        if len(stale):
            raise rerun_error(path, f"{len(stale)} image(s) scored from other pixels than {imageset} now holds "
                                    f"(digest differs), first {table['id'].iloc[stale[0]]!r}", written_by="score")
    odd = [issue for issue in SCORES
           if not pd.api.types.is_numeric_dtype(table[issue]) or pd.api.types.is_bool_dtype(table[issue])]
    if odd:
        raise rerun_error(path, f"column {odd[0]} holds {table[odd[0]].dtype}, not scores", written_by="score")
    values = table[list(SCORES)].to_numpy(np.float64, na_value=np.nan)  # pd.NA of a nullable column too
    unscored = np.isnan(values).sum(axis=0)
    if unscored.any():
        raise rerun_error(path, "no score (NaN) for " + ", ".join(f"{n} images in {issue}" for issue, n
                                                                   in zip(SCORES, unscored) if n), written_by="score")
    outside = ~((values >= 0) & (values <= 1))
    if outside.any():
        shown = []
        for column in np.flatnonzero(outside.any(axis=0)):
            rows = np.flatnonzero(outside[:, column])
            shown.append(f"{len(rows)} images in {SCORES[column]} (first {table['id'].iloc[rows[0]]!r}: "
                         f"{values[rows[0], column]:g})")
        raise rerun_error(path, "scores outside [0, 1] for " + ", ".join(shown), written_by="score")
    return table


def quality_flags(table: pd.DataFrame, settings: dict[str, dict], *, bins: int = 256, max_flagged_fraction: float = 0.5,
                  cut_on: np.ndarray | None = None) -> tuple[pd.DataFrame, dict[str, float], dict[str, str]]:
    """The threshold stage's flags from a :func:`score_table`.

    Args:
        table: ``id`` and the :data:`SCORES` columns (float).
        settings: ``{issue: {"method": ..., **options}}`` (``params.yaml`` ``threshold.issues``); an issue
            left out is thresholded with ``auto``.
        cut_on: bool ``(len(table),)``: the rows whose scores choose the cuts (default all); every row is
            flagged by them.

    Returns:
        ``(flags, cuts, rules)``: a DataFrame of ``id``, one bool column per issue and ``any``; ``{issue:
        threshold}`` (``-inf`` where nothing was flagged); ``{issue: the rule that cut}``
        (:mod:`winnow.thresholds`).
    """
    unknown = set(settings) - set(SCORES)
    if unknown:
        raise WinnowError(f"threshold issues: unknown issue(s) {sorted(unknown)}; known: {', '.join(SCORES)}")
    scores = {issue: table[issue].to_numpy(np.float64) for issue in SCORES}
    try:
        flags, cuts, rules = cut_issues(scores, {issue: settings.get(issue) or {"method": "auto"} for issue in SCORES},
                                        explained_by=EXPLAINED_BY, reference=REFERENCE_THRESHOLDS, floors=FLOORS,
                                        bins=bins, max_flagged_fraction=max_flagged_fraction, cut_on=cut_on)
    except WinnowError as err:  # "<issue>: <what is wrong with its options>": name the setting that holds them
        raise WinnowError(f"params.yaml: threshold.issues.{err}") from None
    out = pd.DataFrame({"id": table["id"].to_numpy(), **flags})
    out["any"] = out[list(SCORES)].any(axis=1)
    return out, cuts, rules


def fence_scores(values: np.ndarray, *, iqr_factor: float, min_iqr: float) -> np.ndarray:
    """float32 ``(N,)``: 1 at the middle of the IQR fences, 0.5 at a fence, decaying towards 0 beyond.

    Inside, the score falls linearly with the distance from the middle (as CleanVision's size score);
    beyond a fence it halves with every further half-width, so far outliers still rank.
    """
    q1, q3 = np.percentile(values, [25, 75])
    half_width = 0.5 * (q3 - q1) + iqr_factor * max(q3 - q1, min_iqr)
    distance = np.abs(values - 0.5 * (q1 + q3)) / half_width
    return np.where(distance <= 1, 1 - 0.5 * distance, 0.5 ** distance).astype(np.float32)


def _score_batch(batch: np.ndarray, *, orig_h: np.ndarray, orig_w: np.ndarray, light_percentile: float,
                 dark_percentile: float, phash: bool) -> dict[str, np.ndarray]:
    """float32 ``(B,)`` per pixel score of uint8 ``(B, H, W, C)`` (and ``phash`` uint64 ``(B,)`` when asked)."""
    scores = _pixel_scores(batch, orig_h, orig_w, light_percentile, dark_percentile)
    out = {name: np.asarray(values).astype(np.float32) for name, values in scores.items()}
    return out | ({"phash": _phash_batch(batch)} if phash else {})


def _pixel_scores(batch, orig_h, orig_w, light_percentile, dark_percentile) -> dict[str, np.ndarray]:
    # temporaries are reused in place (out=): allocating and faulting in fresh arrays costs as much as the arithmetic
    pixels = batch.astype(np.float32)
    if batch.shape[3] == 1:
        hsp = pixels[..., 0] / 255
        luma = pixels[..., 0]
        chroma = np.zeros(len(batch), np.float32)
    else:
        luma = pixels @ _LUMA_WEIGHTS
        hsp = np.square(pixels, out=pixels) @ _HSP_WEIGHTS
        hsp = np.sqrt(hsp, out=hsp)
        hsp /= 255
        # elementwise over the three channel planes: numpy's reductions along a length-3 last axis are slow
        top = np.maximum(np.maximum(batch[..., 0], batch[..., 1]), batch[..., 2])
        chroma = (top - np.minimum(np.minimum(batch[..., 0], batch[..., 1]), batch[..., 2])).mean(axis=(1, 2)) / 255
    # numpy's (vectorised) sort and then the percentile's partition of sorted rows cost half the partition of
    # unsorted rows; the order statistics, and so the percentiles, are the same. hsp is not needed after.
    hsp = hsp.reshape(len(batch), -1)
    hsp.sort(axis=1)
    off_mode = 1 - _largest_equal_share(hsp)
    dark, bright = np.percentile(hsp, [dark_percentile, light_percentile], axis=1, overwrite_input=True)
    clipped = ((batch[..., 0] if batch.shape[3] == 1 else top) == 255).mean(axis=(1, 2))
    return {
        "dark": dark,
        "light": 1 - 0.5 * (clipped + bright),
        "blurry": _sharpness(luma, orig_h, orig_w),
        "low_information": off_mode,
        "grayscale": chroma,
    }


def _largest_equal_share(rows: np.ndarray) -> np.ndarray:
    """float ``(B,)``: the share of each sorted row of ``rows`` ``(B, P)`` taken by its longest run of equal
    values (its most common value)."""
    b, p = rows.shape
    if b == 0 or p == 0:
        return np.ones(b)
    # run lengths from where values change, over all rows at once (a row's start is a change); a cumulative
    # count reset at each change took six times as long
    change = np.empty((b, p), bool)
    change[:, 0] = True
    np.not_equal(rows[:, 1:], rows[:, :-1], out=change[:, 1:])
    starts = np.flatnonzero(change)
    lengths = np.diff(starts, append=b * p)
    return np.maximum.reduceat(lengths, np.searchsorted(starts, np.arange(b) * p)) / p


def _sharpness(luma: np.ndarray, orig_h: np.ndarray, orig_w: np.ndarray) -> np.ndarray:
    """float ``(B,)`` in [0, 1]: Laplacian std over luminance std, relative to white noise's ratio.

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
    """float ``(B,)``: std of the 5-point Laplacian (interior pixels) over the luminance std.

    A flat image has no contrast to lose, so it scores as sharp (ratio = white noise's) instead of
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
    contrast = luma.reshape(len(luma), -1).std(axis=1)
    edges = laplacian.reshape(len(luma), -1).std(axis=1)
    # below a hundredth of a grey level the image is flat: nothing there to be blurred
    flat = contrast < 0.01
    return np.where(flat, _WHITE_NOISE_LAPLACIAN_RATIO, edges / np.where(flat, 1.0, contrast))


def area_matrix(in_size: int, out_size: int, *, low: float = 0.0, high: float | None = None) -> np.ndarray:
    """float32 ``(out_size, in_size)``: each output pixel the overlap-weighted mean of the input pixels it covers,
    the output spanning input pixels ``[low, high)`` (default: all of them)."""
    edges = np.linspace(low, in_size if high is None else high, out_size + 1)
    left, right = edges[:-1, None], edges[1:, None]
    pixel = np.arange(in_size)[None, :]
    overlap = np.clip(np.minimum(right, pixel + 1) - np.maximum(left, pixel), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


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
    _check_images(images)
    step = batch_rows(images, batch_size, pixels=_CHUNK_PIXELS)
    return engine.map(_phash_rows, images, batch_size=step, threads=True)["phash"]


def _phash_rows(batch: np.ndarray) -> dict[str, np.ndarray]:
    return {"phash": _phash_batch(batch)}


def _phash_batch(batch: np.ndarray) -> np.ndarray:
    """uint64 ``(B,)``: :func:`phash64` of uint8 ``(B, H, W, C)``."""
    height, width = batch.shape[1:3]
    gray = _pillow_resize(_pillow_gray(batch), vertical_first=_pillow_vertical_first(height, width))
    dct = _low_dct(gray)
    middle = np.partition(dct, (31, 32), axis=1)
    near_tie = middle[:, 32] - middle[:, 31] <= _PHASH_TIE * (1.0 + np.abs(dct[:, 0]))
    if near_tie.any():
        from scipy import fftpack

        exact = fftpack.dct(fftpack.dct(gray[near_tie].astype(np.uint8), axis=1), axis=2)
        dct[near_tie] = exact[:, :8, :8].reshape(-1, 64)
    bits = dct > np.median(dct, axis=1, keepdims=True)
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
