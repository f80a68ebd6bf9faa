"""Hostile inputs of balance, gan-synthesize and augment-search, tenth pass:

- a GAN whose generator's weights the last step of an epoch made non-finite, after that epoch's (finite) losses were
  taken: refused by train_gan before its checkpoint is saved, as winnow.training refuses a classifier so broken.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hostile_harness import assert_nothing_left, files_under
from winnow.configs import GanConfig
from winnow.errors import WinnowError
from winnow.gan import train_gan

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_a_generator_broken_by_the_last_step_of_an_epoch_is_refused_before_its_checkpoint(tmp_path, monkeypatch):
    # one epoch of one step (4 images, batch 4): the generator's optimiser, made first, leaves its first weight NaN
    # after its step, once the epoch's losses are taken, as a step too large does. Before: the losses were finite, so
    # train_gan saved the NaN generator and returned it; its samples, NaN cast to uint8, came out black and the stage
    # kept them in augmented (threshold 0: 4 of 4 kept), exit 0
    made = []

    class Breaking(torch.optim.Adam):
        def __init__(self, params, **options):
            super().__init__(params, **options)
            made.append(self)

        def step(self, closure=None):
            out = super().step(closure)
            if self is made[0]:
                with torch.no_grad():
                    self.param_groups[0]["params"][0].view(-1)[0] = float("nan")
            return out

    monkeypatch.setattr(torch.optim, "Adam", Breaking)
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1), dtype=np.uint8)
    config = GanConfig(latent_dim=8, width=4, epochs=1, batch_size=4, ac_weight=2.0, device="cpu")
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        train_gan(images, np.array([0, 0, 1, 1]), config=config, num_classes=2, seed=0, progress=False,
                  checkpoint=tmp_path / "gan.pt")
    assert str(refused.value) == (
        "gan: training diverged: the generator's weights became non-finite in the last step of epoch 1, after its "
        "losses were taken; lower gan.train.lr, gan.train.lr_d or gan.train.ac_weight (2)")
    assert_nothing_left(tmp_path, before)
