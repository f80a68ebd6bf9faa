"""The checks every stored embedding passes (issue 18): :func:`checked`, which the represent stage runs on every
source's features before it stores them (a user's ``file`` read by :mod:`winnow.embedding_file`): finite, scaled
by one power of two where a user's magnitude would break float32 arithmetic, and usable by the cosine judges (no
zero row, not one row or one direction for all, not one row for many different pictures).

Every refusal is one line naming the file or source (``where``) and the first image it concerns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.errors import WinnowError

SCALE_BAND = 8  # user features whose median row norm is within 2**±8 are stored as given
# a user row this many times shorter than the median row, itself at least 2**-8 once scaled, nears the 1e-12
# floor of torch's L2 normalisation (1e-9 of a median of 2**-8 is 4e-12): refused, as one this much longer
NORM_SPREAD = 1e9


def checked(features: np.ndarray, ids: np.ndarray, *, where: str, user: bool, table: bool = False,
            pictures: np.ndarray | None = None, images: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(``features`` as float32 ``(N, D)``, the factor they were multiplied by) when every value is finite,
    also after the cast; else one line. A ``user``'s features (numeric ``(N, D)``, any dtype) are first
    scaled in float64 (:func:`_rescaled`), and what is stored must then pass :func:`_refuse_degenerate` (``table``:
    columns a user wrote, one of which may be a size or a time rather than a feature) and,
    given ``pictures`` (object ``(N,)``, each image's pixel digest) and their ``images`` (uint8 ``(N, H, W, C)``),
    :func:`_refuse_shared_row`."""
    if features.ndim != 2 or len(features) != len(ids) or features.shape[1] == 0:
        raise WinnowError(f"{where}: features of shape {features.shape} for {len(ids)} images; expected (N, D)")
    scale = 1.0
    if user:
        with np.errstate(over="ignore"):  # a long double beyond float64 becomes infinity, reported below
            features = np.asarray(features, dtype=np.float64)
        _refuse_non_finite(features, ids, where=where)
        features, scale = _rescaled(features, where=where)
    with np.errstate(over="ignore"):  # beyond float32's range becomes infinity, reported just below
        features = np.ascontiguousarray(features, dtype=np.float32)
    _refuse_non_finite(features, ids, where=where)
    if user:
        _refuse_degenerate(features, ids, where=where, table=table)
        if pictures is not None:
            _refuse_shared_row(features, ids, pictures, images, where=where)
    else:  # a model of our own that diverged or collapsed (represent.judge.lr 1000): one point for every image
        _refuse_one_point(features, where=where, fix=f"its training diverged or collapsed: lower {where}.lr or "
                                                     "choose another source")
    return features, scale


def _refuse_non_finite(features: np.ndarray, ids: np.ndarray, *, where: str) -> None:
    """One line when float ``features`` ``(N, D)`` hold a NaN or an infinity."""
    bad = ~np.isfinite(features)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise WinnowError(f"{where}: {int(bad.sum())} non-finite value(s) (NaN, infinity or beyond float32) in "
                          f"{len(rows)} image(s), first id {shown(ids[rows[0]])}; embeddings must be finite numbers")


