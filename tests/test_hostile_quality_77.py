"""Hostile cases of the score, threshold and dedup stages on real-looking data (probe 77):

- half of a set of photos darkened to 15% (dark 0.06-0.14) beside clean photos of widely spread brightness (0.45-0.88):
  auto flagged none and said nothing (rule none), where the same half beside a tighter clean mode was cut (rule
  majority). Silverman's bandwidth over both modes, widened by the gap between them, filled the valley; the majority
  rule now also tests the valley smoothed at the spread within each side.
"""

import numpy as np
import pandas as pd
import pytest

from winnow.quality import SCORES, quality_flags


@pytest.mark.hostile("threshold")
def test_half_the_photos_darkened_beside_widely_spread_clean_ones_are_cut():
    # before: 0 flagged, rule none, no warning: the mode rule, its one top score set aside, found the 50 dark images a
    # majority of the 99 it tests and left them to the majority rule, whose valley test smoothed over both modes at
    # once (bandwidth 0.11, against 0.016 within each side) and found the gap between 0.14 and 0.45 no valley
    rng = np.random.default_rng(0)
    dark = np.concatenate([rng.uniform(0.06, 0.14, 50), rng.uniform(0.45, 0.88, 50)])
    table = pd.DataFrame({"id": [f"i{k:03d}" for k in range(100)], **{issue: 1.0 for issue in SCORES}, "dark": dark})
    flags, cuts, rules = quality_flags(table, {"dark": {"method": "auto"}})
    assert rules["dark"] == "majority"
    assert flags["dark"].to_numpy().tolist() == [True] * 50 + [False] * 50
    # 51 of them is past max_flagged_fraction 0.5: none flagged, but said (rule too_many, the stage's warning)
    dark[50] = 0.1
    flags, cuts, rules = quality_flags(table.assign(dark=dark), {"dark": {"method": "auto"}})
    assert (rules["dark"], int(flags["dark"].sum())) == ("too_many", 0)
