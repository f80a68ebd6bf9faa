"""Hostile cases of the quality cuts (probe 79):

- float64 scores that differ by rounding alone (1 - the cosine distances of near-copies, 1e-15 apart, as embedding-clean
  cuts them): every method raised numpy's "ValueError: Too many bins for data range. Cannot create 256 finite-sized
  bins.", a traceback; auto did so on scores 1e-13 apart too, from its tail rule's lowest tenth. They are now one value,
  as scores exactly equal are: auto flags none of them, another method flags them below the top value;
- a fixed cut of 0 under mostly black images (dark scores 0): too many, flagged none, with the advice to lower the
  value, below which nothing lies. Where the images at 0 are more than the fraction, the warning now says no value
  flags fewer, and leaves the fraction as the one fix.
"""

import numpy as np
import pandas as pd
import pytest

from hostile_harness import make_project, undamaged_params
from test_hostile_quality_77 import _photos, _photos_project
from test_hostile_threshold_64 import _stage_in_process
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


@pytest.mark.hostile("threshold")
def test_a_fixed_value_of_zero_under_mostly_black_images_is_not_told_to_go_lower(tmp_path, monkeypatch, capsys):
    # before: "...so it flags none: lower threshold.issues.dark.value (the scores' median is 0), or raise the fraction if
    # so many images are dark": at value 0, the lowest params.yaml takes, no value lies lower and every one flags the 30
    images = _photos(40, seed=1)
    images[:30] = 0
    _photos_project(tmp_path, images, labels=[0, 1] * 20, classes=["a", "b"])
    params = undamaged_params()
    params["threshold"]["issues"]["dark"] = {"method": "fixed", "value": 0}
    make_project(tmp_path, params)
    done = _stage_in_process(tmp_path, "threshold", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    assert ("warning: threshold: dark's fixed value 0 lies at or above more than threshold.max_flagged_fraction (0.5) of "
            "its scores, so it flags none: 30 of 40 images score 0, which every value flags, so no value flags fewer; "
            "raise the fraction if so many images are dark") in done.stdout.splitlines()
    assert not pd.read_parquet(tmp_path / "data/threshold/flags.parquet")["dark"].any()
