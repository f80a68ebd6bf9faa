"""Hostile dedup, probe 74:

- a degrade log whose duplicate rows name a copy or a source data/degrade does not hold (a log of another data set),
  a val image, or no source at all: dedup scored its groups against copies planted nowhere (precision, recall and F1
  0, its pixel-identical copies counted in ``detection.left_out``), exit 0, where the threshold stage refuses such a
  log of quality damage. Now one line naming the log, the row's image and degrade as the stage to rerun.

Stage cases run the real script in this process on a throwaway project of a few 8x8 images; the others call the
library the stage calls."""

import json
import shutil
from pathlib import Path

import pytest

from hostile_harness import files_under
from test_hostile_dedup_more import dedup_project
from test_hostile_quality_70 import _refused
from test_hostile_threshold_64 import _stage_in_process
from winnow.degrade import perturbation_table
from winnow.stage import write_table

SPLITS = ["train"] * 6 + ["val", "test"]
LOG = "data/degrade/perturbations.parquet"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """data/degrade of 8 random 8x8 images (train-1 a pixel copy of train-0) and their scores, degrade's log empty."""
    return dedup_project(tmp_path_factory.mktemp("dedup74") / "project", splits=SPLITS, copies={1: 0})


@pytest.fixture
def project(built, tmp_path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "project"))


def _log(project: Path, copy: str, source: str | None) -> None:
    """degrade's log of one exact copy ``copy`` of ``source``, as degrade writes it."""
    write_table(project / LOG, perturbation_table([{"id": copy, "kind": "exact_duplicate", "params": "{}",
                                                    "source_id": source, "original_label": 0}]))


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("copy", "source", "problem"), [
    # another data set's ids: before, detection precision, recall and F1 0 (tp 0, fp 0, fn 0) and the real copy
    # train-1 of train-0 counted in left_out, exit 0
    ("cifar-00017", "cifar-00003", "image 'cifar-00017': exact_duplicate names an image data/degrade does not hold (a "
                                   "log of another data set?); degrade copies its own train images"),
    # the copy is ours, its source another set's: before, train-1 scored as found (tp 1) and train-0 left out
    ("train-1", "cifar-00003", "image 'train-1': exact_duplicate source 'cifar-00003' names an image data/degrade does "
                               "not hold (a log of another data set?); degrade copies its own train images"),
    ("val-6", "train-0", "image 'val-6': exact_duplicate is a val image; degrade copies train images only"),
    ("train-1", "test-7", "image 'train-1': exact_duplicate source 'test-7' is a test image; degrade copies train "
                          "images only"),
    ("train-1", None, "image 'train-1': exact_duplicate names no source image; degrade records the train image each "
                      "copy is of"),
], ids=["other-set", "other-source", "val-copy", "test-source", "no-source"])
def test_a_degrade_log_of_copies_degrade_never_plants_is_refused(project, monkeypatch, capsys, copy, source,
                                                                  problem):
    _log(project, copy, source)
    assert _refused(project, "dedup", monkeypatch, capsys) == (
        f"error: {LOG}: {problem}; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
def test_a_degrade_log_of_its_own_train_copy_is_scored(project, monkeypatch, capsys):
    # the other side: train-1, the copy of train-0 that the log names, is found, and so is its source
    _log(project, "train-1", "train-0")
    before = files_under(project)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    assert files_under(project) - before == {"data/dedup/groups.parquet", "metrics/dedup.json"}
    detection = json.loads((project / "metrics/dedup.json").read_text())["detection"]
    assert (detection["tp"], detection["fp"], detection["fn"], detection["left_out"]) == (2, 0, 0, 0)
