"""Hostile inputs to the judges, the trusted split and the cleaning budget, probe 80:

- ``embedding_clean.agree`` at a share that k neighbours reach exactly, 0.9 or 0.7 of 10: the neighbours' share was
  divided in float32 (9 of 10 is 0.89999998 there), so "at least agree" failed for an image exactly 9 of whose 10
  neighbours carried one other class, kept as if 8 did. The shares are divided in float64 now, as agree is read.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from budget_project import Case, clouds, issues_table, toward_right, train_ids, write_state
from hostile_harness import write_judged
from test_hostile_threshold_64 import _stage_in_process
from winnow.neighbours import Space, cleanse, evidence


@pytest.mark.hostile("cleaners")
@pytest.mark.parametrize(("other", "agree"), [(9, 0.9), (7, 0.7)])
def test_an_agree_share_the_neighbours_reach_exactly_relabels(other, agree):
    # one image of class 0 whose 10 nearest references are `other` of class 1 and the rest of class 0; 5 more of class
    # 0 lie far away. before: agreement 0.89999998 (float32) < agree 0.9, decision keep
    near = np.array([[1.0, 0.01 * i] for i in range(10)], np.float32)
    far = np.tile(np.array([[-1.0, 0.0]], np.float32), (5, 1))
    labels = np.array([1] * other + [0] * (10 - other) + [0] * 5)
    space = Space(np.array([100]), np.array([[1.0, 0.0]], np.float32), np.arange(15), np.concatenate([near, far]),
                  labels)
    found = evidence(space, np.array([0]), k=10, num_classes=2)
    assert found[["agreement", "given_agreement"]].to_dict("records") == [
        {"agreement": other / 10, "given_agreement": (10 - other) / 10}]
    decided = cleanse(np.array(["train-0"]), np.array([0]), found, agree=agree, margin=None, isolation=None)
    assert decided[["decision", "reason", "suggested_label"]].to_dict("records") == [
        {"decision": "relabel", "reason": "neighbours_agree:1", "suggested_label": 1}]


def _copies_in_train(trusted_of_train: np.ndarray, tmp_path):
    """A budget project (budget_project's three clouds, 60 train, 30 val and 60 trusted images a class, the 6 'middle'
    images nearest 'right' labelled 'right' and confident-learn relabelling them back) whose trusted split also holds a
    copy of each train image at ``trusted_of_train`` (positions), grouped with it by dedup at drop_leaks false: the
    copies stay in train, and no probe learns from them."""
    rng = np.random.default_rng(0)
    train_x, true = clouds(60, rng)
    planted = toward_right(train_x, true, 0.1)
    given = true.copy()
    given[planted] = 2
    val_x, val_y = clouds(30, rng)
    trusted_x, trusted_y = clouds(60, rng)
    test_x, test_y = clouds(5, rng)
    c = Case(train_x, true, given, planted, val_x, val_y, val_y, np.concatenate([trusted_x, train_x[trusted_of_train]]),
             np.concatenate([trusted_y, true[trusted_of_train]]), test_x, test_y)
    ids = train_ids(len(given))
    project = write_state(tmp_path / "p", c, issues=issues_table(ids[planted], relabel_to=true[planted],
                                                                 confidence=np.full(len(planted), 0.9)),
                          params={"dedup": {"drop_leaks": False}})
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    at = {image: row for row, image in enumerate(groups["id"])}
    for k, position in enumerate(trusted_of_train):
        groups.loc[at[f"trusted-{180 + k:04d}"], "group"] = groups.loc[at[ids[position]], "group"]
    groups["group_size"] = groups.groupby("group")["id"].transform("size")
    write_judged(project, "data/dedup/groups.parquet", groups)
    return project


@pytest.mark.hostile("budget")
def test_trusted_images_of_a_class_whose_every_train_image_they_copy_are_left_out_of_the_judge(
        tmp_path, monkeypatch, capsys):
    # every train 'left' picture is also in the trusted split. before: no probe learnt 'left' (its train images all
    # copy judge pictures), yet its 120 trusted images stayed in the judge, each a confident miss of every candidate:
    # 120 of 240 judge images no probe could get right
    project = _copies_in_train(np.arange(60), tmp_path)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert ("budget: 120 image(s) of the trusted split are of class(es) whose every train image copies a trusted picture "
            "('left': dedup.drop_leaks false keeps such copies in train, and no probe learns from one): left out of the "
            "judge, as no probe or model learns them") in done.stdout.splitlines()
    judge = json.loads((project / "metrics/budget.json").read_text())["judge"]
    assert (judge["images"], judge["untrained_left_out"]) == (120, 120)


@pytest.mark.hostile("budget")
def test_a_trusted_split_copying_every_train_image_judges_nothing_in_one_warning(tmp_path, monkeypatch, capsys):
    # before: error: probe: features (0, 2) and 0 labels do not pair up (need (N, D) and N >= 1), naming neither the
    # trusted split nor a fix
    project = _copies_in_train(np.arange(180), tmp_path)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert ("warning: budget: the trusted split holds 0 images to judge by, fewer than the 100 that tell a cleaning from "
            "noise (budget.min_judge_images), so no label cleaning can be judged: pruned applies none (no quality or "
            "duplicate drop it could apply); give the split at least 100 images to judge by (each picture once, labelled "
            "one way, of a class train has: lines above), or lower budget.min_judge_images to judge on fewer"
            ) in done.stdout.splitlines()
    metrics = json.loads((project / "metrics/budget.json").read_text())
    assert (metrics["winner"], metrics["judge"]["images"], metrics["judge"]["untrained_left_out"]) == ("none", 0, 360)
    assert pd.read_parquet(project / "data/budget/decisions.parquet").empty
