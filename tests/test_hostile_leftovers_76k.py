"""Leftovers of the stop 76 mends, found by their review (76k):

- gan-synthesize's ``train gan`` bar (b4c20194 mended train's and represent selfsup's, not this one): it wrapped the
  epochs, so each epoch's losses were drawn beside the count of the epoch before ("0/3 ... d=3.442, g=1.609"), and
  stayed so while the next epoch ran; now each epoch is counted as it ends, its losses beside it, a run resumed from a
  checkpoint counted on from the epochs it holds;
- embedding-clean's judge over several ``embedding_clean.rounds`` (dda49d83 named each fold, not each round): round 2's
  fold models printed round 1's lines word for word ("train lenet5 (embedding-clean fold 1/2)" twice); now
  "..., round 2/2";
- the judges trained outside the train stage in one model (embedding-clean's ``mode: single``, represent's
  ``source: judge``), which dda49d83 left out: their lines said "train lenet5: stopped at ...", as the train stage's
  do; now "train lenet5 (embedding-clean judge)" and "train lenet5 (represent judge)";
- train@<v>'s policy check of large images (4a131411 augmented its sample a few at a time): it then compared the whole
  sample's copies with their sources in one pass (imageset.largest_differences takes 1,024 images whatever their
  size: three int16 temporaries of the sample, 300 MB for 256 images of 256x256 RGB), and the balance stage's copies
  1,024 at a time (1.2 GB); now as many pixels at a time as they are augmented, with the same refusal.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from test_represent import blobs, opts
from winnow import represent
from winnow.configs import GanConfig, Policy, TrainConfig
from winnow.embeddings import clean_rounds, embedding_spaces
from winnow.gan import train_gan

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _draws(err: str) -> list[str]:
    """Each state a bar drew on stderr (tqdm starts each with a carriage return), without its line end."""
    return [draw.rstrip("\n") for draw in err.split("\r") if draw.strip()]


def _separable(n: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``(n, 12, 12, 1)`` images of 3 classes lenet5 tells apart within an epoch, and their labels."""
    labels = np.arange(n) % 3
    images = np.random.default_rng(0).integers(0, 40, (n, 12, 12, 1), dtype=np.uint8)
    images[labels == 1, :6] += 150
    images[labels == 2, 6:] += 150
    return images, labels


def _gan_draws_match_history(err: str, history: list[dict], *, first: int, total: int) -> None:
    draws = _draws(err)
    assert re.match(rf"train gan:\s+\d+%\|.*\| {first}/{total} \[", draws[0])
    assert re.match(rf"train gan: 100%\|\S+\| {total}/{total} \[", draws[-1])
    for draw in draws:  # the losses drawn are those of the epoch the count has reached (none before the first ends)
        count = int(re.search(rf"\| (\d+)/{total} \[", draw).group(1))
        losses = re.search(r", d=(-?[0-9.]+), g=(-?[0-9.]+)\]$", draw)
        assert (losses is None) == (count == first)
        if losses is not None:
            record = history[count - 1]
            assert losses.groups() == (f"{record['d_loss']:.3f}", f"{record['g_loss']:.3f}")


