"""Hostile inputs around the cleaning budget, fifth pass: how the label decisions of two cleaners rank together; a
trusted split whose labels are paired with the wrong images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from budget_project import CLASSES, case
from test_contracts import _stage_module
from winnow.budget import candidates, rank_label_decisions


def _decisions(ids, **columns) -> pd.DataFrame:
    """A label cleaner's decision table relabelling ``ids`` to class 1, with its confidence ``columns``."""
    return pd.DataFrame({"id": ids, "decision": "relabel", "suggested_label": 1, "reason": "r", **columns})


@pytest.mark.hostile("intermediates")
def test_an_image_two_cleaners_decided_ranks_by_its_surest_decisions_own_tiebreak():
    # embedding-clean's agreement moves in steps of 1/k, so ties are common and its centroid margin breaks them:
    # image c (margin -0.5) before image a (margin -1.0). confident-learn also relabels a, far less surely (0.1)
    tables = {"embedding_clean": _decisions(["a", "c"], agreement=[0.9, 0.9], centroid_margin=[-1.0, -0.5]),
              "confident_learn": _decisions(["a"], label_quality=[0.9])}
    ranked = rank_label_decisions(tables)
    assert ranked.groupby("id")["rank"].first().to_dict() == {"c": 0, "a": 1}
    # a cut of one image takes c: before, a ranked (0.9, 0), its agreement beside confident-learn's tiebreak, and
    # the cut took a
    cut = candidates(None, ranked, train_images=100, fractions=[0.01])
    assert [c.name for c in cut] == ["none", "top1%", "all"]
    assert cut[1].decisions["id"].tolist() == ["c"]


@pytest.mark.hostile("intermediates")
def test_a_trusted_split_whose_labels_are_shuffled_against_its_images_is_warned_of():
    # the labels of a trusted set paired with the wrong images (an .npz's labels shuffled, or one row off): each class's
    # images spread over all three labels, so no class's majority moves to one other class, and the class-order warning
    # stayed silent. On this case the stage's probe then chose all (120 fixes and 240 wrong relabels: log-loss rewards
    # the vaguest probe on labels it cannot learn) where the rightly paired set chooses top10%, and nothing said why.
    # The stage's own check, called as it calls it (its ridge on this case: 0.001), costs one probe, not a stage run
    c = case()
    shuffled = np.random.default_rng(1).permutation(c.trusted_y)
    doubt = _stage_module("budget")._trusted_doubt
    said = doubt(c.train_x, c.given, l2=0.001, judge_features=c.trusted_x, judge_labels=shuffled,
                 val_features=c.val_x, val_labels=c.val_y, classes=CLASSES)
    assert said == (
        "warning: budget: the trusted split's labels look unrelated to its images: none's probe gets 113 of 300 "
        "trusted images right (0.3767), no more than labels drawn at random in the same class shares would (0.3333), "
        "and 0.8667 of val, so the choice above was made on those labels: check that ingest.trusted_path pairs each "
        "image with its own label (an .npz's labels in the order of its images?)")
    # the same images rightly labelled: no warning
    assert doubt(c.train_x, c.given, l2=0.001, judge_features=c.trusted_x, judge_labels=c.trusted_y,
                 val_features=c.val_x, val_labels=c.val_y, classes=CLASSES) is None
