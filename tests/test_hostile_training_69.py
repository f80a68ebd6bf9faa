"""Hostile cases of the 69th stop's probe of training and evaluation: a model evaluated as another configuration's.
Each names what a user relies on: the one line, and nothing partial left behind."""

import pytest
import yaml
from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_metrics_more import _evaluate_project
from test_hostile_training_66 import _evaluate_in_process

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
        "error: models/baseline.pt: trained with train.epochs 20 (params.yaml now 30), seed 0 (params.yaml now 1): its "
        "score would be another training's; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()
