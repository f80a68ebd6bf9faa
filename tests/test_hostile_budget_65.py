"""Hostile inputs around the cleaning budget, fifth pass: how the label decisions of two cleaners rank together; a
trusted split whose labels are paired with the wrong images; a judge split holding a class train lacks."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from budget_project import CLASSES, case, issues_table, train_ids, write_state
from test_hostile_threshold_64 import _stage_in_process
from winnow import trusted_labels
from winnow.budget import candidates, rank_label_decisions
from winnow.trusted_labels import trusted_doubt


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
    said = trusted_doubt(c.train_x, c.given, l2=0.001, judge_features=c.trusted_x, judge_labels=shuffled,
                 val_features=c.val_x, val_labels=c.val_y, classes=CLASSES)
    assert said == (
        "warning: budget: the trusted split's labels look unrelated to its images: none's probe gets 113 of 300 "
        "trusted images right (0.3767), no more than labels drawn at random in the same class shares would (0.3333), "
        "and 0.8667 of val, so the choice above was made on those labels: check that ingest.trusted_path pairs each "
        "image with its own label (an .npz's labels in the order of its images?)")
    # the same images rightly labelled: no warning
    assert trusted_doubt(c.train_x, c.given, l2=0.001, judge_features=c.trusted_x, judge_labels=c.trusted_y,
                         val_features=c.val_x, val_labels=c.val_y, classes=CLASSES) is None
    # nor one trusted image of each class, all three right, which chance gives one time in 27, beside val's 260 of 300
    # (before: "3 of 3 ... no more than labels drawn at random would"): the check of the two confusions alone, as a
    # third probe would cost this test a third more
    seen = np.array([[90, 5, 5], [5, 85, 10], [5, 10, 85]])
    assert trusted_labels._unrelated_labels(np.eye(3, dtype=np.int64), seen) is None


@pytest.mark.hostile("intermediates")
def test_judge_images_of_a_class_train_lacks_are_left_out_of_the_judge(tmp_path, monkeypatch, capsys):
    # class 'left' removed from train (degrade's class_removal), a third of val still 'left'; a cleaner's 120 fixes of
    # the planted middle-as-right labels ranked above 240 wrong relabels of right images to middle. No probe learns
    # 'left', so each of its 100 val images cost some 20 nats of log-loss, by how sure the probe was elsewhere.
    # Before: top30% (171 right, the wrong relabels included) chose over top15% (the fixes alone, 188 right), unsaid
    c = case()
    train = c.true != 0
    c = dataclasses.replace(c, train_x=c.train_x[train], true=c.true[train], given=c.given[train], val_x=c.val_x[::3],
                            val_y=c.val_y[::3])
    ids, rng = train_ids(len(c.given)), np.random.default_rng(0)
    fixes = np.flatnonzero(c.true != c.given)
    wrong = rng.choice(np.flatnonzero(c.true == 2), 240, replace=False)
    issues = pd.concat([issues_table(ids[fixes], relabel_to=c.true[fixes], confidence=rng.uniform(0.8, 1.0, 120)),
                        issues_table(ids[wrong], relabel_to=np.ones(240), confidence=rng.uniform(0.3, 0.7, 240))])
    project = write_state(tmp_path / "p", c, issues=issues, trusted=False, params={"budget": {"fractions": [0.15, 0.3]}})
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == ("budget: 100 image(s) of the val split are of class(es) no train image has "
                                           "('left'): left out of the judge, as no probe or model learns them")
    metrics = json.loads((project / "metrics/budget.json").read_text())
    assert metrics["winner"] == "top15%"
    assert metrics["judge"] == {"split": "val", "images": 200, "repeats_left_out": 0, "conflicts_left_out": 0,
                                "untrained_left_out": 100}
    assert {name: row["correct"] for name, row in metrics["candidates"].items()} == {
        "none": 172, "top15%": 188, "top30%": 171, "all": 120}
