"""Leftovers of stop 76 (messages and counts), mended at stop 77 (77a):

- an imageset's images.npy of another type than uint8 (float64, int16, ...) or shape: refused with what is wrong but
  nothing to do; now from its header, with the stage to rerun named;
- a cleaner's warning of a class val has no image of said "so 0 relabel(s) to or from it became drops" when none was
  (no relabel involved it, or the judge's relabels were all refused already), and the report "relabels not trusted: 0
  became drops" and "relabels to or from them were not measured and became drops" with no relabel made; now the count
  only where there is one;
- the budget's candidates (metrics/budget.json and the report's table) counted "dropped" and "train images" of each
  candidate's own decisions, not the leak drops pruned applies whatever wins: none's read 0 dropped beside the filters'
  1 (dedup a cleaner), every row one train image too many (dedup not a cleaner); now counted as pruned ships them;
- metrics/degrade.json's name was a literal in the degrade stage, the report stage and report_recounts beside
  study_runs.DEGRADE_METRICS: now one name, winnow.groundtruth.DEGRADE_METRICS, each of them reads;
"""

from __future__ import annotations

import shutil
from pathlib import Path

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import make_project, refused_line, run_stage, tiny_degraded, undamaged_params
from test_hostile_budget import plant_a_leak
from winnow import groundtruth, judges, study_runs
from winnow.imageset import ImageSetError, read_imageset
from winnow.report_grids import judge_note

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("dtype", ["float64", "int16"])
def test_an_images_npy_of_another_type_names_the_stage_to_rerun(tmp_path, dtype):
    # before: "error: data/degrade: images must be a uint8 numpy array, got float64", nothing said of what to do
    project = make_project(tmp_path / "project", undamaged_params())
    manifest, images, _ = tiny_degraded(project, score=undamaged_params()["score"])
    np.save(project / "data/degrade/images.npy", images.astype(dtype))  # the same pixel values, in another type
    (project / "data/score/scores.parquet").unlink()
    assert refused_line(project, "score") == (f"error: data/degrade/images.npy: holds {dtype} values, not uint8 "
                                              "pixels; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("folder", "rerun"), [
    ("data/ingest", "rerun the ingest stage (dvc repro ingest)"),
    ("data/gan", "rerun the gan-synthesize stage (dvc repro gan-synthesize)"),
    ("data/variants/balanced/extra", "rerun the balance stage (dvc repro balance)"),
    ("elsewhere/set", "rerun the stage that writes it"),
])
def test_an_imageset_of_the_wrong_shape_names_the_stage_that_writes_it(tmp_path, folder, rerun):
    # before: "<folder>: images must have shape (N, H, W, C) with C in {1, 3}, got (30, 8, 8)", nothing to do
    project = make_project(tmp_path / "project", undamaged_params())
    manifest, images, _ = tiny_degraded(project, score=undamaged_params()["score"])
    if folder != "data/ingest":
        shutil.copytree(project / "data/ingest", project / folder)
    np.save(project / folder / "images.npy", images[..., 0])  # (30, 8, 8): the channel axis gone
    with pytest.raises(ImageSetError) as refused:
        read_imageset(project / folder)
    assert str(refused.value) == (f"{project / folder / 'images.npy'}: images must have shape (N, H, W, C) with C in "
                                  f"{{1, 3}}, got (30, 8, 8); {rerun}")


@pytest.mark.hostile("cleaners")
def test_a_class_without_val_images_is_warned_of_without_a_count_of_no_drops():
    # before: "... so 0 relabel(s) to or from it became drops; ..." where no relabel was made to or from 'b'
    assert judges.unmeasured_warning("confident-learn", np.array([1]), classes=["a", "b"], dropped=0) == (
        "warning: confident-learn: val has no image of class 'b', which the judge learned from train: its relabel "
        "precision is not measured there, so a relabel to or from it would be a drop; add val images of every class "
        "(an imagefolder's val/ needs a folder for each)")
    assert judges.unmeasured_warning("confident-learn", np.array([1]), classes=["a", "b"], dropped=3) == (
        "warning: confident-learn: val has no image of class 'b', which the judge learned from train: its relabel "
        "precision is not measured there, so 3 relabel(s) to or from it became drops; add val images of every class "
        "(an imagefolder's val/ needs a folder for each)")


