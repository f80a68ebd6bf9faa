"""Learned representations for neighbour cleansing, and rounds of embed → cleanse (→ augment) (001).

A model trained to convergence on noisy labels memorises them: its features put a mislabelled image
next to its *given* class, and the neighbours then vouch for the wrong label. So the features must come
from a model that has not learnt the label on trial, as :class:`winnow.neighbours.Space` objects, in
one of two ways (:data:`MODES`):

- ``folds``: K stratified folds; each fold model, trained on the other folds, embeds its held-out fold
  (the images judged) and its own training images (the references they are compared with). A judged
  label never touched the model, and query and neighbours share one feature space; spaces of
  different fold models are not comparable, so neighbours are searched within one space only.
- ``single``: one model on every image; every image is both judged and a reference (never its own
  neighbour). It relies on the early-learning regime: a network fits the clean majority before it
  memorises the noisy minority, and ``fit`` keeps the epoch that is best on the val split, whose labels
  are trusted, which comes before memorisation. On MNIST-5k with 20% symmetric noise the kept lenet5
  checkpoint predicted the given (wrong) label for 1-3% of the flipped images, even after 100 epochs
  without augmentation; ``single`` found the flips with a higher F1 than ``folds`` (0.95-0.97 against
  0.93-0.96 over two seeds and 10-40 epochs) in a quarter of the training time.

The models are the train stage's own (:func:`winnow.training.fit`, cross-entropy, checkpoint chosen on
the val split) and the features its penultimate activations (:func:`winnow.training.embed`). 001
trains a Siamese network with a supervised-contrastive objective instead; that needs a training loop
beside ``fit`` and is not offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from winnow.configs import EMBEDDING_MODES
from winnow.errors import WinnowError
from winnow.labels import stratified_folds
from winnow.neighbours import Space, cleanse, evidence
from winnow.outliers import find_outliers

MODES = EMBEDDING_MODES
# augment(images uint8 (M, H, W, C), labels int (M,), *, round) -> (extra images, extra labels)
Augment = Callable[..., tuple[np.ndarray, np.ndarray]]


def embedding_spaces(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    config,
    num_classes: int,
    mode: str = "single",
    folds: int = 4,
    seed: int = 0,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = False,
) -> list[Space]:
    """Out-of-sample feature spaces in which every image is judged exactly once.

    Args:
        images: uint8 ``(N, H, W, C)``; labels: int ``(N,)`` their given labels.
        val_images, val_labels: the val split, uint8 ``(M, H, W, C)`` and int ``(M,)``; each model keeps
            its best epoch on it.
        config: a :class:`winnow.training.TrainConfig` (its device choice applies).
        mode: one of :data:`MODES`; folds: how many, for ``folds``.
        extra: images and labels added to every model's training data, never judged nor references
            (augmented images).

    Returns:
        One :class:`Space` per model; positions index ``images``; features float32 ``(·, D)``.
    """
    from winnow.training import embed, fit

    labels = np.asarray(labels, np.int64)
    if mode not in MODES:
        raise WinnowError(f"embedding_clean.mode: unknown {mode!r}; choose one of {', '.join(MODES)}")
    extra_images, extra_labels = extra if extra is not None else (images[:0], labels[:0])

    def train(rows: np.ndarray, model_seed: int):
        return fit(np.concatenate([images[rows], extra_images]), np.concatenate([labels[rows], extra_labels]),
                   val_images, val_labels, config=config, num_classes=num_classes, seed=model_seed,
                   progress=progress)

    if mode == "single":
        everything = np.arange(len(labels))
        trained = train(everything, seed)
        features = embed(trained, images, batch_size=config.eval_batch_size)
        return [Space(everything, features, everything, features, labels, trained.best_val_acc)]
    if not isinstance(folds, (int, np.integer)) or not 2 <= folds <= len(labels):
        raise WinnowError(f"embedding_clean.folds: {folds!r} must be an integer from 2 to the {len(labels)} "
                          "images judged")
    fold_of = stratified_folds(labels, folds=folds, seed=seed)
    spaces = []
    for fold in range(folds):
        held_out, kept = np.flatnonzero(fold_of == fold), np.flatnonzero(fold_of != fold)
        trained = train(kept, seed + fold)
        spaces.append(Space(held_out, embed(trained, images[held_out], batch_size=config.eval_batch_size),
                            kept, embed(trained, images[kept], batch_size=config.eval_batch_size), labels[kept],
                            trained.best_val_acc))
    return spaces


def round_options(section: dict) -> dict:
    """:func:`clean_rounds` keyword options from a full ``embedding_clean`` params section (the stage's
    defaults filled in): how many rounds, the mode, and the neighbour and outlier settings."""
    return {
        "rounds": section["rounds"], "mode": section["mode"], "folds": section["folds"], "k": section["k"],
        "neighbour_options": {"agree": section["agree"], "margin": section["margin"],
                              "isolation": section["isolation"],
                              "max_isolated_fraction": section["max_isolated_fraction"], "bins": section["bins"]},
        "outlier_options": {"methods": tuple(section["outliers"]), "threshold": section["outlier_threshold"],
                            "max_flagged_fraction": section["max_outlier_fraction"], "bins": section["bins"]},
        "drop_outliers": section["drop_outliers"],
    }


@dataclass(frozen=True)
class Rounds:
    """What :func:`clean_rounds` found.

    Attributes:
        decisions: one row per (round, image judged in it): :data:`winnow.neighbours.DECISION_COLUMNS`,
            one score and one ``<method>_outlier`` flag per outlier method, and ``round`` (from 1).
        features: float32 ``(M, D)`` of the last round, row i the features of ``ids[i]`` from the model
            that judged it (in ``folds`` mode rows of different folds come from different models).
        ids: ``(M,)`` the images judged in the last round.
        outlier_cuts: per round, ``{method: cut}`` (``-inf`` when nothing was flagged).
        judge_accuracy: per round, the mean val accuracy of its embedding models: how far to trust them.
    """

    decisions: pd.DataFrame
    features: np.ndarray
    ids: np.ndarray
    outlier_cuts: list[dict[str, float]]
    judge_accuracy: list[float]


def clean_rounds(
    images: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray,
    *,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    config,
    num_classes: int,
    rounds: int = 1,
    mode: str = "single",
    folds: int = 4,
    k: int = 10,
    neighbour_options: dict | None = None,
    outlier_options: dict | None = None,
    drop_outliers: bool = False,
    augment: Augment | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Rounds:
    """Embed → neighbour cleansing (→ augment), ``rounds`` times, each round on the previous one's result.

    Round r embeds the images still in with their current labels (:func:`embedding_spaces`, seed
    ``seed + r - 1``), decides by :func:`winnow.neighbours.cleanse` and scores outliers with
    :func:`winnow.outliers.find_outliers`; its drops leave and its relabels apply before round r + 1.
    With ``drop_outliers`` an image it keeps but an outlier method flags is dropped, reason
    ``outlier:<methods>``. Between rounds ``augment(images, labels, round=r)`` gets the cleaned images
    and labels and returns extra ones for the next round's training only (they replace the previous
    round's extras, and are never judged). Deterministic for a seed on CPU.

    Args:
        images: uint8 ``(N, H, W, C)``; labels: int ``(N,)``; ids: ``(N,)`` unique.
        neighbour_options: keyword options of :func:`winnow.neighbours.cleanse` (``agree``, ``margin``…).
        outlier_options: keyword options of :func:`winnow.outliers.find_outliers` (``methods``…).
        Others: as :func:`embedding_spaces`.
    """
    labels, ids = np.array(labels, np.int64), np.asarray(ids, dtype=object)
    if not len(images) == len(labels) == len(ids):
        raise WinnowError(f"embedding_clean: {len(images)} images, {len(labels)} labels and {len(ids)} ids differ")
    if not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise WinnowError(f"embedding_clean.rounds: {rounds!r} must be an integer of at least 1")
    alive, extra, tables, cuts, judges = np.arange(len(labels)), None, [], [], []
    for r in range(1, rounds + 1):
        spaces = embedding_spaces(images[alive], labels[alive], val_images=val_images, val_labels=val_labels,
                                  config=config, num_classes=num_classes, mode=mode, folds=folds,
                                  seed=seed + r - 1, extra=extra, progress=progress)
        found = pd.concat([evidence(s, labels[alive][s.positions], k=k, num_classes=num_classes) for s in spaces])
        found = found.sort_values("position").reset_index(drop=True)
        table = cleanse(ids[alive], labels[alive], found, **(neighbour_options or {}))
        scored, round_cuts = find_outliers(spaces, k=k, seed=seed, **(outlier_options or {}))
        scored = scored.sort_values("position").reset_index(drop=True)
        table = _with_outliers(table, scored.drop(columns="position"), drop=drop_outliers)
        table["round"] = r
        tables.append(table)
        cuts.append(round_cuts)
        judges.append(float(np.mean([space.val_accuracy for space in spaces])))
        if r == rounds:
            break
        relabel = table["decision"].to_numpy() == "relabel"
        labels[alive[relabel]] = table["suggested_label"].to_numpy()[relabel]
        alive = alive[table["decision"].to_numpy() != "drop"]
        if augment is not None:
            extra = _checked_extra(augment(images[alive], labels[alive], round=r), images)
    features = np.zeros((len(alive), spaces[0].features.shape[1]), np.float32)
    for s in spaces:
        features[s.positions] = s.features
    return Rounds(pd.concat(tables, ignore_index=True), features, ids[alive], cuts, judges)


def _with_outliers(table: pd.DataFrame, scored: pd.DataFrame, *, drop: bool) -> pd.DataFrame:
    """The decisions with the outlier columns, and kept outliers dropped when ``drop``."""
    table = pd.concat([table, scored], axis=1)
    flag_columns = [c for c in scored.columns if c.endswith("_outlier")]
    if drop and flag_columns:
        flags = scored[flag_columns].to_numpy(bool)
        hit = (table["decision"].to_numpy() == "keep") & flags.any(axis=1)
        methods = np.array([c.removesuffix("_outlier") for c in flag_columns])
        table.loc[hit, "reason"] = ["outlier:" + "+".join(methods[row]) for row in flags[hit]]
        table.loc[hit, "decision"] = "drop"
        table["is_issue"] = table["decision"] != "keep"
    return table


def _checked_extra(extra, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    extra_images, extra_labels = np.asarray(extra[0]), np.asarray(extra[1], np.int64)
    if extra_images.dtype != np.uint8 or extra_images.shape[1:] != images.shape[1:] \
            or len(extra_images) != len(extra_labels):
        raise WinnowError(f"embedding_clean: augment returned images {extra_images.dtype} {extra_images.shape} "
                          f"and {len(extra_labels)} labels; expected uint8 (E, {', '.join(map(str, images.shape[1:]))})"
                          " and E labels")
    return extra_images, extra_labels
