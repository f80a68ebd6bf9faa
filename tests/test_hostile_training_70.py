"""Hostile cases of the 70th stop's probe of training and evaluation:

- evaluate of a model whose training images were written anew under the same ids and labels (other pixels);
- evaluate of a model an earlier winnow saved without a record of its pixels;
- evaluate of a model trained under another train.augment: the line names that, not its policy's fields;
- evaluate after train.eval_batch_size was edited: it predicts in batches of the new size;
- evaluate of a checkpoint whose class names are a string: the checkpoint is refused, not a traceback;
- evaluate of a variant whose rows keep no image: the line train gives, not a traceback.

Each names what a user relies on: the one line, and nothing partial left behind."""

from dataclasses import replace

import numpy as np
import pytest
import torch
import yaml
from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_metrics_more import _evaluate_project
from test_hostile_training_66 import _evaluate_in_process

from winnow import checkpoints
from winnow.checkpoints import load, save
from winnow.configs import Policy, TrainConfig
from winnow.imageset import read_imageset, write_imageset
from winnow.metrics import metrics_path
from winnow.variants import read_rows, write_variant


def _repaint(project, image_id: str) -> None:
    """data/ingest written anew with the pixels of ``image_id`` inverted, its ids, splits and labels as they were: as
    ingest rerun on a source whose image was replaced writes it."""
    ingest = read_imageset(project / "data/ingest", mmap=False)
    images = ingest.images.copy()
    at = (ingest.manifest["id"] == image_id).to_numpy()
    images[at] = 255 - images[at]
    write_imageset(project / "data/ingest", images, ingest.manifest.drop(columns="digest"), ingest.classes)


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_model_that_learnt_other_pixels_under_the_same_ids_and_labels(tmp_path, monkeypatch,
                                                                                          capsys):
    # before: data/ingest written anew after train@baseline ran (a source image replaced, and only ingest rerun), ids,
    # splits and labels unchanged, then evaluate@baseline by hand (or dvc repro -s): it scored the model of the old
    # pixels as the new data's and wrote its numbers, exit 0 (the checkpoint kept id and label hashes only)
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    assert _evaluate_in_process(project, monkeypatch, capsys).returncode == 0  # the pixels it learnt: scored
    scored = (project / metrics_path("baseline")).read_bytes()
    _repaint(project, "train-1-2")
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: learnt 1 of the images its data set version holds from other pixels, first "
        "'train-1-2': the imagesets they are read from were written anew since it was trained, and its score would be "
        "of other data; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert (project / metrics_path("baseline")).read_bytes() == scored


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_model_that_kept_no_record_of_its_pixels(tmp_path, monkeypatch, capsys):
    # before: a model saved without its pixels (an earlier winnow's) had no way to tell the data it learnt from the data
    # now, and evaluate scored it whatever the imagesets held since, exit 0
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    checkpoint = torch.load(project / "models/baseline.pt", weights_only=True)
    del checkpoint["pixels"]  # as an earlier winnow wrote it
    torch.save(checkpoint, project / "models/baseline.pt")
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: trained by an earlier winnow, which kept no record of the pixels it learnt from "
        "(pixels), so images changed since it was trained cannot be told; rerun the train@baseline stage (dvc repro "
        "train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()


@pytest.mark.hostile("training")
def test_evaluate_of_a_model_trained_under_another_train_augment_names_that_alone(tmp_path, monkeypatch, capsys):
    # before: a model trained under train.augment: fixed, then train.augment set back to none and evaluate run by hand:
    # the line named "train.augment 'fixed' (now 'none'), train.augment's policy.ops ('shear', ...) (now None),
    # train.augment's policy.n 2 (now None) and 3 more", policy fields of no option the user has, as though edited
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    params = yaml.safe_load((project / "params.yaml").read_text())
    trained, classes = load(project / "models/baseline.pt")
    learnt = read_imageset(project / "data/ingest").manifest.query("split != 'test'")
    fixed = {**params["train"], "augment": "fixed"}  # as train@baseline saves a model it trained under augment fixed
    policy = Policy.from_params(params["balance"]["policy"])
    save(replace(trained, config=TrainConfig.from_params(fixed), policy=policy),
         project / "models/baseline.pt", classes=classes, image_shape=(8, 8, 1), seen=learnt["id"].to_numpy(),
         labels=learnt["label"].to_numpy(), digests=learnt["digest"].to_numpy(),
         val=learnt.loc[learnt["split"] == "val", "id"].to_numpy())
    assert params["train"]["augment"] == "none"
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: trained with train.augment 'fixed' (now 'none'): its score would be another "
        "training's; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()


@pytest.mark.hostile("training")
def test_evaluate_predicts_in_batches_of_train_eval_batch_size_as_params_give_it_now(tmp_path, monkeypatch, capsys):
    # before: the model's own eval_batch_size (1024, as trained): train.eval_batch_size lowered to 1 after evaluate ran
    # out of memory, then evaluate rerun by hand (a retrain is not needed: load accepts it), still predicted the 4 test
    # images in one batch of 4, silently not the edit
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["train"]["eval_batch_size"] == 1024  # what the fixture's model was trained with
    params["train"]["eval_batch_size"] = 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    seen = []
    built = checkpoints.build_model

    def counting(*args, **kwargs):  # the model evaluate loads, recording the batches it is given
        model = built(*args, **kwargs)
        model.register_forward_pre_hook(lambda _, inputs: seen.append(len(inputs[0])))
        return model

    monkeypatch.setattr(checkpoints, "build_model", counting)
    assert _evaluate_in_process(project, monkeypatch, capsys).returncode == 0
    assert seen == [1, 1, 1, 1]


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_checkpoint_whose_classes_are_a_string(tmp_path, monkeypatch, capsys):
    # before: a hand-edited checkpoint's classes "ab" matched the data's ['a', 'b'] name for name (list("ab")), the
    # model was scored, and writing its predictions stopped in an IndexError traceback
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    checkpoint = torch.load(project / "models/baseline.pt", weights_only=True)
    checkpoint["classes"] = "ab"
    torch.save(checkpoint, project / "models/baseline.pt")
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: checkpoint does not fit its own model (classes 'ab' is not a list of class names); "
        "rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()


@pytest.mark.hostile("training")
def test_evaluate_of_a_variant_whose_rows_keep_no_image_is_the_line_train_gives(tmp_path, monkeypatch, capsys):
    # before: baseline's rows.parquet rewritten to drop every train image after train@baseline ran, then evaluate by
    # hand: a ValueError traceback ("need at least one array to concatenate") where train refuses those rows in a line
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    rows = read_rows("baseline", root=project / "data/variants")
    rows[["action", "reason", "stage"]] = ["drop", "flagged", "threshold"]
    write_variant("baseline", rows, root=project / "data/variants")
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: variant baseline: no train image left (its decisions drop all 6 train images); a model cannot be "
        "trained on it")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()
