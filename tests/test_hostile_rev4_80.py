"""Review of the neighbour-tie commits (winnow.neighbours.tied_votes): the votes of references tied at the k-th
similarity must be the exact shares the agree comparison reads."""

from __future__ import annotations

import numpy as np

from winnow.neighbours import Space, cleanse, evidence


def test_a_tie_held_by_one_class_gives_it_whole_votes():
    # an image of class 0 whose 3 nearest are of class 1 and whose other 7 places go to 10 copies, all of class 1:
    # every one of its 10 neighbours says 1. Before, the copies' share 7/10 was rounded to float32 first: 3 + 10 *
    # 0.69999999 votes, agreement 0.99999999, and at agree 1.0 the image was kept
    reference = np.array([[1, 0]] * 3 + [[1, 1]] * 10, np.float32)
    space = Space(np.array([100]), np.array([[1, 0]], np.float32), np.arange(13), reference, np.ones(13, np.int64))
    found = evidence(space, np.array([0]), k=10, num_classes=2)
    assert found[["agreement", "given_agreement", "neighbour_label", "vote"]].values.tolist() == [[1.0, 0.0, 1, 1]]
    table = cleanse(np.array(["q"], object), np.array([0]), found, agree=1.0, margin=None, isolation=None, warn=False)
    assert table[["decision", "suggested_label", "reason"]].values.tolist() == [["relabel", 1, "neighbours_agree:1"]]
