"""What a user reads while a stage runs (probe 76i): progress bars and the lines beside them.

- train stopped early by patience: its epoch bar wrapped the epochs and counted each as the next began, so it ended an
  epoch short ("2/30" under "stopped at epoch 3/30"), and each drawn loss sat beside the count of the epoch before
  ("0/2 ... loss=1.092, val_acc=0.667"); now each epoch is counted as it ends, its loss beside it;
- represent's selfsup stopped by ``represent.selfsup.seconds``: its bar ended a count short the same way ("0/30" after
  one epoch), its loss beside the count before;
- threshold with an issue left out of ``threshold.issues``: its summary line said "blurry 0", as if every image was
  judged and none found blurry (beside the blurry images degrade planted); now "blurry off";
- confident-learn's cnn judge (K folds, R repeats) and embedding-clean's judge in folds mode: each fold model printed
  "train lenet5: stopped at ..." and its warnings under the same name, K x R lines alike, two warnings word for word
  the same, none saying which model it was of (nor that it was no train stage's); now each names its fold.
"""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from hostile_harness import make_project, tiny_degraded, undamaged_params
from test_hostile_threshold_64 import _stage_in_process

from winnow.configs import SelfSupConfig, TrainConfig
from winnow.embeddings import embedding_spaces
from winnow.out_of_sample import cross_val_pred_probs
from winnow.selfsup import pretrain
from winnow.training import fit


def _separable(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``(n, 12, 12, 1)`` images of 3 classes lenet5 tells apart within an epoch, and their labels."""
    labels = np.arange(n) % 3
    images = np.random.default_rng(0).integers(0, 40, (n, 12, 12, 1), dtype=np.uint8)
    images[labels == 1, :6] += 150  # class 1: bright top, class 2: bright bottom
    images[labels == 2, 6:] += 150
    return images, labels


def _draws(err: str) -> list[str]:
    """Each state a bar drew on stderr (tqdm starts each with a carriage return), without its line end."""
    return [draw.rstrip("\n") for draw in err.split("\r") if draw.strip()]


@pytest.mark.hostile("training")
def test_an_early_stop_leaves_the_epoch_bar_at_the_epochs_run_each_loss_beside_its_epoch(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: bars are drawn on one only (76n)
    # val accuracy is 1.0 from epoch 1 (separable classes, val = train), so patience 2 ends the run after epoch 3 of
    # 10. Before: the bar's last state was "2/10", and each drawn loss was the one of the epoch after the count
    images, labels = _separable()
    config = TrainConfig(model="lenet5", epochs=10, patience=2, schedule="constant", batch_size=16, device="cpu",
                         threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, progress=True)
    captured = capsys.readouterr()
    assert len(trained.history) == 3
    assert captured.out.splitlines()[0] == ("train lenet5: stopped at epoch 3/10 (patience 2: best val acc 1.0000 at "
                                            "epoch 1)")
    draws = _draws(captured.err)
    assert captured.err.endswith("\n")  # closed: nothing is drawn after the lines on stdout
    assert re.match(r"train lenet5:  30%\|\S+\s*\| 3/10 \[", draws[-1])
    for draw in draws:  # a drawn loss is the epoch's the count has reached (tqdm may skip some draws, never reorder)
        count = int(re.search(r"\| (\d+)/10 \[", draw).group(1))
        loss = re.search(r"loss=([0-9.]+), val_acc=([0-9.]+)\]$", draw)
        assert (loss is None) == (count == 0)
        if loss is not None:
            record = trained.history[count - 1]
            assert loss.groups() == (f"{record['train_loss']:.3f}", f"{record['val_acc']:.3f}")


@pytest.mark.hostile("represent")
def test_a_selfsup_run_stopped_by_its_seconds_leaves_its_bar_at_the_epochs_run(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: bars are drawn on one only (76n)
    # a budget of a microsecond: the first epoch overruns it, so the run stops after epoch 1 of 30. Before: the bar's
    # last state was "0/30" beside epoch 1's loss
    images = np.random.default_rng(0).integers(0, 255, (32, 8, 8, 1), dtype=np.uint8)
    config = SelfSupConfig(epochs=30, seconds=1e-6, batch_size=16, width=4, threads=1, device="cpu")
    trained = pretrain(images, config=config, seed=0, progress=True)
    err = capsys.readouterr().err
    assert len(trained.history) == 1
    assert err.endswith("\n")
    last = _draws(err)[-1]
    assert re.match(r"represent selfsup:   3%\|\S*\s*\| 1/30 \[", last)
    assert last.endswith(f", loss={trained.history[0]['loss']:.3f}]")


@pytest.mark.hostile("report")
def test_the_threshold_summary_says_off_for_an_issue_left_out_not_zero(tmp_path, monkeypatch, capsys):
    # before: "threshold: dark 0, light 0, blurry 0, ...": an issue nothing judged read as judged and clean
    params = undamaged_params()
    del params["threshold"]["issues"]["blurry"]
    project = make_project(tmp_path / "project", params)
    tiny_degraded(project, score=params["score"])
    done = _stage_in_process(project, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((project / "metrics/threshold.json").read_text())
    summary = done.stdout.splitlines()[0]
    assert summary.startswith("threshold: ")
    said = dict(part.split(" ") for part in summary.removeprefix("threshold: ").split(", "))
    assert said == {issue: "off" if issue == "blurry" else str(entry["flagged"]) for issue, entry in metrics.items()}
    assert metrics["blurry"]["rule"] == "off"


@pytest.mark.hostile("training")
def test_each_fold_model_of_a_cnn_judge_names_its_fold_in_its_lines(capsys):
    # a learning rate too small to learn and 9 val images: every fold model keeps epoch 1 and warns of it. Before:
    # six lines "train lenet5: stopped at epoch 2/2 ...", twelve warnings "warning: train lenet5: the model kept is"
    images, labels = _separable(90)
    config = TrainConfig(model="lenet5", epochs=2, schedule="constant", lr=1e-9, batch_size=16, device="cpu",
                         threads=1)
    cross_val_pred_probs(images, labels, val_images=images[:9], val_labels=labels[:9], config=config,
                         classes=["a", "b", "c"], folds=3, repeats=2, seed=0, progress=True)
    lines = capsys.readouterr().out.splitlines()
    models = [f"train lenet5 (confident-learn fold {fold}/3, repeat {repeat}/2)" for repeat in (1, 2)
              for fold in (1, 2, 3)]
    assert [line.split(": stopped at epoch 2/2 ")[0] for line in lines if "stopped at" in line] == models
    # each model warns twice: it kept epoch 1, and it names one class for every val image
    warned = [line.split(": the model kept is ")[0] for line in lines if line.startswith("warning: ")]
    assert warned == [f"warning: {model}" for model in models for _ in range(2)]


@pytest.mark.hostile("training")
def test_each_fold_model_of_embedding_cleans_judge_names_its_fold_in_its_lines(capsys):
    # embedding_clean.embedding judge, mode folds. Before: "train lenet5: stopped at epoch 2/2 ..." three times alike
    images, labels = _separable(90)
    config = TrainConfig(model="lenet5", epochs=2, schedule="constant", batch_size=16, device="cpu", threads=1)
    embedding_spaces(images, labels, val_images=images[:30], val_labels=labels[:30], config=config, num_classes=3,
                     mode="folds", folds=3, seed=0, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": stopped at epoch ")[0] for line in lines if "stopped at" in line] == [
        f"train lenet5 (embedding-clean fold {fold}/3)" for fold in (1, 2, 3)]
