"""Per-image quality scores and the 64-bit perceptual hash.

Every score lies in [0, 1] and lower means more likely a problem, as in CleanVision, whose scores
these start from; each departs from it where CleanVision is known to go wrong:

================= ==========================================================================
score             definition (``b`` = HSP brightness ``sqrt(.241 R² + .691 G² + .068 B²) / 255``)
================= ==========================================================================
dark              99th percentile of ``b`` (as CleanVision)
light             the lower of ``1 - (clipped + p) / 2`` and, where ``holes`` is 1/5 or more (a gain),
                  ``(1 - min(holes, 1/2))^4``: ``clipped`` the share of pixels with a channel at 255
                  (blown highlights), ``p`` the ``light_percentile``-th percentile of ``b``; ``holes``
                  the share of the codes 1-254 whose two neighbouring codes each hold 4 or more
                  channel values, that no channel value takes (0 where fewer than 16 codes have such
                  neighbours, where 8 or more lie below 48 and under 1/5 of those are holes, in a
                  colour image of 256 colours or fewer, and in one whose every channel keeps to the
                  codes of 5 or 6 bits, an RGB565 source's; codes 0 and 255 count as empty).
                  CleanVision uses ``1 -`` the 5th percentile, which an overexposed image still
                  holding a few dark pixels passes. A digital gain ``floor(f x)``, 1 < f < 3, leaves
                  codes out at a regular step (x2: every odd one), a trace a photo's histogram does
                  not hold (Stamm & Liu 2008); it survives lossless files (PNG, npz), not a lossy
                  re-encode or a resize after the gain; overexposure in the camera leaves none. A
                  contrast stretch (auto-levels) is a gain too and scores as one; a darkening tone
                  curve (gamma 2.2) leaves holes in the bright codes alone and a palette (GIF) at
                  random, neither read as a gain; a grey image of few grey levels, or of more than
                  256 flat colours (a large photo in 4x4 blocks), still looks gained
blurry            the finest detail against the next coarser: ``std(Laplacian) / (sqrt(5) rms(grad Y))``
                  of the luminance (5-point Laplacian, first differences), measured at the image's
                  original resolution; ``sqrt(5)`` is white noise's ratio. Dividing by the gradient
                  keeps flat, dark and low-contrast images from looking blurry (CleanVision's edge
                  variance calls a flat image blurry), and so does a large, slow change of brightness
                  (a sky): dividing by the contrast, as winnow did until stop 50, called a picture
                  mostly made of one did, so a 5x5 box blur on 1% of CIFAR could be cut at F1 0.91
                  at best, 1.00 now. Measuring at the original size keeps an upscaled small image from
                  looking blurry
low_information   the share of pixels off the image's most common exact brightness (``b``): 0 for
                  one flat colour, about 0.4 for a 20x20 picture on a 32x32 flat canvas (padding,
                  a placeholder, a file decoded only in part). CleanVision's 8-bit entropy also
                  falls when brightness is only scaled; an entropy over levels stretched to the
                  image's own range (winnow until stop 48) does not, but it scored that canvas
                  0.57 (median) where 1.6% of clean CIFAR images score less, so a few such images went
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
from functools import partial

import numpy as np
import pandas as pd

from winnow.configs import REFERENCE_THRESHOLDS, score_changes, scored_at
from winnow.engine import Engine
from winnow.gain import few_colour_images, gain_score
from winnow.errors import WinnowError
from winnow.phash import phash_batch
from winnow.pixel_batches import CHUNK_PIXELS, batch_rows, check_images
from winnow.sharpness import _sharpness
from winnow.sorted_rows import changes, largest_equal_share, sorted_percentiles
from winnow.stage_reads import (
    SIZED_AT, check_sizes, no_digests_error, other_pixels_error, read_table, rerun_error, sizes_record,
)
from winnow.thresholds import cut_issues

SCORES = ("dark", "light", "blurry", "low_information", "grayscale", "odd_size", "odd_aspect_ratio")
# scores of 8-bit pixels that all lie within two grey levels of each other are one picture under noise, not two
# classes: the percentiles of 1,000 frames of one dim scene (a tenth of the pixels one level off) spanned 1.3 levels,
# and the mode rule took their spikes for modes and flagged 184 of them dark. A width of these scores only: before,
# applied to every auto cut, it hid from embedding-clean 10 outliers among 300 images of a tight embedding, whose
# cosine similarities span less than two grey levels
MIN_SPAN = 2 / 255
# the bottom of a score's range, within float32 rounding, is a problem whatever the other images score:
# all pixels black (dark), all clipped white (light), one grey level (low_information)
FLOORS = {"dark": 1e-6, "light": 1e-6, "low_information": 1e-6}
# the top of the scores a light or dark image can have, whatever the set's norm: light's (clipped + p75) / 2 of at
# least a half (an ordinary photo clips next to nothing and its 75th percentile is below white) and dark's 99th
# percentile at most half-bright. A cut whose group lies mostly above it flags none (rule ceiling). In a set of
# mostly dim photos the auto cut took ordinary ones for light: 284 of 300 flagged, light scores 0.68 (clean CIFAR's
# median 0.69; light x2 puts 90% of CIFAR below 0.44, dark x0.5 all at 0.50 or less)
CEILINGS = {"dark": 0.5, "light": 0.5}
# dark's floor means an all-black image only when its score reads a top percentile of the pixels: at
# score.dark_percentile 90, thin clean digits (under a tenth of their pixels lit) scored 0 and the floor flagged 199
# of them while it missed the dark images; at 50 it flagged 98% of the images past max_flagged_fraction
DARK_FLOOR_PERCENTILE = 99
# light's ceiling holds from the percentile it was derived at: at score.light_percentile 5 (CleanVision's) an overexposed
# photo a quarter in shadow reads its percentile in the shadow, so clipped 0.75 scored 0.58, above the ceiling, and 20
# of them, set apart from 380 clean photos (0.98), were flagged none with a warning that they were ordinary
LIGHT_CEILING_PERCENTILE = 75
# clipped or crushed brightness puts many pixels on one value by itself: a light or dark image is not also
# low-information. An image of odd size is not also blurry: its sharpness is judged on a round trip through
# ingest's resampling, from a handful of pixels (half of CIFAR's 4x4 thumbnails scored below clean CIFAR's
# lowest 1%), and its flag already names what is wrong with it
EXPLAINED_BY = {"low_information": ("dark", "light"), "blurry": ("odd_size",)}

_HSP_WEIGHTS = np.array([0.241, 0.691, 0.068], dtype=np.float32)
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def score_images(
    images: np.ndarray,
    *,
    orig_h: np.ndarray | None = None,
    orig_w: np.ndarray | None = None,
    light_percentile: float = 75.0,
    dark_percentile: float = 99.0,
    iqr_factor: float = 3.0,
    min_relative_spread: float = 0.1,
    fence_on: np.ndarray | None = None,
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
        fence_on: bool ``(N,)``, the images whose original sizes set those fences (default all); every image is
            scored against them.
        engine: where the batches run (:class:`winnow.engine.Engine`; the same numbers either way).
        phash: also ``phash``, uint64 ``(N,)`` (:func:`winnow.phash.phash64`), from the same pass over the images.

    Returns:
        ``{score name: float32 (N,)}`` for each name in :data:`SCORES` (``(0,)`` each for no images).
    """
    check_images(images)
    n, height, width = images.shape[:3]
    if n == 0:  # no quartile to place the size fences on: np.percentile of nothing raised IndexError
        return {name: np.zeros(0, np.float32) for name in SCORES} | ({"phash": np.zeros(0, np.uint64)} if phash else {})
    orig_h = np.full(n, height) if orig_h is None else np.asarray(orig_h, dtype=np.int64)
    orig_w = np.full(n, width) if orig_w is None else np.asarray(orig_w, dtype=np.int64)
    if orig_h.shape != (n,) or orig_w.shape != (n,) or (orig_h < 1).any() or (orig_w < 1).any():
        raise WinnowError(f"orig_h and orig_w must be {n} positive sizes, one per image")
    if not (0 <= light_percentile <= 100 and 0 <= dark_percentile <= 100):
        raise WinnowError("score.light_percentile and score.dark_percentile must lie in [0, 100]")
    step = batch_rows(images, batch_size, pixels=CHUNK_PIXELS)  # chunks that stay in the CPU caches
    pixel_scores = engine.map(partial(_score_batch, light_percentile=light_percentile, dark_percentile=dark_percentile,
                                      phash=phash), images, batch_size=step, threads=True, orig_h=orig_h, orig_w=orig_w)
    spread = math.log1p(min_relative_spread)
    log_size = 0.5 * (np.log(orig_h) + np.log(orig_w))
    fences = {"iqr_factor": iqr_factor, "min_iqr": spread, "fence_on": fence_on}
    pixel_scores["odd_size"] = fence_scores(log_size, **fences)
    pixel_scores["odd_aspect_ratio"] = fence_scores(np.log(orig_w / orig_h), **fences)
    return pixel_scores


