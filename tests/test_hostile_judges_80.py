"""Hostile inputs to the judges, the trusted split and the cleaning budget, probe 80:

- ``embedding_clean.agree`` at a share that k neighbours reach exactly, 0.9 or 0.7 of 10: the neighbours' share was
  divided in float32 (9 of 10 is 0.89999998 there), so "at least agree" failed for an image exactly 9 of whose 10
  neighbours carried one other class, kept as if 8 did. The shares are divided in float64 now, as agree is read.
"""

from __future__ import annotations

import numpy as np
import pytest

from winnow.neighbours import Space, cleanse, evidence


@pytest.mark.hostile("cleaners")
@pytest.mark.parametrize(("other", "agree"), [(9, 0.9), (7, 0.7)])
def test_an_agree_share_the_neighbours_reach_exactly_relabels(other, agree):
    # one image of class 0 whose 10 nearest references are `other` of class 1 and the rest of class 0; 5 more of class
    # 0 lie far away. before: agreement 0.89999998 (float32) < agree 0.9, decision keep
    near = np.array([[1.0, 0.01 * i] for i in range(10)], np.float32)
    far = np.tile(np.array([[-1.0, 0.0]], np.float32), (5, 1))
    labels = np.array([1] * other + [0] * (10 - other) + [0] * 5)
    space = Space(np.array([100]), np.array([[1.0, 0.0]], np.float32), np.arange(15), np.concatenate([near, far]),
                  labels)
    found = evidence(space, np.array([0]), k=10, num_classes=2)
    assert found[["agreement", "given_agreement"]].to_dict("records") == [
        {"agreement": other / 10, "given_agreement": (10 - other) / 10}]
    decided = cleanse(np.array(["train-0"]), np.array([0]), found, agree=agree, margin=None, isolation=None)
    assert decided[["decision", "reason", "suggested_label"]].to_dict("records") == [
        {"decision": "relabel", "reason": "neighbours_agree:1", "suggested_label": 1}]
