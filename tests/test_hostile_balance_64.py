"""Hostile inputs of balance, augment-search and gan-synthesize, fourth pass: a setting the copies did not follow,
and a distance that sized its two sides differently."""

from __future__ import annotations

import numpy as np
import pytest

from winnow.balance import _spread, balanced_augment
from winnow.gan_eval import class_frechet


@pytest.mark.hostile("training")
@pytest.mark.parametrize("edge_extra, edge_share", [(0.01, 5.39), (2.0, 13.35), (10.0, 29.15)])
def test_edge_cases_get_the_share_of_copies_edge_extra_asks_for(edge_extra, edge_share):
    # before: each image's share was rounded alone, and with fewer copies needed than images every edge case's
    # remainder beat every other image's: the 35 edge cases took 35 of the 53 copies at every edge_extra (0.01, 2,
    # 10 alike), 17 times the rest's copies an image where 2 asks for 3. By hand: the edge cases weigh 35 (1 +
    # edge_extra) of 312 + 35 (1 + edge_extra), so 53 copies give them 5.39, 13.35 and 29.15, rounded down or up
    labels = np.repeat([0, 1], [400, 347])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    scores = np.r_[np.zeros(400), np.arange(347.0)]  # class 1's farthest tenth: its last 35 images
    made = balanced_augment(images, labels, policy={"ops": ["noise"], "n": 1}, seed=0, num_classes=2,
                            edge_scores=scores, edge_fraction=0.1, edge_extra=edge_extra)
    copies = np.bincount(made.source, minlength=len(labels))
    edge = np.arange(len(labels)) >= 400 + 347 - 35
    assert np.flatnonzero(made.edge & (labels == 1)).tolist() == np.flatnonzero(edge).tolist()
    assert copies[edge].sum() in (int(edge_share), int(edge_share) + 1)
    assert copies.sum() == 53 and copies[labels == 0].sum() == 0
    # every image floor or ceil of its share (0.38 an edge case at edge_extra 2, 0.13 the rest): one copy at most
    assert copies.max() == 1


@pytest.mark.hostile("report")
@pytest.mark.parametrize("kept", [53, 10])
def test_few_kept_samples_of_the_real_images_own_distribution_score_like_real_images(kept):
    # before: the reference compared two halves of the real images (175 each) but the kept samples were as few as
    # the filter kept, and a covariance of fewer samples sits farther away: 53 samples drawn from the real images'
    # own distribution scored 7.06 against a reference of 3.32, and 10 of them 2.59 against 0.27, as if the
    # filter's picks were far from the real images. Now the reference takes as many real images as were kept
    rng = np.random.default_rng(0)
    real, drawn = rng.normal(size=(350, 84)), rng.normal(size=(kept, 84))  # one distribution: no distance to find
    frechet = class_frechet(real, drawn, seed=0)
    assert (frechet["samples"], frechet["dims"]) == (kept, kept // 2)  # both sides: as many images, as many dims
    assert 2 / 3 < frechet["generated"] / frechet["real_reference"] < 3 / 2


class _LastStart:
    """A generator whose uniform draw is the largest float below 1 (numpy's ``random()`` can return it)."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def permutation(self, n):
        return self.rng.permutation(n)

    def random(self):
        return 1 - 2.0 ** -53


@pytest.mark.hostile("training")
def test_a_systematic_start_just_below_one_gives_every_copy_to_an_image():
    # shares 1.5, 0.5, 0.5, 0.5: one copy each rounded down, two left over, drawn at 1 - 2**-53 and 1 + (1 - 2**-53),
    # which rounds to 2.0, the last boundary itself: before the guard searchsorted's index 4 of 4 images was an
    # IndexError traceback (a chance of 2**-53 a class, but a traceback)
    copies = _spread(3, np.array([3.0, 1.0, 1.0, 1.0]), rng=_LastStart())
    # the 1.5's fraction spans [0, 0.5) of the points' line: neither point falls in it
    assert copies[0] == 1 and sorted(copies[1:]) == [0, 1, 1]


@pytest.mark.hostile("training")
def test_a_systematic_start_just_below_one_gives_no_copy_to_a_whole_share():
    # shares 1.5 (four edge cases of weight 1.5) and 1 (the other image, whole): two copies left over, drawn at
    # 1 - 2**-53 and 2.0, the end; the last image in the draw's order is the whole share's, which has no fraction to
    # draw on. Before: held to the last image, it got a second copy, beyond the ceiling of its share
    copies = _spread(7, np.array([1.5, 1.5, 1.5, 1.5, 1.0]), rng=_LastStart())
    assert copies[4] == 1 and sorted(copies[:4]) == [1, 1, 2, 2]
