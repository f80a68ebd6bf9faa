"""Hostile inputs around the cleaning budget, stop 71:

- the filters not eligible (they leave a class no train image) and a label cut that refills the class scoring below
  none within a tie: none, the least cleaning within a tie of the best, wins (before, none was left out of the
  comparison and the cut was chosen);
- the judge split changed since the budget chose (the trusted set's labels corrected, or a trusted set given where val
  judged; ingest and degrade rerun with the train split as it was) and variants run alone: the decisions are refused,
  naming the budget stage (before, pruned applied the cut chosen on the old judge, exit 0);
- a judge split holding both repeats of a picture and pictures labelled two ways: the line counting its images and
  pictures counts them all (before, it left out those labelled two ways: 250 images of 200 pictures of 450 and 300);
- a label cleaner's confidence column as true/false or text: refused in one line naming it and its stage (before,
  true/false ranked the decisions at 0 or 1 and changed the winner, and text was read as numbers).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_nothing_left, files_under, write_judged
from test_hostile_threshold_64 import _stage_in_process
from winnow.budget_choice import LOG_LOSS_FLOOR, choose
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


@pytest.mark.hostile("budget")
def test_a_judge_split_of_repeats_and_pictures_labelled_two_ways_is_counted_whole(tmp_path, monkeypatch, capsys):
    # the trusted split: its 300 pictures, 100 of them copied once more under another label (200 images left out, the
    # first line) and 50 others copied once more under their own label (repeats): 450 images of 300 pictures. Before:
    # "holds 250 images of 200 distinct pictures", the images and pictures labelled two ways left out of both counts
    c = case()
    twice, again = np.arange(0, 300, 3), np.arange(1, 150, 3)
    c.trusted_x = np.concatenate([c.trusted_x[twice], c.trusted_x, c.trusted_x[again]])
    c.trusted_y = np.concatenate([(c.trusted_y[twice] + 1) % 3, c.trusted_y, c.trusted_y[again]])
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c))
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    trusted = np.flatnonzero(groups["split"] == "trusted")
    copies, sources = np.r_[trusted[:100], trusted[400:]], np.r_[trusted[100 + twice], trusted[100 + again]]
    groups.loc[copies, "group"] = groups["group"].to_numpy()[sources]  # dedup groups each copy with its source
    groups.loc[np.r_[copies, sources], "group_size"] = 2
    write_judged(project, "data/dedup/groups.parquet", groups)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "warning: budget: 100 picture(s) of the trusted split carry different labels in their copies (dedup's groups), "
        "first 'trusted-0000', 'trusted-0001', 'trusted-0002', …: their 200 images are left out of the judge; give each "
        "picture one label in ingest.trusted_path",
        "budget: the trusted split holds 450 images of 300 distinct pictures (dedup's groups): each picture is judged "
        "once, those labelled two ways not at all"]
    metrics = json.loads((project / "metrics/budget.json").read_text())
    assert metrics["judge"] == {"split": "trusted", "images": 200, "repeats_left_out": 50, "conflicts_left_out": 200,
                                "untrained_left_out": 0}


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("change", "kind"), [
    (lambda quality: quality > 0.5, "bool"), (lambda quality: quality.map("{:.3f}".format), "str")])
def test_a_confidence_column_that_holds_no_numbers_is_refused(tmp_path, monkeypatch, capsys, change, kind):
    # confident-learn's label_quality rewritten by another tool as true/false or as text. Before: true/false ranked every
    # decision at confidence 0 or 1 (the 120 planted fixes among 240 mistakes, in id order) and the budget chose none over
    # the fixes' top10%, exit 0; text was read as the numbers it spells, exit 0
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c))
    issues = pd.read_parquet(project / "data/confident-learn/label_issues.parquet")
    write_judged(project, "data/confident-learn/label_issues.parquet",
                 issues.assign(label_quality=change(issues["label_quality"])))
    before = files_under(project)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (1, "", [
        f"error: data/confident-learn/label_issues.parquet: label_quality holds {kind} values, not numbers; rerun the "
        "confident-learn stage (dvc repro confident-learn)"])
    assert_nothing_left(project, before)
