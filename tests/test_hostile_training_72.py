"""Hostile cases of the 72nd stop's mends in training's neighbourhood (gan-synthesize's numbers, kNN-Shapley, train):

- gan-synthesize's metrics/gan.json gives each weak class's threshold as the filter applied it: rounded to 4
  decimals, a real_median bound of 0.348241 read 0.3482 and a person's gan.threshold 0.123456 read 0.1235, so a
  sample was kept or dropped against a number printed nowhere;
- kNN-Shapley of train images a val image finds equally near (two copies of a picture under different labels,
  all-zero rows, a row orthogonal to the val image): the values are the mean over the tie's orders, worked by hand
  for four images, the same whichever row comes first (before, the stable sort gave the first row by position the
  larger value);
- gan-synthesize and balance of a models/baseline.pt trained with other train settings than params.yaml gives now
  (train.epochs, train.model edited, the stage run alone): refused in one line naming train@baseline, as evaluate
  refuses it, where the old model ranked the weak classes, filtered the samples or chose the edge cases;
- gan-synthesize of a baseline model whose weights are NaN (edited by hand): the line evaluate gives, not "gan.threshold:
  must be in [0, 1), got [nan nan nan]" under real_median (a setting the person never chose);
- train of a val split without a class that train has (or of one class alone): a warning naming the classes, as the
  epoch kept is chosen by a val accuracy blind to them.

Each checks the whole outcome a user reads, and nothing partial left behind where a stage refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_gan import gan_project
from test_hostile_threshold_64 import _stage_in_process
from winnow.valuation import knn_shapley

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_gan_metrics_give_a_real_median_threshold_as_the_filter_applied_it(tmp_path, monkeypatch, capsys):
    # before: class_threshold was rounded to 4 decimals (0.3482 for an applied 0.34824145), so a sample the baseline
    # gave 0.34822 was dropped beside a threshold the report and metrics showed below it
    from winnow.checkpoints import load
    from winnow.training import predict_proba
    from winnow.variants import load_variant

    project = gan_project(tmp_path / "project", weak_k=2)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"]["threshold"] = "real_median"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    done = _stage_in_process(project, "gan_synthesize", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr[-2000:]
    _, val = load_variant("pruned")
    classifier, _ = load("models/baseline.pt")
    probs = predict_proba(classifier, val.images)
    # 'a' is the weak class generated for ('c' has no pruned train image): the median of its val images' probability
    median = float(np.median(probs[val.labels == 0, 0]))
    assert json.loads((project / "metrics/gan.json").read_text())["class_threshold"] == {"a": median}


@pytest.mark.hostile("training")
def test_gan_metrics_give_a_set_threshold_as_the_person_wrote_it(tmp_path, monkeypatch, capsys):
    # before: gan.threshold 0.123456 was applied as written and reported as 0.1235
    project = gan_project(tmp_path / "project", weak_k=2)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"]["threshold"] = 0.123456
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    done = _stage_in_process(project, "gan_synthesize", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((project / "metrics/gan.json").read_text())["class_threshold"] == {"a": 0.123456}


# two copies of a picture under labels 0 and 1, two of another under 0 and 1; one val image of class 0 nearer the
# first picture. 1-NN, tie broken at random: by hand (Jia et al.'s recursion averaged over both orders of each pair)
# the first pair's 0 is worth the mean weight of ranks 1-2, (1 + 1/2) / 2, less the second pair's mean label 1/2
# times (1/6 + 1/12): 5/8; its 1 the pair term (1/2) / 2 below zero, less the same 1/8: -3/8; the second pair's 0
# (1/3 + 1/4) / 2 = 7/24, its 1 -(1/12) / 2 = -1/24. They sum to 1/2, 1-NN's accuracy with the tie at random
COPIES = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
COPY_LABELS = np.array([0, 1, 0, 1])
BY_HAND = np.array([5 / 8, -3 / 8, 7 / 24, -1 / 24])


@pytest.mark.hostile("training")
@pytest.mark.parametrize("order", [[0, 1, 2, 3], [1, 0, 3, 2]])
def test_knn_shapley_values_copies_under_two_labels_alike_in_either_order(order):
    # before: the stable sort broke the tie by position: the first pair's 0 was worth 0.83 when first and 0.42 when
    # second, its 1 -0.17 or -0.58
    values = knn_shapley(COPIES[order], COPY_LABELS[order], np.array([[2, 1]], np.float32), np.array([0]), k=1)
    np.testing.assert_allclose(values.mean, BY_HAND[order], rtol=0, atol=1e-12)


@pytest.mark.hostile("training")
@pytest.mark.parametrize("order", [[0, 1, 2, 3], [0, 2, 1, 3]])
def test_knn_shapley_values_all_zero_train_rows_alike_in_either_order(order):
    # before: the two zero rows (labels 0 and 1) and the row orthogonal to the val image all lie at similarity 0, and
    # the zero row of class 0 was worth 0.5 when first among them and 0.33 when second. By hand (1-NN, the three tied
    # at ranks 2 to 4): [1, 0] is worth 1 - (1/3)(1/2 + 1/6 + 1/12) = 3/4, the zero row of class 0 the mean weight of
    # ranks 2-4, (1/2 + 1/3 + 1/4) / 3 = 13/36, the other two its pair term (1/6 + 2/12) / 6 = 1/18 below zero
    features = np.array([[1, 0], [0, 0], [0, 0], [0, 1]], np.float32)
    labels = np.array([0, 0, 1, 1])
    values = knn_shapley(features[order], labels[order], np.array([[1, 0]], np.float32), np.array([0]), k=1)
    np.testing.assert_allclose(values.mean, np.array([3 / 4, 13 / 36, -1 / 18, -1 / 18])[order], rtol=0, atol=1e-12)


def _val_without(root, missing: list[int]):
    """A project of classes a, b, c (4 train, 2 val and 1 test image each, 8x8 grey), the val images of the classes
    ``missing`` left out, baseline keeping every train image, and a one-epoch lenet5 train section."""
    import pandas as pd

    from hostile_harness import default_params, make_project
    from winnow.degrade import perturbation_table
    from winnow.imageset import write_imageset
    from winnow.stage import write_table
    from winnow.variants import baseline_rows, write_variant

    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline"]
    params["contracts"]["enforce_variants"] = []
    params["train"].update(model="lenet5", epochs=1, batch_size=8, device="cpu", crop_padding=0)
    project = make_project(root, params)
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in (("train", 4), ("val", 2), ("test", 1))
            for c in range(3) for i in range(n) if not (split == "val" and c in missing)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L")
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    for name in ("ingest", "degrade"):
        write_imageset(project / "data" / name, images, manifest, ["a", "b", "c"])
    write_table(project / "data/degrade/perturbations.parquet", perturbation_table([]))
    write_variant("baseline", baseline_rows(manifest), root=project / "data/variants")
    return project


def _train_in_process(project, monkeypatch, capsys):
    import subprocess
    import sys

    from test_hostile_threshold_64 import _stage_module
    from winnow.stage import run

    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", ["train.py", "baseline"])
    try:
        run(_stage_module("train").main, reads_arguments=True, torchrun=True)
        status = 0
    except SystemExit as stop:
        status = stop.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["train"], status, out.out, out.err)


WHY = (": the epoch kept is the one of best val accuracy, and a model that never names {} scores no lower there; add "
       "val images of every class (raise ingest.val_fraction; an imagefolder's val/ needs a folder for each)")


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("missing", "named"), [
    ([2], "class 'c', which train has" + WHY.format("it")),
    # a val split of one class: a model naming 'a' for every image scores 1.0 and is kept
    ([1, 2], "classes 'b', 'c', which train has" + WHY.format("them")),
])
def test_train_says_which_classes_its_val_split_cannot_choose_the_epoch_by(tmp_path, monkeypatch, capsys, missing,
                                                                         named):
    # before: no word; a val split of class 'a' alone kept an epoch that named 'a' for every image ("best val acc
    # 1.0000"), and one without 'c' chose the epoch as if 'c' did not exist
    project = _val_without(tmp_path / "project", missing)
    done = _train_in_process(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: train@")] == [
        f"warning: train@baseline: val has no image of {named}"]
    assert (project / "models/baseline.pt").is_file()


@pytest.mark.hostile("training")
def test_train_with_val_images_of_every_class_gives_no_such_warning(tmp_path, monkeypatch, capsys):
    project = _val_without(tmp_path / "project", [])
    done = _train_in_process(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if "val has no image" in line] == []


def _edited(project, change) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    change(params)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


RERUN = " would be another training's; rerun the train@baseline stage (dvc repro train@baseline)"


@pytest.mark.hostile("training")
def test_gan_synthesize_refuses_a_baseline_model_of_other_train_settings(tmp_path, monkeypatch, capsys):
    # before: train.epochs edited 1 -> 2 after train@baseline ran, then gan-synthesize alone (dvc repro -s): the
    # one-epoch model ranked the weak classes and filtered the samples as the new settings', exit 0
    project = gan_project(tmp_path / "project", weak_k=2)
    _edited(project, lambda params: params["train"].update(epochs=2))
    before = files_under(project)
    done = _stage_in_process(project, "gan_synthesize", monkeypatch, capsys)
    assert assert_error_line(done) == ("error: models/baseline.pt: trained with train.epochs 1 (now 2): its weak "
                                       "classes and kept samples" + RERUN)
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_balance_refuses_a_baseline_model_of_another_train_model_for_its_edge_cases(tmp_path, monkeypatch, capsys):
    # before: train.model edited lenet5 -> cnn_small after train@baseline ran, then balance alone: the lenet5 model's
    # features chose the edge cases, exit 0
    project = gan_project(tmp_path / "project", weak_k=1)

    def change(params):
        params["variants"] = ["baseline", "pruned", "balanced"]
        params["balance"].update(device="cpu", edge_fraction=0.5, edge_extra=2.0)
        params["train"]["model"] = "cnn_small"

    _edited(project, change)
    before = files_under(project)
    done = _stage_in_process(project, "balance", monkeypatch, capsys)
    assert assert_error_line(done) == ("error: models/baseline.pt: trained with train.model 'lenet5' (now "
                                       "'cnn_small'): its edge cases" + RERUN)
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_gan_synthesize_refuses_a_baseline_model_that_gives_nan_as_evaluate_does(tmp_path, monkeypatch, capsys):
    # before: "error: gan.threshold: must be in [0, 1), got [nan nan nan]": a setting the person did not choose, named
    # for the model's NaN (under a number instead, no sample was kept and the warning's floor(nan) was a traceback)
    import torch

    project = gan_project(tmp_path / "project", weak_k=2)
    _edited(project, lambda params: params["gan"].update(threshold="real_median"))
    checkpoint = torch.load(project / "models/baseline.pt", weights_only=True)
    first = next(iter(checkpoint["state_dict"]))
    checkpoint["state_dict"][first] = torch.full_like(checkpoint["state_dict"][first], float("nan"))
    torch.save(checkpoint, project / "models/baseline.pt")
    before = files_under(project)
    done = _stage_in_process(project, "gan_synthesize", monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: gives non-finite probabilities (NaN or infinity) for 6 of 6 val images, first "
        "'val-0-0', so its predictions mean nothing; rerun the train@baseline stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
