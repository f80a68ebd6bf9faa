"""Hostile cases of the 80th stop's probe of train, evaluate and the model files:

- evaluate of a model whose data set version has since moved images between its train and val splits (ingest's
  val_fraction raised, which carves test first and so keeps the test split, or a source's image moved from val/ to
  train/), the variants rerun, then evaluate by hand: one line naming the model and train@<v>; before, the same ids,
  labels and pixels passed every check, and the model that chose its epoch on the old val split was scored as the new
  version's, exit 0;
- train on an empty val split: the one line naming it; before, a warning that val had no image of any class came
  first, two lines for one cause;
- evaluate where a folder stands at models/<v>.pt: one line saying to move it away; before, "model file not found;
  rerun the train@<v> stage", and that rerun refused the folder in turn; so where a file stands at models/ itself.

Each checks the whole line a user reads, and nothing partial left behind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write_data(project, splits: dict[str, str]) -> None:
    """data/ingest and data/degrade (degrade off) of 8x8 grey images of classes a and b, image ``id`` in split
    ``splits[id]`` (its label: its last digit's parity), each id's pixels the same whatever its split; and the
    baseline variant of its train images, as the variants stage writes it."""
    from winnow.degrade import perturbation_table
    from winnow.imageset import write_imageset
    from winnow.stage import write_table
    from winnow.variants import baseline_rows, write_variant

    ids = sorted(splits)
    manifest = pd.DataFrame({"id": ids, "split": [splits[i] for i in ids], "label": [int(i[-1]) % 2 for i in ids]})
    manifest = manifest.assign(source="t", orig_h=8, orig_w=8, orig_mode="L")
    images = np.random.default_rng(0).integers(0, 256, (len(ids), 8, 8, 1), dtype=np.uint8)
    for name in ("ingest", "degrade"):
        write_imageset(project / "data" / name, images, manifest, ["a", "b"])
    write_table(project / "data/degrade/perturbations.parquet", perturbation_table([]))
    write_variant("baseline", baseline_rows(manifest), root=project / "data/variants")


def _project(root):
    """A project of the baseline variant alone, degrade off, trained for 1 epoch of lenet5 on the CPU."""
    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline"]
    params["contracts"]["enforce_variants"] = []
    params["train"].update(device="cpu", crop_padding=0, model="lenet5", epochs=1, batch_size=8)
    return make_project(root, params)


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_model_whose_train_and_val_splits_were_carved_anew_since(tmp_path):
    # before: exit 0, "evaluate@baseline: accuracy ..." of the model that learnt from x1 and chose its epoch on x3
    project = _project(tmp_path / "project")
    test = {"x4": "test", "x5": "test"}
    _write_data(project, {"x0": "train", "x1": "train", "x2": "val", "x3": "val", **test})
    trained = run_stage(project, "train", "baseline")
    assert trained.returncode == 0, trained.stderr[-3000:]
    # the same six images, labels and pixels, and the same test split: x1 and x3 trade train and val
    _write_data(project, {"x0": "train", "x1": "val", "x2": "val", "x3": "train", **test})
    before = files_under(project)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == (
        "error: models/baseline.pt: chose its epoch on 1 image(s) its data set version now trains on, and learnt from "
        "1 it now chooses the epoch on, first 'x1': the train and val splits were carved anew since it was trained, "
        "and its score would be another training's; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_train_on_an_empty_val_split_is_the_one_line_without_a_warning_of_every_class(tmp_path):
    # before: "warning: train@baseline: val has no image of classes 'a', 'b', which train has: ... add val images of
    # every class (raise ingest.val_fraction; ...)" above the error, two lines for one cause
    project = _project(tmp_path / "project")
    _write_data(project, {"x0": "train", "x1": "train", "x4": "test", "x5": "test"})
    before = files_under(project)
    done = run_stage(project, "train", "baseline")
    assert assert_error_line(done) == (
        "error: train: the val split is empty; a training keeps the epoch with the best val accuracy, so it needs val "
        "images: set ingest.val_fraction above 0")
    assert "warning" not in done.stdout + done.stderr
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_evaluate_of_a_folder_where_the_model_goes_says_to_move_it_not_that_it_is_missing(tmp_path):
    # before: "error: models/baseline.pt: model file not found; rerun the train@baseline stage", and that rerun refused
    # in turn: "train@baseline: models/baseline.pt is a folder, where the stage writes a file; move it away, then rerun"
    project = _project(tmp_path / "project")
    _write_data(project, {"x0": "train", "x1": "train", "x2": "val", "x3": "val", "x4": "test", "x5": "test"})
    (project / "models/baseline.pt").mkdir(parents=True)
    before = files_under(project)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == (
        "error: models/baseline.pt: is a folder, where train@baseline writes a model file; move it away, then rerun the "
        "train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_evaluate_of_a_model_under_a_file_where_its_folder_goes_names_that_file(tmp_path):
    # before: "error: models/baseline.pt: model file not found; rerun the train@baseline stage", and that rerun refused
    # in turn: "train@baseline: models/baseline.pt lies under the file models; move that away, then rerun"
    project = _project(tmp_path / "project")
    _write_data(project, {"x0": "train", "x1": "train", "x2": "val", "x3": "val", "x4": "test", "x5": "test"})
    (project / "models").write_text("")
    before = files_under(project)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == (
        "error: models/baseline.pt: lies under the file models; move that away, then rerun the train@baseline stage "
        "(dvc repro train@baseline)")
    assert_nothing_left(project, before)
