"""Hostile inputs around the cleaning budget, stop 67: what the report says of the rule that chose the winner."""

from __future__ import annotations

import numpy as np
import pytest

from winnow import report_budget
from winnow.budget_choice import LOG_LOSS_FLOOR, choose


def _summary(score: str) -> dict:
    """metrics/budget.json of a run judged by ``score`` at tie_se 0 whose probe chose none over top5%."""
    row = {"fraction": None, "label_images": 0, "dropped": 0, "relabelled": 0, "train_images": 100, "correct": 90,
           "accuracy": 0.9, "log_loss": 0.3, "note": ""}
    return {"enabled": True, "leak_drops": 0, "judge": {"split": "val", "images": 100}, "score": score, "l2": 0.01,
            "l2_chosen_on": "val", "tie_se": 0.0, "winner": "none", "model_check": None,
            "candidates": {"none": row, "top5%": row | {"fraction": 0.05, "label_images": 5, "relabelled": 5,
                                                       "log_loss": 0.295}}}


@pytest.mark.hostile("report")
@pytest.mark.parametrize(("score", "floor"), [
    ("log_loss", "and by more than ln 2 nats of log-loss summed over the judge images (one image between even odds "
                 "and certainty)"),
    ("accuracy", "and by more than one judge image")])
def test_the_report_states_the_floor_of_a_tie_under_the_score_that_judged(score, floor):
    # tie_se 0 under log-loss: top5%, 0.5 nats better than none summed over 100 judge images (0.005 each), stays a tie,
    # as the floor of ln 2 nats makes it, and none wins. Before, the page said a cleaning wins "only by more than 0
    # standard error(s) of the paired difference over doing less (and by more than one judge image when scored by
    # accuracy)": by that, top5% should have won
    gains = [np.full(100, -0.3), np.full(100, -0.295)]
    assert choose(gains, names=["none", "top5%"], tie_se=0.0, floor=LOG_LOSS_FLOOR) == 0
    assert ("A cleaning wins only by more than 0 standard error(s) of the paired difference over doing less "
            f"{floor}; none wins when it beats the chosen cleaning by as much.</p>"
            ) in report_budget.budget_section(summary=_summary(score))
