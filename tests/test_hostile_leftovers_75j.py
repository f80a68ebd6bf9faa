"""Hostile leftovers of stop 75, mended at stop 75 (j):

- threshold's auto ``tail_share`` as tiny as 1e-9: accepted by the params check, and the tail and isolated rules
  silently tested nothing (too few scores below that share), so a black image among 20,000 clean ones was flagged at
  the default 0.1 and not at 1e-9. Now refused before any stage below 0.001, in one line saying why;

Stage cases run the real scripts in this process on throwaway projects of a few small images; the others call the
library the stages call."""

from __future__ import annotations

import numpy as np
import pytest

from hostile_harness import make_project, params_with
from test_hostile_quality_70 import _refused
from winnow.params import validate
from winnow.thresholds import threshold_rule


@pytest.mark.hostile("score")
def test_a_tail_share_too_small_for_any_tail_is_refused_before_any_stage(tmp_path, monkeypatch, capsys):
    # before: accepted, and the threshold stage ran with the tail and isolated rules testing nothing (exit 0)
    make_project(tmp_path, params_with("threshold.issues.dark", {"method": "auto", "tail_share": 1e-9}))
    assert _refused(tmp_path, "threshold", monkeypatch, capsys) == (
        "error: params.yaml: threshold.issues.dark.tail_share: 1e-09 is below 0.001: auto's isolated rule needs 20 "
        "scores under that share of them and its tail rule 10, so the isolated rule would fire on no set of fewer "
        "than 19,000,000,000 images; give 0.001 or more (0.1 by default), or null to turn both rules off")


@pytest.mark.hostile("score")
def test_the_tiny_share_flagged_nothing_and_the_bound_still_flags():
    # the reason for the refusal above, measured: one black image among 20,000 clean scores (20 of them below the lowest thousandth)
    rng = np.random.default_rng(0)
    scores = np.r_[np.clip(rng.normal(0.8, 0.05, 20000), 0, 1), 0.05]
    assert threshold_rule(scores, method="auto", tail_share=1e-9)[1] == "none"
    assert threshold_rule(scores, method="auto", tail_share=0.001) == (0.05, "isolated")
    validate(params_with("threshold.issues.dark", {"method": "auto", "tail_share": 0.001}))
    validate(params_with("threshold.issues.dark", {"method": "auto", "tail_share": None}))