def _rescaled(values: np.ndarray, *, where: str) -> tuple[np.ndarray, float]:
    """(finite float64 ``values`` ``(N, D)`` times ``2**-e``, ``2**-e``), ``e`` the rounded log2 of the median
    row norm, so that the median row norm becomes about 1; unchanged (factor 1.0) when ``|e| <= SCALE_BAND``.

    Float32 arithmetic downstream squares values (norms for cosine, variances for the probe, whose std is
    clamped at 1e-6): features scaled by 1e25 overflowed it, by 1e-25 vanished in it, and the kNN vote fell
    to chance. One positive factor for the whole matrix changes no cosine neighbour and no standardised
    probe, and a power of two changes no bit of any value's mantissa.

    Raises:
        WinnowError: rows so short (a median row norm below about ``2**-1023``, float64's subnormal numbers) that the
            factor bringing them near 1 is beyond float64, so it cannot be recorded.
    """
    peak = np.abs(values).max(initial=0.0)
    if peak == 0:  # all zero: refused once stored
        return values, 1.0
    top = np.frexp(peak)[1]  # 2**top > peak: the norms below cannot overflow float64
    norms = np.linalg.norm(np.ldexp(values, -top), axis=1)
    exponent = top + int(np.round(np.log2(np.median(norms[norms > 0]))))
    if abs(exponent) <= SCALE_BAND:
        return values, 1.0
    # before: values of about 1e-310 were stored times 2**1030, recorded as a scale of inf (metrics/represent.json
    # held "scale": Infinity, which is no JSON) and said as "values stored times inf"
    if exponent < -1023:
        raise WinnowError(f"{where}: the embeddings are float64 subnormal numbers (median row length "
                          f"{float(np.ldexp(np.median(norms[norms > 0]), top)):.1e}, below float64's smallest normal "
                          "number 2.2e-308), which hold fewer digits, and the factor that would bring them near 1 is "
                          "beyond float64; save the features as the model gave them, not scaled down")
    with np.errstate(over="ignore"):  # a row ~1e308 times the median: infinity, reported as beyond float32
        return np.ldexp(values, -exponent), float(np.ldexp(1.0, -exponent))


def _refuse_degenerate(features: np.ndarray, ids: np.ndarray, *, where: str, table: bool = False) -> None:
    """One line unless the cosine judges can use float32 ``features`` ``(N, D)`` as stored: no row zero (a 1e-50
    row becomes one in float32) or over :data:`NORM_SPREAD` times longer or shorter than the median row (its
    norm falls under the 1e-12 floor of torch's L2 normalisation), and the rows neither
    all equal nor all one direction."""
    zero = ~np.any(features != 0, axis=1)
    if zero.any():  # cosine similarity is undefined for a zero vector
        raise WinnowError(f"{where}: {int(zero.sum())} image(s) have an all-zero embedding, first id "
                          f"{shown(ids[np.flatnonzero(zero)[0]])}; cosine similarity is undefined for them")
    wide = features.astype(np.float64)
    norms = np.linalg.norm(wide, axis=1)
    far = np.abs(np.log10(norms / np.median(norms))) > np.log10(NORM_SPREAD)
    if far.any():
        raise WinnowError(f"{where}: {int(far.sum())} image(s) have an embedding over {NORM_SPREAD:,.0f} times "
                          f"longer or shorter than the median image's, first id {shown(ids[np.flatnonzero(far)[0]])};"
                          " cosine similarity in float32 cannot use rows that far apart: recompute those images' "
                          "features")
    _refuse_one_point(features, where=where, table=table)


# cosine distances from the first row all below this: float32 cosine (resolution 6e-8 near 1) ranks such rows
# coarsely; a probe's pixels with a common offset column fell from a 10-NN vote of 88% to 82% at a largest distance
# of 1.1e-6 and to 32% at 1.2e-7, without a word
CLOSEST_SPREAD = 1e-5
# the share of rows within CLOSEST_SPREAD of their median's direction, or its opposite, that is refused as every row
# is: all but a few rows apart (an empty file's size among sizes of 20,000 bytes and up; an NDVI scaled by 10,000
# beside features near 1, near 0 for one image of 48)
MOSTLY_CLOSE = 0.9
ANCHOR_SAMPLE = 1024  # rows, evenly spaced, whose coordinate-wise median is the direction MOSTLY_CLOSE is measured from


