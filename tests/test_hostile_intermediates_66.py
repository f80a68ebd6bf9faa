"""Hostile library calls of the 66th stop's probe: faults noted at earlier stops and mended here."""

import numpy as np
import pandas as pd
import pytest

from winnow.quality import SCORES, score_images, score_table


@pytest.mark.hostile("intermediates")
def test_scoring_no_images_gives_empty_scores_of_the_shapes_of_one_image(tmp_path):
    # before: score_images of a (0, 8, 8, 1) array raised IndexError (np.percentile of no sizes for the fences)
    none = score_images(np.zeros((0, 8, 8, 1), np.uint8), phash=True)
    one = score_images(np.full((1, 8, 8, 1), 128, np.uint8), phash=True)
    assert sorted(none) == sorted(one) == sorted([*SCORES, "phash"])
    assert {name: (values.dtype, values.shape) for name, values in none.items()} == {
        name: (values.dtype, (0,)) for name, values in one.items()}
    manifest = pd.DataFrame({"id": pd.Series([], dtype=str), "digest": pd.Series([], dtype=str),
                             "orig_h": pd.Series([], dtype=np.int64), "orig_w": pd.Series([], dtype=np.int64),
                             "split": pd.Series([], dtype=str)})
    table = score_table(np.zeros((0, 8, 8, 3), np.uint8), manifest)
    assert list(table.columns) == ["id", *SCORES, "digest", "phash"]
    assert len(table) == 0 and table["phash"].dtype == np.uint64
