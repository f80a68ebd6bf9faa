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
row, one row for all, one direction for all, one row for many different pictures):
:mod:`winnow.embedding_checks`.

Read top to bottom: :func:`options` (every parameter is checked there), :func:`embed_imageset` (the
dispatch), :func:`read_representation` (the stage's output, rows chosen by
id, for the cleaners), :func:`knn_val_accuracy` (how well an embedding judges labels).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from winnow import checkpoints, pretrained, selfsup, training
from winnow.configs import PretrainedConfig, SelfSupConfig, TrainConfig
from winnow.embedding_checks import checked
from winnow.embedding_file import read_embedding_file
from winnow.engine import Engine
from winnow.errors import WinnowError
from winnow.imageset import ImageSet, pixel_digest
from winnow.neighbours import Space, vote
from winnow.file_ops import file_sha256
from winnow.model_reads import read_embedding
from winnow.represent_settings import DEFAULTS  # the represent section: what a left-out key means
from winnow.stage import write_torch
from winnow.stage_reads import read_json, rerun_error

EMBED_BATCH = 1024  # images a batch when a trained encoder embeds the imageset (an actor's call on Ray)
USER_SOURCES = ("pretrained", "file")  # features made elsewhere: scaled and checked before they are stored


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
        info: ``source``, ``dim``, ``seconds``, ``epochs``, ``final_loss`` (the last epoch's training loss) and
            ``kept_loss`` (that of the epoch whose model made the features: the judge's ``best_epoch``, selfsup's
            last) (None where nothing was trained), and per source: ``best_epoch``/``stop_reason``/``judge_val_accuracy`` (judge), ``model``
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
    # a leading ~ is the home folder, as in ingest.path and as the source stage lists these files; before, represent
    # alone read ~/mine.npy as a folder named ~ and said it was not found
    pretrained = {key: os.path.expanduser(value) if key in ("torchscript", "path") and value else value
                  for key, value in (p["pretrained"] or {}).items()}
    return Options(p["source"], p["knn_k"], SelfSupConfig(**(p["selfsup"] or {})),
                   PretrainedConfig(**pretrained), Path(os.path.expanduser(p["file"])) if p["file"] else None,
                   TrainConfig.from_params(train or {}, overrides=p["judge"], overrides_from="represent.judge"))


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
    user = options.source in USER_SOURCES
    # a user's features are also checked against the pixels: one row for many different pictures is a placeholder,
    # and a parquet's digest column names the pixels each row was made from
    pictures = _digests(data).to_numpy() if user else None
    if options.source == "selfsup":
        # train + val: the test split, and the trusted split that judges the cleaning, are never learnt from
        fit = data.manifest["split"].isin(["train", "val"]).to_numpy()
        _refuse_one_picture(_digests(data, fit), where="represent.selfsup", which="train and val")
        trained = selfsup.pretrain(np.asarray(data.images[fit]), config=options.selfsup, seed=seed,
                                   progress=progress)
        features = engine.embed(selfsup.encoder(trained), data.images, batch_size=EMBED_BATCH)
        info = {"epochs": len(trained.history), "final_loss": trained.history[-1]["loss"],
                "kept_loss": trained.history[-1]["loss"]}  # selfsup keeps its last epoch's encoder
        where = "represent.selfsup"
    elif options.source == "judge":
        train, val = data.split("train"), data.split("val")
        _refuse_one_picture(_digests(train), where="represent.judge", which="train")
        judged = training.fit(train.images, train.labels, val.images, val.labels, config=options.judge,
                              num_classes=len(data.classes), seed=seed, progress=progress, label="represent judge")
        features = engine.embed(training.encoder(judged, num_classes=len(data.classes),
                                                 image_shape=data.images.shape[1:]),
                                data.images, batch_size=EMBED_BATCH)
        # the loss of the epoch kept, whose model made the features: before, only the last epoch's was recorded and
        # printed, a model patience had dropped (epoch 15's loss beside the embedding of epoch 8's)
        info = {"epochs": len(judged.history), "final_loss": judged.history[-1]["train_loss"],
                "kept_loss": judged.history[judged.best_epoch - 1]["train_loss"], "best_epoch": judged.best_epoch,
                "stop_reason": judged.stop_reason,
                "judge_val_accuracy": judged.best_val_acc}
        where = "represent.judge"
    elif options.source == "pretrained":
        weights = options.pretrained.torchscript or options.pretrained.path
        option = "represent.pretrained." + ("torchscript" if options.pretrained.torchscript else "path")
        with _read_alike(weights, option=option) as read:
            features, name = pretrained.embed(data.images, config=options.pretrained, progress=progress)
        info = {"epochs": None, "final_loss": None, "kept_loss": None, "model": name}
        if weights is not None:  # DVC does not watch these files: the record says which bytes were used
            info["sha256"] = read["sha256"]
        where = f"represent.pretrained: {name}"
    else:
        with _read_alike(options.file, option="represent.file") as read:
            features = read_embedding_file(options.file, ids, pictures)
            # a .npy is mapped: its bytes are read here, while the file is watched, as the float64 that checked() makes
            # of a user's features anyway (beyond float64: infinity, which it names)
            with np.errstate(over="ignore"):
                features = np.asarray(features, dtype=np.float64)
        info = {"epochs": None, "final_loss": None, "kept_loss": None, "file": str(options.file),
                "sha256": read["sha256"]}
        where = f"represent.file: {options.file}"
    features, scale = checked(features, ids, where=where, user=user, table=options.source == "file",
                              pictures=pictures, images=data.images if user else None)
    if user:
        info["scale"] = scale
    if model_out is not None:
        if options.source == "selfsup":
            selfsup.save(trained, model_out)
        elif options.source == "judge":
            # learnt: the labels it was trained on, so that the budget, letting it stand in for none, refuses it
            # after a relabel (checkpoints.load's trained_on)
            checkpoints.save(judged, model_out, classes=data.classes, image_shape=data.images.shape[1:],
                             seen=np.concatenate([train.manifest["id"].to_numpy(), val.manifest["id"].to_numpy()]),
                             labels=np.concatenate([train.labels, val.labels]))
        else:
            write_torch(model_out, {"source": options.source, **info})
    info = {"source": options.source, "dim": int(features.shape[1]), "seconds": round(time.perf_counter() - start, 1),
            **info}
    return Representation(features, ids, info)


@contextmanager
def _read_alike(path: str | os.PathLike | None, *, option: str) -> Iterator[dict]:
    """A block that reads the user's file ``path`` (None: none), giving ``{"sha256": ...}``, the digest of the bytes
    it read, once the block ends: the file hashed before and after, and one line when another version was written
    meanwhile. Before, it was hashed after the features were made (minutes after a model was loaded), so a model
    exported again during the run was recorded in metrics/represent.json by the new file's sha256 beside the old
    one's features. A path that is no file is left to the block, which names it."""
    read: dict = {}
    before = file_sha256(path) if path is not None and os.path.isfile(path) else None
    yield read
    if path is None:
        return
    after = file_sha256(path) if os.path.isfile(path) else None
    if after is None and before is not None:  # before: "changed ... (another version was written meanwhile)", of a
        # file removed or moved away, where no other version was to be found
        raise WinnowError(f"{option}: {path} was removed while represent read it (moved away, or deleted to be "
                          "written anew); run represent again once the file is in place")
    if after != before:
        raise WinnowError(f"{option}: {path} changed while represent read it (another version was written meanwhile); "
                          "run represent again once the file is complete")
    read["sha256"] = after


def _digests(data: ImageSet, rows: np.ndarray | None = None) -> pd.Series:
    """The pixel digests of ``data``'s images at bool ``rows`` (None: every image, the images not copied): the
    manifest's, or computed where an imageset made in memory has none."""
    if "digest" in data.manifest.columns:
        return data.manifest["digest"] if rows is None else data.manifest.loc[rows, "digest"]
    return pd.Series(pixel_digest(np.asarray(data.images if rows is None else data.images[rows])))


def _refuse_one_picture(digests: pd.Series, *, where: str, which: str) -> None:
    """One line when every image a model would learn from (their pixel ``digests``, the manifest's) is the same
    picture: its features then collapse to one point, and the refusal that follows training blamed the learning
    rate. The digests, not the pixels: comparing those made a second array the size of the images."""
    if len(digests) > 1 and digests.nunique() == 1:
        raise WinnowError(f"{where}: every one of the {len(digests)} {which} images is the same picture, so a model "
                          "learnt from them can tell no image apart; check the source's images, or give "
                          "represent.source: file")


MADE_FROM = "made_from.json"  # beside embeddings.npy: the pixels (and labels) the embedding was made from
LEARNT_SPLITS = ("train", "val")  # the rows whose labels the judge source reads (train to learn, val to choose)


def made_from(data: ImageSet, *, source: str) -> dict:
    """The record of what an embedding of ``data`` from ``source`` was made from, written beside it as
    :data:`MADE_FROM`: ``digests``, each image id's pixel digest; ``labels`` and ``splits``, each train and val
    image id's class name and split where the source reads labels (``judge``), else None; ``learnt``, the train and
    val ids whose pixels a ``selfsup`` encoder learnt, else None. :func:`read_representation` checks it against the
    data a stage reads now."""
    ids = data.manifest["id"].astype(str).tolist()
    learnt = data.manifest["split"].isin(LEARNT_SPLITS).to_numpy()
    judged = source == "judge"
    return {"source": source, "digests": dict(zip(ids, _digests(data).astype(str).tolist())),
            "learnt": np.asarray(ids, dtype=object)[learnt].tolist() if source == "selfsup" else None,
            "labels": ({i: data.classes[label] for i, label in zip(np.asarray(ids, dtype=object)[learnt],
                                                                    data.labels[learnt])} if judged else None),
            "splits": (dict(zip(np.asarray(ids, dtype=object)[learnt], data.manifest["split"][learnt].astype(str)))
                       if judged else None)}


def read_representation(folder: str | os.PathLike, ids, *, data: ImageSet | None = None,
                        params: dict | None = None) -> np.ndarray:
    """float32 ``(len(ids), D)``: the rows of ``folder/embeddings.npy`` (the represent stage's output) for
    ``ids``, any subset of the imageset's ids in any order, located through ``folder/ids.json``.

    ``data``: the imageset (data/degrade) the caller reads now, which ``folder/made_from.json`` (:func:`made_from`)
    must describe: the images of ``ids`` of the same pixels, and where the embedding's source read labels (judge),
    every train and val image of the same pixels and label, none added or gone. None: not checked. ``params``:
    params.yaml as the caller read it, whose represent settings the embedding must have been made under where it
    records them (:func:`winnow.represent_settings.check_made_at`); None: not checked.

    Raises:
        WinnowError: one line naming the file and the stage to rerun when a file is missing or damaged,
            the two files disagree, an id has no row, a row read holds a non-finite value, or the record of
            what the embedding was made from is missing (an earlier winnow's) or is not ``data``, or it was made
            under other settings than ``params``.
    """
    folder = Path(folder)
    names = folder / "embeddings.npy", folder / "ids.json"
    features, known = read_embedding(folder, params=params)
    wanted = np.asarray(ids, dtype=object)
    rows = known.get_indexer(wanted)
    if (rows < 0).any():
        raise rerun_error(names[1], f"{int((rows < 0).sum())} image(s) have no embedding, first "
                                    f"{wanted[rows < 0][0]!r}", written_by="represent")
    if data is not None:
        _check_made_from(folder / MADE_FROM, wanted, data)
    chosen = np.asarray(features[rows], dtype=np.float32)
    bad = ~np.isfinite(chosen).all(axis=1)
    if bad.any():
        raise rerun_error(names[0], f"{int(bad.sum())} embedding(s) hold non-finite values, first id "
                                    f"{wanted[bad][0]!r}", written_by="represent")
    return chosen


def _check_made_from(path: Path, wanted: np.ndarray, data: ImageSet) -> None:
    """Refuse an embedding whose record ``path`` (:func:`made_from`) is missing, or does not describe ``data`` for
    the images of ``wanted`` ``(M,)`` (their pixels), and for a judge's, every train and val image (pixels and
    labels): the stage run alone (`dvc repro -s`, or by hand) after degrade's rows changed. Before, only ids were
    checked, so after a relabel the budget and the cleaners judged the new labels in the old labels' space."""
    if not path.is_file():
        # an earlier winnow's output: which data it came from, and whether its source read labels, cannot be told
        raise rerun_error(path, "missing: the embedding was made by an earlier winnow, which kept no record of the "
                                "pixels and labels it was made from, so images or labels changed since cannot be told",
                          written_by="represent")
    record = read_json(path, written_by="represent", keys=("source", "digests", "labels"))
    digests, labels = record["digests"], record["labels"]
    if not (isinstance(digests, dict) and all(isinstance(v, str) for v in digests.values())
            and (labels is None or (isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())))):
        raise rerun_error(path, "not a record of the pixels and labels the embedding was made from",
                          written_by="represent")
    manifest = data.manifest
    now = pd.Series(_digests(data).astype(str).to_numpy(), index=manifest["id"].astype(str).to_numpy())
    checked = pd.Index(np.asarray(wanted).astype(str))
    if labels is not None:  # a judge learnt from every train and val image: any of them changed moves every feature
        checked = checked.union(pd.Index(list(labels))).union(now.index[manifest["split"].isin(LEARNT_SPLITS)])
    other = checked[(pd.Series(digests, dtype=object).reindex(checked).to_numpy()
                     != now.reindex(checked).to_numpy())]  # by index: 50,000 lookups one by one took 1.1 s
    if len(other):
        raise rerun_error(path.parent, f"{len(other)} image(s) were embedded from other pixels than the data set holds "
                                       f"now (or are new or gone), first {other[0]!r}: the data changed since the "
                                       "embedding was made, and its features would describe other pictures",
                          written_by="represent")
    if record["source"] == "selfsup":
        _check_learnt(path, record.get("learnt"), manifest, then_ids=digests)
    if labels is None:
        return
    learnt = manifest["split"].isin(LEARNT_SPLITS).to_numpy()
    names = pd.Series(np.asarray(data.classes, dtype=object)[data.labels[learnt]],
                      index=now.index[learnt])
    both = names.index.union(pd.Index(list(labels)))
    moved = both[pd.Series(labels, dtype=object).reindex(both).to_numpy() != names.reindex(both).to_numpy()]
    if len(moved):
        was, is_now = labels.get(moved[0]), names.get(moved[0])
        was, is_now = repr(was) if was else "not learnt", repr(is_now) if is_now else "no train or val image"
        raise rerun_error(path.parent, f"its judge learnt {len(moved)} train or val image(s) under another label than "
                                       f"the data set holds now, first {moved[0]!r} ({was}, now {is_now}): the labels "
                                       "changed since the embedding was made, and features trained on the old labels "
                                       "would vouch for them", written_by="represent")
    # the same images and labels, but between train and val: the judge learnt images val now trusts to judge the
    # cleaning, or chose its epoch on images train now holds. Before, read as if nothing had changed
    splits = record.get("splits")
    if not (isinstance(splits, dict) and set(splits) == set(labels)):
        raise rerun_error(path, "records no split of the train and val images its judge learnt from (an earlier "
                                "winnow's record), so images moved between train and val since cannot be told",
                          written_by="represent")
    now_splits = manifest["split"][learnt].astype(str).to_numpy()
    moved = names.index[pd.Series(splits, dtype=object).reindex(names.index).to_numpy() != now_splits]
    if len(moved):
        into_val = [name for name in moved if splits[name] == "train"]  # the graver: named first when there is one
        first = (into_val or list(moved))[0]
        why = ("the judge learnt images val now holds to judge the cleaning" if into_val else
               "the judge chose its checkpoint on images train now holds")  # before: said of a val -> train move too
        raise rerun_error(path.parent, f"{len(moved)} image(s) moved between train and val since its judge learnt "
                                       f"them, first {first!r} ({splits[first]} then, "
                                       f"{now_splits[names.index.get_loc(first)]} now): {why}", written_by="represent")