def _refuse_one_point(features: np.ndarray, *, where: str, fix: str = "", table: bool = False) -> None:
    """One line when every row of float32 ``features`` ``(N, D)`` is the same, all lie on one line (``D`` of 1,
    or each row a positive or negative multiple of one vector), or all, or :data:`MOSTLY_CLOSE` of them, lie within
    :data:`CLOSEST_SPREAD` of one direction or of one line through 0 (a user's rows that are one row are left to
    the placeholder check): cosine similarity says nothing of such rows (the first made confident-learn drop 88% of
    train; a rank-1 file made embedding-clean drop 77%). Rows of zeros in a model's own features (a ReLU's) are
    left to the cosine's convention."""
    if len(features) < 2:
        return
    fix = f"; {fix}" if fix else ""
    if not np.any(features != features[0]):
        raise WinnowError(f"{where}: every image has the same embedding (no feature varies); it cannot tell "
                          f"images apart{fix}")
    if features.shape[1] == 1:
        raise WinnowError(f"{where}: one feature per image: the cosine similarity of two numbers is only +1 or -1, "
                          f"so cosine neighbours cannot tell images apart; give two or more features{fix}")
    wide = features.astype(np.float64)
    norms = np.linalg.norm(wide, axis=1)
    if not norms.all():  # a zero row next to others (a model's ReLU): not one direction, but the others may be
        # before: left every row unmeasured, so a model of ours that collapsed with 3 rows of zeros among 48 was stored
        _refuse_mostly_close(wide[norms > 0], norms[norms > 0], images=len(wide), where=where, fix=fix, table=table)
        return
    cosine = (wide @ wide[0]) / (norms * norms[0])
    spread = float((1 - cosine).max())
    # before: a user's size or time column (bytes 50,000 beside features near 1) read as "each a positive multiple of
    # one vector", which the rows were not, and named no column
    offset = spread <= CLOSEST_SPREAD and not fix and not _centred_on_one_line(wide)
    if not offset and np.all(1 - cosine <= np.finfo(np.float32).eps):
        raise WinnowError(f"{where}: every image's embedding points the same way (each a positive multiple of one "
                          "vector: cosine similarity 1 between every pair, to float32 precision); cosine "
                          f"neighbours cannot tell images apart{fix}")
    # before: a user's feature of either sign far larger than the rest (an NDVI scaled by 10,000, 3,000 and more from 0
    # for every image) read as "each a positive or negative multiple of one vector" too: such rows reach the line below
    # that names the column
    if (not offset and np.all(1 - np.abs(cosine) <= np.finfo(np.float32).eps)
            and (fix or _centred_on_one_line(wide))):
        raise WinnowError(f"{where}: every image's embedding lies on one line (each a positive or negative multiple "
                          "of one vector: cosine similarity +1 or -1 between every pair); cosine neighbours cannot "
                          f"tell images apart{fix}")
    if spread <= CLOSEST_SPREAD:  # a user's file: an offset to take away; a model of ours: its features collapsed
        raise WinnowError(f"{where}: every image's embedding points almost the same way (cosine distance at most "
                          f"{spread:.1e} from the first image's): "
                          f"{_why_close(wide, fix=fix, offset=offset, table=table, who='every image')}")
    _refuse_mostly_close(wide, norms, images=len(wide), where=where, fix=fix, table=table)


