"""The val images a judge is measured on: :func:`learned_val` those of the classes it learned, and
:func:`measured_val` those with each picture once and none a copy of a train image it learned from
(:func:`once_per_picture`, :func:`picture_copies`), as the label cleaners read them; :func:`ridge_rows` the same
rule over an imageset's rows, for the budget's probes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.errors import WinnowError
from winnow.imageset import ImageSet
from winnow.judged_rows import in_id_order


def learned_val(data, learned: np.ndarray, *, stage: str | None = None):
    """The val images of ``data`` (an imageset) whose class is in ``learned`` (int, the classes a judge has train
    images of), in id order (:func:`in_id_order`): a val image of another class is voted wrong whatever the judge,
    and a flip planted into such a class is caught for free, so both would misstate the judge's accuracy and
    relabel precision.

    Raises:
        WinnowError: with ``stage`` (a cleaner whose judge is measured on them), when val has images but none of
            ``learned``. Before, "the val split is empty ... (set ingest.val_fraction above 0)" answered a val split
            of 20 images whose class folders were named apart from train's.
    """
    val = (data.manifest["split"] == "val").to_numpy()
    judged = val & np.isin(data.labels, learned)
    if stage is not None and val.any() and not judged.any():
        raise WinnowError(f"{stage}: {val_of_other_classes(data, learned, what='the judge learned from train')}, and a "
                          "judge is measured on val images of its own classes: give val images of the train classes "
                          "(an imagefolder's val/ folders named as train/'s)")
    return data.select(in_id_order(data.manifest, judged))


def val_of_other_classes(data, learned: np.ndarray, *, what: str) -> str:
    """Why no val image of ``data`` (an imageset) can measure a judge of ``learned`` (int, the classes it has train
    images of): 'none of the val split's 20 images is of a class {what} ('a', 'b'); they are of 'c''. Said by
    :func:`learned_val` and by data-valuation, whose warning path goes on where learned_val would stop."""
    val = (data.manifest["split"] == "val").to_numpy()

    def named(classes) -> str:
        return ", ".join(repr(data.classes[c]) for c in classes[:5]) + (" ..." if len(classes) > 5 else "")
    return (f"none of the val split's {int(val.sum())} images is of a class {what} ({named(np.asarray(learned))}); "
            f"they are of {named(np.unique(data.labels[val]))}")


def once_per_picture(val: ImageSet, groups: pd.DataFrame | None) -> tuple[ImageSet, np.ndarray, np.ndarray]:
    """``(val, repeats, conflicts)``: the val imageset ``val`` (in id order, :func:`learned_val`) with each picture
    once, by dedup's groups (``groups``: ``id``, ``group``; None: every image its own picture): the copies after a
    picture's first are left out, and a picture whose copies carry different labels is left out whole (which copy is
    right cannot be told); ``repeats`` and ``conflicts``: the ids left out, object ``(R,)`` and ``(C,)``.

    A value's standard error is the spread of its per-val-image values over their number: copies of one picture give
    one value each, the same, and counted apart they shrank it. Before, 6 val pictures 20 times over gave standard
    errors for 120 val images, a bound of 1 standard error acted as one of 0.2, and the stage said it valued "on 120
    val images"."""
    ids = val.manifest["id"].to_numpy()
    if groups is None or not len(ids):
        return val, ids[:0], ids[:0]
    group = groups.set_index("id")["group"].reindex(ids).to_numpy()
    repeated, conflicted = picture_copies(group, val.labels, among=np.ones(len(ids), bool))
    return val.select(~(conflicted | repeated)), ids[repeated], ids[conflicted]