def _check_learnt(path: Path, learnt, manifest: pd.DataFrame, *, then_ids) -> None:
    """Refuse a selfsup embedding whose encoder learnt an image (``learnt``, the record's ids) the test or trusted
    split, never learnt from, holds now (``manifest``), or did not learn one they held then (``then_ids``: the ids
    embedded then); an image gone or new moved nowhere. Before, only pixels were checked: after ingest's split
    changed, a stage run alone judged test images by an encoder that had learnt them."""
    if not (isinstance(learnt, list) and all(isinstance(i, str) for i in learnt)):  # before: a damaged list too
        raise rerun_error(path, "records no list of the images its selfsup encoder learnt from (an earlier winnow's "
                                "record), so images moved into or out of train and val since cannot be told"
                          if learnt is None else "its learnt is not a list of image ids, the images its selfsup "
                          "encoder learnt from", written_by="represent")
    splits = pd.Series(manifest["split"].astype(str).to_numpy(), index=manifest["id"].astype(str).to_numpy())
    then, now = pd.Index(learnt), splits.index[splits.isin(LEARNT_SPLITS).to_numpy()]
    # before: an image gone or new was refused as moved, and named first where one learnt was in test now
    left = then.difference(now, sort=False).intersection(splits.index, sort=False)
    came = now.difference(then, sort=False).intersection(pd.Index(list(then_ids)), sort=False)
    if len(left) or len(came):
        first = left[0] if len(left) else came[0]  # the graver first: an image learnt, now never to be
        why = (f"its encoder learnt an image the {splits[first]} split now holds, which is never learnt from"
               if len(left) else "its encoder learnt other images than train and val hold now")
        raise rerun_error(path.parent, f"{len(left) + len(came)} image(s) moved into or out of train and val since its "
                                       f"selfsup encoder learnt from them, first {first!r} ("
                                       f"{'learnt' if len(left) else 'not learnt'} then, {splits[first]} now): {why}",
                          written_by="represent")


def knn_val_accuracy(features: np.ndarray, labels: np.ndarray, splits: np.ndarray, *, k: int = 10,
                     knn: str = "numpy") -> float | None:
    """How well an embedding judges labels: the share of val images whose ``k`` nearest train images
    (cosine) carry the val image's label by majority (of classes tied on votes, the one with the nearer
    neighbour: :func:`winnow.neighbours.vote`).

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

