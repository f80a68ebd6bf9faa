"""Embeddings a user brings, and the checks every stored embedding passes (issue 18): the ``file``
source's reader (:func:`read_embedding_file`: a ``.npy`` in manifest order or a ``.parquet`` keyed by
``id``) and :func:`checked`, which the represent stage runs on every source's features before it stores
them: finite, scaled by one power of two where a user's magnitude would break float32 arithmetic, and
usable by the cosine judges (no zero row, not one row or one direction for all, not one row for many different
pictures).

Every refusal is one line naming the file or source (``where``) and the first image it concerns.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from winnow.errors import WinnowError, check_input_file, first_line
from winnow.npy_rows import data_bytes

SCALE_BAND = 8  # user features whose median row norm is within 2**±8 are stored as given
# a user row this many times shorter than the median row, itself at least 2**-8 once scaled, nears the 1e-12
# floor of torch's L2 normalisation (1e-9 of a median of 2**-8 is 4e-12): refused, as one this much longer
NORM_SPREAD = 1e9


def read_embedding_file(path: str | os.PathLike, ids: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """Numeric ``(N, D)`` values, row ``i`` for ``ids[i]``, from a ``.npy`` of shape ``(N, D)`` whose rows
    follow the manifest already, or a ``.parquet`` with an ``id`` column and either one list column
    ``embedding`` (other columns then ignored) or numeric feature columns (nullable ones too, without a
    missing value), in any row order; the id may be the parquet's index. A parquet's optional ``digest``
    column must hold ``digests`` (``(N,)``, the manifest's pixel digests of ``ids``). Finiteness, the scale, the
    float32 cast and the checks of what is stored are :func:`embed_imageset`'s."""
    path = Path(path)
    where = f"represent.file: {path}"
    check_input_file(path, option="represent.file", fix="write the embeddings there or point represent.file "
                                                              "at them")
    if path.suffix == ".npy":
        try:  # mapped, not read: a damaged header claiming terabytes is an error, not an allocation
            values = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:  # EOFError: an empty file
            raise WinnowError(f"{where}: unreadable as .npy ({first_line(err)})") from err
        if not isinstance(values, np.ndarray):  # np.load reads a .npz archive whatever the file's name
            names = ", ".join(values.files)
            values.close()
            raise WinnowError(f"{where}: a .npz archive (arrays: {names or 'none'}), not one .npy array; save the "
                              "(N, D) array with np.save")
        held, needed = data_bytes(path, values.shape, values.dtype, values.offset)
        if held != needed:  # before: a header cut to D/2 was read as twice the rows, each half of a real one
            raise WinnowError(f"{where}: holds {held:,} bytes but its header's shape {values.shape} needs "
                              f"{needed:,}; the header does not describe the data: save the (N, D) array again "
                              "with np.save")
        if values.ndim != 2:
            raise WinnowError(f"{where}: shape {values.shape}; embeddings must be a 2-D array (N images, D)")
        if len(values) != len(ids):
            raise WinnowError(f"{where}: {len(values)} rows but the imageset has {len(ids)} images; a .npy needs one "
                              "row per image in manifest order (or write a .parquet with an id column)")
        _check_row_ids(path, ids, where)
        _warn_pixels_unchecked(where)
    elif path.suffix == ".parquet":
        values = _parquet_rows(path, ids, where, digests)
    else:
        raise WinnowError(f"{where}: unknown format {path.suffix!r}; write a .npy (rows in manifest order) or a "
                          ".parquet (an id column)")
    if values.dtype.kind == "c":
        raise WinnowError(f"{where}: values are complex ({values.dtype}); embeddings must be real numbers")
    if values.dtype.kind not in "iuf":
        raise WinnowError(f"{where}: values are {values.dtype}, not numbers; embeddings must be numeric")
    if values.shape[1] == 0:
        raise WinnowError(f"{where}: no feature values (D = 0); each image needs at least one number")
    return values


def _check_row_ids(path: Path, ids: np.ndarray, where: str) -> None:
    """A .npy holds no ids: its rows are taken in the manifest's order, which a change to degrade (its seed, its
    perturbations) reorders at the same count, so the rows then describe other images. ``ids.json`` beside it (the
    ids in row order, as represent writes ``data/represent/ids.json``) is checked against the manifest; without
    one, a warning says what is assumed."""
    listed_path = path.with_name("ids.json")
    if not listed_path.is_file():
        print(f"warning: {where}: no ids.json beside it, so its rows are taken in data/degrade/manifest.parquet's "
              "order, which a change to degrade (its seed, its perturbations) reorders without a word; write the ids "
              "in row order to ids.json beside it (as data/represent/ids.json), or a .parquet with an id column")
        return
    try:
        listed = json.loads(listed_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise WinnowError(f"{where}: {listed_path} is not a JSON list of ids ({first_line(err)})") from err
    if not isinstance(listed, list) or len(listed) != len(ids):
        count = f"{len(listed)} ids" if isinstance(listed, list) else type(listed).__name__
        raise WinnowError(f"{where}: {listed_path} holds {count} for {len(ids)} rows; it lists the ids in row order")
    differ = next((row for row, (a, b) in enumerate(zip(listed, ids)) if str(a) != str(b)), None)
    if differ is not None:
        raise WinnowError(f"{where}: row {differ} is {listed[differ]!r} in {listed_path.name} but {ids[differ]!r} in "
                          "data/degrade/manifest.parquet: the file was made for another manifest (degrade's seed or "
                          "perturbations changed); write it again for this one")


_BOOKKEEPING = {"label", "labels", "target", "targets", "class", "classes", "category", "categories", "y", "split",
                "index", "row", "row_number", "row_id", "idx"}
# words that make a longer name bookkeeping too: class_id, category_id, targetIdx, image_index (not y: umap_y)
_BOOKKEEPING_WORDS = _BOOKKEEPING - {"y"}


def _bookkeeping_column(name: str, values: pd.Series) -> bool:
    """Whether a parquet column named ``name`` is a label, split or row number rather than a feature. A name
    such as ``y`` or ``class`` (or one with such a word, ``class_id``) is also a coordinate's (a 2-D map's x and
    y) or a feature's: such a column reads as bookkeeping only while its values could be one, whole numbers or
    text; ``label`` always does."""
    lowered = name.lower()
    if "label" in lowered or lowered.startswith(("unnamed", "__index_level")):
        return True
    # before: only the bare names were seen, so a class_id or category_id column (COCO's) became a feature, and the
    # label cleaners judged each label partly by the label itself
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()))
    if lowered not in _BOOKKEEPING and not words & _BOOKKEEPING_WORDS:
        return False
    if not pd.api.types.is_float_dtype(values):
        return True
    whole = values.dropna().to_numpy(dtype=np.float64)
    return bool(np.all(whole == np.round(whole)))


