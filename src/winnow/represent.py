"""Representations: one embedding per image of every split, from a source chosen in params (issue 18).

A judge of labels is only as good as the space it looks in, and a model trained on the noisy labels
learns the noise. So the sources (:data:`winnow.configs.EMBEDDING_SOURCES`) other than ``judge`` never read a label:

- ``selfsup``: SimCLR on the train and val images (:mod:`winnow.selfsup`); test images are only embedded;
- ``pretrained``: a timm, torchvision or open_clip model by name, or a TorchScript file
  (:mod:`winnow.pretrained`);
- ``file``: embeddings computed elsewhere, a ``.npy`` in manifest order or a ``.parquet`` keyed by ``id``;
- ``judge``: today's supervised judge (:func:`winnow.training.fit` on the train labels, checkpoint chosen
  on val, :func:`winnow.training.embed`), kept for comparison.

Features a user supplies (``file``, ``pretrained``) are scaled by one power of two when their magnitude
would break float32 arithmetic downstream, and refused when the cosine judges could not use them (a zero
row, one row for all, one direction for all).

Read top to bottom: :func:`options` (every parameter is checked there), :func:`embed_imageset` (the
dispatch), :func:`read_embedding_file`, :func:`read_representation` (the stage's output, rows chosen by
id, for the cleaners), :func:`knn_val_accuracy` (how well an embedding judges labels).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from winnow import pretrained, selfsup, training
from winnow.configs import PretrainedConfig, SelfSupConfig, TrainConfig
from winnow.engine import Engine
from winnow.errors import WinnowError, check_input_file, first_line
from winnow.imageset import ImageSet
from winnow.neighbours import Space, vote
from winnow.stage import read_json, rerun_error, write_torch

# the represent section of params.yaml; judge: overrides of the train section, as embedding_clean.train
EMBED_BATCH = 1024  # images a batch when a trained encoder embeds the imageset (an actor's call on Ray)
DEFAULTS = {"source": "judge", "knn_k": 10, "selfsup": {}, "pretrained": {}, "file": None, "judge": {}}
USER_SOURCES = ("pretrained", "file")  # features made elsewhere: scaled and checked before they are stored
SCALE_BAND = 8  # user features whose median row norm is within 2**±8 are stored as given
# a user row this many times shorter than the median row, itself at least 2**-8 once scaled, nears the 1e-12
# floor of torch's L2 normalisation (1e-9 of a median of 2**-8 is 4e-12): refused, as one this much longer
NORM_SPREAD = 1e9


@dataclass(frozen=True)
class Options:
    """The checked ``represent`` section: the source, the kNN vote's k and each source's settings."""

    source: str
    knn_k: int
    selfsup: SelfSupConfig
    pretrained: PretrainedConfig
    file: Path | None
    judge: TrainConfig


@dataclass(frozen=True)
class Representation:
    """Features aligned to an imageset.

    Attributes:
        features: float32 ``(N, D)``, all finite; row ``i`` belongs to manifest row ``i`` (every split).
        ids: object ``(N,)``, the manifest's ids in that order.
        info: ``source``, ``dim``, ``seconds``, ``epochs`` and ``final_loss`` (None where nothing was
            trained), and per source: ``best_epoch``/``stop_reason``/``judge_val_accuracy`` (judge), ``model``
            (pretrained), ``file``/``sha256`` (file), ``scale`` (pretrained, file: the power of two the
            given features were multiplied by, 1.0 mostly).
    """

    features: np.ndarray
    ids: np.ndarray
    info: dict[str, Any]


def options(section: dict | None, *, train: dict | None = None) -> Options:
    """The ``represent`` section of params.yaml as typed options (``winnow.params`` has checked every value;
    ``train``: the train section, which the judge builds on)."""
    p = {**DEFAULTS, **(section or {})}
    for where in ("selfsup", "pretrained"):
        if (p[where] or {}).get("device") == "cuda" and not torch.cuda.is_available():
            raise WinnowError(f"represent.{where}.device: cuda requested but no CUDA device is visible; "
                              "use auto or cpu")
    return Options(p["source"], p["knn_k"], SelfSupConfig(**(p["selfsup"] or {})),
                   PretrainedConfig(**(p["pretrained"] or {})), Path(p["file"]) if p["file"] else None,
                   TrainConfig.from_params({**(train or {}), **(p["judge"] or {})}))


def embed_imageset(data: ImageSet, *, options: Options, seed: int, progress: bool = True,
                   model_out: str | os.PathLike | None = None, engine: Engine = Engine()) -> Representation:
    """Embed every image of ``data`` (every split) with ``options.source``.

    A model trained here (selfsup, judge) embeds the imageset through ``engine`` (``compute.engine``:
    locally, or on a Ray actor pool with the same bytes out); pretrained models run here.

    Only ``judge`` reads a label (the train split's, with val's to choose its epoch). ``model_out``, when
    given, receives the weights (selfsup, judge) or a record of where the features came from
    (pretrained, file), written only once the features passed their checks.
    """
    start, ids = time.perf_counter(), data.manifest["id"].to_numpy()
    if options.source == "selfsup":
        # train + val: the test split, and the trusted split that judges the cleaning, are never learnt from
        fit = data.manifest["split"].isin(["train", "val"]).to_numpy()
        trained = selfsup.pretrain(np.asarray(data.images[fit]), config=options.selfsup, seed=seed,
                                   progress=progress)
        features = engine.embed(selfsup.encoder(trained), data.images, batch_size=EMBED_BATCH)
        info = {"epochs": len(trained.history), "final_loss": trained.history[-1]["loss"]}
        where = "represent.selfsup"
    elif options.source == "judge":
        train, val = data.split("train"), data.split("val")
        judged = training.fit(train.images, train.labels, val.images, val.labels, config=options.judge,
                              num_classes=len(data.classes), seed=seed, progress=progress)
        features = engine.embed(training.encoder(judged, num_classes=len(data.classes),
                                                 image_shape=data.images.shape[1:]),
                                data.images, batch_size=EMBED_BATCH)
        info = {"epochs": len(judged.history), "final_loss": judged.history[-1]["train_loss"],
                "best_epoch": judged.best_epoch, "stop_reason": judged.stop_reason,
                "judge_val_accuracy": judged.best_val_acc}
        where = "represent.judge"
    elif options.source == "pretrained":
        features, name = pretrained.embed(data.images, config=options.pretrained, progress=progress)
        info = {"epochs": None, "final_loss": None, "model": name}
        weights = options.pretrained.torchscript or options.pretrained.path
        if weights is not None:  # DVC does not watch these files: the record says which bytes were used
            info["sha256"] = _sha256(Path(weights))
        where = f"represent.pretrained: {name}"
    else:
        features = read_embedding_file(options.file, ids)
        info = {"epochs": None, "final_loss": None, "file": str(options.file), "sha256": _sha256(options.file)}
        where = f"represent.file: {options.file}"
    features, scale = _checked(features, ids, where=where, user=options.source in USER_SOURCES)
    if options.source in USER_SOURCES:
        info["scale"] = scale
    if model_out is not None:
        if options.source == "selfsup":
            selfsup.save(trained, model_out)
        elif options.source == "judge":
            training.save(judged, model_out, classes=data.classes, image_shape=data.images.shape[1:])
        else:
            write_torch(model_out, {"source": options.source, **info})
    info = {"source": options.source, "dim": int(features.shape[1]), "seconds": round(time.perf_counter() - start, 1),
            **info}
    return Representation(features, ids, info)


def read_embedding_file(path: str | os.PathLike, ids: np.ndarray) -> np.ndarray:
    """Numeric ``(N, D)`` values, row ``i`` for ``ids[i]``, from a ``.npy`` of shape ``(N, D)`` whose rows
    follow the manifest already, or a ``.parquet`` with an ``id`` column and either one list column
    ``embedding`` (other columns then ignored) or numeric feature columns (nullable ones too, without a
    missing value), in any row order; the id may be the parquet's index. Finiteness, the scale, the
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
        if values.ndim != 2:
            raise WinnowError(f"{where}: shape {values.shape}; embeddings must be a 2-D array (N images, D)")
        if len(values) != len(ids):
            raise WinnowError(f"{where}: {len(values)} rows but the imageset has {len(ids)} images; a .npy needs one "
                              "row per image in manifest order (or write a .parquet with an id column)")
    elif path.suffix == ".parquet":
        values = _parquet_rows(path, ids, where)
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