def _refuse_mostly_close(wide: np.ndarray, norms: np.ndarray, *, images: int, where: str, fix: str,
                         table: bool) -> None:
    """One line when :data:`MOSTLY_CLOSE` of the ``images`` lie within :data:`CLOSEST_SPREAD` of one direction or
    of one line through 0: float64 rows ``wide`` ``(N, D)``, none zero, their ``norms`` ``(N,)`` (``N`` below
    ``images`` where a model's rows of zeros are left out); ``fix`` and ``table`` as for :func:`_refuse_one_point`."""
    # before: only every row was measured, from the first, so one row apart (an empty file's size 0 in a column of
    # sizes from 20,000 to 80,000 bytes) let the rest through: stored, and the 5-NN vote fell from 100% to 50% of val
    # ... and only on one side of the origin, so rows almost on one line through it (a feature of either sign far
    # larger than the rest: an NDVI scaled by 10,000 beside features near 1, 47 of 48 rows within 3e-6 of the line)
    # were stored, their neighbours float32 noise: each row is turned to the side of the coordinate largest in most
    # rows' directions before the coordinate-wise median is taken, which a few rows apart do not move
    # ... and the median of every row of 50,000 of 2,048 features took 2.4 s, 16 s on a busy machine: taken from an
    # evenly spaced sample, which can only miss rows that lie one way, never refuse rows that do not
    sample = wide[np.linspace(0, len(wide) - 1, min(len(wide), ANCHOR_SAMPLE)).astype(np.int64)]
    lead = int(np.argmax((np.abs(sample) / np.linalg.norm(sample, axis=1, keepdims=True)).sum(axis=0)))
    anchor = np.median(np.where(sample[:, lead:lead + 1] < 0, -sample, sample), axis=0)
    if not anchor.any():
        return
    cosine = (wide @ anchor) / (norms * np.linalg.norm(anchor))
    distance = np.maximum(1 - np.abs(cosine), 0.0)  # before: 'at most -2.2e-16' for rows that are one row
    close = distance <= CLOSEST_SPREAD
    if close.sum() < MOSTLY_CLOSE * images:
        return
    rows, most = wide[close], f"{int(close.sum())} of the {images} images' embeddings"
    # before: one row for most images was refused here as an offset to subtract: a placeholder the features could not
    # be computed for is named as one by _refuse_shared_row, and copies of one picture rightly share a row
    if not fix and not np.any(rows != rows[0]):
        return
    multiples = not fix and _centred_on_one_line(rows)  # no offset to take away: one vector, scaled
    if np.all(np.sign(cosine[close]) == np.sign(cosine[close][0])):  # the anchor may lie on the side opposite them
        why = ("each a positive multiple of one vector, which cosine neighbours cannot tell apart" if multiples else
               _why_close(rows, fix=fix, offset=not fix, table=table, who="them"))
        raise WinnowError(f"{where}: {most} point almost the same way (cosine distance at most "
                          f"{distance[close].max():.1e} from their median's): {why}")
    if fix:
        why = "float32 cosine cannot rank neighbours that close" + fix
    elif multiples:
        why = "each a positive or negative multiple of one vector, which cosine neighbours cannot tell apart"
    else:  # a user's table names the column that outweighs the rest, as _why_close does
        size = np.abs(rows).mean(axis=0)
        column = int(np.argmax(size))
        why = (f"feature {column} (counted from 0), of either sign, is far larger than the rest and outweighs them"
               if table and size[column] ** 2 > 0.99 * (size ** 2).sum() else
               "what sets them apart is too small beside the line")
        why += (", which float32 cosine cannot rank neighbours under; scale each feature to one range (divide it by "
                "its standard deviation)")
    raise WinnowError(f"{where}: {most} lie almost on one line through 0 (cosine distance at most "
                      f"{distance[close].max():.1e} from their median's direction or its opposite): {why}")


def _why_close(wide: np.ndarray, *, fix: str, offset: bool, table: bool, who: str) -> str:
    """What a refusal of float64 rows ``wide`` ``(N, D)`` pointing almost one way says to do: take away the offset
    common to ``who`` (``offset``: a user's rows off one line; ``table``: naming the column that holds it), or
    ``fix`` (a model of ours: its features collapsed)."""
    why = (f"a large offset common to {who}, which float32 cosine cannot rank neighbours under; subtract the mean "
           "embedding" if not fix else "float32 cosine cannot rank neighbours that close" + fix)
    mean = np.abs(wide.mean(axis=0))
    column = int(np.argmax(mean))
    # one column of a user's table holds the offset: name it (a model's output holds no size to leave out)
    if offset and table and mean[column] ** 2 > 0.99 * (mean ** 2).sum():
        why += (f", or, if feature {column} (counted from 0) is a size, a count or a time rather than a feature, "
                f"leave it out: it lies far from 0 for {who} and outweighs the rest")
    return why


def _centred_on_one_line(wide: np.ndarray) -> bool:
    """Whether float64 rows ``wide`` ``(N, D)``, each column centred and scaled to unit spread, lie on one line with
    their mean row, as multiples of one vector do (the mean is one too, and every column not 0 varies); rows that
    point one way only for an offset common to all (a size or time column beside features near 1, or a constant
    one beside a single varying feature, whose centred rows alone lie on a line) do not."""
    spread, mean = wide.std(axis=0), wide.mean(axis=0)
    varying = spread > 0
    if np.any(mean[~varying] != 0):  # before: left out, so (s, 50000) and (t, 50000) were called multiples
        return False
    z = np.vstack([wide[:, varying] - mean[varying], mean[varying]]) / spread[varying]
    z = z[np.linalg.norm(z, axis=1) > 0]
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return bool(varying.sum() < 2 or np.all(1 - np.abs(z @ z[0]) <= 1e-6))


