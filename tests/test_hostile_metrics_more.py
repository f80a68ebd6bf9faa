"""Hostile evaluation and comparison: a test split without images, or without images of one class; a model whose
probabilities are NaN; a summary a hand edit broke; `winnow compare` told to write its markdown where its own JSON
goes, or to read a run's summary from a commit this repository lacks. Each ends in one line, or says what its
numbers do not measure.

Each evaluate case builds a two- or three-class imageset of random 8x8 images and a LeNet-5 whose weights are all 0
but the last bias, so its prediction is known without training: the class of the largest bias, for every image.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hostile_harness import (
    assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage, run_winnow,
)

from winnow.checkpoints import save
from winnow.configs import TrainConfig
from winnow.imageset import read_imageset, write_imageset
from winnow.metrics import metrics_path, predictions_path, summary_path
from winnow.models import build_model
from winnow.training import Trained
from winnow.variants import oracle_rows, read_rows, write_variant


def _evaluate_project(root: Path, classes: list[str], test: list[int], *, bias: list[float]) -> Path:
    """A project whose ingest imageset holds 3 train and 1 val image of each class and ``test[c]`` test images of
    class c, whose baseline rows keep every train image, and whose models/baseline.pt, trained on them, predicts the
    class of the largest of ``bias`` (one value per class)."""
    project = make_project(root)
    counts = {"train": [3] * len(classes), "val": [1] * len(classes), "test": test}
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in counts.items() for c in range(len(classes))
            for i in range(n[c])]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L")
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    write_imageset(project / "data/ingest", images, manifest, classes)
    model = build_model("lenet5", in_channels=1, num_classes=len(classes), image_size=(8, 8))
    with torch.no_grad():
        for weight in model.parameters():
            weight.zero_()
        list(model.parameters())[-1].copy_(torch.tensor(bias))  # the output layer's bias: the logits themselves
    params = default_params()  # make_project's: trained as its train section and seed say, as train@baseline would
    trained = Trained(model, torch.tensor([0.5]), torch.tensor([0.25]), [{"val_acc": 0.5}], 1,
                      TrainConfig.from_params(params["train"]), params["seed"])
    learnt = manifest[manifest["split"] != "test"]  # what a training on these splits learnt from
    write_variant("baseline", oracle_rows(manifest), root=project / "data/variants")  # the rows it was trained on
    save(trained, project / "models/baseline.pt", classes=classes, image_shape=(8, 8, 1),
         seen=learnt["id"].to_numpy(), labels=learnt["label"].to_numpy(),
         digests=read_imageset(project / "data/ingest").manifest.loc[learnt.index, "digest"].to_numpy(),
         val=learnt.loc[learnt["split"] == "val", "id"].to_numpy())
    return project


@pytest.mark.hostile("training")
def test_evaluate_of_a_test_split_without_images_fails_with_one_line(tmp_path):
    # before: a ValueError traceback from torch.cat (ingest.test_fraction: 0 is a valid setting)
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [0, 0], bias=[1.0, 0.0])
    before = files_under(project)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == (
        "error: evaluate@baseline: the test split of data/ingest holds no images, so nothing can be measured; raise "
        "ingest.test_fraction or give the source test images, then dvc repro")
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
def test_evaluate_refuses_a_model_whose_probabilities_are_not_finite(tmp_path, value):
    # before: argmax read every NaN row as class a, and evaluate wrote accuracy 0.5 and macro F1 0.3333 for a model
    # that predicts nothing, exit status 0
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[value, 0.0])
    before = files_under(project)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == (
        "error: models/baseline.pt: gives non-finite probabilities (NaN or infinity) for 4 of 4 test images, first "
        "'test-0-0', so its predictions mean nothing; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_model_that_learnt_from_images_of_the_test_split(tmp_path):
    # before: once data/ingest was split anew (ingest.split_seed changed, then evaluate run by hand or with dvc repro
    # -s), the old model was scored on a test split of 1,000 images of which it had learnt from or chosen its epoch on
    # 767, and evaluate wrote its flattered accuracy, exit 0
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    ingest = read_imageset(project / "data/ingest")
    manifest = ingest.manifest.copy()
    manifest.loc[manifest["id"].isin(["train-1-2", "val-0-0"]), "split"] = "test"  # the split drawn anew
    write_imageset(project / "data/ingest", np.asarray(ingest.images), manifest, ingest.classes)
    before = files_under(project)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == (
        "error: models/baseline.pt: learnt from or chose its epoch on 2 of the 6 test images, first 'train-1-2': the "
        "data was split anew since it was trained, and its score would count images it has seen; rerun the "
        "train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()


@pytest.mark.hostile("training")
@pytest.mark.parametrize("edit, refusal", [
    # before: the variant's rows changed after training (a cleaner's setting edited and pruned rerun, or here one image
    # dropped by hand), and evaluate by hand (or dvc repro -s) scored the old model as the new version, exit 0
    ({"action": "drop"}, "learnt from or chose its epoch on 1 image(s) its data set version no longer holds, and not "
                         "on 0 it holds now"),
    # before (d45a27a compared ids only): a cleaner that relabels edited and the variants stage rerun (here one image
    # relabelled by hand) left the same ids, and evaluate scored the model of the old labels as the version, exit 0
    ({"action": "relabel", "label": 1}, "learnt 1 of the images its data set version holds under another label, "
                                        "first 'train-0-1'"),
], ids=["rows", "labels"])
def test_evaluate_refuses_a_model_of_the_versions_earlier_rows(tmp_path, edit, refusal):
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    rows = read_rows("baseline", root=project / "data/variants")
    rows.loc[rows["id"] == "train-0-1", list(edit)] = list(edit.values())
    write_variant("baseline", rows, root=project / "data/variants")
    before = files_under(project)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == (
        f"error: models/baseline.pt: {refusal}: its rows changed since it was trained, and its score would be the old "
        "version's; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()


@pytest.mark.hostile("training")
def test_evaluate_says_which_classes_the_test_split_cannot_measure(tmp_path):
    # class a has train images but no test image; the model predicts b, which is every test image's class
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [0, 2], bias=[0.0, 1.0])
    done = run_stage(project, "evaluate", "baseline")
    assert done.returncode == 0, done.stderr
    # before: nothing said a's 0 was no result, and the one right model was summed up as "weakest class a (F1 0.000)"
    assert done.stdout.splitlines() == [
        "warning: evaluate@baseline: class(es) 'a' have no test images: their precision, recall, F1 and accuracy are "
        "written as 0, which says nothing of the model, and left out of the macro averages; give the test split images "
        "of every class",
        # b, the one class tested, every image right: before, macro F1 0.5000, a's unmeasured 0 averaged in
        "evaluate@baseline: accuracy 1.0000, macro F1 1.0000, weakest class b (F1 1.000)"]
    summary = json.loads((project / summary_path("baseline")).read_text())
    assert summary["per_class"]["a"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0, "support": 0}
    assert summary["per_class"]["b"]["support"] == 2
    assert pd.read_csv(project / predictions_path("baseline"))["predicted"].tolist() == ["b", "b"]


@pytest.mark.hostile("training")
def test_evaluate_warns_of_a_model_no_better_than_naming_the_largest_class(tmp_path):
    # the model names b, the largest of the test classes, for every test image
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 3], bias=[0.0, 1.0])
    done = run_stage(project, "evaluate", "baseline")
    assert done.returncode == 0, done.stderr
    # before: "accuracy 0.1000" of a model that called all 1,000 test images one class, without a word, and the
    # report shipped pruned on its +0.891 macro F1 over it
    assert done.stdout.splitlines() == [
        "warning: evaluate@baseline: the model is right on 0.6000 of the test images, naming 'b' for every one, and "
        "its recalls of the 2 test classes add up to 1.0000: no more than naming one class for every image scores (1), "
        "so it has not learnt and the report gives no verdict beside it; check train.lr, train.weight_decay and "
        "train.epochs, then rerun train@baseline",
        "evaluate@baseline: accuracy 0.6000, macro F1 0.3750, weakest class a (F1 0.000)"]


@pytest.mark.hostile("compare")
def test_compare_stage_refuses_a_summary_whose_class_holds_a_bare_number(tmp_path):
    # before: AttributeError traceback ('float' object has no attribute 'get')
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    for variant, table in (("baseline", {"a": 0.5, "b": {"f1": 0.2}}), ("pruned", {"a": {"f1": 0.4}})):
        path = project / summary_path(variant)
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"per_class": table}))
    before = files_under(project)
    done = run_stage(project, "compare")
    assert assert_error_line(done) == ("error: metrics/evaluate/baseline/summary.json: per_class.a is 0.5, not a "
                                       "mapping of its metrics; rerun `dvc repro -f evaluate@baseline`")
    assert_nothing_left(project, before)


def _saved_run(path: Path) -> Path:
    """A saved `dvc exp show --json` of one run (seed 0) of baseline and pruned over classes a and b."""
    metrics = {metrics_path(v): {"data": {"accuracy": 0.9, "macro": {"f1": 0.8},
                                          "per_class": {"a": {"f1": f}, "b": {"f1": 0.7}}}}
               for v, f in (("baseline", 0.5), ("pruned", 0.6))}
    path.write_text(json.dumps([{"rev": "c" * 40, "name": "c0ffee",
                                 "data": {"params": {"params.yaml": {"data": {"seed": 0}}}, "metrics": metrics}}]))
    return path


@pytest.mark.hostile("compare")
def test_compare_out_ending_in_json_is_refused_before_its_json_replaces_the_markdown(tmp_path):
    # before: the markdown was written to seeds.json, then the runs' JSON over it: no markdown anywhere, exit 0
    project = make_project(tmp_path / "project")
    saved = _saved_run(tmp_path / "exp.json")
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                      "--out", "seeds.json", timeout=60)
    assert assert_error_line(done) == ("error: --out seeds.json: the runs' JSON is written beside the markdown as "
                                       "seeds.json, the same file; give a markdown path, e.g. --out "
                                       "reports/compare-seeds.md")
    assert done.stdout == ""
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_a_metric_of_a_commit_this_repository_lacks_says_so(tmp_path):
    # before: "... is not in run c0ffee (evaluated before summaries were written)", a cause that was not the one
    project = make_project(tmp_path / "project")
    saved = _saved_run(tmp_path / "exp.json")
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                      "--metrics", "precision", timeout=60)
    assert assert_error_line(done) == (
        "error: compare --metrics precision: run c0ffee's commit cccccccccccc is not in the repository at ., so its "
        "metrics/evaluate/baseline/summary.json cannot be read; compare f1 (the metrics DVC shows hold it), or run "
        "compare where that commit is")
    assert done.stdout == ""
    assert_nothing_left(project, before)
