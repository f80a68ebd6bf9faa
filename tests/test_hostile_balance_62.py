"""Hostile inputs of balance, augment-search and gan-synthesize, third pass: settings at their edges that made
silently different data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from winnow.configs import GanConfig
from winnow.gan import build, train_gan


@pytest.mark.hostile("training")
def test_a_gan_batch_smaller_than_the_classes_trains_every_class(tmp_path):
    # before: the fakes of a batch of 4 asked for classes 0-3 only, so on 6 classes the generator's embedding of
    # classes 4 and 5 stayed as initialised (their samples drawn by an untrained embedding); on 100 classes and the
    # default batch of 64, classes 64-99 did
    classes = 6
    images = np.random.default_rng(0).integers(0, 256, (24, 8, 8, 1), dtype=np.uint8)
    config = GanConfig(latent_dim=8, width=4, epochs=1, batch_size=4, device="cpu")
    torch.manual_seed(0)  # train_gan seeds torch so before it builds its nets: these are its initial weights
    initial, _ = build(config, num_classes=classes, channels=1, image_size=8)
    trained = train_gan(images, np.arange(24) % classes, config=config, num_classes=classes, seed=0, progress=False)
    moved = (trained.generator.embed.weight.detach() - initial.embed.weight.detach()).abs().sum(dim=1)
    assert (moved > 0).tolist() == [True] * classes
