"""Hostile inputs around data-valuation, probe 75:

- a class whose val images all have an all-zero representation (a ReLU embedding none of whose units answers them):
  kNN-Shapley ranks nothing by such a row, so no val image of the class could value one of its train images above
  zero, and its correct train images were dropped as harmful; the class is now left undecided (kept) as a class with
  too few val images is, the warning and the metrics say why (and that more val images must be ones the representation
  answers), and the report's recount reads the metrics of that run;
- data_valuation.knn_k wider than a class of one train image: the warning told to lower it "to 1 or below" (of "the 1
  train images"), below 1 being refused by the params check; it offers 1.

The stage cases run the stage's ``main`` in this process on the clusters' project of
tests/test_hostile_cleaners_more.py (:func:`_project`), each class a cluster of its own in an 8-d embedding."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from test_hostile_cleaners_more import _project
from test_hostile_outliers_73 import _read_as_the_budget
from test_hostile_threshold_64 import _stage_in_process
from winnow.imageset import read_imageset
from winnow.report_recounts import checked_valuation


def _valuing(root, **section):
    """Three classes of 30 train images; 'c' (3 val images) lies 1.2 from 'a' (10 val images), and every val image of
    'c' has an all-zero row in the represent embedding; data_valuation among pruned.cleaners, ``section`` its
    settings."""
    centres = 4 * np.eye(3, 8)
    centres[2] = centres[0] + 1.2 * np.eye(8)[2]
    project = _project(root, [30, 30, 30], val=[10, 10, 3], centres=centres,
                       same={f"val-2-{i}": np.zeros(8) for i in range(3)})
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"] = ["threshold", "dedup", "data_valuation"]
    params["data_valuation"] = {**(params.get("data_valuation") or {}), **section}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    return project


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("combine", ["both", "either"])
def test_a_class_whose_val_images_all_have_all_zero_rows_is_left_undecided(tmp_path, monkeypatch, capsys, combine):
    # before: 'c' counted its 3 val images, kNN-Shapley ranked nothing by them, valued every 'c' image at or below zero,
    # and 21 (combine both) or 27 (either) of its 30 correct train images were dropped as harmful, exit 0, no warning
    # but the line that kNN-Shapley ranks nothing by them
    project = _valuing(tmp_path / "p", combine=combine)
    done = _stage_in_process(project, "data_valuation", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert ("warning: data-valuation: class(es) 'c' (0 val image(s), 3 more with an all-zero representation, which "
            "kNN-Shapley ranks nothing by) have fewer than 2 val images, so their 30 train image(s) are left undecided "
            "and kept (a value is measured against val images of the image's class); give the val split at least 2 "
            "images of each class that the representation answers (see represent.source)") in done.stdout.splitlines()
    decisions = pd.read_parquet(project / "data/data-valuation/decisions.parquet")
    assert sorted(decisions["given_label"].unique()) == [0, 1]  # no row for 'c': every variant keeps its images
    assert len(_read_as_the_budget(project)["valuation_decisions"]) == 60  # which the budget reads as the stage's own
    metrics = json.loads((project / "metrics/data_valuation.json").read_text())
    assert metrics["undecided"]["images"] == 30
    assert metrics["undecided"]["classes"] == {"c": {"val_images": 0, "silent_val_images": 3, "train_images": 30}}
    # the report's recount holds them to data/degrade's 3 val images of 'c': the run it reads is not refused
    data = read_imageset(project / "data/degrade")
    assert checked_valuation(metrics, decisions=decisions, path="metrics/data_valuation.json", stage="data-valuation",
                             manifest=data.manifest, classes=data.classes) == metrics


@pytest.mark.hostile("params")
def test_a_knn_k_wider_than_a_class_of_one_image_is_told_a_value_the_stage_takes(tmp_path, monkeypatch, capsys):
    # before: "wider than the 1 train images of class 'b' ...; lower data_valuation.knn_k to 1 or below", where below 1
    # is refused by the params check
    project = _project(tmp_path / "p", [30, 1], val=[10, 3])
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"] = ["threshold", "dedup", "data_valuation"]
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    done = _stage_in_process(project, "data_valuation", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert ("warning: data-valuation: kNN-Shapley valued no train image below zero (data_valuation.knn_k 10 is wider "
            "than the 1 train image of class 'b': a vote that wide changes with no one image), so under combine both "
            "nothing can be dropped; lower data_valuation.knn_k to 1") in done.stdout.splitlines()
    # the value offered runs, and says no more of it
    params["data_valuation"] = {**(params.get("data_valuation") or {}), "knn_k": 1}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    done = _stage_in_process(project, "data_valuation", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stdout.splitlines() if "data_valuation.knn_k" in line]