def _judge(**changes) -> dict:
    return {"kind": "probe", "val_accuracy": 0.9, "relabel_precision": 0.5, "val_relabels": 12, "planted_flips": 12,
            "relabel_min_precision": 0.8, "relabels_allowed": False, "classes_without_val_images": [], **changes}


@pytest.mark.hostile("report")
def test_the_reports_judge_note_counts_drops_only_where_relabels_became_drops():
    # before: "relabels not trusted: 0 became drops" (and so for a metrics file without relabels_blocked), and
    # "Val has no image of 'c': relabels to or from them were not measured and became drops." with none made
    for note in (judge_note(_judge(relabels_blocked=0)), judge_note(_judge())):
        assert note.endswith('(bound 0.8): <span class="fail">relabels not trusted</span>.</p>')
    assert judge_note(_judge(relabels_blocked=4)).endswith(
        '(bound 0.8): <span class="fail">relabels not trusted: 4 became drops</span>.</p>')
    allowed = dict(relabel_precision=0.9, relabels_allowed=True, classes_without_val_images=["c"])
    assert judge_note(_judge(relabels_blocked=0, **allowed)).endswith(
        '<span class="pass">relabels allowed</span>. <span class="fail">Val has no image of &#x27;c&#x27;: relabels '
        "to or from them are not measured, so any would be a drop.</span></p>")
    assert judge_note(_judge(relabels_blocked=2, **allowed)).endswith(
        '<span class="pass">relabels allowed</span>. <span class="fail">Val has no image of &#x27;c&#x27;: relabels '
        "to or from them were not measured and became drops.</span></p>")


@pytest.mark.hostile("report")
@pytest.mark.parametrize("cleaners", [["threshold", "dedup", "confident_learn"], ["threshold", "confident_learn"]],
                         ids=["dedup-a-cleaner", "dedup-not-a-cleaner"])
def test_the_budgets_counts_of_a_candidate_are_those_pruned_ships(tmp_path, cleaners):
    # before: each candidate's dropped and train images counted its own decisions, not the leak drop pruned applies
    # whatever wins: none "0 dropped, 1200 train images" (with dedup a cleaner, the filters 1 and 1199), and without
    # dedup among the cleaners the winner's 1200 beside the 1199 pruned then trained on
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c),
                          params={"pruned": {"cleaners": cleaners}})
    plant_a_leak(project)  # train-0005, one of 1,200 train images, a copy of test-0000
    assert run_stage(project, "budget").returncode == 0
    assert run_stage(project, "variants").returncode == 0
    metrics = json.loads((project / "metrics/budget.json").read_text())
    rows = pd.read_parquet(project / "data/variants/pruned/rows.parquet")
    assert metrics["leak_drops"] == 1
    assert metrics["candidates"]["none"] | {"correct": 0, "accuracy": 0, "log_loss": 0} == {
        "fraction": None, "label_images": 0, "dropped": 1, "relabelled": 0, "train_images": 1199, "correct": 0,
        "accuracy": 0, "log_loss": 0, "note": "", "tied_at_edge": {"taken": 0, "left_out": 0}}
    winner = metrics["candidates"][metrics["winner"]]
    assert (winner["dropped"], winner["train_images"]) == ((rows["action"] == "drop").sum(),
                                                           (rows["action"] != "drop").sum())


@pytest.mark.hostile("intermediates")
def test_the_degrade_metrics_file_has_one_name_that_its_writer_and_readers_share():
    # before: "metrics/degrade.json" written out in stages/degrade.py, stages/report.py and report_recounts beside
    # study_runs.DEGRADE_METRICS: a rename in one left `winnow study collect` (or the report) reading another file
    root = Path(__file__).resolve().parents[1]
    scripts = [file for folder in ("src", "stages") for file in (root / folder).rglob("*.py")]
    spelled = sorted(str(file.relative_to(root)) for file in scripts if '"metrics/degrade.json"' in file.read_text())
    assert spelled == ["src/winnow/groundtruth.py"]
    assert study_runs.DEGRADE_METRICS is groundtruth.DEGRADE_METRICS
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["degrade"]
    assert [next(iter(entry)) for entry in stage["metrics"]] == [groundtruth.DEGRADE_METRICS]
    for script in ("degrade", "report"):  # each names it, none spells it
        assert "DEGRADE_METRICS" in (root / "stages" / f"{script}.py").read_text()
