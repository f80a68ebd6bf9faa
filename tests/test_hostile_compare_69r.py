"""Hostile inputs to compare found at the stop 69 review: what its notes say of one variant."""

import pytest

from winnow import compare


@pytest.mark.hostile("compare")
def test_compare_over_seeds_of_one_variant_says_no_test_leaves_out_an_untested_class():
    # `winnow compare --variants baseline` over two seeds, class z with no test image: one variant pairs with none, so
    # there is no test to leave z out of. Before, the note said "Left out of the average and std rows and of the
    # tests", as 4c62e40a mended for the report's page and the compare stage (untested_note) but not for this one
    support = {"a": 5, "z": 0}
    runs = [{"baseline": {"per_class": {c: {"f1": v, "support": support[c]} for c, v in (("a", f1), ("z", 0.0))}}}
            for f1 in (0.5, 0.6)]
    _, tests = compare.seed_summary(runs, metric="f1")
    assert tests.empty
    assert compare.untested_rows_note(runs) == (
        "Left out of the average and std rows: z (no test image: its 0s are not measured), as evaluate's macro "
        "figures leave it out.")