def picture_copies(group_of: np.ndarray, labels: np.ndarray, *, among: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(repeats, conflicts)``, bool ``(N,)`` each: of the images ``among`` (bool ``(N,)``), those whose picture
    (``group_of``: dedup's group per image, ``(N,)``) has copies there of two or more ``labels`` (int ``(N,)``), and,
    of the rest, each picture's copies after its first."""
    rows = np.flatnonzero(among)
    kinds = pd.Series(labels[rows]).groupby(group_of[rows]).transform("nunique").to_numpy()
    conflicts = np.zeros(len(among), bool)
    conflicts[rows[kinds > 1]] = True
    single = rows[~(kinds > 1)]
    repeats = np.zeros(len(among), bool)
    repeats[single[pd.Series(group_of[single]).duplicated().to_numpy()]] = True
    return repeats, conflicts


def measured_val(data, learned: np.ndarray, *, stage: str, judged: np.ndarray) -> tuple[ImageSet, dict[str, int]]:
    """(the val images a label cleaner's judge is measured on, how many of each kind were left out, for its metrics'
    ``judge`` block: ``val_copies_left_out``, ``val_repeats_left_out``, ``val_conflicts_left_out``, as
    data-valuation's metrics name the last two): :func:`learned_val` (``data``, ``learned``, ``stage`` as there: the
    cleaner's params section) less the copies of a train image it judges (``judged``: their ids, ``(J,)``; dedup's
    groups: a copy dedup.drop_leaks false kept in train), with each picture once (:func:`once_per_picture`), each
    left-out kind said in one line too. Before, the counts were only printed: the metrics' ``val_images`` fell
    with no figure saying why. A judge is measured on pictures it never learned
    from: before, 6 val pictures 20 times over were 120 val images, whose 24 planted flips cleared the 10 measured
    relabels a precision needs where the 6 pictures once measure 1, and both cleaners relabelled; 60 val copies of
    judged train images read an embedding-clean judge 0.883 accurate, 0.817 with those train images not judged.

    Raises:
        WinnowError: as :func:`learned_val`, and when no val image is left to measure the judge on.
    """
    from winnow.stage_reads import read_table

    name = stage.replace("_", "-")
    groups = read_table("data/dedup/groups.parquet", written_by="dedup", columns=("id", "group"), missing_ok=True)
    val = learned_val(data, learned, stage=stage)
    ids = val.manifest["id"].to_numpy()
    copied = np.zeros(len(ids), bool)
    if groups is not None:
        group_of = groups.set_index("id")["group"]
        copied = group_of.reindex(ids).isin(group_of.reindex(judged).dropna()).to_numpy()
    if copied.all() and len(ids):
        raise WinnowError(f"{stage}: all {len(ids)} val image(s) of the judged classes copy a train image the judge "
                          f"learns from (dedup's groups, first {ids[0]!r}: dedup.drop_leaks false keeps such copies "
                          "in train), and a judge is measured on pictures it never learned from: set dedup.drop_leaks: "
                          "true, or give val images of their own")
    if copied.any():
        print(f"warning: {name}: {int(copied.sum())} val image(s) copy a train image the judge learns from (dedup's "
              f"groups, first {ids[copied][0]!r}: dedup.drop_leaks false keeps such copies in train): left out of "
              "measuring the judge, which they would flatter")
    val, repeats, conflicts = once_per_picture(val.select(~copied), groups)
    if len(repeats):
        print(f"{name}: {len(repeats)} val image(s) repeat a picture of the val split (dedup's groups, first "
              f"{repeats[0]!r}): each picture measures the judge once")
    if len(conflicts) and not len(val):
        raise WinnowError(f"{stage}: all {len(conflicts)} val image(s) of the judged classes are copies of pictures "
                          f"carrying different labels (dedup's groups, first {conflicts[0]!r}), and a judge is "
                          "measured on val labels it can trust: give each picture one label")
    if len(conflicts):
        print(f"warning: {name}: {len(conflicts)} val image(s) are copies of one picture carrying different labels "
              f"(dedup's groups, first {conflicts[0]!r}): left out of measuring the judge; give each picture one label")
    return val, {"val_copies_left_out": int(copied.sum()), "val_repeats_left_out": len(repeats),
                 "val_conflicts_left_out": len(conflicts)}


def ridge_rows(splits: np.ndarray, labels: np.ndarray, group_of: np.ndarray, *,
               learnt: np.ndarray) -> dict[str, np.ndarray]:
    """The val images a probe fitted on the train images ``learnt`` (bool ``(N,)``) is measured on, each picture once
    and none it learnt from, by the rule of :func:`measured_val` over an imageset's rows (``splits``, ``labels``,
    ``group_of``: dedup's group per image, ``(N,)`` each): bool ``(N,)`` each, ``"rows"`` those images, and the val
    images left out, by kind: ``"untrained"`` (of a class no ``learnt`` image has), ``"copies"`` (of a picture a
    ``learnt`` image copies: dedup.drop_leaks false keeps such copies in train), ``"repeats"``, ``"conflicts"``
    (:func:`picture_copies`). The budget chooses its ridge on them, and checks the trusted split's labels by them."""
    val = splits == "val"
    untrained = val & ~np.isin(labels, labels[learnt])
    copies = val & ~untrained & np.isin(group_of, group_of[learnt])
    repeats, conflicts = picture_copies(group_of, labels, among=val & ~untrained & ~copies)
    return {"rows": val & ~(untrained | copies | repeats | conflicts), "untrained": untrained, "copies": copies,
            "repeats": repeats, "conflicts": conflicts}
