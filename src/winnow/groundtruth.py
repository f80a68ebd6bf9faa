"""Ground truth written by the degrade stage, and how detectors are scored against it.

``perturbations.parquet`` has one row per (image, perturbation):

========== ======= ==========================================================================
column     dtype   meaning
========== ======= ==========================================================================
id         str     the image's id in the degraded imageset (removed images keep their old id)
kind       str     one of :data:`KINDS`
params     str     JSON object of the perturbation's parameters
source_id  str     for duplicates, the id of the image copied; else None
original_label int  for label changes, the label before; else -1
========== ======= ==========================================================================
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from winnow.errors import WinnowError
from winnow.param_rules import finite_number

PERTURBATION_COLUMNS = ("id", "kind", "params", "source_id", "original_label")
# degrade's log of what it planted, beside its imageset data/degrade: the one name its writer and every reader use
LOG_NAME = "perturbations.parquet"
TRUTH = f"data/degrade/{LOG_NAME}"
# and its metrics (the train counts, the images perturbed, the rows of each kind): the one name its writer, the report
# and `winnow study collect` use (before: a literal in each, beside study_runs' own)
DEGRADE_METRICS = "metrics/degrade.json"

LABEL_KINDS = ("symmetric_noise", "pair_flip")
REMOVAL_KINDS = ("class_removal", "class_subsample", "subsample")
CONTAMINATION_KINDS = (
    "gaussian_noise", "salt_pepper", "brightness", "gamma", "blur", "downscale",
    "odd_size", "odd_aspect_ratio", "grayscale", "low_information",
)
DUPLICATE_KINDS = ("exact_duplicate", "near_duplicate")
KINDS = LABEL_KINDS + REMOVAL_KINDS + CONTAMINATION_KINDS + DUPLICATE_KINDS

QUALITY_ISSUES = ("dark", "light", "blurry", "low_information", "grayscale", "odd_size", "odd_aspect_ratio")


def issue_of(kind: str, params: dict) -> str | None:
    """The quality issue a contamination is meant to cause, or None when it causes none of them."""
    if kind == "brightness":
        factor = float(params.get("factor", 1.0))
        return "dark" if factor < 1 else "light" if factor > 1 else None
    if kind in ("blur", "downscale"):
        return "blurry"
    if kind in ("low_information", "grayscale", "odd_size", "odd_aspect_ratio"):
        return kind
    return None


def planted(perturbations: pd.DataFrame | None, kinds) -> bool:
    """Whether degrade planted a perturbation of one of ``kinds``: the condition for scoring a detector
    against ground truth at all. Without it precision would read 0 and every flag would count as wrong,
    when nothing is known about those images (degrade off, or it planted other problems)."""
    return perturbations is not None and bool(perturbations["kind"].isin(list(kinds)).any())


def check_flips(perturbations: pd.DataFrame | None, *, classes: int, manifest: pd.DataFrame | None = None) -> None:
    """Refuse the label changes of degrade's log ``perturbations`` (its :data:`LABEL_KINDS` rows; None: no log) that
    degrade never writes: two for one image (:func:`winnow.degrade_picks.check_overlaps` refuses two relabellings
    that may meet), or an ``original_label`` that is no class index in ``[0, classes)``; with ``manifest`` (the
    degraded imageset's ``id``, ``split``, ``label``), one of an image it lacks, of an image outside train, or whose
    ``original_label`` is the label the image carries now. Before, two rows of one image
    ended confident-learn, embedding-clean and data-valuation in a pandas traceback once they had judged every image,
    and an original label of -1 (a row of another kind's default) or a null counted a flip planted that no judged
    row could ever be found as; and a log of another data set's ids (or of a val image, or of a label unchanged) was
    counted in flips_planted, or scored a cleaner that rightly left an image alone as missing a flip, exit 0.

    Raises:
        WinnowError: naming the first such row's image.
    """
    if perturbations is None:
        return
    flips = perturbations[perturbations["kind"].isin(LABEL_KINDS)]
    repeated = flips["id"].duplicated(keep=False)
    if repeated.any():
        first = flips["id"][repeated].iloc[0]
        kinds = ", ".join(flips.loc[flips["id"] == first, "kind"].astype(str))
        raise WinnowError(f"image {first!r} has {int((flips['id'] == first).sum())} label changes ({kinds}); degrade "
                          "writes one an image")
    original = pd.to_numeric(flips["original_label"], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~((original >= 0) & (original < classes) & (original % 1 == 0)))
    if len(bad):
        row = flips.astype(object).iloc[bad[0]]  # object: a label shown as 7 or None, not np.int64(7)
        raise WinnowError(f"image {row['id']!r}: {row['kind']} original_label {row['original_label']!r} is no class "
                          f"index in [0, {classes - 1}]")
    if manifest is None:
        return
    # each flip's row, by the manifest's (unique) ids: Series.isin of the 50,000 ids took a second on pandas' arrow
    # strings (a Python object a value), get_indexer 0.04 s
    rows = pd.Index(manifest["id"]).get_indexer(flips["id"])
    held = rows >= 0
    if not held.all():
        row = flips.iloc[int(np.argmin(held))]
        raise WinnowError(f"image {row['id']!r}: {row['kind']} names an image data/degrade does not hold (a log of "
                          "another data set?); degrade changes the labels of its own train images")
    split = manifest["split"].to_numpy()[rows]
    if (split != "train").any():
        row = flips.iloc[int(np.argmax(split != "train"))]
        raise WinnowError(f"image {row['id']!r}: {row['kind']} of a {split[split != 'train'][0]} image; degrade "
                          "changes train labels only")
    same = manifest["label"].to_numpy(np.float64)[rows] == original
    if same.any():
        row = flips.astype(object).iloc[int(np.argmax(same))]
        raise WinnowError(f"image {row['id']!r}: {row['kind']} original_label {row['original_label']!r} is the label "
                          "it carries now; degrade changes a label to another class")


def planted_issue_ids(perturbations: pd.DataFrame | None, *, manifest: pd.DataFrame | None = None) -> dict[str, set]:
    """``{issue: ids}``: each quality issue (:data:`QUALITY_ISSUES`) some planted perturbation is meant to cause, and
    the images planted with it, in one pass over the degrade log (:func:`_row_issue` raises on a row it cannot read).
    With ``manifest`` (the degraded imageset's ``id`` and ``split``), a row of an image it lacks or of an image outside
    train raises too, as :func:`check_flips` refuses such a label change: degrade damages its own train images. Before,
    such rows (a log of another data set) were counted as planted nowhere, and the threshold stage scored its flags
    against them: no recall, and a precision of 0 where it flagged anything, exit 0.
    """
    planted: dict[str, set] = {}
    where = None if manifest is None else dict(zip(manifest["id"], manifest["split"]))
    for row in perturbations.itertuples(index=False) if perturbations is not None else ():
        if (issue := _row_issue(row)) is not None:
            if where is not None and where.get(row.id) != "train":
                raise WinnowError(f"image {row.id!r}: {row.kind} names an image data/degrade does not hold (a log of "
                                  "another data set?); degrade damages its own train images" if row.id not in where
                                  else f"image {row.id!r}: {row.kind} of a {where[row.id]} image; degrade damages "
                                  "train images only")
            planted.setdefault(issue, set()).add(row.id)
    return planted


def toned_ids(perturbations: pd.DataFrame | None) -> dict[str, set]:
    """``{"dark": ids, "light": ids}``: the images degrade's log ``perturbations`` records darkened or lightened by a
    damage that plants no issue of its own (:func:`issue_of`): a gamma curve (above 1 darkens, below 1 lightens) and a
    near duplicate's jitter (its copy's brightness factor below or above 1). They are darker or lighter than they were,
    so a dark or light flag on one has found damage, neither a false positive nor a planted image missed: the threshold
    stage leaves them out of that issue's figures, as it does the images two issues share. Before, gamma 4 beside
    brightness x0.1 scored dark precision 0.68, its 7 "false positives" all images the curve had darkened; near
    duplicates of low 0.25, high 0.3 beside it 0.5, all 15 copies flagged. Read after :func:`planted_issue_ids`, which
    refuses a row whose params are no JSON object.

    Raises:
        WinnowError: naming the row's image, where its params hold no gamma, or no copy's factors, degrade writes.
    """
    toned = {"dark": set(), "light": set()}
    rows = (perturbations[perturbations["kind"].isin(["gamma", "near_duplicate"])] if perturbations is not None
            else perturbations)
    for row in rows.itertuples(index=False) if rows is not None else ():
        params = json.loads(row.params or "{}")
        factors = params.get("factors")
        value = params.get("gamma") if row.kind == "gamma" else factors.get("brightness") if isinstance(
            factors, dict) else None
        if not (finite_number(value) and (value > 0 if row.kind == "gamma" else value >= 0)):
            what = "gamma (a finite number above 0)" if row.kind == "gamma" else \
                "copy's factors (a finite brightness, 0 or more)"
            raise WinnowError(f"image {row.id!r}: {row.kind} params {row.params!r} hold no {what} degrade writes")
        if value != 1:
            darkens = value > 1 if row.kind == "gamma" else value < 1
            toned["dark" if darkens else "light"].add(row.id)
    return toned


def _row_issue(row) -> str | None:
    """:func:`issue_of` one row of the degrade log.

    Raises:
        WinnowError: naming the row's image, where its kind is none of :data:`KINDS` (its damage would count as
            planted nowhere) or its ``params`` are not a JSON object or hold no brightness factor degrade writes
            (a damaged log: before, a traceback in the threshold stage, or its damage planted nowhere).
    """
    if row.kind not in KINDS:
        raise WinnowError(f"image {row.id!r}: kind {row.kind!r} is none of those degrade writes")
    try:
        params = json.loads(row.params or "{}")
    except (ValueError, TypeError):  # TypeError: a column of numbers, or of parquet structs, not JSON text
        params = None
    if not isinstance(params, dict):
        raise WinnowError(f"image {row.id!r}: {row.kind} params {row.params!r} are not a JSON object of its "
                          "options")
    factor = params.get("factor")
    # before: a factor missing, true or NaN (or params null) read as 1, so the image's damage counted as planted
    # nowhere, silently, and "x0.2" was called no JSON object
    if row.kind == "brightness" and not (finite_number(factor) and factor >= 0):
        raise WinnowError(f"image {row.id!r}: brightness params {row.params!r} hold no factor degrade writes (a "
                          "finite number, 0 or more)")
    return issue_of(row.kind, params)


def precision_recall_f1(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of a boolean prediction against boolean truth (0 where undefined)."""
    predicted = np.asarray(predicted, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def undefined_as_none(scores: dict) -> dict:
    """``scores`` (as :func:`precision_recall_f1` writes them, 0 where undefined) with None where a figure is
    undefined: precision when nothing was flagged (tp + fp = 0), recall when nothing planted was among the images
    judged (tp + fn = 0), F1 (2 tp / (2 tp + fp + fn)) when neither was (tp + fp + fn = 0). A detector that flagged
    none of the images planted for it keeps F1 0, a failure, not an undefined score."""
    out = dict(scores)
    tp, fp, fn = scores["tp"], scores["fp"], scores["fn"]
    for key, undefined in (("precision", tp + fp == 0), ("recall", tp + fn == 0), ("f1", tp + fp + fn == 0)):
        if key in out and undefined:
            out[key] = None
    return out