def _warn_pixels_unchecked(where: str) -> None:
    """The warning a file without a ``digest`` column owes: its rows are tied to images by id alone, and degrade
    rerun with another seed or perturbations keeps the ids but not the pixels under them, so rows made for the old
    pixels are read as the new ones' (data/represent/made_from.json then records the new pixels as if embedded)."""
    print(f"warning: {where}: no digest column says which pixels each row was made from, so rows made before a change "
          "to degrade (its seed or perturbations: the same ids, other pixels) are read as the images now; write a "
          ".parquet with data/degrade/manifest.parquet's digest column beside id to have them checked")


def _parquet_rows(path: Path, ids: np.ndarray, where: str, digests: np.ndarray) -> np.ndarray:
    """The parquet's features reordered to ``ids``, after checking that its ids are exactly those."""
    try:
        frame = pd.read_parquet(path)
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise WinnowError(f"{where}: unreadable as parquet ({first_line(err)})") from err
    if "id" not in frame.columns and frame.index.name == "id":  # written by df.set_index("id").to_parquet()
        frame = frame.reset_index()
    if "id" not in frame.columns:
        raise WinnowError(f"{where}: no id column; the rows must say which image they describe "
                          f"(columns: {', '.join(map(str, frame.columns[:5]))})")
    repeated = frame["id"][frame["id"].duplicated()]
    if len(repeated):
        raise WinnowError(f"{where}: {len(repeated)} repeated id(s), first {_shown(repeated.iloc[0])}; one row "
                          "per image")
    extra = frame["id"][~frame["id"].isin(ids)]
    if len(extra):
        raise WinnowError(f"{where}: {len(extra)} id(s) not in the imageset, first {_shown(extra.iloc[0])}; "
                          "embed the imageset's images (ids as in data/degrade/manifest.parquet, e.g. "
                          f"{_shown(ids[0])})")
    missing = ids[~pd.Index(ids).isin(frame["id"])]
    if len(missing):
        raise WinnowError(f"{where}: {len(missing)} image(s) of the imageset have no row, first {_shown(missing[0])}; "
                          "every image of every split needs an embedding")
    frame = frame.set_index("id").loc[ids]
    if "digest" in frame.columns:  # the pixels each row was made from: degrade rerun keeps ids, not their pixels
        given = frame.pop("digest").to_numpy()
        width = len(str(digests[0]))  # pixel_digest: hex digits, as many for every image
        # before: a digest of the user's own (a file's sha256) or a missing one read as pixels since changed, and the
        # line said to embed the images again, which left the column as it was
        foreign = np.array([not isinstance(d, str) or not re.fullmatch(f"[0-9a-f]{{{width}}}", d) for d in given])
        if foreign.any():
            first = np.argmax(foreign)
            raise WinnowError(f"{where}: {int(foreign.sum())} row(s) hold a digest unlike "
                              f"data/degrade/manifest.parquet's ({width} hex digits), first id {_shown(ids[first])} "
                              f"({_shown(given[first])}); the digest column copies the manifest's, to say which "
                              "pixels each row was made from: copy it there, or leave the column out")
        stale = given.astype(str) != np.asarray(digests, dtype=str)
        if stale.any():  # before: refused as "column 'digest' is object, not numbers", and never compared
            raise WinnowError(f"{where}: {int(stale.sum())} image(s) now hold other pixels than their row's digest, "
                              f"first id {_shown(ids[np.argmax(stale)])}: the file was made for another data/degrade "
                              "(its seed or perturbations changed); embed those images again")
    else:
        _warn_pixels_unchecked(where)
    if "embedding" in frame.columns:
        _refuse_embedding_type(schema.field("embedding").type, where)
        cells = frame["embedding"].to_numpy()
        missing = np.flatnonzero([cell is None for cell in cells])  # a null list cell (pyarrow gives None)
        if len(missing):  # before: a null first cell blamed the next image for having values
            raise WinnowError(f"{where}: {len(missing)} embedding(s) are missing (null), first id "
                              f"{_shown(ids[missing[0]])}; every image of every split needs an embedding")
        lengths = np.array([np.size(cell) for cell in cells])
        odd = np.flatnonzero(lengths != lengths[0])
        if len(odd):
            raise WinnowError(f"{where}: the embedding of id {_shown(ids[odd[0]])} has {lengths[odd[0]]} values "
                              f"where id {_shown(ids[0])} has {lengths[0]}; every embedding needs the same length")
        if lengths[0] == 0:  # before: "values are object, not numbers"
            raise WinnowError(f"{where}: the embedding column holds empty lists (D = 0); each image needs at least "
                              "one number")
        return np.stack([np.asarray(cell) for cell in cells])  # (N, D): one flat list of numbers per cell
    bookkeeping = [c for c in frame.columns if _bookkeeping_column(str(c), frame[c])]
    if bookkeeping:  # a label beside the features would let the label cleaners judge labels by themselves
        # before: a feature of whole numbers named with such a word (ndvi_index as int16, MODIS's scaled NDVI) was
        # told to 'write only id and the features', which it was, and not how to keep it
        raise WinnowError(f"{where}: column {bookkeeping[0]!r} reads as a label, split or row index, not a feature: "
                          "the embedding would carry what the label cleaners judge; write only id and the features "
                          "(a feature of whole numbers: rename it without label, class, category, target, split, "
                          "index, row or idx)")
    odd = [c for c in frame.columns
           if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    if odd:
        raise WinnowError(f"{where}: column {odd[0]!r} is {frame[odd[0]].dtype}, not numbers; besides id, give "
                          "numeric feature columns or one list column named embedding")
    gaps = frame.isna()  # pd.NA in a nullable column, NaN in a float one
    if gaps.any().any():
        column = gaps.columns[gaps.any().to_numpy()][0]
        raise WinnowError(f"{where}: column {column!r} has {int(gaps[column].sum())} missing value(s), first id "
                          f"{_shown(ids[np.argmax(gaps[column].to_numpy())])}; every image needs every feature")
    # float64, not to_numpy(): nullable (Int64, Float64) columns beside others would give an object array
    return frame.to_numpy(dtype=np.float64)


def _refuse_embedding_type(kind: pa.DataType, where: str) -> None:
    """One line unless a parquet's ``embedding`` column, of arrow type ``kind``, holds one flat list of numbers
    per image: a list, large list or fixed-size list of integers or floats. Lists of nulls (empty lists, or
    lists of missing values) and a column of nulls pass, for the lines on empty and missing embeddings.

    Before: a struct or decimal per image (a Python dict or Decimal to numpy) ended in an IndexError
    traceback, and text ("1,2") was refused as one number per image."""
    if pa.types.is_dictionary(kind):  # a pandas categorical: its values' type is what the cells hold
        kind = kind.value_type
    fix = "it must hold one list of numbers per image (or write each feature as a numeric column)"
    if _is_list(kind):
        inner = kind.value_type
        if _is_list(inner):  # pyarrow would give an array of arrays per cell
            raise WinnowError(f"{where}: the embedding column holds a list of lists per image; flatten each image's "
                              "features to one list of numbers")
        if not (pa.types.is_integer(inner) or pa.types.is_floating(inner) or pa.types.is_null(inner)):
            raise WinnowError(f"{where}: the embedding column holds lists of {_type_name(inner)} per image, not of "
                              f"numbers; {fix}")
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        raise WinnowError(f"{where}: the embedding column holds one number per image; {fix}")
    elif not pa.types.is_null(kind):
        raise WinnowError(f"{where}: the embedding column holds one {_type_name(kind)} value per image, not a list of "
                          f"numbers; {fix}")


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)


