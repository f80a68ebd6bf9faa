"""auto's ``split`` rule (issue 20): two modes, each at least a fifth of the images, that Silverman's bandwidth over
both smoothed into one; the valley is tested at the spread within each side and must lie in an empty band."""

import warnings

import numpy as np
import pandas as pd
import pytest

from winnow.auto_rule import auto_cut
from winnow.histogram_cuts import NOTHING
from winnow.quality import SCORES, quality_flags
from winnow.thresholds import threshold_rule


def _darkened_beside_wide_clean(darkened: int) -> np.ndarray:
    """dark scores of 100 photos: ``darkened`` first, darkened to 15% (0.06-0.14), the rest clean of widely spread
    brightness (0.45-0.88)."""
    rng = np.random.default_rng(0)
    return np.concatenate([rng.uniform(0.06, 0.14, darkened), rng.uniform(0.45, 0.88, 100 - darkened)])


def _dark_flags(dark: np.ndarray):
    table = pd.DataFrame({"id": [f"i{k:03d}" for k in range(len(dark))], **{issue: 1.0 for issue in SCORES},
                          "dark": dark})
    flags, cuts, rules = quality_flags(table, {"dark": {"method": "auto"}})
    return flags["dark"].to_numpy().tolist(), cuts["dark"], rules["dark"]


def test_half_the_photos_darkened_beside_widely_spread_clean_ones_are_flagged_split():
    # before: 0 flagged, rule none, no warning: Silverman's bandwidth over both modes (0.11, widened by the gap) filled
    # the valley between 0.14 and 0.45, so the mode rule passed them, and Otsu left exactly half below, not the
    # majority that rule tests
    flags, cut, rule = _dark_flags(_darkened_beside_wide_clean(50))
    assert rule == "split"
    assert flags == [True] * 50 + [False] * 50
    assert 0.14 < cut < 0.45


@pytest.mark.parametrize("darkened, stage_rule, flagged", [(40, "split", 40), (60, "too_many", 0)])
def test_a_darkened_share_either_side_of_half_is_split_too(darkened, stage_rule, flagged):
    # before: rule none at both; 60 of 100 is past max_flagged_fraction 0.5, so it flags none but says so (too_many,
    # the stage's warning) rather than nothing
    cut, rule = threshold_rule(_darkened_beside_wide_clean(darkened), method="auto")
    assert (rule, 0.14 < cut < 0.45) == ("split", True)
    flags, _, rule = _dark_flags(_darkened_beside_wide_clean(darkened))
    assert (rule, sum(flags)) == (stage_rule, flagged)


def test_a_clean_unimodal_set_of_100_flags_nothing():
    flags, cut, rule = _dark_flags(np.random.default_rng(0).normal(0.6, 0.1, 100))
    assert (rule, cut, sum(flags)) == ("none", NOTHING, 0)


@pytest.mark.parametrize("name, draw", [
    ("lognormal sigma 1.5", lambda rng, n: rng.lognormal(0.0, 1.5, n)),
    ("Pareto(2)", lambda rng, n: rng.pareto(2.0, n)),
    ("beta(5, 2)", lambda rng, n: rng.beta(5.0, 2.0, n)),
    ("uniform", lambda rng, n: rng.uniform(0.0, 1.0, n)),
])
def test_split_fires_on_no_clean_draw(name, draw):
    # a long clean tail beside its body: with no share asked of each side the within-side smoothing found valleys
    # before a few tail scores (lognormal sigma 1.5 and Pareto(2) of 100: 13 more draws of 200 fired); a ripple with
    # scores all round it passed the valley test on beta(5, 2) draw 95 of 8,068 before the empty band was asked
    fired = [(n, seed) for n in (100, 1000) for seed in range(40)
             if threshold_rule(draw(np.random.default_rng(seed), n), method="auto")[1] == "split"]
    fired += [(8068, seed) for seed in (range(90, 100) if name == "beta(5, 2)" else range(3))
              if threshold_rule(draw(np.random.default_rng(seed), 8068), method="auto")[1] == "split"]
    assert fired == [], name


@pytest.mark.parametrize("low", [20, 50])
def test_scores_on_two_levels_are_judged_without_a_warning(low):
    # before this rule's own fix: each side one value left no spread within, and the step between the distinct values
    # of one value was a median of nothing: a RuntimeWarning on the threshold stage's stderr
    # auto_cut itself: threshold_rule sets the top value aside, leaving one level; the stage's scores reached it
    scores = np.repeat([0.5, 1.0], [low, 100 - low])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert auto_cut(scores) == (NOTHING, "none")
