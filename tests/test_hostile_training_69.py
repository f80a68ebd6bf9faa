"""Hostile cases of the 69th stop's probe of training and evaluation: a model evaluated as another configuration's
(other train settings, seed or augmentation policy).
Each names what a user relies on: the one line, and nothing partial left behind."""

from dataclasses import replace

import pytest
import yaml
from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_metrics_more import _evaluate_project
from test_hostile_training_66 import _evaluate_in_process

from winnow.checkpoints import load, save
from winnow.configs import Policy, TrainConfig
from winnow.imageset import read_imageset
from winnow.metrics import metrics_path


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_model_trained_with_other_train_settings_or_seed(tmp_path, monkeypatch, capsys):
    # before: train.epochs edited 20 -> 30 and seed 0 -> 1 after train@baseline ran, then evaluate@baseline by hand
    # (or dvc repro -s): it scored the model of epochs 20 at seed 0 and wrote its numbers as the new settings', exit 0
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert (params["train"]["epochs"], params["seed"]) == (20, 0)  # what the fixture's model was trained with
    params["train"]["epochs"], params["seed"] = 30, 1
    params["train"]["threads"] = 1  # where it runs, not what it learns: no reason to refuse
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: trained with train.epochs 20 (now 30), seed 0 (now 1): its "
        "score would be another training's; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_model_trained_with_another_fixed_augmentation_policy(tmp_path, monkeypatch, capsys):
    # before: under train.augment: fixed, balance.policy.magnitude edited 0.3 -> 0.6 after train@baseline ran, then
    # evaluate@baseline by hand (or dvc repro -s): it scored the model of the 0.3 policy as the 0.6 one's, exit 0
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["augment"] = "fixed"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    trained, classes = load(project / "models/baseline.pt")
    learnt = read_imageset(project / "data/ingest").manifest.query("split != 'test'")
    # as train@baseline saves a model it trained with the fixed policy (balance.policy: magnitude 0.3)
    save(replace(trained, config=TrainConfig.from_params(params["train"]),
                 policy=Policy.from_params(params["balance"]["policy"])),
         project / "models/baseline.pt", classes=classes, image_shape=(8, 8, 1), seen=learnt["id"].to_numpy(),
         labels=learnt["label"].to_numpy(), digests=learnt["digest"].to_numpy(),
         val=learnt.loc[learnt["split"] == "val", "id"].to_numpy())
    assert _evaluate_in_process(project, monkeypatch, capsys).returncode == 0  # its own policy: scored
    scored = (project / metrics_path("baseline")).read_bytes()
    params["balance"]["policy"]["magnitude"] = 0.6
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: trained with balance.policy.magnitude 0.3 (now 0.6): its score would be another "
        "training's; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert (project / metrics_path("baseline")).read_bytes() == scored
