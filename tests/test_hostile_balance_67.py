"""Hostile inputs of balance, seventh pass: copies alike to each other though far from their source."""

from __future__ import annotations

import numpy as np
import pytest

from winnow.balance import balanced_augment
from winnow.balance_checks import checked_copies
from winnow.configs import Policy
from winnow.errors import WinnowError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("intermediates")
def test_copies_of_one_image_alike_behind_a_flip_are_refused():
    # b's one image takes 6 copies, each flipped (n 2 of 2 ops) with noise of sigma at most 0.005 x 51 = 0.26 grey
    # levels: each within a level of the image's mirror, so any two within 2, and the 5 after the first alike to it.
    # Before: written without a word (the source check compares with the unflipped image, the repeat check only
    # equal pixels), where [noise] alone at that magnitude is refused. The stage checks before it writes anything
    # (test_hostile_balance_more's refusals leave nothing behind)
    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1), dtype=np.uint8)
    policy = Policy(ops=("flip", "noise"), n=2, magnitude=0.005)
    made = balanced_augment(images, np.repeat([0, 1], [7, 1]), policy=policy, seed=0, num_classes=2)
    with pytest.raises(WinnowError) as refused:
        checked_copies(made, images, policy, fixed=True)
    assert str(refused.value) == (
        "balance.policy: 5 of 6 augmented copies are within 2 grey levels, at every pixel, of another copy of the same "
        "image (magnitude 0.005: too close to no change), so balanced would reach balance.target on near duplicates; "
        "raise balance.policy.magnitude, or lower balance.target")
