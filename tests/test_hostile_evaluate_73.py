"""Hostile inputs to train and evaluate, probe 73:

- a test split holding images of one class alone (the other class has none), the model right on 2 of its 3:
  evaluate warns of the class it cannot measure, and not that the model "has not learnt" (naming that one class
  scores every image right there, so every model that misses one read as never learnt, told to check train.lr,
  which no retraining mends); the gate judges such predictions instead of refusing them as a model that did not
  learn;
- train.momentum (or a judge's) other than its default where no training reads it: under adam or adamw: refused by
  the params check, naming why and what to set, not trained as if 0.9 were written; where a training reads it (sgd,
  under any schedule since sgd under onecycle steps with it), it passes.

In-process on hand-made imagesets and a LeNet-5 whose weights are set by hand (no training), and on hand-made
predictions (:mod:`gate_repo`).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from gate_repo import init, write_variant
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_metrics_more import _evaluate_project
from test_hostile_training_66 import _evaluate_in_process
from test_hostile_training_72 import _train_in_process

from winnow.cli import main as winnow
from winnow.imageset import read_imageset, write_imageset
from winnow.metrics import summary_path
from winnow.params import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bright_is_b(project, test_pixels: dict[str, int]) -> None:
    """Give the test images of ``project`` (:func:`_evaluate_project`'s, classes a and b) the grey level
    ``test_pixels[id]``, and make models/baseline.pt name b for a bright image and a for a black one: one path of
    ones from the first filter to b's logit, which the ReLUs shut for a black image (normalised to -2), and a's bias
    0.5. Train and val pixels stay as the model's record of them says."""
    ingest = project / "data/ingest"
    imageset = read_imageset(ingest)
    images = np.array(imageset.images)
    for image_id, level in test_pixels.items():
        images[int(np.flatnonzero(imageset.manifest["id"] == image_id)[0])] = level
    write_imageset(ingest, images, imageset.manifest.drop(columns="digest"), imageset.classes)
    checkpoint = torch.load(project / "models/baseline.pt", weights_only=True)
    weights = {name: torch.zeros_like(value) for name, value in checkpoint["state_dict"].items()}
    weights["body.0.weight"][0] = 1.0  # first conv, filter 0
    weights["body.3.weight"][0, 0] = 1.0  # second conv, filter 0 of filter 0
    weights["head.0.weight"][0] = 1.0
    weights["head.2.weight"][0, 0] = 1.0
    weights["classifier.weight"][1, 0] = 1.0  # b
    weights["classifier.bias"][0] = 0.5  # a
    checkpoint["state_dict"] = weights
    torch.save(checkpoint, project / "models/baseline.pt")


@pytest.mark.hostile("training")
def test_evaluate_of_a_test_split_of_one_class_does_not_call_the_model_unlearnt(tmp_path, monkeypatch, capsys):
    # before: a second warning, "the model is right on 0.6667 of the test images, and its recalls of the 1 test classes
    # add up to 0.6667: no more than naming one class for every image scores (1), so it has not learnt and the report
    # gives no verdict beside it; check train.lr, train.weight_decay and train.epochs, then rerun train@baseline":
    # naming b for every image scores 1 on a split of b alone, so any model that misses one read so, and no lr helps
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [0, 3], bias=[0.0, 0.0])
    _bright_is_b(project, {"test-1-0": 255, "test-1-1": 255, "test-1-2": 0})
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    # b: 2 of its 3 test images named b, none of another class named b: precision 1, recall 2/3, F1 0.8
    assert done.stdout.splitlines() == [
        "warning: evaluate@baseline: class(es) 'a' have no test images: their precision, recall, F1 and accuracy are "
        "written as 0, which says nothing of the model but that it named them for 1 test image(s) of other classes, "
        "and left out of the macro averages; give the test split images of every class",
        "evaluate@baseline: accuracy 0.6667, macro F1 0.8000, weakest class b (F1 0.800)"]
    summary = json.loads((project / summary_path("baseline")).read_text())
    assert summary["per_class"]["b"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "accuracy": 2 / 3, "support": 3})


@pytest.mark.hostile("training")
def test_the_gate_judges_predictions_of_a_test_split_of_one_class(tmp_path, capsys):
    # before: "error: metrics/evaluate/baseline/predictions.csv at HEAD: the model's recalls of the 1 test classes add
    # up to 0.9500 (right on 95 of 100 test images), no more than naming one class for every image scores (1): it did
    # not learn, so the gate cannot judge baseline by it; rerun train@baseline and evaluate@baseline there (check
    # train.lr, ...)": a model right on 95 of 100 refused, where one naming a for every image would have passed
    classes = ["a", "b"]
    project = make_project(tmp_path / "project")
    labels = np.full(100, "a", dtype=object)
    predicted = labels.copy()
    predicted[:5] = "b"
    write_variant(project, "baseline", labels, predicted, classes=classes)
    init(project)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--variants", "baseline"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    # accuracy, a's recall and b's false positives, nothing changed between the two sides
    assert out.splitlines()[-1] == ("gate: PASS — 1 variant(s), 3 paired tests, no significant drop beyond its "
                                    "tolerance")
    assert_nothing_left(project, before)


NOT_SGD = ("but optimizer {} does not read it (only sgd does; adam and adamw keep their own first moment); set "
           "momentum: 0.9, or optimizer: sgd")


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("train", "judge", "refused"), [
    ({"momentum": 0.5}, None, "train.momentum: 0.5, " + NOT_SGD.format("adam")),
    ({"momentum": 0, "optimizer": "adamw"}, None, "train.momentum: 0, " + NOT_SGD.format("adamw")),
    # a judge's own momentum under the train section's adam
    ({}, {"momentum": 0.5}, "confident_learn.train.momentum: 0.5, " + NOT_SGD.format("adam")),
], ids=["adam", "adamw", "judge-adam"])
def test_a_momentum_no_training_reads_is_refused_before_training(tmp_path, monkeypatch, capsys, train, judge, refused):
    # before: trained exactly as momentum 0.9 (adam's first moment is its own beta1), exit 0, and the edit reran
    # train@<v> to the same weights
    params = default_params()
    params["train"].update(train)
    if judge is not None:
        params["confident_learn"]["train"] = judge
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    done = _train_in_process(project, monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [f"error: params.yaml: {refused}"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("train", "judge"), [
    ({"momentum": 0.5, "optimizer": "sgd"}, None),  # cosine: sgd reads it
    ({"momentum": 0.5, "optimizer": "sgd", "schedule": "onecycle"}, None),  # sgd steps with it under onecycle too
    ({"momentum": 0.5}, {"optimizer": "sgd"}),  # the judge takes the train section's momentum with its own sgd
    ({"optimizer": "sgd"}, {"momentum": 0.5}),  # the judge's own momentum under the train section's sgd
], ids=["sgd-cosine", "sgd-onecycle", "judge-takes-it", "judge-under-sgd"])
def test_a_momentum_some_training_reads_passes_the_params_check(train, judge):
    params = default_params()
    params["train"].update(train)
    if judge is not None:
        params["confident_learn"]["train"] = judge
    validate(params)  # no refusal: a false alarm would stop every stage
