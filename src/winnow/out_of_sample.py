"""Out-of-sample probabilities for confident learning (:mod:`winnow.labels`): each train image on trial gets
probabilities from judges that never saw its label, and each val image from one of the same judges
(:class:`Judged`): K-fold linear probes on a fixed embedding (:func:`probe_pred_probs`,
``confident_learn.judge: probe``) or the train stage's model once per stratified fold
(:func:`cross_val_pred_probs`, ``cnn``), either optionally over several fold splits, averaged. The folds
(:func:`stratified_folds`, :func:`dealt_folds`) and their checks are shared with :mod:`winnow.probe` and
embedding-clean (:mod:`winnow.embeddings`).

A module of its own: :mod:`winnow.labels` turns probabilities into decisions whichever judge gave them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from winnow.errors import WinnowError


def check_folds(labels: np.ndarray, *, folds: int, classes: list[str]) -> None:
    """Raise :class:`WinnowError` unless every class can appear in every one of ``folds`` folds.

    Args:
        labels: int ``(N,)`` given labels of the images to cross-validate.
    """
    small = too_small_to_judge(labels, folds=folds, classes=classes)  # checks folds too
    present = np.flatnonzero(np.bincount(labels, minlength=len(classes)))
    if not len(present):
        raise WinnowError("confident_learn: no train image to judge")
    if len(present) < 2:  # cleanlab cannot rank labels of one class against nothing
        raise WinnowError(f"confident_learn: only class {classes[present[0]]!r} has train images left to judge "
                          "(threshold and dedup removed the others'); label issues need two classes: check "
                          "data/threshold/flags.parquet and data/dedup/groups.parquet")
    if small:
        name, count = min(small.items(), key=lambda item: item[1])  # the first of the smallest
        # folds cannot go below 2, so a class of one image needs another image, not fewer folds
        lower = f"lower confident_learn.folds to at most {count} or " if count >= 2 else ""
        raise WinnowError(f"confident_learn.folds: {folds} folds but class {name!r} has only {count} train image(s) "
                          f"to judge; {lower}add images")


def too_small_to_judge(labels: np.ndarray, *, folds: int, classes: list[str]) -> dict[str, int]:
    """``{class name: images}`` of the classes in ``labels`` (int ``(N,)``) with fewer images than ``folds``.

    K-fold judging holds each image out and asks a judge trained on the others of its class; a class of
    fewer images than folds has folds without it, so its images would be judged by models that never saw
    their label and flagged whatever they show. The confident-learn stage keeps them unjudged.
    """
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise WinnowError(f"confident_learn.folds: {folds!r} must be an integer of at least 2")
    counts = np.bincount(labels, minlength=len(classes))
    return {classes[k]: int(counts[k]) for k in np.flatnonzero((counts > 0) & (counts < folds))}


def stratified_folds(labels: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """int64 ``(N,)`` fold number of each image; each class is dealt round-robin over the folds in a
    seeded random order, so class shares differ between folds by at most one image."""
    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]
    sorted_labels = labels[order]
    class_start = np.searchsorted(sorted_labels, sorted_labels, side="left")
    fold = np.empty(len(labels), np.int64)
    fold[order] = (np.arange(len(labels)) - class_start) % folds
    return fold


def dealt_folds(n: int, *, folds: int, seed: int) -> np.ndarray:
    """int64 ``(n,)``: the fold whose judge scores each of ``n`` val images, dealt round-robin in a seeded
    order (no label read), so every fold's judge scores a share of them."""
    return np.random.default_rng(seed).permutation(n) % folds


@dataclass(frozen=True)
class Judged:
    """Out-of-sample probabilities from one judge.

    Attributes:
        pred_probs: float32 ``(N, K)`` for the images on trial, row i from judges that never saw label i.
        val_probs: float32 ``(M, K)`` for the val images, each from one of the same judges (fitted on train
            only), so a val image is judged as a train image is.
        val_accuracy: the share of val images whose ``val_probs`` class is their (trusted) label.
        l2: the probe's ridge strength, chosen on val (None for the CNN folds).
    """

    pred_probs: np.ndarray
    val_probs: np.ndarray
    val_accuracy: float
    l2: float | None = None


def _judged(pred_probs: np.ndarray, val_probs: np.ndarray, val_labels: np.ndarray, *, repeats: int,
            l2: float | None = None) -> Judged:
    val_probs = (val_probs / repeats).astype(np.float32)
    return Judged((pred_probs / repeats).astype(np.float32), val_probs,
                  float(np.mean(val_probs.argmax(1) == np.asarray(val_labels))), l2)


