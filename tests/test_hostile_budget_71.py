"""Hostile inputs around the cleaning budget, stop 71:

- the filters not eligible (they leave a class no train image) and a label cut that refills the class scoring below
  none within a tie: none, the least cleaning within a tie of the best, wins (before, none was left out of the
  comparison and the cut was chosen);
- the judge split changed since the budget chose (the trusted set's labels corrected, or a trusted set given where val
  judged; ingest and degrade rerun with the train split as it was) and variants run alone: the decisions are refused,
  naming the budget stage (before, pruned applied the cut chosen on the old judge, exit 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_nothing_left, files_under
from test_hostile_threshold_64 import _stage_in_process
from winnow.budget import LOG_LOSS_FLOOR, choose
from winnow.imageset import read_imageset, write_imageset


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("score", "floor"), [("accuracy", 1.0), ("log_loss", LOG_LOSS_FLOOR)])
def test_a_cut_below_none_wins_nothing_when_the_filters_are_not_eligible(score, floor):
    # 100 judge images; the filters empty a class (not eligible: None), and `all` (the filters plus relabels into that
    # class) gets 2 images wrong that none gets right and 1 right that none gets wrong: one image below none, within a
    # tie. none has less cleaning and scores more, so none wins. Before: none was left out of the ladder whenever the
    # filters were not eligible, and `all` won, a cleaning measured below doing nothing
    none = np.r_[np.ones(80), np.zeros(20)]
    cut = none.copy()
    cut[[0, 1, 90]] = [0, 0, 1]
    if score == "log_loss":  # right: log(0.9); wrong: log(0.4)
        none, cut = np.where(none == 1, np.log(0.9), np.log(0.4)), np.where(cut == 1, np.log(0.9), np.log(0.4))
    assert choose([none, None, cut], names=["none", "filters", "all"], tie_se=1.0, floor=floor) == 0


def _judge_labels_changed(project, *, trusted_from=None) -> None:
    """data/ingest and data/degrade at ``project`` as ingest and degrade rerun would write them with the train split as
    it was: the trusted split's labels reversed (2 - label), or with ``trusted_from`` (the case's trusted images and
    labels) a trusted split added."""
    for name in ("ingest", "degrade"):
        data = read_imageset(project / "data" / name)
        manifest, images = data.manifest.drop(columns=["digest"]), np.asarray(data.images)
        if trusted_from is None:
            trusted = manifest["split"] == "trusted"
            manifest.loc[trusted, "label"] = 2 - manifest.loc[trusted, "label"]
        else:
            added = manifest.iloc[:len(trusted_from)].copy()
            added["id"] = [f"trusted-{i:04d}" for i in range(len(added))]
            added["split"], added["label"] = "trusted", trusted_from
            manifest = pd.concat([manifest, added], ignore_index=True)
            images = np.concatenate([images, images[:len(added)]])
        write_imageset(project / "data" / name, images, manifest, data.classes)


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("trusted", "split", "then", "now"), [(True, "trusted", 300, 300), (False, "trusted", 0, 300)])
def test_decisions_judged_on_another_judge_split_are_refused_by_variants(tmp_path, monkeypatch, capsys, trusted, split,
                                                                         then, now):
    # the budget chose top10% on the trusted split (or on val, no trusted split given); then the trusted set's labels
    # were corrected (or a trusted set given) and ingest and degrade rerun, the train split as it was, and variants run
    # alone (dvc repro -s variants). Before: exit 0, pruned applied the cut chosen on the old judge
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=trusted)
    assert _stage_in_process(project, "budget", monkeypatch, capsys).returncode == 0
    _judge_labels_changed(project, trusted_from=None if trusted else c.trusted_y)
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: data/budget/decisions.parquet: judged on other {split} images than data/degrade's now ({then} then, "
        f"{now} now: their ids, labels or pixels changed): made before ingest read them anew; rerun the budget stage "
        "(dvc repro budget)"])
    assert_nothing_left(project, before)
