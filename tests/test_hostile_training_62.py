"""Hostile training, third pass: what the train stage's records say about the run that stopped early, which options a
judge that did not learn is told to check, and the devices refused to torchrun's ranks."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hostile_harness import default_params
from test_training import _toy_data

from winnow import training
from winnow.errors import WinnowError
from winnow.training import TrainConfig, fit, predict_proba


def _plotted_val_acc(live: Path) -> dict[int, float]:
    """The val accuracy dvclive plotted under ``live``, by step."""
    with open(live / "plots/metrics/val_acc.tsv") as rows:
        return {int(row["step"]): float(row["val_acc"]) for row in csv.DictReader(rows, delimiter="\t")}


@pytest.mark.hostile("training")
def test_the_summary_of_a_run_that_stopped_early_gives_the_kept_epochs_step(tmp_path, rng):
    # found by probing: patience stopped the default run's baseline at epoch 15 keeping epoch 8, and
    # metrics/train/baseline/metrics.json read "step": 14 beside epoch 8's val_acc 0.962, the last epoch's step,
    # whose row in plots/metrics/val_acc.tsv holds another accuracy
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=10, patience=2, schedule="constant", batch_size=16, device="cpu",
                         threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, log_dir=tmp_path / "live",
                  progress=False)
    assert (trained.best_epoch, len(trained.history)) == (1, 3)  # val accuracy 1.0 from epoch 1: patience 2 ends at 3
    summary = json.loads((tmp_path / "live/metrics.json").read_text())
    assert (summary["step"], summary["best_epoch"], summary["stopped_epoch"]) == (0, 1, 3)  # dvclive counts from 0
    logged = _plotted_val_acc(tmp_path / "live")
    assert sorted(logged) == [0, 1, 2]  # every epoch run is still plotted
    assert logged[summary["step"]] == summary["val_acc"]


@pytest.mark.hostile("training")
def test_a_judge_that_did_not_learn_names_the_options_its_own_section_set(rng, capsys):
    # found by probing: represent.judge: {lr: 1e-9, epochs: 2} kept a judge that learnt nothing, and both warnings
    # told the user to check train.lr (and train.epochs), values the judge does not take from the train section
    images, labels = _toy_data(rng)
    train = {**default_params()["train"], "device": "cpu", "batch_size": 16, "threads": 1}
    config = TrainConfig.from_params(train, overrides={"lr": 1e-9, "epochs": 2}, overrides_from="represent.judge")
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=0)
    named = predict_proba(trained, images).argmax(1)
    recalls = [np.mean(named[labels == c] == c) for c in range(3)]
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: train lenet5: the model kept is epoch 1's: none of the 1 later epochs beat its val accuracy "
        f"{trained.best_val_acc:.4f} on 120 val images; a val split this small ties every epoch, and a learning rate "
        "too high never improves: add val images or check represent.judge.lr",
        f"warning: train lenet5: the model kept is right on {trained.best_val_acc:.4f} of the val images and its "
        f"recalls of the 3 val classes add up to {sum(recalls):.4f}, no more than naming one class for every image "
        "scores (1): it has not learnt; check represent.judge.lr, train.weight_decay and represent.judge.epochs"]


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("device", "cuda", "line"), [
    ("cuda", False, "train.device: cuda requested but no CUDA device is visible; use auto or cpu"),
    ("cuda:0", False, "train.device: cuda:0 requested but no CUDA device is visible; use auto or cpu"),
    ("cpu", True, "train.device: cpu under torchrun, whose ranks each take the local GPU here; set auto, or train in "
                  "one process"),
], ids=["cuda_absent", "cuda_index_absent", "cpu_on_a_gpu_host"])
def test_under_torchrun_a_device_the_ranks_would_not_use_is_refused_as_in_one_process(rng, monkeypatch, device, cuda,
                                                                                        line):
    # found by probing: torchrun --nproc_per_node=2 stages/train.py baseline with train.device: cuda on a host where
    # torch saw no GPU trained both ranks on the CPU and wrote models/baseline.pt, exit 0, where python
    # stages/train.py baseline refuses it in one line
    monkeypatch.setattr(training, "distributed_setup", lambda: (0, 2))  # rank 0 of two, as torchrun starts it
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=1, batch_size=16, device=device, threads=1)
    with pytest.raises(WinnowError) as refused:
        fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)
    assert str(refused.value) == line


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("local_rank", "line"), [
    ("1", "LOCAL_RANK=1 under torchrun, whose ranks each take a GPU of their own, but only 1 CUDA device(s) are "
          "visible; launch at most 1 process(es) a machine (torchrun --nproc_per_node=1 ...)"),
    ("one", "LOCAL_RANK='one': not a whole number >= 0; torchrun sets it, so launch with torchrun or unset LOCAL_RANK"),
], ids=["rank_past_the_gpus", "local_rank_no_number"])
def test_under_torchrun_a_rank_without_a_gpu_of_its_own_is_one_line(rng, monkeypatch, local_rank, line):
    # found in review: torchrun --nproc_per_node=2 on a host with one GPU gave rank 1 torch.cuda.set_device(1), whose
    # 'invalid device ordinal' was a traceback, where one process refuses train.device cuda:1 there in one line
    monkeypatch.setattr(training, "distributed_setup", lambda: (1, 2))  # rank 1 of two
    monkeypatch.setenv("LOCAL_RANK", local_rank)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=1, batch_size=16, device="auto", threads=1)
    with pytest.raises(WinnowError) as refused:
        fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)
    assert str(refused.value) == line
    assert chosen == []  # refused before any device was taken


@pytest.mark.hostile("training")
def test_the_summary_gives_the_step_of_a_kept_epoch_inside_the_run(tmp_path, rng, monkeypatch):
    # found in review: the test above keeps epoch 1, whose step 0 a summary that always said 0 would give too; here
    # val accuracy peaks at epoch 2 of 4 (patience 2 stops at 4), so the summary's step must be 1, whose plotted row
    # holds the kept val_acc, and not 3, the last epoch's
    scripted = iter([(0.9, 0.5), (0.4, 0.8), (0.5, 0.7), (0.6, 0.6)])  # (val_loss, val_acc) of epochs 1-4
    monkeypatch.setattr(training, "_evaluate", lambda *_: next(scripted))
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=6, patience=2, schedule="constant", batch_size=16, device="cpu",
                         threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, log_dir=tmp_path / "live",
                  progress=False)
    summary = json.loads((tmp_path / "live/metrics.json").read_text())
    assert (trained.best_epoch, summary["step"], summary["stopped_epoch"]) == (2, 1, 4)
    assert (summary["val_acc"], summary["val_loss"]) == (0.8, 0.4)
    logged = _plotted_val_acc(tmp_path / "live")
    assert logged == {0: 0.5, 1: 0.8, 2: 0.7, 3: 0.6}
