"""Cross-split copies in a :func:`winnow.dedup.dedup_table`: the groups that span two splits counted by kind, the
removed images pixel-identical to one that stays, the train copies of val, test or trusted images kept in
train (dedup.drop_leaks false), and the images of one split that copy one another. Counts only: which images go
is :mod:`winnow.dedup`'s."""

from __future__ import annotations

import numpy as np
import pandas as pd

# cross-split duplicates by kind: (the split holding the copies, the split they copy)
LEAK_KINDS = {"train_copies_of_val": ("train", "val"), "train_copies_of_test": ("train", "test"),
              "val_copies_of_test": ("val", "test")}
# counted only when ingest read a trusted split (the label book the budget judges on): its train copies are
# dropped like any leak, and copies of test in it make the budget choose partly on test images
TRUSTED_LEAK_KINDS = {"train_copies_of_trusted": ("train", "trusted"), "trusted_copies_of_val": ("trusted", "val"),
                      "trusted_copies_of_test": ("trusted", "test")}


def leaks_by_kind(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Duplicate groups that span two splits, one entry per :data:`LEAK_KINDS` (and :data:`TRUSTED_LEAK_KINDS`
    when the table holds a trusted split).

    They differ in what they spoil: train copies of val images flatter the val score that picks every
    checkpoint, train copies of test images the test score, and val copies of test images make test
    partly a set the checkpoint was already chosen on. A group holding all three splits counts under
    each kind.

    Returns:
        kind -> ``groups`` (groups holding both splits), ``images`` (their members in the copying
        split, e.g. the train images for ``train_copies_of_val``) and ``<copied split>_images``
        (their members in the other split).
    """
    groups = _numbered(table)
    splits = table["split"].to_numpy()
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    holds = {s: np.bincount(groups[splits == s], minlength=n_groups) > 0 for s in ("train", "val", "test", "trusted")}
    leaks = {}
    for kind, (copy, copied) in (LEAK_KINDS | (TRUSTED_LEAK_KINDS if (splits == "trusted").any() else {})).items():
        spans = holds[copy] & holds[copied]
        member = spans[groups] if len(groups) else np.zeros(0, dtype=bool)
        leaks[kind] = {"groups": int(spans.sum()), "images": int((member & (splits == copy)).sum()),
                       f"{copied}_images": int((member & (splits == copied)).sum())}
    return leaks


def _numbered(table: pd.DataFrame) -> np.ndarray:
    """int64 ``(N,)``: each image's group of ``table`` numbered from 0 by first row, so that counting by number holds
    one count a group. dedup numbers them so; before, another tool's numbers (10**15, its group ids) made the counts
    one a number, and the report ended in "out of memory; free memory or lower the batch or data size"."""
    return pd.factorize(table["group"].to_numpy(np.int64))[0].astype(np.int64)


def removed_identical(table: pd.DataFrame, digests: np.ndarray) -> int:
    """How many removed images are pixel-identical to an image that stays (its group's kept train image, or a
    val, test or trusted image): no radius separates those. ``digests``: ``(N,)`` pixel digests following the
    table's rows.

    The ``removed`` counts cannot tell: a train copy of a val, test or trusted image is counted as a ``leak``, whatever
    links it."""
    digests = pd.Series(np.asarray(digests, dtype=object))
    kept = table["kept"].to_numpy(bool)
    return int((~kept & digests.isin(digests[kept]).to_numpy()).sum())


def leaks_kept(table: pd.DataFrame) -> dict[str, int]:
    """Per copied split (``val``, ``test``, ``trusted``): the train images that stay in train in groups holding an
    image of that split, which is one per group with ``drop_leaks`` false (the group's other train images go as
    its duplicates) and none with it true."""
    groups = _numbered(table)
    splits = table["split"].to_numpy()
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    staying = (splits == "train") & table["kept"].to_numpy(bool)
    kept = {}
    for copied in ("val", "test", "trusted"):
        holds = np.bincount(groups[splits == copied], minlength=n_groups) > 0
        kept[copied] = int((staying & holds[groups]).sum()) if len(groups) else 0
    return kept


def repeated(table: pd.DataFrame, split: str) -> tuple[int, int]:
    """``(images, groups)``: the images of ``split`` in groups holding two or more of them, and those groups. dedup
    never changes val or test, so each such test image is scored once more than the picture it shows."""
    groups = _numbered(table)[table["split"].to_numpy() == split]
    counts = np.bincount(groups) if len(groups) else np.zeros(0, dtype=np.int64)
    return int(counts[counts > 1].sum()), int((counts > 1).sum())