_BOOKKEEPING = {"label", "labels", "target", "targets", "class", "classes", "y", "split", "index", "row", "row_number",
                "row_id", "idx"}


def _bookkeeping_column(name: str) -> bool:
    """Whether a parquet column named ``name`` is a label, split or row number rather than a feature."""
    lowered = name.lower()
    return lowered in _BOOKKEEPING or "label" in lowered or lowered.startswith(("unnamed", "__index_level"))


def _parquet_rows(path: Path, ids: np.ndarray, where: str) -> np.ndarray:
    """The parquet's features reordered to ``ids``, after checking that its ids are exactly those."""
    try:
        frame = pd.read_parquet(path)
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
    if "embedding" in frame.columns:
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
        values = np.stack([np.asarray(cell) for cell in cells])
        if values.ndim != 2:  # a number, or a table, per image: not a vector
            held = "one number" if values.ndim == 1 else f"a {values.ndim - 1}-D array"
            raise WinnowError(f"{where}: the embedding column holds {held} per image; it must hold one list of "
                              "numbers per image (or write each feature as a numeric column)")
        return values
    bookkeeping = [c for c in frame.columns if _bookkeeping_column(str(c))]
    if bookkeeping:  # a label beside the features would let the label cleaners judge labels by themselves
        raise WinnowError(f"{where}: column {bookkeeping[0]!r} reads as a label, split or row index, not a feature: "
                          "the embedding would carry what the label cleaners judge; write only id and the features")
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


