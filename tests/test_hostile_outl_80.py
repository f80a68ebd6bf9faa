"""Hostile inputs around the outlier scores and data valuation, probe 80:

- drop_outliers true on an embedding that puts every judged image at one point: the small-tail warning told the user
  to "judge about 200 images or more, or give embedding_clean.outlier_threshold another method (such as kittler)" of
  "the 1 images (copies counted once)", where neither fix helps (no cut sets one copy of a picture apart from the
  others); the line now says the images are all copies of one picture and points to the representation;
- the same warning on a set of copies told to judge about 200 images where 300 were judged, 150 of them copies: it
  counts distinct pictures now, as its own count of the judged does.

The outlier cases call :func:`winnow.outliers.find_outliers` on generated embeddings in this process.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_hostile_leftovers_76b import _clusters, _self_space
from winnow.outliers import find_outliers


@pytest.mark.hostile("outliers")
def test_drop_outliers_on_images_all_at_one_point_names_the_embedding_not_the_image_count(capsys):
    # 40 images, one embedding row: before, "the 1 images (copies counted once) judged give 0 ... judge about 200
    # images or more, or give embedding_clean.outlier_threshold another method (such as kittler)"
    table, cuts = find_outliers([_self_space(np.ones((40, 16), np.float32))], k=10, bins=32, drop=True)
    assert not table[[f"{m}_outlier" for m in cuts]].any().any()
    assert capsys.readouterr().out.splitlines() == [
        "warning: embedding-clean: drop_outliers is on, but the 40 images judged are all copies of one picture in the "
        "embedding (one point to every outlier method), so none is an outlier of the others and none can be dropped; "
        "an embedding that puts every image at one point tells none apart: see represent.source"]


@pytest.mark.hostile("outliers")
def test_the_small_tail_advice_counts_distinct_pictures_where_images_are_copies(capsys):
    # 150 pictures in three clusters, each twice: 300 images judged, 150 once each. before: "judge about 200 images or
    # more", which the 300 already were
    features = np.repeat(_clusters(np.random.default_rng(0), 3, 50)[1], 2, axis=0)
    find_outliers([_self_space(features)], methods=("isolation_forest",), k=10, bins=32, drop=True)
    assert capsys.readouterr().out.splitlines() == [
        "warning: embedding-clean: drop_outliers is on, but the outlier cut of isolation_forest flagged none, and "
        "auto's isolated rule, which sets a few odd images apart, needs 20 scores below their 0.1 quantile, where the "
        "150 images (copies counted once) judged give 15: no outlier can be dropped unless the scores have a second "
        "mode; judge about 200 distinct pictures or more, or give embedding_clean.outlier_threshold another method "
        "(such as kittler)"]