# a placeholder: one stored row for at least this many different pictures, and for this many times the pictures of any
# other row (a coarse extractor, whose rows collide by the handful everywhere, is kept)
SHARED_PICTURES, SHARED_LEAD = 3, 3
# near copies: pictures that differ from the first of them by under this fraction of what the set's pictures differ
# from it by (mean absolute pixel difference, at most NEAR_SAMPLE of each, evenly spaced)
NEAR_COPY, NEAR_SAMPLE = 0.25, 64


def _refuse_shared_row(features: np.ndarray, ids: np.ndarray, pictures: np.ndarray, images: np.ndarray, *,
                       where: str) -> None:
    """One line when one row of float32 ``features`` ``(N, D)`` is the embedding of at least
    :data:`SHARED_PICTURES` different ``pictures`` (object ``(N,)`` pixel digests; copies of one picture rightly
    share a row) and :data:`SHARED_LEAD` times as many pictures as any other row, unless those pictures of uint8
    ``images`` ``(N, H, W, C)`` are near copies (:func:`_near_copies`). Before: an embedder's placeholder
    for the images it failed on (the mean row, written for 976 of 3,255 MNIST train images) was stored, and
    embedding-clean judged those images by one another's labels, relabelling 979 train images instead of 358,
    without a word."""
    row = np.ascontiguousarray(features).view(np.dtype((np.void, features.dtype.itemsize * features.shape[1])))
    shared = pd.DataFrame({"row": np.unique(row.ravel(), return_inverse=True)[1],
                           "picture": np.asarray(pictures, dtype=object)}).drop_duplicates()
    by_row = shared["row"].value_counts()  # different pictures per stored row, most first
    most, next_most = int(by_row.iloc[0]), int(by_row.iloc[1]) if len(by_row) > 1 else 1
    if most < max(SHARED_PICTURES, SHARED_LEAD * next_most):
        return
    first = shared.index[shared["row"] == by_row.index[0]]  # one image per picture, in manifest order
    # before: three copies of one picture each re-saved one pixel one level off were refused as a placeholder, with
    # no way round, though features from thumbnails, rounded (a 2-D map to 2 decimals) or quantised cannot tell
    # such copies apart, and dedup links copies by that very row
    if _near_copies(images, first.to_numpy()):
        return
    raise WinnowError(f"{where}: {most} different pictures have one and the same embedding, first ids "
                      f"{shown(ids[first[0]])} and {shown(ids[first[1]])}: a placeholder for images the features "
                      "could not be computed for? The cleaners would judge them by one another's labels; recompute "
                      "those images' features")


def _near_copies(images: np.ndarray, rows: np.ndarray) -> bool:
    """Whether the pictures at ``rows`` (int ``(K,)``, K >= 2) of uint8 ``images`` ``(N, H, W, C)`` all differ from
    the first of them by under :data:`NEAR_COPY` times the median difference of the set's pictures from it. An image
    at a time: the images may be a memory-mapped file larger than memory."""
    first = np.asarray(images[rows[0]], np.float32)

    def differences(take: np.ndarray) -> np.ndarray:
        return np.array([np.abs(np.asarray(images[i], np.float32) - first).mean() for i in take])

    spread = np.linspace(0, len(images) - 1, min(len(images), NEAR_SAMPLE)).astype(np.int64)
    group = rows[1:][np.linspace(0, len(rows) - 2, min(len(rows) - 1, NEAR_SAMPLE)).astype(np.int64)]
    return bool(differences(group).max() < NEAR_COPY * np.median(differences(spread)))


def shown(value) -> str:
    """An id for a message: ``'img-3'`` or ``7``, not ``np.int64(7)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)