@pytest.mark.hostile("progress")
def test_the_gan_bar_counts_each_epoch_as_it_ends_its_losses_beside_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: bars are drawn on one only (76n)
    # before: "train gan:   0%| | 0/3 [..., d=3.442, g=1.609]", epoch 1's losses beside a count of 0, drawn as the
    # epoch ended and left so while epoch 2 ran (the count moved on only at the next draw)
    images = np.random.default_rng(0).integers(0, 255, (32, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(32) % 2
    tiny = dict(latent_dim=8, width=4, batch_size=8, device="cpu")
    trained = train_gan(images, labels, config=GanConfig(epochs=2, **tiny), num_classes=2, seed=0, progress=True,
                        checkpoint=tmp_path / "gan.pt")
    err = capsys.readouterr().err
    assert len(trained.history) == 2 and err.endswith("\n")
    _gan_draws_match_history(err, trained.history, first=0, total=2)
    # resumed from its checkpoint with one more epoch: the bar starts at the 2 epochs it holds
    resumed = train_gan(images, labels, config=GanConfig(epochs=3, **tiny), num_classes=2, seed=0, progress=True,
                        checkpoint=tmp_path / "gan.pt")
    err = capsys.readouterr().err
    assert len(resumed.history) == 3 and err.endswith("\n")
    _gan_draws_match_history(err, resumed.history, first=2, total=3)


@pytest.mark.hostile("cleaners")
def test_each_round_of_embedding_cleans_fold_models_names_its_round(capsys):
    # before: "train lenet5 (embedding-clean fold 1/2): stopped at ..." in round 1 and again in round 2, word for word
    images, labels = _separable()
    config = TrainConfig(model="lenet5", epochs=2, schedule="constant", batch_size=16, device="cpu", threads=1)
    clean_rounds(images, labels, np.array([f"img-{i}" for i in range(len(labels))]), val_images=images[:30],
                 val_labels=labels[:30], config=config, num_classes=3, rounds=2, mode="folds", folds=2, k=3, seed=0,
                 progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": stopped at epoch 2/2 (budget: best val acc ")[0] for line in lines if "stopped at" in line] == [
        f"train lenet5 (embedding-clean fold {fold}/2, round {r}/2)" for r in (1, 2) for fold in (1, 2)]


@pytest.mark.hostile("cleaners")
def test_embedding_cleans_single_judge_names_itself_not_the_train_stage(capsys):
    # before: "train lenet5: stopped at epoch 2/2 (budget: ...)" in embedding-clean's output, as the train stage says
    images, labels = _separable()
    config = TrainConfig(model="lenet5", epochs=2, schedule="constant", batch_size=16, device="cpu", threads=1)
    judgement = embedding_spaces(images, labels, val_images=images[:30], val_labels=labels[:30], config=config,
                                 num_classes=3, mode="single", seed=0, progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "stopped at" in line]
    assert len(lines) == 1
    assert re.fullmatch(re.escape("train lenet5 (embedding-clean judge): stopped at epoch 2/2 (budget: best val acc "
                                  f"{judgement.val_accuracy:.4f} at epoch ") + "[12]" + re.escape(")"), lines[0])


@pytest.mark.hostile("training")
def test_the_represent_judge_names_itself_not_the_train_stage(capsys):
    # before: "train lenet5: stopped at epoch 2/2 (budget: ...)" in the represent stage's output
    options = opts("judge", judge={"model": "lenet5", "epochs": 2, "batch_size": 8, "crop_padding": 0})
    rep = represent.embed_imageset(blobs(), options=options, seed=0, progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "stopped at" in line]
    assert lines == [f"train lenet5 (represent judge): stopped at epoch 2/2 (budget: best val acc "
                     f"{rep.info['judge_val_accuracy']:.4f} at epoch {rep.info['best_epoch']})"]


@pytest.mark.hostile("training")
def test_the_policy_checks_compare_large_copies_with_their_sources_a_few_at_a_time(monkeypatch):
    # before: one comparison of the 256 copies of the sample at once, and alike_to_earlier's of 1,024 copies
    from winnow import balance_checks
    from winnow.errors import WinnowError

    compared = []
    real = balance_checks.largest_differences

    def counted(images, others, rows):
        compared.append(len(images))
        return real(images, others, rows)

    monkeypatch.setattr(balance_checks, "largest_differences", counted)
    images = np.random.default_rng(0).integers(0, 256, (300, 256, 256, 1), dtype=np.uint8)
    weak = Policy.from_params({"ops": ["translate"], "n": 1, "magnitude": 0.000001, "kind": "rand"})
    with pytest.raises(WinnowError) as refused:
        balance_checks.check_policy_changes(images, weak, fixed=True, seed=0)
    assert str(refused.value) == ("balance.policy: 256 of 256 copies made with translate equal their source pixel for "
                                  "pixel (magnitude 1e-06: too close to no change); raise balance.policy.magnitude")
    assert compared == [16] * 16
    compared.clear()
    # the balance stage's 40 copies of one image, each compared with the first: 16 at a time
    copies = np.repeat(images[:1], 40, axis=0)
    assert balance_checks.alike_to_earlier(copies, np.zeros(40, np.int64)).tolist() == [False] + [True] * 39
    assert compared == [16, 16, 8]
