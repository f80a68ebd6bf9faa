"""Hostile augmentation search and balance, probe 80:

- :func:`winnow.augment.augment` (balance's copies, density's val images) took 2,048 images a batch whatever their
  size: 1.7 GB of float temporaries above the copies for 96x96 RGB, about 10 GB at 224x224; now a batch holds at most
  2,048 32x32 images' pixels, and at 32x32 and below the copies are as before.
"""

from __future__ import annotations

import numpy as np
import pytest

import winnow.augment as augment_module
from winnow.augment import BATCH_PIXELS, augment
from winnow.configs import Policy

ROTATE = Policy(ops=("rotate",), n=1)


@pytest.mark.hostile("augment")
def test_copies_of_large_images_are_made_a_bounded_number_of_pixels_at_a_time(monkeypatch):
    seen = []
    apply_policy = augment_module.apply_policy

    def counting(x, policy, *, generator):
        seen.append(x.shape[0] * x.shape[2] * x.shape[3])
        return apply_policy(x, policy, generator=generator)

    monkeypatch.setattr(augment_module, "apply_policy", counting)
    images = np.random.default_rng(0).integers(0, 256, (300, 96, 96, 1), dtype=np.uint8)
    copies, _ = augment(images, policy=ROTATE, seed=0)
    assert copies.shape == images.shape and copies.dtype == np.uint8
    assert sum(seen) == 300 * 96 * 96  # every image, in batches no larger than the bound
    assert max(seen) <= BATCH_PIXELS
    # 32x32 images: 2,048 a batch as before, so the balance copies of such images are those it made before
    seen.clear()
    small = np.random.default_rng(1).integers(0, 256, (2049, 32, 32, 1), dtype=np.uint8)
    np.testing.assert_array_equal(augment(small, policy=ROTATE, seed=3)[0],
                                  augment(small, policy=ROTATE, seed=3, batch_size=2048)[0])
    assert seen[0] == 2048 * 32 * 32
