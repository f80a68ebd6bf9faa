"""Hostile trusted sets, leaks and ground truth (stop 71):

- a trusted image drawn from train (a label book made of the data's own pictures) beside one duplicate degrade
  planted: the train copy, pixel for pixel the trusted image, is left out of dedup's detection scores against the
  planted duplicates and counted, not scored as a false positive;
- degrade's log (the ground truth the label cleaners are scored against) with a label change of an image data/degrade
  does not hold (ids of another data set), of a test image, or whose original label is the label the image carries
  now: each label cleaner refuses it in one line before judging (:func:`winnow.groundtruth.check_flips`).

The dedup case builds a few 8x8 images (:func:`test_hostile_dedup_more.dedup_project`) and runs the stage's main in
this process; the ground-truth cases build :func:`hostile_harness.tiny_degraded`'s state and run the real stage.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import make_project, refused_line, tiny_degraded, undamaged_params
from test_hostile_dedup_more import dedup_project
from winnow.degrade import perturbation_table
from winnow.stage import write_table

ROOT = Path(__file__).resolve().parents[1]


def run_in_process(project: Path, stage: str, monkeypatch) -> None:
    """``stages/<stage>.py``'s main() run in ``project`` in this process."""
    monkeypatch.chdir(project)
    runpy.run_path(str(ROOT / "stages" / f"{stage}.py"), run_name=stage)["main"]()


@pytest.mark.hostile("intermediates")
def test_a_train_copy_of_a_trusted_image_is_no_false_positive_of_the_planted_duplicates(tmp_path, monkeypatch):
    # train-3 is degrade's planted copy of train-2; trusted-6 is train-0's picture. before: train-0, grouped with
    # trusted-6, counted as a false positive: precision 2/3 (tp 2, fp 1) of a detector that found the one planted
    # copy and one copy pixel for pixel
    splits = ["train"] * 6 + ["trusted", "val", "test"]
    project = dedup_project(tmp_path / "project", splits=splits, copies={3: 2, 6: 0})
    write_table(project / "data/degrade/perturbations.parquet", perturbation_table([
        {"id": "train-3", "kind": "exact_duplicate", "params": "{}", "source_id": "train-2", "original_label": -1}]))
    run_in_process(project, "dedup", monkeypatch)
    detection = json.loads((project / "metrics/dedup.json").read_text())["detection"]
    # by hand: train-2 and train-3 planted and grouped (tp 2); train-0 left out; train-1, 4, 5 alone
    assert detection == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 2, "fp": 0, "fn": 0, "left_out": 1}


TRUTH = "data/degrade/perturbations.parquet"


def _log(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "kind", "params", "source_id", "original_label"])


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("stage", "log", "why"), [
    # before: exit 0, both flips counted in flips_planted (2), the one of 'cifar-00017' found as no judged image
    ("confident-learn", _log(("train-1-0", "symmetric_noise", "{}", None, 0),
                             ("cifar-00017", "symmetric_noise", "{}", None, 2)),
     "image 'cifar-00017': symmetric_noise names an image data/degrade does not hold (a log of another data set?); "
     "degrade changes the labels of its own train images"),
    # before: exit 0, a flip planted in test counted in flips_planted, which no cleaner judges
    ("embedding-clean", _log(("test-2-0", "pair_flip", "{}", None, 0)),
     "image 'test-2-0': pair_flip of a test image; degrade changes train labels only"),
    # train-1-0 carries label 1 (class b): before, exit 0 and a cleaner that left it alone, rightly, scored as
    # missing a flip back to the label it has
    ("data-valuation", _log(("train-1-0", "symmetric_noise", "{}", None, 1)),
     "image 'train-1-0': symmetric_noise original_label 1 is the label it carries now; degrade changes a label to "
     "another class"),
], ids=["another-data-sets-id", "a-test-image", "label-unchanged"])
def test_a_label_cleaner_refuses_a_ground_truth_of_other_images_or_unchanged_labels(tmp_path, stage, log, why):
    params = undamaged_params("baseline", "pruned")
    params["pruned"]["cleaners"] = ["threshold", "dedup", "confident_learn", "embedding_clean", "data_valuation"]
    params["embedding_clean"]["k"] = params["data_valuation"]["knn_k"] = 3  # 6 train images a class
    project = make_project(tmp_path / "project", params)
    tiny_degraded(project, score=params["score"], clean_tables=True)
    log.to_parquet(project / TRUTH, index=False)
    assert refused_line(project, stage) == f"error: {TRUTH}: {why}; rerun the degrade stage (dvc repro degrade)"
