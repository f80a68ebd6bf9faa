"""Hostile cases for the report, stop 62: what the page says pruned does with a cleaner's decisions where that
cleaner is not among pruned.cleaners and another cleaner dropped the same images. The expected counts are worked
out here from the rows, never read back from winnow's own output."""

import pandas as pd
import pytest

from test_hostile_report_more import plain, report_stage, tiny_imageset
from winnow.report_valuation import valuation_section
from winnow.variants import baseline_rows
from winnow.decision_rows import apply_decisions


@pytest.mark.hostile("report")
def test_valuation_left_out_of_the_cleaners_says_how_many_of_its_images_pruned_drops_anyway(tmp_path):
    # found by probing: with data_valuation left out of pruned.cleaners (the default) and the budget shipping
    # embedding-clean's drops, which fall on the same mislabelled images, the page read "decided drop 2; of those,
    # pruned applies none", as if pruned still trained on both, while it had dropped one of them
    stage = report_stage()
    baseline = baseline_rows(pd.DataFrame({"id": ["t0", "t1", "t2", "t3"], "split": "train", "label": [0, 1, 0, 1]}))
    # embedding-clean drops t1, which data-valuation also decided to drop (t0, t1)
    rows = apply_decisions(baseline, pd.DataFrame({"id": ["t1"], "action": ["drop"], "label": [-1],
                                                   "reason": ["inside_class:0"], "stage": ["embedding_clean"]}))
    decisions = pd.DataFrame({"id": ["t0", "t1", "t2", "t3"], "given_label": [0, 1, 0, 1],
                              "decision": ["drop", "drop", "keep", "keep"], "knn_shapley": [-0.1, -0.2, 0.3, 0.4],
                              "tracin": [-0.1, -0.2, 0.3, 0.4], "harm": [0.9, 0.8, 0.2, 0.1]})
    applied = stage.pruned_drops(rows, marked=decisions.loc[decisions["decision"] == "drop", "id"])
    text = plain(valuation_section(decisions=decisions, summary={"considered": 4, "flagged": 2},
                                   imageset=tiny_imageset(tmp_path), count=2, cleaning=False, applied=applied))
    assert ("decided drop (reliably negative) | 2 | of those, pruned applies | none: data_valuation is not among "
            "pruned.cleaners, but pruned drops 1 of these images on another cleaner's decision or a person's "
            "verdict |") in text