# score_table records the SCORE_SETTINGS (winnow.configs) it scored at in the table (attrs[SCORED_AT]), and read_scores
# compares them with params.yaml's, as a reader of the scores takes them to mean what params.yaml says
SCORED_AT = "scored_at"


def score_table(images: np.ndarray, manifest: pd.DataFrame, *, batch_size: int = 1024, engine: Engine = Engine(),
                **options) -> pd.DataFrame:
    """The score stage's table, rows in ``manifest`` order: ``id``, the :data:`SCORES`, ``digest`` and
    ``phash`` (uint64). The trusted split's sizes set no odd-size or odd-aspect fence (they are scored against
    the others'): a label book photographed or stored otherwise, a quarter of the images or more, widened the
    fences until the train split's thumbnails were no longer odd, as the threshold stage keeps it from its cuts.

    Args:
        images: uint8 ``(N, H, W, C)``.
        manifest: the imageset manifest (``id``, ``digest``, ``orig_h``, ``orig_w``, and ``split`` where the
            trusted split is told apart), ``N`` rows.
        engine: where the batches run (params.yaml ``compute``).
        options: the percentiles and fences of :func:`score_images` (``params.yaml`` ``score:``).
    """
    scores = score_images(images, orig_h=manifest["orig_h"].to_numpy(), orig_w=manifest["orig_w"].to_numpy(),
                          fence_on=manifest["split"].to_numpy() != "trusted" if "split" in manifest else None,
                          batch_size=batch_size, engine=engine, phash=True, **options)
    table = pd.DataFrame({"id": manifest["id"].to_numpy(), **{name: scores[name] for name in SCORES},
                          "digest": manifest["digest"].to_numpy(), "phash": scores["phash"]})
    table.attrs[SCORED_AT] = scored_at(options)
    table.attrs[SIZED_AT] = sizes_record(manifest)
    return table