def _type_name(kind: pa.DataType) -> str:
    """An arrow type for a message: ``text`` for either string type, and ``struct``, not ``struct<x: double, ...>``."""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):  # pandas writes large_string
        return "text"
    return str(kind).split("<")[0]


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
        features, scale = _rescaled(features)
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
                          f"{len(rows)} image(s), first id {_shown(ids[rows[0]])}; embeddings must be finite numbers")


def _rescaled(values: np.ndarray) -> tuple[np.ndarray, float]:
    """(finite float64 ``values`` ``(N, D)`` times ``2**-e``, ``2**-e``), ``e`` the rounded log2 of the median
    row norm, so that the median row norm becomes about 1; unchanged (factor 1.0) when ``|e| <= SCALE_BAND``.

    Float32 arithmetic downstream squares values (norms for cosine, variances for the probe, whose std is
    clamped at 1e-6): features scaled by 1e25 overflowed it, by 1e-25 vanished in it, and the kNN vote fell
    to chance. One positive factor for the whole matrix changes no cosine neighbour and no standardised
    probe, and a power of two changes no bit of any value's mantissa.
    """
    peak = np.abs(values).max(initial=0.0)
    if peak == 0:  # all zero: refused once stored
        return values, 1.0
    top = np.frexp(peak)[1]  # 2**top > peak: the norms below cannot overflow float64
    norms = np.linalg.norm(np.ldexp(values, -top), axis=1)
    exponent = top + int(np.round(np.log2(np.median(norms[norms > 0]))))
    if abs(exponent) <= SCALE_BAND:
        return values, 1.0
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
                          f"{_shown(ids[np.flatnonzero(zero)[0]])}; cosine similarity is undefined for them")
    wide = features.astype(np.float64)
    norms = np.linalg.norm(wide, axis=1)
    far = np.abs(np.log10(norms / np.median(norms))) > np.log10(NORM_SPREAD)
    if far.any():
        raise WinnowError(f"{where}: {int(far.sum())} image(s) have an embedding over {NORM_SPREAD:,.0f} times "
                          f"longer or shorter than the median image's, first id {_shown(ids[np.flatnonzero(far)[0]])};"
                          " cosine similarity in float32 cannot use rows that far apart: recompute those images' "
                          "features")
    _refuse_one_point(features, where=where, table=table)


