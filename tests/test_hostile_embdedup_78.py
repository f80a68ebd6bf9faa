"""Hostile embedding near-duplicates, probe 78: dedup.embedding_radius's search (:func:`winnow.copies.embedding_pairs`,
:mod:`winnow.cosine_index`) tried with copies, chains and ties.

- a picture copied more times than the search examines neighbours (``EMBEDDING_NEIGHBOURS``), near a picture copied as
  often in test: each copy's nearest were its own copies, so the two were never linked and every train copy stayed
  beside its test look-alike (a leak kept, exit 0). The first image of each set of equal pixels now stands for the
  set, as in the pHash searches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.copies import EMBEDDING_NEIGHBOURS
from winnow.dedup import dedup_table
from winnow.groundtruth import QUALITY_ISSUES


def _table(ids: list[str], *, splits: list[str], digests: list[str], phashes: list[int]) -> tuple[pd.DataFrame,
                                                                                                  pd.DataFrame]:
    """(manifest, scores) of images of one label, every quality score equal."""
    manifest = pd.DataFrame({"id": ids, "split": splits, "label": 0, "digest": digests})
    scores = pd.DataFrame({"id": ids, "phash": np.array(phashes, dtype=np.uint64)})
    for issue in QUALITY_ISSUES:
        scores[issue] = 0.0
    return manifest, scores


def test_train_copies_of_a_picture_copied_more_than_the_neighbours_searched_go_as_leaks():
    m = EMBEDDING_NEIGHBOURS + 1  # every copy's nearest neighbours are all its own copies
    ids = [f"train-{i:02d}" for i in range(m)] + [f"test-{i:02d}" for i in range(m)]
    manifest, scores = _table(ids, splits=["train"] * m + ["test"] * m, digests=["a"] * m + ["b"] * m,
                              phashes=[1] * m + [1 << 40] * m)
    # the two pictures' embeddings 0.0002 apart in cosine distance, well within the radius
    embedding = np.array([[1, 0, 0, 0]] * m + [[1, 0.02, 0, 0]] * m, np.float32)
    table = dedup_table(manifest, scores, radius=None, keep="first", embedding=embedding, embedding_radius=0.01,
                        embedding_confirm=False)
    # before: two groups, train-00 kept and the other ten exact_duplicate; the test look-alike unlinked
    assert table["group"].nunique() == 1
    assert table.loc[table["split"] == "train", "reason"].tolist() == ["leak"] * m
    assert not table.loc[table["split"] == "train", "kept"].any()
