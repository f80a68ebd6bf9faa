"""The numbers a stage's metrics JSON shows in the report, checked before they are shown: a hand-edited or
damaged file ("-2 groups", "val_accuracy": 7.5, a count written as "14") was shown as if measured, or stopped the
report with a traceback. One line naming the file and the key instead (:func:`winnow.stage.rerun_error`)."""

from __future__ import annotations

import json
import math
from numbers import Integral, Real

from winnow.metrics import is_rate
from winnow.revisions import lookup
from winnow.stage import rerun_error

_ABSENT = object()
# keys that hold a count (or null: not measured) wherever they sit in a cleaner's metrics, and any key ending in
# _images; keys that hold a rate in [0, 1] (or null)
COUNT_KEYS = frozenset({
    "images", "groups", "tp", "fp", "fn", "flagged", "considered", "left_out", "planted_flips", "flips_planted",
    "planted_flips_flagged", "planted_flips_relabelled", "dropped", "relabelled", "leak_drops", "conflicts",
    "largest_group", "correct", "judged", "negative", "reliably_negative", "issues",
    "label_issue", "label_conflict", "inside_class", "isolated", "outlier", "neighbours_agree", "val_relabels",
    "relabels_blocked", "exact_duplicate", "near_duplicate", "flip_crop_duplicate", "embedding_duplicate", "leak",
    "none_correct", "winner_correct", "val_left_out"})
FLAG_KEYS = frozenset({"too_few_images"})  # true / false, whatever their names end in (the budget's judge)
RATE_KEYS = frozenset({
    "precision", "recall", "f1", "accuracy", "val_accuracy", "judge_val_accuracy", "accuracy_vs_given",
    "noise_rate", "true_noise_rate", "relabel_accuracy", "relabel_precision", "relabel_precision_planted",
    "relabel_min_precision"})


def _is_count(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 0


def checked_numbers(data: dict | None, *, path: str, stage: str, counts=(), rates=(), finite=()) -> dict | None:
    """``data``, a stage's metrics JSON, when each dotted key of ``counts`` holds a whole number >= 0, of ``rates`` a
    number in [0, 1] or null, of ``finite`` a finite number or null (a key not there is not checked); else one line
    naming the file and the key. A hand-edited "-7 images read" or a cut of 1e308 was shown as if measured."""
    if data is None:
        return None
    for keys, fits, what in ((counts, _is_count, "a count"),
                             (rates, lambda v: v is None or is_rate(v), "a number in [0, 1]"),
                             (finite, lambda v: v is None or (isinstance(v, Real) and not isinstance(v, bool)
                                                              and math.isfinite(v)), "a finite number")):
        for key in keys:
            found = lookup(data, key, missing=_ABSENT)
            if found is not _ABSENT and not fits(found):
                raise rerun_error(path, f"{key} is {json.dumps(found)[:40]}, not {what}", written_by=stage)
    return data


def checked_metrics(data: dict | None, *, path: str, stage: str) -> dict | None:
    """``data``, a cleaner's metrics JSON, when every key of :data:`COUNT_KEYS` (or ending in ``_images``) holds a
    whole number >= 0 or null and every key of :data:`RATE_KEYS` a number in [0, 1] or null, wherever it sits;
    else one line naming the file and the key."""

    def walk(node, where: str) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            here = f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"
            if key == "classes" and isinstance(value, dict):
                continue  # keyed by class names: a class called "precision" holds a count of its images
            if isinstance(value, (dict, list)):
                walk(value, here.lstrip("."))
            elif not isinstance(key, str) or value is None or key in FLAG_KEYS:
                continue
            elif (key in COUNT_KEYS or key.endswith("_images")) and not _is_count(value):
                raise rerun_error(path, f"{here.lstrip('.')} is {json.dumps(value)[:40]}, not a count",
                                  written_by=stage)
            elif key in RATE_KEYS and not is_rate(value):
                raise rerun_error(path, f"{here.lstrip('.')} is {json.dumps(value)[:40]}, not a number in [0, 1]",
                                  written_by=stage)

    if data is not None:
        walk(data, "")
    return data
