"""Label issues by confident learning: cleanlab's filters on out-of-sample probabilities, decisions.

Read top to bottom:

1. :func:`winnow.judged_rows.considered_rows` picks the train images worth judging (those that survived
   threshold and dedup) and marks dedup's label-conflict suspects among them;
2. the judge gives every image probabilities from a model that never saw its label, and the val images
   probabilities from the same judges (:mod:`winnow.out_of_sample`): K-fold linear probes on a fixed
   embedding (``confident_learn.judge: probe``) or the train stage's model once per stratified fold
   (``cnn``), either optionally over several fold splits, averaged;
3. :func:`find_issues` asks cleanlab which labels are wrong and how good each label is;
4. :func:`decide` turns issues into one decision per image (keep | drop | relabel) with its reason;
5. :func:`relabel_strength` measures the judge's relabel precision on flips planted in val
   (:mod:`winnow.judges`), which decides whether its relabels stand;
6. :func:`apply_decisions` builds the cleaned train split; :func:`score_against_truth` scores a run
   against the degrade ground truth; :func:`noise_estimate` summarises the estimated noise.

Only train rows are ever judged or changed: val and test labels are the yardstick.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from winnow import judges
from winnow.configs import FILTER_BY, LABEL_ACTIONS, RANK_BY
from winnow.errors import WinnowError
from winnow.groundtruth import LABEL_KINDS, precision_recall_f1
from winnow.imageset import ImageSet

ACTIONS = LABEL_ACTIONS
DECISIONS = ("keep", "drop", "relabel")
# why a row got its decision: not flagged; flagged by cleanlab; a dedup conflict the model disagrees with
REASONS = ("consistent", "label_issue", "label_conflict")
ISSUE_COLUMNS = ("id", "given_label", "suggested_label", "suggested_prob", "label_quality", "is_issue", "decision",
                 "reason")


def find_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    filter_by: str = "prune_by_noise_rate",
    rank_by: str = "self_confidence",
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's verdict on each given label.

    Args:
        labels: int ``(N,)`` given labels; pred_probs: float ``(N, K)`` out-of-sample probabilities.
        filter_by: one of :data:`FILTER_BY` (``cleanlab.filter.find_label_issues``).
        rank_by: one of :data:`RANK_BY` (``cleanlab.rank.get_label_quality_scores``).
        frac_noise, min_examples_per_class: passed to ``find_label_issues`` as they are.

    Returns:
        ``(is_issue, label_quality)``: bool ``(N,)`` and float64 ``(N,)`` in [0, 1], lower = more likely wrong.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels, pred_probs = _check_probs(labels, pred_probs)
    if filter_by not in FILTER_BY:
        raise WinnowError(f"confident_learn.filter_by: unknown {filter_by!r}; choose one of {', '.join(FILTER_BY)}")
    if rank_by not in RANK_BY:
        raise WinnowError(f"confident_learn.rank_by: unknown {rank_by!r}; choose one of {', '.join(RANK_BY)}")
    if not 0 < frac_noise <= 1:
        raise WinnowError(f"confident_learn.frac_noise: {frac_noise} is outside (0, 1]")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        is_issue = find_label_issues(labels, pred_probs, filter_by=filter_by, frac_noise=frac_noise,
                                     min_examples_per_class=min_examples_per_class, n_jobs=1)
    absent = set(np.flatnonzero(np.bincount(labels, minlength=pred_probs.shape[1]) == 0).tolist())
    for caught_warning in caught:  # a class without a train image (removed on purpose) has nothing to flag
        few = re.match(r"May not flag all label issues in class: (\d+),", str(caught_warning.message))
        if few is None or int(few.group(1)) not in absent:
            warnings.warn_explicit(caught_warning.message, caught_warning.category, caught_warning.filename,
                                   caught_warning.lineno)
    if rank_by == "confidence_weighted_entropy":
        quality = _confidence_weighted_entropy(labels, pred_probs)
    else:
        quality = get_label_quality_scores(labels, pred_probs, method=rank_by)
    return np.asarray(is_issue, bool), np.asarray(quality, np.float64)


def frac_noise_warning(labels: np.ndarray, pred_probs: np.ndarray, *, found: int, frac_noise: float,
                       **find_options) -> str | None:
    """The ``warning:`` line for a ``frac_noise`` below 1 under which :func:`find_issues` (``find_options``:
    ``filter_by``, ``rank_by``) ``found`` no label issue where it finds some at 1.0; None otherwise. cleanlab keeps
    that share of each class's estimated issues, rounded, so a share under half of every class's count keeps none.
    Before, confident_learn.frac_noise 0.001 (or 0.2 on a small set) judged every label right, unsaid: 0 issues, as
    on a clean set."""
    if found or frac_noise >= 1:
        return None
    at_all = int(find_issues(labels, pred_probs, frac_noise=1.0, **find_options)[0].sum())
    if not at_all:
        return None
    return (f"warning: confident-learn: confident_learn.frac_noise {frac_noise:g} keeps none of the {at_all} label "
            "issue(s) cleanlab finds at 1.0 (it keeps that share of each class's issues, rounded), so no label is "
            "judged wrong; raise it, or set 1.0 to keep every issue found")


def _confidence_weighted_entropy(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """float64 ``(N,)``: cleanlab's confidence-weighted entropy score, ``log(1 + x) / x`` with ``x`` the
    normalised entropy of a row over the probability of its label (1 at ``x = 0``, 0 where that probability is
    0), without cleanlab's clips. Those clip the label's probability and ``x`` at 1e-6 and so invert the score at
    a sure judge's extremes (cleanlab 2.9): a label it gives 1 - 2e-20 scored 0, the worst, and one it gives
    1e-8 scored 0.86, above one it gives 0.3 (0.48), so the budget cut the surest wrong labels last.

    Args:
        labels: int ``(N,)``; pred_probs: float ``(N, K)``, K >= 2, rows summing to 1.
    """
    from scipy.special import xlogy

    entropy = -xlogy(pred_probs, pred_probs).sum(axis=1) / np.log(pred_probs.shape[1])
    own = pred_probs[np.arange(len(labels)), labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(own > 0, np.maximum(entropy, 0.0) / own, np.inf)
        quality = np.where(x == 0, 1.0, np.where(np.isinf(x), 0.0, np.log1p(x) / x))
    return quality.astype(np.float64)


def noise_estimate(labels: np.ndarray, pred_probs: np.ndarray) -> dict:
    """Confident learning's estimate of the label noise.

    Returns:
        ``noise_rate`` (float, share of labels estimated wrong = 1 - trace of the joint),
        ``noise_matrix`` float ``(K, K)`` with ``[i, j] = P(given = i | true = j)``; NaN down column ``j`` where
        no image is counted as truly of class ``j`` (none judged in that class, say), a distribution not estimated,
        ``joint`` float ``(K, K)`` with ``[i, j] = P(given = i, true = j)``.
    """
    from cleanlab.count import estimate_py_and_noise_matrices_from_probabilities

    labels, pred_probs = _check_probs(labels, pred_probs)
    _, noise_matrix, _, confident_joint = estimate_py_and_noise_matrices_from_probabilities(labels, pred_probs)
    # before: such a column was written as zeros, a conditional distribution summing to 0, which reads as
    # "never given any label" in noise_matrix.csv
    noise_matrix = np.where(confident_joint.sum(axis=0) > 0, noise_matrix, np.nan)
    joint = confident_joint / confident_joint.sum()
    # clamped: a diagonal joint's trace rounds to 1.0000000000000002, a rate of -2.2e-16 no rate can be
    return {"noise_rate": min(1.0, max(0.0, float(1.0 - np.trace(joint)))), "noise_matrix": noise_matrix,
            "joint": joint}


def decide(
    ids: np.ndarray,
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    is_issue: np.ndarray,
    label_quality: np.ndarray,
    conflict: np.ndarray | None = None,
    action: str = "prune",
    relabel_threshold: float = 0.9,
) -> pd.DataFrame:
    """One decision per image, worst label first.

    A dedup label conflict whose given label is not the model's top class counts as an issue even when
    cleanlab passed it: its copies disagree, and so does the model. When the model agrees with the
    given label, the conflict is resolved in the label's favour and the image is kept.

    ``action``: ``prune`` drops issues; ``relabel`` moves an issue to the predicted class when that
    class differs from the given one with probability at least ``relabel_threshold`` and keeps the rest
    as they are; ``both`` relabels those and drops the rest.

    Args:
        ids: str ``(N,)``; labels: int ``(N,)``; pred_probs: float ``(N, K)``.
        is_issue: bool ``(N,)`` and label_quality: float ``(N,)``, from :func:`find_issues`.
        conflict: bool ``(N,)`` dedup label-conflict suspects, or None.

    Returns:
        DataFrame with :data:`ISSUE_COLUMNS`, sorted by ``label_quality`` ascending.
    """
    labels, pred_probs = _check_probs(labels, pred_probs)
    if action not in ACTIONS:
        raise WinnowError(f"confident_learn.action: unknown {action!r}; choose one of {', '.join(ACTIONS)}")
    if not 0 <= relabel_threshold <= 1:
        raise WinnowError(f"confident_learn.relabel_threshold: {relabel_threshold} is outside [0, 1]")
    suggested = pred_probs.argmax(axis=1)
    suggested_prob = pred_probs.max(axis=1)
    disagrees = suggested != labels
    conflict_issue = np.zeros(len(labels), bool) if conflict is None else np.asarray(conflict, bool) & disagrees
    flagged = np.asarray(is_issue, bool)
    is_issue = flagged | conflict_issue
    reason = np.where(flagged, "label_issue", np.where(conflict_issue, "label_conflict", "consistent"))

    confident = is_issue & disagrees & (suggested_prob >= relabel_threshold)
    decision = np.full(len(labels), "keep", dtype=object)
    if action in ("relabel", "both"):
        decision[confident] = "relabel"
    if action == "prune":
        decision[is_issue] = "drop"
    elif action == "both":
        decision[is_issue & ~confident] = "drop"
    table = pd.DataFrame({
        "id": np.asarray(ids, dtype=object), "given_label": labels,
        # the model's class is the suggestion for every issue, kept, dropped or relabelled, for a reviewer
        "suggested_label": np.where(is_issue, suggested, labels).astype(np.int64),
        "suggested_prob": suggested_prob.astype(np.float64), "label_quality": np.asarray(label_quality, np.float64),
        "is_issue": is_issue, "decision": decision, "reason": reason,
    })
    return table.sort_values("label_quality", kind="stable").reset_index(drop=True)


def relabel_strength(val_labels: np.ndarray, val_probs: np.ndarray, *, val_accuracy: float, seed: int,
                     min_precision: float, relabel_threshold: float = 0.9, judged_on: str = "all_val_relabels",
                     classes: np.ndarray | None = None, **find_options) -> judges.Strength:
    """The judge's strength on the val split: :func:`winnow.judges.plant_flips` flips a seeded share of the
    val labels; cleanlab judges the val images with those labels and the judge's ``val_probs`` as
    :func:`find_issues` and :func:`decide` judge train images (``find_options``: ``filter_by``,
    ``rank_by``, ``frac_noise``), and the val images it would relabel (an issue whose class differs with
    probability at least ``relabel_threshold``, whatever the action) give the relabel precision, counted over
    those ``judged_on`` names (:func:`winnow.judges.measure`).

    Args:
        val_labels: int ``(M,)`` trusted labels; val_probs: float ``(M, K)`` from :class:`winnow.out_of_sample.Judged`.
        classes: the class indices the judge learned, sorted (None: all K); flips go only among them.
    """
    planted, flipped = judges.plant_flips(val_labels, num_classes=np.shape(val_probs)[1], seed=seed, classes=classes)
    with warnings.catch_warnings():  # a val class with one planted label is no train class cleanlab skips
        warnings.filterwarnings("ignore", message="May not flag all label issues in class")
        is_issue, quality = find_issues(planted, val_probs, **find_options)
    verdict = decide(np.arange(len(planted)), planted, val_probs, is_issue=is_issue, label_quality=quality,
                     action="both", relabel_threshold=relabel_threshold).sort_values("id")
    return judges.measure(val_labels, flipped, relabelled=verdict["decision"].to_numpy() == "relabel",
                          suggested=verdict["suggested_label"].to_numpy(), flagged=verdict["is_issue"].to_numpy(),
                          val_accuracy=val_accuracy, min_precision=min_precision, judged_on=judged_on)


def apply_decisions(imageset: ImageSet, issues: pd.DataFrame) -> ImageSet:
    """The imageset with ``drop`` rows removed and ``relabel`` rows moved to their suggested label.

    Raises:
        WinnowError: when a drop or relabel names an id that is not a train image of ``imageset``.
    """
    changes = issues[issues["decision"] != "keep"]
    split = imageset.manifest.set_index("id")["split"]
    target_split = split.reindex(changes["id"])
    wrong = target_split.isna() | (target_split.to_numpy() != "train")
    if wrong.any():
        row = changes[wrong.to_numpy()].iloc[0]
        raise WinnowError(f"label_issues: {row['decision']} of {row['id']!r}, which is not a train image; "
                          "only train labels may change")
    ids = imageset.manifest["id"]
    dropped = ids.isin(changes.loc[changes["decision"] == "drop", "id"]).to_numpy()
    cleaned = imageset.select(~dropped)
    relabel = changes[changes["decision"] == "relabel"].set_index("id")["suggested_label"]
    new_label = relabel.reindex(cleaned.manifest["id"]).to_numpy(np.float64)
    given = cleaned.manifest["label"].to_numpy()
    cleaned.manifest["label"] = np.where(np.isnan(new_label), given, new_label).astype(np.int64)
    return cleaned


def score_against_truth(issues: pd.DataFrame, perturbations: pd.DataFrame) -> dict:
    """Flagged set against the labels degrade truly changed, and the accuracy of the relabels.

    Args:
        issues: the output of :func:`decide` (one row per judged image).
        perturbations: degrade's ground truth (``id``, ``kind``, ``original_label``, ...).

    Returns:
        precision, recall, f1, tp, fp, fn of ``is_issue`` over the judged rows (recall: of the flips among
        them, ``tp + fn``); ``flips_planted``: every label degrade changed, judged or not (flips in images
        threshold or dedup removed, or in classes too small to judge, are no cleaner's to find);
        ``true_noise_rate`` among judged rows; ``relabel_accuracy``: share of relabels that restore the
        original label (None without relabels).
    """
    changed = perturbations[perturbations["kind"].isin(LABEL_KINDS)].set_index("id")["original_label"]
    original = changed.reindex(issues["id"]).to_numpy(np.float64)
    truly_changed = ~np.isnan(original)
    true_label = np.where(truly_changed, original, issues["given_label"].to_numpy()).astype(np.int64)
    relabelled = (issues["decision"] == "relabel").to_numpy()
    scores = precision_recall_f1(issues["is_issue"].to_numpy(bool), truly_changed)
    scores["flips_planted"] = int(changed.index.nunique())
    scores["true_noise_rate"] = float(truly_changed.mean()) if len(issues) else 0.0
    scores["relabel_accuracy"] = (float(np.mean(issues["suggested_label"].to_numpy()[relabelled]
                                               == true_label[relabelled])) if relabelled.any() else None)
    return scores


def _check_probs(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, pred_probs = np.asarray(labels, dtype=np.int64), np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2 or len(pred_probs) != len(labels):
        raise WinnowError(f"confident_learn: pred_probs of shape {pred_probs.shape} do not match "
                          f"{len(labels)} labels (expected ({len(labels)}, classes))")
    if len(labels) and (labels.min() < 0 or labels.max() >= pred_probs.shape[1]):
        raise WinnowError(f"confident_learn: labels must lie in [0, {pred_probs.shape[1] - 1}]")
    return labels, pred_probs
