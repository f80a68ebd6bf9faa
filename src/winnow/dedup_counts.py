"""How well dedup did: the counts of a :func:`winnow.dedup.dedup_table` (groups, removals, label conflicts, cross-split
leaks) and, when degrade planted duplicates, detection scores over train images against the planted truth. The table
itself is :mod:`winnow.dedup`'s."""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.copies import LINKS
from winnow.errors import WinnowError
from winnow.groundtruth import DUPLICATE_KINDS, planted, precision_recall_f1
from winnow.leaks import leaks_by_kind


def true_duplicate_ids(perturbations: pd.DataFrame, *, splits: pd.Series | None = None) -> set[str]:
    """Ids of every image in a planted duplicate group of two or more: the copies and their sources.

    ``splits``: each image's split by id (data/degrade's); given, a copy or a source that is none of its train images
    raises a one-line :class:`WinnowError` naming the row's image, as :func:`winnow.groundtruth.planted_issue_ids`
    refuses a quality damage of one: degrade copies its own train images over its own train images. Before, a log of
    another data set scored dedup against copies planted nowhere (precision, recall and F1 0, its exact copies
    counted in ``left_out``), exit 0."""
    planted = perturbations[perturbations["kind"].isin(DUPLICATE_KINDS)]
    for row in planted.itertuples(index=False) if splits is not None else ():
        if pd.isna(row.source_id):  # the copy of nothing: its source would count as no copy
            raise WinnowError(f"image {row.id!r}: {row.kind} names no source image; degrade records the train image "
                              "each copy is of")
        for image, what in ((row.id, row.kind), (row.source_id, f"{row.kind} source {row.source_id!r}")):
            if image not in splits.index:
                raise WinnowError(f"image {row.id!r}: {what} names an image data/degrade does not hold (a log of "
                                  "another data set?); degrade copies its own train images")
            if splits[image] != "train":
                raise WinnowError(f"image {row.id!r}: {what} is a {splits[image]} image; degrade copies train images "
                                  "only")
    return set(planted["id"]) | set(planted["source_id"].dropna())


def dedup_metrics(table: pd.DataFrame, *, perturbations: pd.DataFrame | None = None,
                  digests: np.ndarray | None = None) -> dict:
    """Counts from a :func:`winnow.dedup.dedup_table`: groups, removals, label conflicts, cross-split leaks by kind
    (:func:`winnow.leaks.leaks_by_kind`) and, when degrade planted duplicates, detection scores over train images.

    An image is predicted positive when its group has two or more members, truly positive when it is
    in :func:`true_duplicate_ids`. ``digests``: ``(N,)`` pixel digests following the table's rows; with them, a train
    image degrade did not plant that is pixel-identical to another image (a label book drawn from the data, a copy
    the data came with) is left out of the scores and counted as ``left_out``: a copy found, no false positive.
    """
    train = table["split"].to_numpy() == "train"
    in_group = table["group_size"].to_numpy() > 1
    reason = table["reason"].to_numpy()
    conflict = table["label_conflict"].to_numpy()
    metrics = {
        "images": int(len(table)),
        "groups": int(table.loc[in_group, "group"].nunique()),
        "images_in_groups": int(in_group.sum()),
        "largest_group": int(table["group_size"].max()) if len(table) else 0,
        "images_removed": int((~table["kept"]).sum()),
        "removed": {r: int((reason == r).sum()) for r in (*LINKS, "leak")},
        "conflicts": int(table.loc[conflict, "group"].nunique()),
        "conflict_images": int(conflict.sum()),
        "leaks": leaks_by_kind(table),
    }
    if planted(perturbations, DUPLICATE_KINDS):
        # the log's copies and sources held to the table's images (one a row): a log of another data set is refused
        splits = pd.Series(table["split"].to_numpy(), index=table["id"].to_numpy())
        truth = table["id"].isin(true_duplicate_ids(perturbations, splits=splits)).to_numpy()
        # before: a trusted image drawn from train made its train copy one more false positive (precision 2/3 of
        # a detector that found the one planted copy and a copy pixel for pixel)
        copied = (pd.Series(np.asarray(digests, dtype=object)).duplicated(keep=False).to_numpy() & ~truth
                  if digests is not None else np.zeros(len(table), dtype=bool))
        judged = train & ~copied
        metrics["detection"] = precision_recall_f1(in_group[judged], truth[judged])
        if digests is not None:
            metrics["detection"]["left_out"] = int((train & copied).sum())
    return metrics
