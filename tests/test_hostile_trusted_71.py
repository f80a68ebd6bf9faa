"""Hostile trusted sets, leaks and ground truth (stop 71):

- a trusted image drawn from train (a label book made of the data's own pictures) beside one duplicate degrade
  planted: the train copy, pixel for pixel the trusted image, is left out of dedup's detection scores against the
  planted duplicates and counted, not scored as a false positive.

The cases build a few 8x8 images (:func:`test_hostile_dedup_more.dedup_project`) and run the stage's main in this
process.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

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
