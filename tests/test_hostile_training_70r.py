"""Hostile cases of the review of the 70th stop's mends of training and evaluation:

- evaluate of a baseline whose rows name an image data/degrade, written anew since, no longer holds: the line names
  the stale rows (the variants stage), not a model of other pixels to retrain;
- evaluate of a baseline whose rows keep a label data/degrade, written anew since, gives otherwise: the same;
- evaluate after the pixels of the test split and of an image the variant drops changed: scored, no false alarm of
  the pixel record (the model never read them);
- evaluate after train.stream was edited: it streams the test images as params.yaml says now, not as the model was
  trained;
- evaluate under a train.device the machine lacks: refused as train@<v> refuses it, not run on another device;
- gan-synthesize after train.eval_batch_size was edited: the baseline classifier predicts and embeds in batches of
  the new size, not the checkpoint's (nor 1,024 for the features);
- balance after train.eval_batch_size was edited: its edge cases are embedded in batches of the new size, not 1,024.

Each names what a user relies on: the one line, and nothing partial left behind."""

import importlib.util
import json
import sys

import numpy as np
import pytest
import yaml
from hostile_harness import ROOT, assert_error_line, assert_nothing_left, edit_table, files_under, make_project
from test_gan import gan_project
from test_hostile_metrics_more import _evaluate_project
from test_hostile_training_66 import _evaluate_in_process

from winnow import training
from winnow.imageset import read_imageset, write_imageset
from winnow.metrics import metrics_path
from winnow.stage import run
from winnow.variants import baseline_rows, write_variant


def _degraded(project) -> None:
    """data/degrade as a copy of data/ingest (degrade off), and baseline's rows its train split, as the variants stage
    writes them; the fixture's model learnt the same ids, labels and pixels."""
    ingest = read_imageset(project / "data/ingest", mmap=False)
    write_imageset(project / "data/degrade", ingest.images, ingest.manifest, ingest.classes)
    write_variant("baseline", baseline_rows(ingest.manifest), root=project / "data/variants")


def _rewrite(project, name: str, change) -> None:
    """data/<name> written anew as ``change`` (images, manifest) -> (images, manifest) gives it, digests recomputed:
    as its stage rerun alone writes it."""
    imageset = read_imageset(project / f"data/{name}", mmap=False)
    images, manifest = change(imageset.images.copy(), imageset.manifest.drop(columns="digest"))
    write_imageset(project / f"data/{name}", images, manifest.reset_index(drop=True), imageset.classes)


def _refused(project, monkeypatch, capsys) -> str:
    """evaluate@baseline's one line; nothing written, the last run's metrics as they were."""
    scored = (project / metrics_path("baseline")).read_bytes()
    before = files_under(project)
    line = assert_error_line(_evaluate_in_process(project, monkeypatch, capsys))
    assert_nothing_left(project, before)
    assert (project / metrics_path("baseline")).read_bytes() == scored
    return line


@pytest.mark.hostile("training")
def test_evaluate_of_rows_naming_an_image_degrade_no_longer_holds_names_the_variants_stage(tmp_path, monkeypatch,
                                                                                           capsys):
    # before: degrade rerun alone without 'train-1-2' (a duplicate perturbation taken out): learnt_ids gave its digest
    # as "", and evaluate said the model "learnt 1 of the images ... from other pixels ...; rerun the train@baseline
    # stage", which then refused the rows themselves ("not in the degrade imageset; rerun the variants stage")
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    _degraded(project)
    assert _evaluate_in_process(project, monkeypatch, capsys).returncode == 0
    _rewrite(project, "degrade", lambda images, manifest: (images[(manifest["id"] != "train-1-2").to_numpy()],
                                                           manifest[manifest["id"] != "train-1-2"]))
    assert _refused(project, monkeypatch, capsys) == (
        "error: data/variants/baseline/rows.parquet: image 'train-1-2' is not in the degrade imageset; rerun the "
        "variants stage (dvc repro variants)")


@pytest.mark.hostile("training")
def test_evaluate_of_rows_keeping_a_label_degrade_now_gives_otherwise_names_the_variants_stage(tmp_path, monkeypatch,
                                                                                               capsys):
    # before: degrade rerun alone under another seed (another label flipped, its pixels other): evaluate said the model
    # learnt 'train-1-2' "from other pixels ...; rerun the train@baseline stage", which then refused the rows ("keeps
    # label 'b', the degrade imageset labels it 'a' ...; rerun the variants stage")
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    _degraded(project)
    assert _evaluate_in_process(project, monkeypatch, capsys).returncode == 0

    def flipped(images, manifest):
        at = (manifest["id"] == "train-1-2").to_numpy()
        images[at] = 255 - images[at]
        return images, manifest.assign(label=np.where(at, 0, manifest["label"]))

    _rewrite(project, "degrade", flipped)
    assert _refused(project, monkeypatch, capsys) == (
        "error: data/variants/baseline/rows.parquet: image 'train-1-2' keeps label 'b', the degrade imageset labels it "
        "'a' (1 such row(s)): made from another degrade; rerun the variants stage (dvc repro variants)")