def _checked(features: np.ndarray, ids: np.ndarray, *, where: str, user: bool) -> tuple[np.ndarray, float]:
    """(``features`` as float32 ``(N, D)``, the factor they were multiplied by) when every value is finite,
    also after the cast; else one line. A ``user``'s features (numeric ``(N, D)``, any dtype) are first
    scaled in float64 (:func:`_rescaled`), and what is stored must then pass :func:`_refuse_degenerate`."""
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
        _refuse_degenerate(features, ids, where=where)
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


def _refuse_degenerate(features: np.ndarray, ids: np.ndarray, *, where: str) -> None:
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
    _refuse_one_point(features, where=where)


def _refuse_one_point(features: np.ndarray, *, where: str, fix: str = "") -> None:
    """One line when every row of float32 ``features`` ``(N, D)`` is the same, or all point one way: cosine
    similarity 1 for every pair, a judge that says nothing (the first made confident-learn drop 88% of train).
    Rows of zeros in a model's own features (a ReLU's) are left to the cosine's convention."""
    if len(features) < 2:
        return
    fix = f"; {fix}" if fix else ""
    if not np.any(features != features[0]):
        raise WinnowError(f"{where}: every image has the same embedding (no feature varies); it cannot tell "
                          f"images apart{fix}")
    wide = features.astype(np.float64)
    norms = np.linalg.norm(wide, axis=1)
    if not norms.all():
        return  # a zero row next to others: not one direction
    cosine = (wide @ wide[0]) / (norms * norms[0])
    if np.all(1 - cosine <= np.finfo(np.float32).eps):
        raise WinnowError(f"{where}: every image's embedding points the same way (each a positive multiple of one "
                          "vector: cosine similarity 1 between every pair, to float32 precision); cosine "
                          f"neighbours cannot tell images apart{fix}")