# cosine distances from the first row all below this: float32 cosine (resolution 6e-8 near 1) ranks such rows
# coarsely; a probe's pixels with a common offset column fell from a 10-NN vote of 88% to 82% at a largest distance
# of 1.1e-6 and to 32% at 1.2e-7, without a word
CLOSEST_SPREAD = 1e-5


def _refuse_one_point(features: np.ndarray, *, where: str, fix: str = "", table: bool = False) -> None:
    """One line when every row of float32 ``features`` ``(N, D)`` is the same, all lie on one line (``D`` of 1,
    or each row a positive or negative multiple of one vector), or all point within :data:`CLOSEST_SPREAD` of
    one direction: cosine similarity says nothing of such rows (the first made confident-learn drop 88% of
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
    if not norms.all():
        return  # a zero row next to others: not one direction
    cosine = (wide @ wide[0]) / (norms * norms[0])
    spread = float((1 - cosine).max())
    # before: a user's size or time column (bytes 50,000 beside features near 1) read as "each a positive multiple of
    # one vector", which the rows were not, and named no column
    offset = spread <= CLOSEST_SPREAD and not fix and not _centred_on_one_line(wide)
    if not offset and np.all(1 - cosine <= np.finfo(np.float32).eps):
        raise WinnowError(f"{where}: every image's embedding points the same way (each a positive multiple of one "
                          "vector: cosine similarity 1 between every pair, to float32 precision); cosine "
                          f"neighbours cannot tell images apart{fix}")
    if not offset and np.all(1 - np.abs(cosine) <= np.finfo(np.float32).eps):
        raise WinnowError(f"{where}: every image's embedding lies on one line (each a positive or negative multiple "
                          "of one vector: cosine similarity +1 or -1 between every pair); cosine neighbours cannot "
                          f"tell images apart{fix}")
    if spread <= CLOSEST_SPREAD:  # a user's file: an offset to take away; a model of ours: its features collapsed
        why = ("a large offset common to every image, which float32 cosine cannot rank neighbours under; subtract "
               "the mean embedding" if not fix else "float32 cosine cannot rank neighbours that close" + fix)
        mean = np.abs(wide.mean(axis=0))
        column = int(np.argmax(mean))
        # one column of a user's table holds the offset: name it (a model's output holds no size to leave out)
        if offset and table and mean[column] ** 2 > 0.99 * (mean ** 2).sum():
            why += (f", or, if feature {column} (counted from 0) is a size, a count or a time rather than a feature, "
                    "leave it out: it lies far from 0 for every image and outweighs the rest")
        raise WinnowError(f"{where}: every image's embedding points almost the same way (cosine distance at most "
                          f"{spread:.1e} from the first image's): {why}")


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
                      f"{_shown(ids[first[0]])} and {_shown(ids[first[1]])}: a placeholder for images the features "
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


def _shown(value) -> str:
    """An id for a message: ``'img-3'`` or ``7``, not ``np.int64(7)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)
