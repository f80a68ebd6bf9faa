"""Hostile leftovers of probe 78, found in review:

- dedup's embedding search read one image per set of equal pixels whatever the embedding said of the others, so a
  user's embedding (represent.source) giving equal pixels different rows lost the pairs of every row but the first:
  a test image near the second train copy's row alone was no leak, both train copies kept (exit 0). Only rows equal
  to their set's first stand for it now.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import require
from test_hostile_embdedup_78 import _table
from winnow.dedup import dedup_table


@pytest.mark.parametrize("knn", ["numpy", "faiss"])
def test_equal_pixels_the_embedding_gives_different_rows_are_each_searched(knn):
    if knn == "faiss":
        require(importlib.util.find_spec("faiss") is not None, what="faiss",
                fix="make setup installs the faiss-cpu pin of requirements.lock")
    # train-0 and train-1 hold equal pixels; the user's embedding (of their captions, say) puts only train-1 beside
    # test-0 (cosine distance 0.00005, embedding_radius 0.01)
    ids = ["train-0", "train-1", "test-0", "other"]
    manifest, scores = _table(ids, splits=["train", "train", "test", "train"], digests=["a", "a", "b", "c"],
                              phashes=[1, 1, 1 << 40, 1 << 20])
    embedding = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0.01, 0], [0, 0, 0, 1]], np.float32)
    table = dedup_table(manifest, scores, radius=None, keep="first", embedding=embedding, embedding_radius=0.01,
                        embedding_confirm=False, knn=knn)
    # before: train-0 kept, train-1 its exact_duplicate, test-0 unique: the leak kept in train
    assert table["reason"].tolist() == ["leak", "leak", "eval_copy", "unique"]
    assert table["kept"].tolist() == [False, False, True, True]
