"""Hostile reuse of a finished GAN (probe 68): a checkpoint trained on another device. The GAN trains in this process
on 32 tiny images for 1 epoch (a fraction of a second); the other device's checkpoint is the same file with its
record of the device changed, as a GPU's run writes it (this machine may have no GPU)."""

import pytest
import torch

from test_gan import TINY, _digits
from winnow.configs import GanConfig
from winnow.gan import train_gan
from winnow.stage import write_torch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_a_finished_gan_trained_on_another_device_is_trained_afresh_saying_why(tmp_path, capsys):
    # gan.train.device auto: a GAN trained on a GPU (bfloat16 autocast) then gan-synthesize rerun on a machine without
    # one (gan.threshold changed). Before: its nets were reused as they were, no epoch trained, exit 0: weights no
    # CPU run makes; a run killed there resumed its later epochs on the CPU
    images, labels = _digits()
    one = GanConfig(**{**TINY.__dict__, "epochs": 1})
    path = tmp_path / "gan.pt"
    train_gan(images, labels, config=one, num_classes=2, seed=3, progress=False, checkpoint=path)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    assert saved["device"] == "cpu"
    write_torch(path, {**saved, "device": "cuda:NVIDIA H100 80GB HBM3"})
    capsys.readouterr()
    again = train_gan(images, labels, config=one, num_classes=2, seed=3, progress=False, checkpoint=path)
    assert capsys.readouterr().out == (f"gan: {path} holds another run (not the same device); training the GAN "
                                       "afresh\n")
    assert [h["epoch"] for h in again.history] == [1]
    assert torch.load(path, map_location="cpu", weights_only=True)["device"] == "cpu"
