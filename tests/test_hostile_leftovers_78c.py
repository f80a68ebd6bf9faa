"""Hostile inputs left over from the review of stop 78's commits:

- auto's ``split`` rule on a small clean set: 40 clean scores spread evenly over 0.2-0.9 (uniform) had 10 flagged
  dark, rule split: the within-side spread of so few scores bounds no gap (1-15% of clean draws of 20-80 fired).
"""

import numpy as np
import pandas as pd

from winnow.histogram_cuts import NOTHING
from winnow.quality import SCORES, quality_flags


def test_a_small_clean_set_spread_evenly_is_not_split():
    # 40 clean photos of evenly spread brightness (seed 45, the draw that fired). Before: rule split, 10 of the 40
    # flagged dark at a cut of 0.397, with no planted damage at all
    dark = np.random.default_rng(45).uniform(0.2, 0.9, 40)
    table = pd.DataFrame({"id": [f"i{k:03d}" for k in range(40)], **{issue: 1.0 for issue in SCORES}, "dark": dark})
    flags, cuts, rules = quality_flags(table, {"dark": {"method": "auto"}})
    assert (rules["dark"], cuts["dark"], int(flags["dark"].sum())) == ("none", NOTHING, 0)
