"""Hostile ends of the 67th stop's probe: the GAN checkpoint gan-synthesize keeps (``models/gan.pt``, persisted
under DVC) resumed or reused across a change of winnow's code."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from winnow import gan
from winnow.gan import GanConfig, train_gan

TINY = GanConfig(latent_dim=8, width=4, epochs=2, batch_size=8, device="cpu")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digits(n=32, size=8):
    """Class 0: a bright top half, class 1: a bright bottom half (uint8 NHWC)."""
    images = np.zeros((n, size, size, 1), np.uint8)
    labels = np.arange(n) % 2
    images[labels == 0, : size // 2] = 255
    images[labels == 1, size // 2:] = 255
    return images, labels


@pytest.mark.hostile("interrupted")
def test_a_finished_gan_of_other_code_is_trained_afresh_not_reused(tmp_path, monkeypatch):
    # before: src/winnow/gan.py edited (a winnow update: the discriminator's LeakyReLU slope 0.1 -> 0.3) made dvc
    # repro rerun gan-synthesize, which reused the persisted models/gan.pt of the old code as it was: its history
    # (d_loss 2.9936 at epoch 2) and its samples, where the new code trains to d_loss 3.0443, exit 0
    images, labels = _digits()
    train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "gan.pt")
    monkeypatch.setattr(gan, "CODE", {**gan.CODE, "src/winnow/gan.py": "another version"})
    saved = []  # the epochs trained and saved under the other code
    write = gan._save
    monkeypatch.setattr(gan, "_save", lambda path, **run: (saved.append(run["history"][-1]["epoch"]), write(path, **run)))
    new = train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "gan.pt")
    assert saved == [1, 2]  # both epochs, from the first: nothing of the old code's run carried on
    # and the checkpoint it left is the new code's run: reused as it is by the next run of that code
    saved.clear()
    again = train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=tmp_path / "gan.pt")
    assert saved == [] and again.history == new.history


@pytest.mark.hostile("interrupted")
def test_a_gan_checkpoint_of_another_run_is_trained_afresh_in_one_line_naming_why(tmp_path, capsys):
    # before: a checkpoint of other images and another seed (a stopped run, then a person's verdicts and an edited
    # seed), or one of more epochs than gan.train.epochs now, was trained over from the first epoch without a word
    images, labels = _digits()
    path = tmp_path / "gan.pt"
    train_gan(images, labels, config=TINY, num_classes=2, seed=3, progress=False, checkpoint=path)
    one = GanConfig(**{**TINY.__dict__, "epochs": 1})
    shorter = train_gan(images, labels, config=one, num_classes=2, seed=3, progress=False, checkpoint=path)
    assert capsys.readouterr().out == (f"gan: {path} holds 2 epochs and gan.train.epochs is 1, whose nets it does not "
                                       "keep; training the GAN afresh\n")
    assert [h["epoch"] for h in shorter.history] == [1]
    reused = train_gan(images, labels, config=one, num_classes=2, seed=3, progress=False, checkpoint=path)
    assert capsys.readouterr().out == "" and reused.history == shorter.history  # the same run: no line
    other = train_gan(images // 2, labels, config=one, num_classes=2, seed=4, progress=False, checkpoint=path)
    assert capsys.readouterr().out == (f"gan: {path} holds another run (not the same images or labels, seed); "
                                       "training the GAN afresh\n")
    assert other.history != shorter.history
    # one thing differing (found by review: it read "(its seed differ)")
    train_gan(images // 2, labels, config=one, num_classes=2, seed=5, progress=False, checkpoint=path)
    assert capsys.readouterr().out == f"gan: {path} holds another run (not the same seed); training the GAN afresh\n"


@pytest.mark.hostile("interrupted")
def test_a_gan_checkpoint_of_other_device_rows_or_torch_is_trained_afresh_naming_it(tmp_path, monkeypatch, capsys):
    # found by review: the code kept was gan.py's alone, so after an edit of to_tensor (device_rows.py, a dep of
    # gan-synthesize: the images' pixels inverted) dvc repro reused the old code's finished run, d_loss 2.9936, where
    # that code trains to 2.5463; so too after an edit of torch_runtime's device or determinism switches, or an
    # upgrade of torch
    from winnow import device_rows, torch_runtime

    for module in (gan, device_rows, torch_runtime):  # the sources whose code runs in training, as they are now
        assert gan.CODE[f"src/winnow/{Path(module.__file__).name}"] == hashlib.sha256(
            Path(module.__file__).read_bytes()).hexdigest()
    assert gan.CODE["torch version"] == torch.__version__
    images, labels = _digits()
    path = tmp_path / "gan.pt"
    one = GanConfig(**{**TINY.__dict__, "epochs": 1})
    train_gan(images, labels, config=one, num_classes=2, seed=3, progress=False, checkpoint=path)
    for name in ("src/winnow/device_rows.py", "torch version"):
        monkeypatch.setattr(gan, "CODE", {**gan.CODE, name: "another"})  # the code of the next run
        train_gan(images, labels, config=one, num_classes=2, seed=3, progress=False, checkpoint=path)
        assert capsys.readouterr().out == (f"gan: {path} holds another run (not the same {name}); training the GAN "
                                           "afresh\n")