def _shown(value) -> str:
    """An id for a message: ``'img-3'`` or ``7``, not ``np.int64(7)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def read_representation(folder: str | os.PathLike, ids) -> np.ndarray:
    """float32 ``(len(ids), D)``: the rows of ``folder/embeddings.npy`` (the represent stage's output) for
    ``ids``, any subset of the imageset's ids in any order, located through ``folder/ids.json``.

    Raises:
        WinnowError: one line naming the file and the stage to rerun when a file is missing or damaged,
            the two files disagree, an id has no row, or a row read holds a non-finite value.
    """
    folder = Path(folder)
    names = folder / "embeddings.npy", folder / "ids.json"
    for name in names:
        if not name.is_file():
            raise rerun_error(name, "missing", written_by="represent")
    try:
        features = np.load(names[0], mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:  # truncated, foreign or pickled
        raise rerun_error(names[0], f"not a readable .npy file ({first_line(err)})", written_by="represent") from err
    known = read_json(names[1], written_by="represent")
    if not isinstance(known, list) or not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in known):
        raise rerun_error(names[1], "not a list of image ids", written_by="represent")
    known = pd.Index(known)
    if not known.is_unique:
        raise rerun_error(names[1], f"{int(known.duplicated().sum())} repeated id(s), first "
                                    f"{known[known.duplicated()][0]!r}", written_by="represent")
    if features.ndim != 2 or features.dtype.kind != "f":
        raise rerun_error(names[0], f"holds {features.dtype} of shape {features.shape}, not float features (N, D)",
                          written_by="represent")
    if features.shape[1] == 0:  # every distance 0, every probe a constant: the judges would decide on nothing
        raise rerun_error(names[0], f"holds {features.dtype} of shape {features.shape}: no feature values (D = 0)",
                          written_by="represent")
    if len(features) != len(known):
        raise rerun_error(folder, f"embeddings.npy has {len(features)} rows for the {len(known)} ids of ids.json; "
                                  "the two do not agree", written_by="represent")
    wanted = np.asarray(ids, dtype=object)
    rows = known.get_indexer(wanted)
    if (rows < 0).any():
        raise rerun_error(names[1], f"{int((rows < 0).sum())} image(s) have no embedding, first "
                                    f"{wanted[rows < 0][0]!r}", written_by="represent")
    chosen = np.asarray(features[rows], dtype=np.float32)
    bad = ~np.isfinite(chosen).all(axis=1)
    if bad.any():
        raise rerun_error(names[0], f"{int(bad.sum())} embedding(s) hold non-finite values, first id "
                                    f"{wanted[bad][0]!r}", written_by="represent")
    return chosen


def knn_val_accuracy(features: np.ndarray, labels: np.ndarray, splits: np.ndarray, *, k: int = 10,
                     knn: str = "numpy") -> float | None:
    """How well an embedding judges labels: the share of val images whose ``k`` nearest train images
    (cosine) carry the val image's label by majority (a tie goes to the nearest neighbour's class).

    Val labels are trusted; the train images vote with their given labels, noise and all, as they do when
    the embedding judges them. ``features`` float ``(N, D)``, ``labels`` int ``(N,)``, ``splits`` ``(N,)``
    of train | val | test. None without val or train images. ``knn``: how the k nearest are searched
    (:func:`winnow.neighbours.nearest`).
    """
    train, val = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "val")
    if len(train) == 0 or len(val) == 0:
        return None
    labels = np.asarray(labels, np.int64)
    space = Space(positions=val, features=features[val], reference_positions=train,
                  reference_features=features[train], reference_labels=labels[train])
    return float((vote(space, k=min(k, len(train)), num_classes=labels.max() + 1, knn=knn) == labels[val]).mean())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
