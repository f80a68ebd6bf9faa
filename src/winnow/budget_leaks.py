"""dedup's leak drops in the budget stage: train copies of val, test or trusted images, which pruned drops whatever
the budget chooses (:func:`leak_drops`), refused where they would leave a class no train image
(:func:`refuse_emptying_leaks`), said in one line (:func:`say_leaks`), and dropped beside each candidate that is
weighed for shipping (:func:`eligible`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.budget import DECISION_COLUMNS, missing_leaks, with_leaks
from winnow.decision_rows import apply_decisions
from winnow.errors import WinnowError
from winnow.variants import check_kept



def refuse_emptying_leaks(baseline: pd.DataFrame, leaks: pd.DataFrame, *, groups: pd.DataFrame,
                           classes: list[str]) -> None:
    """Refuse ``leaks`` (:func:`leak_drops`) that leave a class of ``baseline`` no train image: pruned drops them
    whatever the budget chooses, so no candidate could be trained. Before: a trusted set holding a copy of every
    train image of a class ran the budget to exit 0 and the variants stage told the user to leave a cleaner out of
    pruned.cleaners, which changes nothing; one copying every train image ended in "probe: features (0, 2) and 0
    labels do not pair up"."""
    lost = sorted(set(baseline["label"]) - set(baseline.loc[~baseline["id"].isin(leaks["id"]), "label"]))
    if not lost:
        return
    first = baseline.loc[baseline["label"] == lost[0], "id"].iloc[0]
    copied = groups[(groups["group"] == groups.set_index("id").loc[first, "group"]) & (groups["split"] != "train")]
    copied = copied.iloc[0]
    fix = ("take them out of ingest.trusted_path, whose images must be held out from the data set"
           if copied["split"] == "trusted" else "remove the copies from the data set")
    raise WinnowError(f"budget: every train image of class {classes[lost[0]]!r} copies a val, test or trusted image "
                      f"(first {first!r}, a copy of {copied['split']} image {copied['id']!r}), and pruned drops such "
                      f"copies (dedup's leaks), leaving the class no train image; {fix}")


def leak_drops(dedup: pd.DataFrame) -> pd.DataFrame:
    """dedup's leak drops among its decisions ``dedup`` (:func:`winnow.decision_rows.cleaner_decisions` rows;
    :data:`DECISION_COLUMNS`, no confidence)."""
    leaks = dedup[dedup["reason"] == "leak"]
    return leaks.assign(confidence=np.nan).loc[:, list(DECISION_COLUMNS)].reset_index(drop=True)


def say_leaks(decisions: pd.DataFrame, leaks: pd.DataFrame) -> None:
    added = len(missing_leaks(decisions, leaks))
    if added:
        print(f"budget: pruned also drops the {added} train image(s) dedup found copying a val, test or trusted "
              "image (leaks), whatever the budget chooses")


def eligible(candidate, baseline: pd.DataFrame, classes: list[str], leaks: pd.DataFrame) -> bool:
    """Whether ``candidate`` leaves every class that baseline has a train image (as judged candidates must) with the
    ``leaks`` (:func:`leak_drops`) that pruned drops beside it. Before, without dedup among pruned.cleaners, filters
    that dropped the one 'left' image the leaks left were shipped, and the variants stage refused pruned."""
    try:
        check_kept("pruned", apply_decisions(baseline, with_leaks(candidate.decisions, leaks)), before=baseline,
                   classes=classes)
    except WinnowError as err:
        print(f"warning: budget: {candidate.name} is not eligible: {err}")
        return False
    return True
