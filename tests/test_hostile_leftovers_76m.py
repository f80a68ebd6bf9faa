"""Hostile cases of the 76th stop's leftovers (m): what training and represent say about the model kept.

- represent with ``source: judge`` whose patience kept an earlier epoch than the last: metrics/represent.json's
  ``kept_loss`` and the stage's line give the kept epoch's training loss (before: only ``final_loss``, the last
  epoch's, of a model patience had dropped, printed as "N epoch(s), loss X"); selfsup, which keeps its last
  epoch, records that epoch's;
- a patience that can never end a run before its last epoch (cosine counts it only from mid-budget: epochs 10 with
  patience 5, 20 with 10): one warning naming both settings and what to set, from the train stage once; the
  defaults of params.yaml (train and the three judges) say nothing, and each fix it suggests does stop a run;
- a training whose val split is one class, perfect from epoch 1: the epoch-1 warning says epoch 1's model was kept
  by a val split that cannot tell the epochs apart (before: skipped at a val accuracy of 1, and the not-learnt
  warning skips a one-class val too, so a one-image val kept epoch 1's net without a word);
- represent with a judge whose val split lacks classes train has: the warning train@<variant> gives (before: none,
  though the judge keeps its epoch by the same val accuracy).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from hostile_harness import default_params
from test_contracts import _stage_module
from test_hostile_training_72 import _train_in_process, _val_without
from test_represent import blobs
from winnow import represent, training
from winnow.configs import TrainConfig
from winnow.schedule import patience_unreachable
from winnow.training import fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _scripted_val(monkeypatch, accuracies):
    """training's val evaluation giving ``accuracies`` epoch by epoch (the last one from then on), so which epoch is
    kept and where patience stops are known in advance."""
    real, seen = training._evaluate, []

    def evaluate(*args):
        loss, _ = real(*args)
        seen.append(None)
        return loss, accuracies[min(len(seen), len(accuracies)) - 1]

    monkeypatch.setattr(training, "_evaluate", evaluate)


def _toy(n=30):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    images = rng.integers(0, 40, (n, 12, 12, 1), dtype=np.uint8)
    images[labels == 1, :6] += 150
    images[labels == 2, 6:] += 150
    return images, labels


@pytest.mark.hostile("represent")
def test_represent_judge_records_and_prints_the_loss_of_the_epoch_it_kept(tmp_path, monkeypatch):
    # before: patience kept epoch 2 of 4, and metrics/represent.json and the line gave epoch 4's loss alone
    _scripted_val(monkeypatch, [0.5, 0.75, 0.5])  # best at epoch 2; patience 2 under constant stops at 4
    judge = {"model": "lenet5", "epochs": 10, "patience": 2, "schedule": "constant", "batch_size": 16, "threads": 1}
    options = represent.options({"source": "judge", "judge": judge}, train={"device": "cpu"})
    rep = represent.embed_imageset(blobs(), options=options, seed=0, progress=False, model_out=tmp_path / "judge.pt")
    history = torch.load(tmp_path / "judge.pt", weights_only=False)["history"]
    assert (rep.info["best_epoch"], rep.info["epochs"]) == (2, 4)
    assert (rep.info["kept_loss"], rep.info["final_loss"]) == (history[1]["train_loss"], history[3]["train_loss"])
    assert _stage_module("represent")._trained(rep.info) == (f", 4 epoch(s), loss {history[1]['train_loss']:.3f} at "
                                                             "the kept epoch 2")


@pytest.mark.hostile("represent")
def test_represent_selfsup_records_the_loss_of_its_last_epoch_as_kept(tmp_path):
    # selfsup keeps its last epoch's encoder: its kept loss is that epoch's, and the line names no other epoch
    options = represent.options({"source": "selfsup", "selfsup": {"epochs": 2, "batch_size": 16, "width": 8,
                                                                  "threads": 1, "device": "cpu"}})
    rep = represent.embed_imageset(blobs(), options=options, seed=0, progress=False)
    assert rep.info["kept_loss"] == rep.info["final_loss"]
    assert _stage_module("represent")._trained(rep.info) == f", 2 epoch(s), loss {rep.info['final_loss']:.3f}"


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("epochs", "patience", "line"), [
    # cosine halves the rate at mid-budget (epoch 5 of 10): the most patience can count before epoch 10 is 4
    (10, 5, "train.patience: 5 can never stop a run of train.epochs 10 before its last epoch: under the cosine "
            "schedule it counts only the epochs after epoch 5, by which the learning rate is down to half its peak, 4 at most "
            "before the last, so every epoch runs as under null; set train.patience to 4 or less or train.epochs to 12 "
            "or more"),
    (20, 10, "train.patience: 10 can never stop a run of train.epochs 20 before its last epoch: under the cosine "
             "schedule it counts only the epochs after epoch 10, by which the learning rate is down to half its peak, "
             "9 at most before the last, so every epoch runs as under null; set train.patience to 9 or less or "
             "train.epochs to 22 or more"),
], ids=["10_5", "20_10"])
def test_a_patience_that_can_never_fire_is_named(epochs, patience, line):
    # before: no word; the run trained every epoch as under patience: null
    assert patience_unreachable(TrainConfig(epochs=epochs, patience=patience, schedule="cosine")) == line


@pytest.mark.hostile("training")
def test_the_default_settings_say_nothing_of_patience():
    params = default_params()
    configs = [TrainConfig.from_params(params["train"])] + [
        TrainConfig.from_params(params["train"], overrides=section, overrides_from=where)
        for where, section in (("represent.judge", params["represent"]["judge"]),
                               ("confident_learn.train", params["confident_learn"]["train"]),
                               ("embedding_clean.train", params["embedding_clean"]["train"]))]
    assert [patience_unreachable(config) for config in configs] == [None] * 4


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("epochs", "patience", "stopped"), [(10, 4, 9), (12, 5, 11)], ids=["lower", "longer"])
def test_each_fix_the_patience_warning_suggests_stops_a_run_early(monkeypatch, epochs, patience, stopped):
    # the warning of epochs 10, patience 5 suggests patience 4 or epochs 12: each stops before its last epoch
    _scripted_val(monkeypatch, [0.5])  # never bettered after epoch 1
    images, labels = _toy()
    config = TrainConfig(model="lenet5", epochs=epochs, patience=patience, schedule="cosine", batch_size=16,
                         device="cpu", threads=1)
    assert patience_unreachable(config) is None
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)
    assert (len(trained.history), trained.stop_reason) == (stopped, "patience")


@pytest.mark.hostile("training")
def test_the_train_stage_warns_once_of_a_patience_that_can_never_fire(tmp_path, monkeypatch, capsys):
    # before: train@baseline with epochs 10, patience 5 ran all 10 epochs without a word
    project = _val_without(tmp_path / "project", [])
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"].update(epochs=10, patience=5)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    done = _train_in_process(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: train@")] == [
        "warning: train@baseline: train.patience: 5 can never stop a run of train.epochs 10 before its last epoch: "
        "under the cosine schedule it counts only the epochs after epoch 5, by which the learning rate is down to half "
        "its peak, 4 at most before the last, so every epoch runs as under null; set train.patience to 4 or less or "
        "train.epochs to 12 or more"]
    assert "stopped at epoch 10/10 (budget" in done.stdout  # every epoch ran, as the warning said


@pytest.mark.hostile("training")
def test_a_one_class_val_perfect_from_epoch_1_says_epoch_1_was_kept(capsys):
    # before: a one-image val right at every epoch kept epoch 1's model without a word (the epoch-1 warning skipped a
    # val accuracy of 1, the not-learnt one a one-class val)
    images, labels = _toy()
    config = TrainConfig(model="lenet5", epochs=3, schedule="constant", batch_size=16, device="cpu", threads=1)
    trained = fit(images, labels, images[:1], labels[:1], config=config, num_classes=3, seed=1, progress=True)
    assert (trained.best_epoch, trained.best_val_acc) == (1, 1.0)
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")] == [
        "warning: train lenet5: the model kept is epoch 1's: none of the 2 later epochs beat its val accuracy 1.0000 "
        "on 1 val images; they are all of one class, which a model naming that class for every image scores as well, "
        "so they cannot tell the epochs apart: add val images of every class"]


@pytest.mark.hostile("represent")
def test_represent_says_its_judge_chose_the_epoch_on_a_val_split_without_a_class(tmp_path, monkeypatch, capsys):
    # before: train@<variant> warned of a val split lacking a class that train has; represent's judge, which keeps its
    # epoch by the same val accuracy, said nothing
    from conftest import make_manifest
    from hostile_harness import make_project
    from test_hostile_threshold_64 import _stage_in_process
    from winnow.imageset import write_imageset

    images, labels = _toy(36)
    manifest = make_manifest(36, labels=labels)
    manifest["split"] = ["val" if i >= 24 and label == 0 else "test" if i >= 24 else "train"
                         for i, label in enumerate(labels)]
    params = default_params()
    params["represent"]["judge"] = {"model": "lenet5", "epochs": 2, "batch_size": 16, "device": "cpu"}
    params["represent"]["knn_k"] = 3
    project = make_project(tmp_path / "project", params)
    write_imageset(project / "data/degrade", images, manifest, ["a", "b", "c"])
    done = _stage_in_process(project, "represent", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: represent")] == [
        "warning: represent: val has no image of classes 'b', 'c', which train has: the epoch kept is the one of best "
        "val accuracy, and a model that never names them scores no lower there; add val images of every class (raise "
        "ingest.val_fraction; an imagefolder's val/ needs a folder for each)"]
