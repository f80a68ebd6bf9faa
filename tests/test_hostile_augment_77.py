"""Hostile augmentation and balance, probe 77:

- balance.policy of kind trivial with noise at magnitude 1 (the largest): trivial draws each copy's strength from
  [0, 1], so a few noise copies come out within 2 grey levels of their source; the warning told the user to "raise
  balance.policy.magnitude", which the params check refuses above 1; now it names kind rand, whose strengths start at
  half the magnitude (and the searched policy's warning augment_search.kinds), and under kind rand the warning is gone.

Each checks the whole line a user reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from winnow.balance import balanced_augment
from winnow.balance_checks import checked_copies
from winnow.configs import Policy

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _noise_copies(kind: str):
    """290 copies of random 12x12 grey images (classes of 300 and 10) by noise alone at magnitude 1, and how many of
    them lie within 2 grey levels of their source at every pixel, counted here from the pixels."""
    labels = np.repeat([0, 1], [300, 10])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 12, 12, 1), dtype=np.uint8)
    policy = Policy(ops=("noise",), n=1, magnitude=1.0, kind=kind)
    made = balanced_augment(images, labels, policy=policy, seed=0, num_classes=2)
    moved = np.abs(made.images.astype(np.int64) - images[made.source]).max(axis=(1, 2, 3))
    return made, images, policy, int((moved <= 2).sum())


@pytest.mark.hostile("augment")
def test_weak_noise_copies_at_magnitude_1_are_told_to_use_kind_rand_not_to_raise_the_magnitude():
    # before: "...: they add weight, not variety; raise balance.policy.magnitude" at magnitude 1, a value the params
    # check refuses to raise (magnitude is in (0, 1]), and "raise augment_search.magnitudes" for the searched policy
    made, images, policy, close = _noise_copies("trivial")
    assert 0 < close < len(made.images) / 2  # a few, not most: a warning, not a refusal
    for fixed, setting in ((True, "balance.policy.kind: rand"), (False, "augment_search.kinds: [rand]")):
        _, warnings = checked_copies(made, images, policy, fixed=fixed)
        assert warnings == [
            f"warning: balance: {close} of 290 augmented copies are within 2 grey levels of their source at every pixel "
            f"({close} of the 290 made with noise): they add weight, not variety; set {setting}, whose strengths start "
            "at half the magnitude, not at 0"]
    # the advice taken: kind rand at magnitude 1 makes no copy so close, and no warning
    made, images, policy, close = _noise_copies("rand")
    assert close == 0
    assert checked_copies(made, images, policy, fixed=True)[1] == []