@pytest.mark.hostile("training")
def test_evaluate_scores_a_model_whose_unread_images_changed_pixels(tmp_path, monkeypatch, capsys):
    # a guard of the pixel record (50bd2c3f), which covers what the model read, no more: the test split (ingest rerun on
    # replaced test images) and an image its rows drop were never learnt from, so evaluate scored the model on the new
    # test images before the record was kept, and must still (a refusal here would be a false alarm)
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    _degraded(project)
    edit_table(project / "data/variants/baseline/rows.parquet", lambda rows: rows.assign(
        action=np.where(rows["id"] == "train-0-0", "drop", rows["action"])))
    checkpoint = project / "models/baseline.pt"  # as train@baseline saves the model of those rows
    kept = read_imageset(project / "data/ingest").manifest.query("split != 'test' and id != 'train-0-0'")
    _resave(checkpoint, kept)
    assert _evaluate_in_process(project, monkeypatch, capsys).returncode == 0

    def repainted(images, manifest):
        at = (manifest["split"].eq("test") | manifest["id"].eq("train-0-0")).to_numpy()
        images[at] = 255 - images[at]
        return images, manifest

    for name in ("ingest", "degrade"):
        _rewrite(project, name, repainted)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    written = json.loads((project / "metrics/evaluate/baseline/summary.json").read_text())
    assert written["accuracy"] == 0.5  # bias [1, 0]: class 'a' for each of the 2 + 2 test images


def _resave(path, learnt) -> None:
    """The checkpoint at ``path`` saved again as the model of the train and val rows of manifest ``learnt``."""
    from winnow.checkpoints import load, save

    trained, classes = load(path)
    save(trained, path, classes=classes, image_shape=(8, 8, 1), seen=learnt["id"].to_numpy(),
         labels=learnt["label"].to_numpy(), digests=learnt["digest"].to_numpy(),
         val=learnt.loc[learnt["split"] == "val", "id"].to_numpy())


@pytest.mark.hostile("training")
def test_evaluate_streams_the_test_images_as_train_stream_says_now(tmp_path, monkeypatch, capsys):
    # before: the checkpoint's train.stream (auto, as trained): set to always after evaluate ran out of memory copying
    # the test split to the device, evaluate rerun by hand (load accepts the model: stream changes no weight) copied
    # it all at once again, silently not the edit
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["train"]["stream"] == "auto"  # what the fixture's model was trained with
    params["train"]["stream"] = "always"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    streams = []
    placed = training.device_images
    monkeypatch.setattr(training, "device_images", lambda images, device, *, stream: (
        streams.append(stream), placed(images, device, stream=stream))[1])
    assert _evaluate_in_process(project, monkeypatch, capsys).returncode == 0
    assert streams == ["always"]


@pytest.mark.hostile("training")
def test_evaluate_runs_on_train_device_as_params_give_it_now(tmp_path, monkeypatch, capsys):
    # before: evaluate loaded the model on auto whatever train.device said: mps on a machine without one (or cpu on one
    # with a GPU) scored it on another device, exit 0, where train@baseline refuses the option
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    assert _evaluate_in_process(project, monkeypatch, capsys).returncode == 0
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["device"] = "mps"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert _refused(project, monkeypatch, capsys) == (
        "error: train.device: mps requested but this machine has no MPS device; use auto or cpu")


def _batches(monkeypatch) -> list[int]:
    """The sizes of the batches winnow.training's predict_proba and embed give a model from now on."""
    seen = []
    normalise = training.normalise
    monkeypatch.setattr(training, "normalise", lambda batch, mean, std: (
        seen.append(len(batch)), normalise(batch, mean, std))[1])
    return seen


def _in_process(project, monkeypatch, stage: str) -> None:
    """stages/<stage>.py run in this process as dvc.yaml's command would, exit 0."""
    spec = importlib.util.spec_from_file_location(f"{stage}_stage", ROOT / "stages" / f"{stage}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", [f"{stage}.py"])
    run(module.main)


def _eval_batch_size_one(project) -> dict:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["eval_batch_size"] = 1  # the fixture's model: 1024, as TrainConfig's default
    return params


@pytest.mark.hostile("intermediates")
def test_gan_synthesize_predicts_and_embeds_in_batches_of_train_eval_batch_size_as_params_give_it_now(
        tmp_path, monkeypatch):
    # before: the baseline classifier's own eval_batch_size (1024) for its val and sample probabilities, and 1,024 for
    # the Frechet features: train.eval_batch_size lowered to 1 after gan-synthesize ran out of memory, rerun, took the 6
    # val images in one batch again, silently not the edit
    project = gan_project(tmp_path / "project", weak_k=1)
    make_project(project, _eval_batch_size_one(project))
    edit_table(project / "data/variants/pruned/rows.parquet", lambda rows: rows.assign(
        action=np.where(rows["id"] == "train-2-0", "keep", rows["action"])))
    seen = _batches(monkeypatch)
    _in_process(project, monkeypatch, "gan_synthesize")
    # the 6 val images, the 4 samples, then the Frechet features: the 1 real image of 'c', its 4 samples, the 4 kept
    assert seen == [1] * (6 + 4 + 1 + 4 + 4)


@pytest.mark.hostile("intermediates")
def test_balance_embeds_its_edge_cases_in_batches_of_train_eval_batch_size_as_params_give_it_now(tmp_path,
                                                                                                 monkeypatch):
    # before: embed's own 1,024 whatever train.eval_batch_size said: lowered to 1 after balance ran out of memory
    # embedding pruned, balance rerun took its 12 train images in one batch again, silently not the edit
    project = gan_project(tmp_path / "project", weak_k=1)
    params = _eval_batch_size_one(project)
    params["variants"] = ["baseline", "pruned", "balanced"]
    params["balance"].update(device="cpu", edge_fraction=0.5, edge_extra=2.0)
    make_project(project, params)
    seen = _batches(monkeypatch)
    _in_process(project, monkeypatch, "balance")
    assert seen == [1] * 12  # pruned's 6 train images of 'a' and 6 of 'b'
