"""Hostile inputs around the outlier scores, probe 81:

- drop_outliers true on 200 images in two clusters: the small-tail warning told the user to "judge about 200 images or
  more" of the 200 images judged. LOF's normality is clipped at 1 for every image denser than its neighbours (48 of
  the 200 here), and those pinned scores are left out of the tail the isolated rule tests, so 200 images gave it 16
  scores where it needs 20; the count it advises now scales by the share left to the tail, and the count advised is
  enough for the rule to test.

The cases call :func:`winnow.outliers.find_outliers` on generated embeddings in this process.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_hostile_leftovers_76b import _clusters, _self_space
from winnow.outliers import find_outliers


@pytest.mark.hostile("outliers")
def test_the_small_tail_advice_counts_the_scores_pinned_at_the_top_out(capsys):
    # 2 clusters of 100: before, "... where the 200 images judged give 16: ...; judge about 200 images or more"
    features = _clusters(np.random.default_rng(0), 2, 100)[1]
    table, _ = find_outliers([_self_space(features)], k=10, bins=256, drop=True)
    assert int((table["lof"] == 1).sum()) == 48  # the pinned scores the tail cannot draw on
    assert capsys.readouterr().out.splitlines() == [
        "warning: embedding-clean: drop_outliers is on, but the outlier cut of lof flagged none, and auto's isolated "
        "rule, which sets a few odd images apart, needs 20 scores below their 0.1 quantile, where the 200 images "
        "judged give 16: no outlier can be dropped unless the scores have a second mode; judge about 270 images or "
        "more, or give embedding_clean.outlier_threshold another method (such as kittler)"]


@pytest.mark.hostile("outliers")
def test_the_count_the_small_tail_advice_gives_lets_the_isolated_rule_test(capsys):
    # the same draw at the 270 images advised above: the tail holds its 20 scores, and no warning is said
    features = _clusters(np.random.default_rng(0), 2, 135)[1]
    find_outliers([_self_space(features)], k=10, bins=256, drop=True)
    assert capsys.readouterr().out == ""
