"""Representations for neighbour cleansing, and rounds of embed → cleanse (→ augment) (001).

The features come from the represent stage's embedding (:func:`fixed_judgement`; the default,
``embedding_clean.embedding: represent``), computed once and never trained on the labels on trial
unless its source is the supervised judge, or from a model trained here on the given labels
(:func:`embedding_spaces`; ``embedding: judge``). Each round's judge also judges the val images, with
a seeded share of their labels flipped, exactly as it judges train images, which measures its relabel
precision (:mod:`winnow.judges`); relabels stand only where that precision clears ``min_precision``.

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
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from winnow import judges
from winnow.configs import EMBEDDING_MODES
from winnow.errors import WinnowError
from winnow.neighbours import Space, check_k, cleanse, evidence, vote
from winnow.out_of_sample import dealt_folds, stratified_folds
from winnow.outliers import find_outliers

MODES = EMBEDDING_MODES
# augment(images uint8 (M, H, W, C), labels int (M,), *, round) -> (extra images, extra labels)
Augment = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Judgement:
    """One round's judge.

    Attributes:
        spaces: the :class:`Space` objects in which the ``N`` images on trial are judged, each exactly
            once (positions index them).
        val_spaces: the ``M`` val images as queries against the same references, each exactly once, at
            positions ``N + j`` for val image j, so that none is taken for the reference at its own index.
        val_accuracy: the share of val images the judge gets right: the models' at their kept epoch, or
            the k-NN vote's among the references in a fixed embedding.
    """

    spaces: list[Space]
    val_spaces: list[Space]
    val_accuracy: float


def fixed_judgement(features: np.ndarray, labels: np.ndarray, *, val_features: np.ndarray, val_labels: np.ndarray,
                    k: int, num_classes: int, knn: str = "numpy") -> Judgement:
    """A judge in a fixed embedding (the represent stage's): every image on trial is judged among all the
    others, every val image among the images on trial; its accuracy is the ``k``-NN vote's on val.

    Args:
        features: float ``(N, D)`` and labels int ``(N,)`` of the images on trial; val_features float
            ``(M, D)`` and val_labels int ``(M,)`` (trusted) of the val images.
        knn: how the k nearest are searched (:func:`winnow.neighbours.nearest`).
    """
    labels = np.asarray(labels, np.int64)
    everything = np.arange(len(labels))
    val_space = Space(len(labels) + np.arange(len(val_labels)), val_features, everything, features, labels)
    space = Space(everything, features, everything, features, labels)
    check_k(k, space, val_space)
    accuracy = float(np.mean(vote(val_space, k=k, num_classes=num_classes, knn=knn) == np.asarray(val_labels)))
    return Judgement([replace(space, val_accuracy=accuracy)], [replace(val_space, val_accuracy=accuracy)], accuracy)


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
    round_label: str | None = None,
) -> Judgement:
    """A judge trained here: out-of-sample feature spaces in which every image is judged exactly once.

    Args:
        images: uint8 ``(N, H, W, C)``; labels: int ``(N,)`` their given labels.
        val_images, val_labels: the val split, uint8 ``(M, H, W, C)`` and int ``(M,)``; each model keeps
            its best epoch on it, and embeds the val images it judges (all of them in ``single`` mode, a
            seeded share in ``folds`` mode) against its own references.
        config: a :class:`winnow.training.TrainConfig` (its device choice applies).
        mode: one of :data:`MODES`; folds: how many, for ``folds``.
        extra: images and labels added to every model's training data, never judged nor references
            (augmented images).
        round_label: which of :func:`clean_rounds`' rounds this is (``round 2/3``; None: the only one), beside each
            model's name in its bar and lines: before, round 2's models printed round 1's lines word for word.

    Returns:
        A :class:`Judgement`, one space per model; features float32 ``(·, D)``.
    """
    from winnow.training import embed, fit

    labels = np.asarray(labels, np.int64)
    if mode not in MODES:
        raise WinnowError(f"embedding_clean.mode: unknown {mode!r}; choose one of {', '.join(MODES)}")
    extra_images, extra_labels = extra if extra is not None else (images[:0], labels[:0])

    def train(rows: np.ndarray, model_seed: int, label: str):
        label = label + (f", {round_label}" if round_label else "")
        return fit(np.concatenate([images[rows], extra_images]), np.concatenate([labels[rows], extra_labels]),
                   val_images, val_labels, config=config, num_classes=num_classes, seed=model_seed,
                   progress=progress, label=label)

    def features(trained, some_images: np.ndarray) -> np.ndarray:
        return embed(trained, some_images, batch_size=config.eval_batch_size)

    if mode == "single":
        everything = np.arange(len(labels))
        trained = train(everything, seed, "embedding-clean judge")
        mine = features(trained, images)
        val_space = Space(len(labels) + np.arange(len(val_labels)), features(trained, val_images), everything, mine,
                          labels, trained.best_val_acc)
        return Judgement([Space(everything, mine, everything, mine, labels, trained.best_val_acc)], [val_space],
                         trained.best_val_acc)
    if not isinstance(folds, (int, np.integer)) or not 2 <= folds <= len(labels):
        raise WinnowError(f"embedding_clean.folds: {folds!r} must be an integer from 2 to the {len(labels)} "
                          "images judged")
    fold_of, val_fold_of = stratified_folds(labels, folds=folds, seed=seed), dealt_folds(len(val_labels), folds=folds,
                                                                                        seed=seed)
    spaces, val_spaces = [], []
    for fold in range(folds):
        held_out, kept = np.flatnonzero(fold_of == fold), np.flatnonzero(fold_of != fold)
        trained = train(kept, seed + fold, f"embedding-clean fold {fold + 1}/{folds}")
        references = features(trained, images[kept])
        spaces.append(Space(held_out, features(trained, images[held_out]), kept, references, labels[kept],
                            trained.best_val_acc))
        val_rows = np.flatnonzero(val_fold_of == fold)
        if len(val_rows):  # fewer val images than folds leaves a fold without
            val_spaces.append(Space(len(labels) + val_rows, features(trained, val_images[val_rows]), kept, references,
                                    labels[kept], trained.best_val_acc))
    return Judgement(spaces, val_spaces, float(np.mean([space.val_accuracy for space in spaces])))


def round_options(section: dict) -> dict:
    """:func:`clean_rounds` keyword options from a full ``embedding_clean`` params section (the stage's
    defaults filled in): how many rounds, the mode, the neighbour and outlier settings and the relabel bound."""
    return {
        "rounds": section["rounds"], "mode": section["mode"], "folds": section["folds"], "k": section["k"],
        "neighbour_options": {"agree": section["agree"], "margin": section["margin"],
                              "isolation": section["isolation"],
                              "max_isolated_fraction": section["max_isolated_fraction"], "bins": section["bins"]},
        "outlier_options": {"methods": tuple(section["outliers"]), "threshold": section["outlier_threshold"],
                            "max_flagged_fraction": section["max_outlier_fraction"], "bins": section["bins"]},
        "drop_outliers": section["drop_outliers"], "min_precision": section["relabel_min_precision"],
        "judged_on": section["relabel_judged_on"],
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
        strengths: per round, its judge's :class:`winnow.judges.Strength` (val accuracy, relabel precision).
        train_agreement: per round, the share of the images judged whose neighbour vote (each left out of its
            own, :func:`winnow.neighbours.vote`) is their label.
        val_agreement: per round, the share of val images whose neighbour vote among the same references is
            their (trusted) label: what ``train_agreement`` is compared with (:func:`winnow.judges.label_echo_warning`).
            In a fixed embedding it is the judge's val accuracy; with the judge's models that accuracy is their
            classifier's, another measurement (before: a 1-epoch judge right on 23.8% of val beside a vote agreeing
            with 68.9% of train was said to carry the train labels, where it found 357 of 486 flips).
    """

    decisions: pd.DataFrame
    features: np.ndarray
    ids: np.ndarray
    outlier_cuts: list[dict[str, float]]
    strengths: list[judges.Strength]
    train_agreement: list[float]
    val_agreement: list[float]


def clean_rounds(
    images: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray,
    *,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    config,
    num_classes: int,
    features: np.ndarray | None = None,
    val_features: np.ndarray | None = None,
    rounds: int = 1,
    mode: str = "single",
    folds: int = 4,
    k: int = 10,
    neighbour_options: dict | None = None,
    outlier_options: dict | None = None,
    drop_outliers: bool = False,
    min_precision: float = 0.8,
    judged_on: str = "all_val_relabels",
    augment: Augment | None = None,
    seed: int = 0,
    knn: str = "numpy",
    progress: bool = False,
) -> Rounds:
    """Embed → neighbour cleansing (→ augment), ``rounds`` times, each round on the previous one's result.

    Round r judges the images still in with their current labels, in ``features`` when given (a fixed
    embedding, :func:`fixed_judgement`), else in models trained here (:func:`embedding_spaces`, seed
    ``seed + r - 1``); it decides by :func:`winnow.neighbours.cleanse` and scores outliers with
    :func:`winnow.outliers.find_outliers`. The same round judges the val images with a seeded share of
    their labels flipped (:func:`winnow.judges.plant_flips`, the same flips every round) by the same
    rules; when the precision of its val relabels is below ``min_precision`` its relabels become drops
    (:func:`winnow.judges.gate_relabels`). Its drops leave and its relabels apply before round r + 1.
    With ``drop_outliers`` an image it keeps but an outlier method flags is dropped, reason
    ``outlier:<methods>``. Between rounds ``augment(images, labels, round=r)`` gets the cleaned images
    and labels and returns extra ones for the next round's training only (they replace the previous
    round's extras, and are never judged); with fixed ``features`` nothing is trained, so it is never
    called. Deterministic for a seed on CPU.

    Args:
        images: uint8 ``(N, H, W, C)``; labels: int ``(N,)``; ids: ``(N,)`` unique.
        features, val_features: float ``(N, D)`` and ``(M, D)``, the fixed embedding of ``images`` and of
            the val images, or None to train.
        neighbour_options: keyword options of :func:`winnow.neighbours.cleanse` (``agree``, ``margin``…).
        outlier_options: keyword options of :func:`winnow.outliers.find_outliers` (``methods``…).
        knn: how every k-nearest search of the round runs (:func:`winnow.neighbours.nearest`).
        Others: as :func:`embedding_spaces`.
    """
    labels, ids = np.array(labels, np.int64), np.asarray(ids, dtype=object)
    if not len(images) == len(labels) == len(ids):
        raise WinnowError(f"embedding_clean: {len(images)} images, {len(labels)} labels and {len(ids)} ids differ")
    if not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise WinnowError(f"embedding_clean.rounds: {rounds!r} must be an integer of at least 1")
    planted, flipped = judges.plant_flips(val_labels, num_classes=num_classes, seed=seed)
    alive, extra, tables, cuts, strengths, agreement, val_agreement = np.arange(len(labels)), None, [], [], [], [], []
    said: set[str] = set()  # each round's too_many warnings: a line the rounds before said is not said again
    for r in range(1, rounds + 1):
        if features is None:
            judgement = embedding_spaces(images[alive], labels[alive], val_images=val_images, val_labels=val_labels,
                                         config=config, num_classes=num_classes, mode=mode, folds=folds,
                                         seed=seed + r - 1, extra=extra, progress=progress,
                                         round_label=f"round {r}/{rounds}" if rounds > 1 else None)
        else:
            judgement = fixed_judgement(features[alive], labels[alive], val_features=val_features,
                                        val_labels=val_labels, k=k, num_classes=num_classes, knn=knn)
        spaces = judgement.spaces
        check_k(k, *spaces, *judgement.val_spaces)  # one range for all: each space alone names its own
        found = pd.concat([evidence(s, labels[alive][s.positions], k=k, num_classes=num_classes, knn=knn)
                           for s in spaces])
        found = found.sort_values("position").reset_index(drop=True)
        agreement.append(float(np.mean(found["vote"].to_numpy() == labels[alive])))
        table = cleanse(ids[alive], labels[alive], found, warn=said, **(neighbour_options or {}))
        strength, val_vote = _val_strength(judgement, val_labels, planted, flipped, offset=len(alive), k=k,
                                           num_classes=num_classes, neighbour_options=neighbour_options,
                                           min_precision=min_precision, knn=knn, judged_on=judged_on)
        val_agreement.append(val_vote)
        table = judges.gate_relabels(table, strength)
        scored, round_cuts = find_outliers(spaces, k=k, seed=seed, knn=knn, warn=said, drop=drop_outliers,
                                           **(outlier_options or {}))
        scored = scored.sort_values("position").reset_index(drop=True)
        table = _with_outliers(table, scored.drop(columns="position"), drop=drop_outliers)
        table["round"] = r
        tables.append(table)
        cuts.append(round_cuts)
        strengths.append(strength)
        if r == rounds:
            break
        relabel = table["decision"].to_numpy() == "relabel"
        labels[alive[relabel]] = table["suggested_label"].to_numpy()[relabel]
        alive = alive[table["decision"].to_numpy() != "drop"]
        if augment is not None and features is None:
            extra = _checked_extra(augment(images[alive], labels[alive], round=r), images)
    last = np.zeros((len(alive), spaces[0].features.shape[1]), np.float32)
    for s in spaces:
        last[s.positions] = s.features
    return Rounds(pd.concat(tables, ignore_index=True), last, ids[alive], cuts, strengths, agreement, val_agreement)


def _val_strength(judgement: Judgement, original: np.ndarray, planted: np.ndarray, flipped: np.ndarray, *,
                  offset: int, k: int, num_classes: int, neighbour_options: dict | None,
                  min_precision: float, knn: str, judged_on: str) -> tuple[judges.Strength, float]:
    """(the round's judge on the val images with the ``planted`` labels, by the rules it applies to train
    images; the share of val images whose neighbour vote is their ``original`` label). Val image j sits at
    position ``offset + j`` of its val space."""
    found = pd.concat([evidence(s, planted[s.positions - offset], k=k, num_classes=num_classes, knn=knn)
                       for s in judgement.val_spaces]).sort_values("position").reset_index(drop=True)
    # quiet: the train images' cleanse says what the rules did; a line about val would read as one about train
    verdict = cleanse(np.arange(len(planted)), planted, found, warn=False, **(neighbour_options or {}))
    decision = verdict["decision"].to_numpy()
    strength = judges.measure(original, flipped, relabelled=decision == "relabel",
                              suggested=verdict["suggested_label"].to_numpy(), flagged=decision != "keep",
                              val_accuracy=judgement.val_accuracy, min_precision=min_precision, judged_on=judged_on)
    # the vote reads the references' labels only, so the planted flips do not move it
    return strength, float(np.mean(found["vote"].to_numpy() == np.asarray(original)))


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
