"""Review of the neighbour-tie commits (winnow.neighbours.tied_votes): the votes of references tied at the k-th
similarity must be the exact shares the agree comparison reads."""

from __future__ import annotations

import numpy as np

from winnow.neighbours import Space, cleanse, evidence, vote


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


def test_an_all_zero_row_has_no_vote_though_tied_votes_no_longer_searches_it_again():
    # a zero row ties with every reference (similarity 0): tied_votes skips its all-pairs re-search, since it has no
    # vote anyway (silent_rows). Its outcome is unchanged: no agreement, vote -1, kept, with 7 of 8 references of class 1
    reference = np.array([[1, 0]] * 7 + [[0, 1]], np.float32)
    space = Space(np.array([100]), np.zeros((1, 2), np.float32), np.arange(8), reference, np.array([1] * 7 + [0]))
    found = evidence(space, np.array([0]), k=3, num_classes=2)
    assert found[["agreement", "given_agreement", "vote"]].values.tolist() == [[0.0, 0.0, -1]]
    assert vote(space, k=3, num_classes=2).tolist() == [-1]
