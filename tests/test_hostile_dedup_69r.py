"""Review of stop 69's dedup mend (winnow.dedup_keep._split_apart): the pairs of kept images asked whether they
resemble across the pieces of a group that fell apart."""

from __future__ import annotations

import tracemalloc

import numpy as np

from winnow.dedup_keep import _across_pieces


def test_kept_images_of_a_group_in_one_piece_make_no_pair_and_no_square_of_rows():
    # before: every pair of a group's kept rows was made and those in one piece dropped, on every pass where an image
    # left any group: 6,000 kept images of one group in one piece (a chained near-blank set) took 2 GB for no pair
    rows = 6000
    part = np.r_[np.zeros(rows, np.int64), [1, 1, 1, 1]]
    piece = np.r_[np.zeros(rows, np.int64), [7, 7, 8, 9]]  # group 1 fell into three pieces: rows 6000-6001, 6002, 6003
    tracemalloc.start()
    try:
        pairs = _across_pieces(part, piece, np.ones(rows + 4, bool))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # each pair of rows of group 1 in different pieces, once; none of group 0
    assert sorted(map(tuple, pairs.tolist())) == [(6000, 6002), (6000, 6003), (6001, 6002), (6001, 6003),
                                                  (6002, 6003)]
    assert pairs.dtype == np.int64
    assert peak < 50 * 2**20  # the rows' own size, not their square (before: about 2 GB)