def _check_judge(labels: np.ndarray, val_labels: np.ndarray, *, folds: int, repeats: int, classes: list[str],
                 why_val: str) -> None:
    check_folds(labels, folds=folds, classes=classes)
    if repeats < 1:
        raise WinnowError(f"confident_learn.repeats: {repeats!r} must be at least 1")
    if len(val_labels) == 0:
        raise WinnowError(f"confident_learn: the val split is empty; {why_val} (set ingest.val_fraction above 0)")


def probe_pred_probs(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    val_features: np.ndarray,
    val_labels: np.ndarray,
    classes: list[str],
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
) -> Judged:
    """Out-of-sample probabilities from K-fold linear probes on a fixed embedding (:mod:`winnow.probe`).

    The ridge strength is the one whose probe, fitted on every image on trial, is most accurate on the
    val split (:func:`winnow.probe.choose_l2`); then each repeat deals new folds and averages.

    Args:
        features: float ``(N, D)`` of the images on trial; labels: int ``(N,)`` their given labels.
        val_features, val_labels: the val split's, float ``(M, D)`` and int ``(M,)``.
    """
    from winnow import probe

    labels = np.asarray(labels, dtype=np.int64)
    _check_judge(labels, val_labels, folds=folds, repeats=repeats, classes=classes,
                 why_val="the probe's ridge strength is chosen on it")
    l2, _ = probe.choose_l2(features, labels, val_features, val_labels, num_classes=len(classes))
    pred_probs = np.zeros((len(labels), len(classes)), np.float64)
    val_probs = np.zeros((len(val_labels), len(classes)), np.float64)
    for repeat in range(repeats):
        train_part, val_part = probe.out_of_sample_probs(features, labels, num_classes=len(classes), l2=l2,
                                                         folds=folds, seed=seed + repeat, val_features=val_features)
        pred_probs += train_part
        val_probs += val_part
    return _judged(pred_probs, val_probs, val_labels, repeats=repeats, l2=l2)


def cross_val_pred_probs(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    config,
    classes: list[str],
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    progress: bool = False,
) -> Judged:
    """Out-of-sample predicted probabilities from K-fold training with the train stage's model code.

    Each repeat draws a new stratified fold split and new initial weights; the repeats' probabilities
    are averaged (an ensemble over folds and seeds). The checkpoint of each fold is chosen on the val
    split, whose labels are trusted, never on the held-out fold, whose labels are the ones on trial; each
    val image is then scored by one fold model, dealt at random, as a train image is.

    Args:
        images: uint8 ``(N, H, W, C)``, the images to judge; labels: int ``(N,)`` their given labels.
        val_images, val_labels: the val split, uint8 ``(M, H, W, C)`` and int ``(M,)``.
        config: a :class:`winnow.training.TrainConfig` (its device choice applies: a GPU when present).
        classes: class names; their count sets the width of the probabilities.
    """
    from winnow.training import fit, predict_proba

    labels = np.asarray(labels, dtype=np.int64)
    _check_judge(labels, val_labels, folds=folds, repeats=repeats, classes=classes,
                 why_val="fold models pick their epoch on it")
    pred_probs = np.zeros((len(labels), len(classes)), np.float64)
    val_probs = np.zeros((len(val_labels), len(classes)), np.float64)
    for repeat in range(repeats):
        fold_of = stratified_folds(labels, folds=folds, seed=seed + repeat)
        val_fold_of = dealt_folds(len(val_labels), folds=folds, seed=seed + repeat)
        for fold in range(folds):
            held_out, val_part = fold_of == fold, val_fold_of == fold
            label = f"confident-learn fold {fold + 1}/{folds}" + (f", repeat {repeat + 1}/{repeats}" if repeats > 1
                                                                  else "")
            trained = fit(images[~held_out], labels[~held_out], val_images, val_labels, config=config,
                          num_classes=len(classes), seed=seed + repeat * folds + fold, progress=progress, label=label)
            pred_probs[held_out] += predict_proba(trained, images[held_out], batch_size=config.eval_batch_size)
            if val_part.any():
                val_probs[val_part] += predict_proba(trained, val_images[val_part], batch_size=config.eval_batch_size)
    return _judged(pred_probs, val_probs, val_labels, repeats=repeats)
