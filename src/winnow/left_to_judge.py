"""Whether each label cleaner's table judged the train images the ``pruned.cleaners`` now leave it
(:func:`check_left_to_judge`): threshold's flags and dedup's groups, where they are among the cleaners, move which
images the label cleaners judge, so a table written under another choice of cleaners is refused in one line naming
it and its stage. Part of :func:`winnow.decision_files.read_cleaner_tables`' checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from winnow.judged_rows import considered_rows, filtered_out, read_filters
from winnow.stage_reads import read_json, rerun_error
from winnow.variants import DECISION_FILES, PER_IMAGE


# per label cleaner: its metrics file and the entry whose "classes" name the classes it left unjudged, too small for
# it (no row in its table). Written with the table, so no dep of the budget: an unchanged table means them unchanged
UNJUDGED_CLASSES = {"confident_learn": ("metrics/confident_learn.json", "unjudged"),
                    "embedding_clean": ("metrics/embedding_clean.json", "unjudged"),
                    "data_valuation": ("metrics/data_valuation.json", "undecided")}


def check_left_to_judge(cleaners, tables: dict[str, pd.DataFrame], *, manifest: pd.DataFrame,
                        classes: list[str], params: Mapping[str, Any] | None) -> None:
    """Refuse a label cleaner's table (``tables``, as :func:`winnow.decision_files.read_cleaner_tables` returns them)
    judged under other ``pruned.cleaners``: each judges the train images :func:`winnow.judged_rows.considered_rows`
    leaves it for these cleaners, so a table lacking an image threshold flagged or dedup removed that these cleaners
    leave to it (but of a class its metrics say it left unjudged as too small, :data:`UNJUDGED_CLASSES`; without them,
    of a class with no row) was written under another choice of filters, and that image would pass into pruned judged by
    no cleaner; one holding an image these cleaners leave out (threshold or dedup now among them) was too, and its
    decisions of such images would take places in the budget's cuts though the filters drop them. A table lacking an
    image no filter left out (of a class it judged) was cut short or written for other images: that image too would pass
    unjudged. Before: pruned.cleaners edited from [threshold, dedup, embedding_clean] to [embedding_clean] and the
    budget rerun alone (``dvc repro -s budget``) kept the 492 images threshold had flagged, judged by no cleaner, and
    said nothing; edited back, 5 flagged images confident-learn had judged took 5 of top10%'s 120 places; a class
    threshold had flagged whole, so without a row, passed as one too small for the cleaner; and `winnow review export`,
    which checked none of it, queued the stale table's suggestions."""
    if all(DECISION_FILES[c][2] in PER_IMAGE for c in cleaners):
        return
    # cut under params.yaml's settings (where given), where the cleaners' filters move the images judged
    flags, groups = read_filters(manifest, params=params, cleaners=cleaners)
    considered, _ = considered_rows(manifest, flags=flags, groups=groups, dedup_cleans="dedup" in cleaners,
                                    threshold_cleans="threshold" in cleaners)
    ids = manifest["id"].to_numpy()
    # what a filter alone leaves out: the images a table judged under other cleaners lacks
    filtered = filtered_out(manifest, flags=flags, groups=groups)
    for cleaner in cleaners:
        path, stage, argument, _ = DECISION_FILES[cleaner]
        if argument in PER_IMAGE:
            continue
        table = tables[argument]
        judged = np.isin(ids, table["id"].to_numpy())
        outside = np.flatnonzero(judged & ~considered)
        if len(outside):
            raise rerun_error(path, f"holds {len(outside)} train image(s) that pruned.cleaners leaves out of its "
                                    f"judging (first {ids[outside[0]]!r}, which threshold flagged or dedup removed): "
                                    "it was written under other pruned.cleaners", written_by=stage)
        too_small = _left_unjudged(cleaner, stage=stage, classes=classes)
        of_judged_class = (manifest["label"].isin(set(table["given_label"])) if too_small is None
                           else ~manifest["label"].isin(too_small)).to_numpy()
        lacking = considered & ~judged & of_judged_class
        # before: only the images a filter alone leaves out were looked for, so a table lacking one no filter touched
        # (cut short, or another data version's) passed, and pruned kept that image judged by no cleaner
        for among, why in ((filtered, "which threshold flagged or dedup removed): it was written under other "
                                      "pruned.cleaners"),
                           (~filtered, "which no filter left out): it was cut short or written for other images")):
            missed = np.flatnonzero(lacking & among)
            if len(missed):
                raise rerun_error(path, f"lacks {len(missed)} train image(s) that pruned.cleaners leaves to it (first "
                                        f"{ids[missed[0]]!r}, {why}", written_by=stage)


def _left_unjudged(cleaner: str, *, stage: str, classes: list[str]) -> set[int] | None:
    """The classes (indices into ``classes``) label cleaner ``cleaner`` (its stage ``stage``) says in its metrics it
    left unjudged as too small for it; None where they do not say (absent, or written without the entry).

    Raises:
        WinnowError: where the metrics say why it decided nothing (``why``: data-valuation on a val split too thin
            to value any class), which it does only while ``cleaner`` is not among pruned.cleaners; among them, it
            stops instead. Before, pruned.cleaners given data_valuation and the budget rerun alone (``dvc repro -s
            budget``) read that empty table as valuation finding nothing to drop, and said nothing."""
    path, entry = UNJUDGED_CLASSES[cleaner]
    said = read_json(path, written_by=stage, missing_ok=True)
    named = said.get(entry) if isinstance(said, dict) else None
    if isinstance(named, dict) and "why" in named:
        raise rerun_error(DECISION_FILES[cleaner][0], f"holds no decision: {stage} decided nothing, as it does only "
                                                      f"while {cleaner} is not among pruned.cleaners ({path} says why)",
                          written_by=stage)
    named = named.get("classes") if isinstance(named, dict) else None
    return {classes.index(name) for name in named if name in classes} if isinstance(named, dict) else None
