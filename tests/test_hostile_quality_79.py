"""Hostile cases of the quality cuts (probe 79):

- float64 scores that differ by rounding alone (1 - the cosine distances of near-copies, 1e-15 apart, as embedding-clean
  cuts them): every method raised numpy's "ValueError: Too many bins for data range. Cannot create 256 finite-sized
  bins.", a traceback; auto did so on scores 1e-13 apart too, from its tail rule's lowest tenth. They are now one value,
  as scores exactly equal are: auto flags none of them, another method flags them below the top value.
"""

import numpy as np
import pytest

from winnow.thresholds import METHODS, cut_issues


def _near_copies() -> np.ndarray:
    """float64 ``(101,)``: 100 scores within 1e-15 of 0.5 (a few float64 steps apart) and one at 1."""
    steps = np.random.default_rng(0).integers(0, 5, 100)
    return np.r_[0.5 + steps * np.spacing(0.5), [1.0]]


@pytest.mark.hostile("threshold")
@pytest.mark.parametrize("method", [m for m in METHODS if m not in ("auto", "fixed")])
def test_scores_apart_by_rounding_alone_are_one_value_a_method_cuts_below_the_top(method):
    # before: ValueError: Too many bins for data range. Cannot create 256 finite-sized bins.
    flags, _, rules = cut_issues({"isolated": _near_copies()}, {"isolated": {"method": method}}, bins=256,
                                 max_flagged_fraction=1.0)
    assert (rules["isolated"], flags["isolated"].tolist()) == (method, [True] * 100 + [False])


@pytest.mark.hostile("threshold")
def test_scores_apart_by_rounding_alone_are_one_value_auto_flags_none_of():
    # the same ValueError; one value repeated gives auto no spread to test a second mode against
    flags, cuts, rules = cut_issues({"isolated": _near_copies()}, {"isolated": {"method": "auto"}}, bins=256)
    assert (rules["isolated"], cuts["isolated"], int(flags["isolated"].sum())) == ("none", -np.inf, 0)


@pytest.mark.hostile("threshold")
def test_auto_on_a_tail_apart_by_rounding_alone_flags_none():
    # before: the same ValueError from auto's tail rule, which tests the lowest tenth alone (here 1e-13 apart)
    scores = 0.5 + np.random.default_rng(0).random(100) * 1e-13
    flags, cuts, rules = cut_issues({"isolated": scores}, {"isolated": {"method": "auto"}}, bins=4096)
    assert (rules["isolated"], cuts["isolated"], int(flags["isolated"].sum())) == ("none", -np.inf, 0)