def read_scores(path, *, imageset: str, ids, columns=(), digests=None, settings: dict | None = None,
                sizes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The score stage's table at ``path``, checked before a stage uses it: one row for each image of the
    imageset folder ``imageset`` (its ``ids``) and no other (:func:`winnow.stage_reads.read_table` ``rows_of``),
    and every score of :data:`SCORES` a number in [0, 1], the range each score's definition gives it.
    ``columns``: further columns needed (``phash``). ``digests``: the imageset's pixel digests, one per id
    of ``ids`` in their order; each row's ``digest`` (the score stage writes one) must be its image's, and a table
    without the column is refused.
    ``settings``: params.yaml's ``score`` section, whose :data:`winnow.configs.SCORE_SETTINGS` must be those the table
    records it was scored at (:func:`score_table`); a table that records none is refused.
    ``sizes``: the imageset's manifest, whose original sizes must be those the table records it scored, where it
    records them (:data:`SIZED_AT`): degrade's odd_size above the stored size changes the manifest alone.

    Raises:
        WinnowError: one line naming the file and the score stage: a repeated, missing or unknown id, a
            row scored from other pixels than its image now holds (a table the score stage wrote before the
            images changed under the same ids) or a table without digests (digests asked), one scored at other
            settings than ``settings`` or recording none (settings asked), a missing score (NaN: below no cut,
            the image would pass unexamined) or one outside [0, 1] (an infinity or a foreign number, flagged or
            passed by a cut it was never meant for), or, asked for, a ``phash`` that is not a 64-bit integer.
    """
    table = read_table(path, written_by="score", columns=("id", *SCORES, *columns), rows_of=(imageset, ids))
    if digests is not None:
        # the ids alone say nothing of the pixels: degrade rerun with other damage keeps every id, and scores of
        # the old pixels passed black images unflagged with exit 0. A table without the column was read unchecked
        # ("a table made by hand may leave it out"), so an older winnow's stale scores passed as current, where
        # the cleaners' tables and the contracts stage refuse the same table
        if "digest" not in table.columns:
            raise no_digests_error(path, written_by="score")
        now = pd.Series(np.asarray(digests, dtype=object), index=pd.Index(ids)).reindex(table["id"]).to_numpy()
        stale = np.flatnonzero(table["digest"].to_numpy(dtype=object) != now)
        if len(stale):
            raise other_pixels_error(path, imageset=imageset, images=len(stale), first=table["id"].iloc[stale[0]],
                                     then=table["digest"].iloc[stale[0]], now=now[stale[0]], written_by="score")
    if settings is not None:
        _check_scored_at(path, table.attrs.get(SCORED_AT), settings)
    # before: odd_size at 60x60 on 16x16 images (pixels kept, sizes changed) read with the old sizes' scores, exit 0
    if sizes is not None:
        check_sizes(table, manifest=sizes, path=path, written_by="score",
                    problem=f"scored other original sizes (orig_h, orig_w) than {imageset}'s manifest gives now, "
                            "which the blurry, odd_size and odd_aspect_ratio scores read: made before degrade changed "
                            "them")
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
    hashes = table["phash"] if "phash" in columns else pd.Series(dtype=np.uint64)
    if hashes.dtype.kind not in "iu" or hashes.dtype.itemsize != 8 or hashes.isna().any():
        # before: pHashes stored as floats kept 53 of their 64 bits, so dedup by pHash alone removed 638 MNIST-5k
        # train images at radius 2, not 373, with exit 0; hex strings (imagehash's str()) ended in a traceback
        raise rerun_error(path, f"column phash holds {hashes.dtype}{' with nulls' if hashes.isna().any() else ''}, "
                                "not 64-bit integer pHashes", written_by="score")
    return table


def _check_scored_at(path, recorded, settings: dict) -> None:
    """Refuse scores whose ``recorded`` settings (:data:`SCORED_AT`; None: a table made by hand or by an earlier
    winnow) are not params.yaml's score ``settings``. Before, scores of score.dark_percentile 90 read by threshold
    under 99 (the score stage not rerun: ``dvc repro -s threshold``) put thin clean digits at dark's floor, meant for
    all-black images, and all 40 of 40 were flagged dark with exit 0."""
    if recorded is None:  # before, read unchecked, as a table without digests was
        raise rerun_error(path, "records no score settings it was scored at (score.dark_percentile and the rest): "
                                "made by an earlier winnow or by hand", written_by="score")
    changed = score_changes(recorded, settings)
    if changed:
        raise rerun_error(path, f"scored at other settings than params.yaml's score section ({'; '.join(changed)}): "
                                "made before that section changed", written_by="score")


def quality_flags(table: pd.DataFrame, settings: dict[str, dict], *, bins: int = 256, max_flagged_fraction: float = 0.5,
                  cut_on: np.ndarray | None = None, dark_percentile: float = DARK_FLOOR_PERCENTILE,
                  light_percentile: float = LIGHT_CEILING_PERCENTILE, discarded: dict[str, tuple[float, int]] | None = None,
                  over_fraction: set[str] | None = None,
                  ) -> tuple[pd.DataFrame, dict[str, float], dict[str, str]]:
    """The threshold stage's flags from a :func:`score_table`.

    Args:
        table: ``id`` and the :data:`SCORES` columns (float).
        settings: ``{issue: {"method": ..., **options}}`` (``params.yaml`` ``threshold.issues``); an issue
            left out flags nothing (rule ``off``): the threshold warnings advise leaving an issue out, and it was
            thresholded with ``auto`` all the same.
        cut_on: bool ``(len(table),)``: the rows whose scores choose the cuts (default all); every row is
            flagged by them.
        dark_percentile: ``score.dark_percentile``, what the dark score was computed at; dark's floor applies
            only from :data:`DARK_FLOOR_PERCENTILE` up.
        light_percentile: ``score.light_percentile``, what the light score was computed at; light's ceiling applies
            only from :data:`LIGHT_CEILING_PERCENTILE` up.
        discarded: :func:`winnow.thresholds.cut_issues`' record of the cuts a ceiling set aside.
        over_fraction: its record of the cuts that would flag more than ``max_flagged_fraction`` (rule ``too_many``,
            or ``floor`` after it; not a cut whose every image lies at the floor).

    Returns:
        ``(flags, cuts, rules)``: a DataFrame of ``id``, one bool column per issue and ``any``; ``{issue:
        threshold}`` (``-inf`` where nothing was flagged); ``{issue: the rule that cut}``
        (:mod:`winnow.thresholds`).
    """
    unknown = set(settings) - set(SCORES)
    if unknown:
        raise WinnowError(f"threshold issues: unknown issue(s) {sorted(unknown)}; known: {', '.join(SCORES)}")
    # each score meets its cut in the precision the score stage stores it in, float32 (a cut is a Python float, so numpy
    # compares in float32): before, in float64, a score of float32(1/255) (channels one level apart at every pixel) lay
    # above grayscale's own cut 1/255 and a score shown as 0.1 above a fixed value 0.1, neither flagged, while the same
    # cut on the stored column (as pandas compares it) flagged both, and metrics/threshold.json could not be recomputed
    scores = {issue: table[issue].to_numpy(np.float32) for issue in SCORES}
    dark_read = dark_percentile >= DARK_FLOOR_PERCENTILE  # dark's floor and ceiling mean what they say from there
    ceilings = {k: v for k, v in CEILINGS.items()
                if (k != "dark" or dark_read) and (k != "light" or light_percentile >= LIGHT_CEILING_PERCENTILE)}
    try:
        flags, cuts, rules = cut_issues(scores, settings,
                                        explained_by=EXPLAINED_BY, reference=REFERENCE_THRESHOLDS,
                                        floors={k: v for k, v in FLOORS.items() if k != "dark" or dark_read},
                                        ceilings=ceilings, discarded=discarded, over_fraction=over_fraction,
                                        spans={issue: MIN_SPAN for issue in SCORES},
                                        bins=bins, max_flagged_fraction=max_flagged_fraction, cut_on=cut_on)
    except WinnowError as err:  # "<issue>: <what is wrong with its options>": name the setting that holds them
        raise WinnowError(f"params.yaml: threshold.issues.{err}") from None
    for issue in (i for i in SCORES if i not in settings):
        flags[issue], cuts[issue], rules[issue] = np.zeros(len(table), bool), -math.inf, "off"
    out = pd.DataFrame({"id": table["id"].to_numpy(), **flags})
    out["any"] = out[list(SCORES)].any(axis=1)
    return out, cuts, rules


def fence_scores(values: np.ndarray, *, iqr_factor: float, min_iqr: float,
                 fence_on: np.ndarray | None = None) -> np.ndarray:
    """float32 ``(N,)``: 1 at the middle of the IQR fences, 0.5 at a fence, decaying towards 0 beyond.

    Inside, the score falls linearly with the distance from the middle (as CleanVision's size score);
    beyond a fence it halves with every further half-width, so far outliers still rank. ``fence_on``: bool
    ``(N,)``, the values whose quartiles place the fences (default, or when it selects none: all).
    """
    q1, q3 = np.percentile(values if fence_on is None or not fence_on.any() else values[fence_on], [25, 75])
    half_width = 0.5 * (q3 - q1) + iqr_factor * max(q3 - q1, min_iqr)
    distance = np.abs(values - 0.5 * (q1 + q3)) / half_width
    return np.where(distance <= 1, 1 - 0.5 * distance, 0.5 ** distance).astype(np.float32)


def _score_batch(batch: np.ndarray, *, orig_h: np.ndarray, orig_w: np.ndarray, light_percentile: float,
                 dark_percentile: float, phash: bool) -> dict[str, np.ndarray]:
    """float32 ``(B,)`` per pixel score of uint8 ``(B, H, W, C)`` (and ``phash`` uint64 ``(B,)`` when asked)."""
    scores = _pixel_scores(batch, orig_h, orig_w, light_percentile, dark_percentile)
    out = {name: np.asarray(values).astype(np.float32) for name, values in scores.items()}
    return out | ({"phash": phash_batch(batch)} if phash else {})


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
        # elementwise over the three channel planes: numpy's reductions along a length-3 last axis are slow, and so
        # are its elementwise loops over strided channels, so the planes are copied apart once (#20)
        red, green, blue = np.moveaxis(batch, 3, 0).copy()
        top = np.maximum(np.maximum(red, green), blue)
        chroma = (top - np.minimum(np.minimum(red, green), blue)).mean(axis=(1, 2)) / 255
    # numpy's (vectorised) sort, then each statistic read off the sorted rows (winnow.sorted_rows): the percentiles'
    # order statistics stand at their indexes. hsp is not needed after.
    hsp = hsp.reshape(len(batch), -1)
    hsp.sort(axis=1)
    change = changes(hsp)
    colours = np.count_nonzero(change, axis=1) if hsp.size else None
    off_mode = 1 - largest_equal_share(hsp, change, colours=colours)
    few_colours = few_colour_images(hsp, chroma, colours=colours)
    dark, bright = sorted_percentiles(hsp, [dark_percentile, light_percentile])
    clipped = ((batch[..., 0] if batch.shape[3] == 1 else top) == 255).mean(axis=(1, 2))
    # an all-white image (every channel of every pixel 255: all clipped, no chroma) reads brightness 1 exactly. HSP's
    # weights sum to 1 only up to float32 rounding, so a white RGB pixel's b was 0.99999994: light scored 3e-8, and a
    # fixed light cut of 0 flagged no all-white image, while an all-black one scores dark 0. Set here for those images
    # alone: a white pixel's own b is left, so no other image's score moves (a grey RGB image's b differs from a grey
    # one's by a rounding at 16 of the 256 levels all the same)
    white = (clipped == 1) & (chroma == 0)
    dark, bright = np.where(white, 1.0, dark), np.where(white, 1.0, bright)
    return {
        "dark": dark,
        "light": np.minimum(1 - 0.5 * (clipped + bright), gain_score(batch, few_colours)),
        "blurry": _sharpness(luma, orig_h, orig_w),
        "low_information": off_mode,
        "grayscale": chroma,
    }
