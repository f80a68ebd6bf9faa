"""Hostile cases of the score, threshold and contracts stages (a probe's findings, third pass): each asserts the
numbers, or the line, a user gets, on a few small images or tables."""

import numpy as np
import pandas as pd
import pytest

from test_quality_gain import exposure, photos
from winnow.quality import quality_flags, score_images
from winnow.auto_rule import auto_cut
from winnow.thresholds import threshold_rule


def _digits(n: int, *, seed: int) -> np.ndarray:
    """uint8 ``(n, 16, 16, 1)``: black images each with a white stroke of 16 pixels (6%), so that every one's dark
    score (the 99th percentile of its brightness) is 1, pinned at the top, as photos on a white background are."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 16, 16, 1), np.uint8)
    for image, (row, col) in zip(images, rng.integers(2, 8, (n, 2))):
        image[row:row + 8, col:col + 2] = 255
    return images


@pytest.mark.hostile("score")
@pytest.mark.parametrize("darkened", [5, 12])
def test_underexposed_images_among_ones_pinned_at_the_top_are_flagged_dark(darkened):
    # before: 12 of 100 digits darkened to 25-47% of their brightness (the other 88 reaching white) were flagged none,
    # rule none: the 88 pinned at the top are left out of the cut, and the 12 left are one group with no second mode
    # (5 of them fewer than the rules need at all); 5 darkened to one value were flagged (the two-value case)
    images = _digits(100, seed=3)
    for k, image in enumerate(images[:darkened]):
        image[:] = np.floor(image * (0.25 + 0.02 * k))
    table = pd.DataFrame({"id": [f"i{k}" for k in range(100)], **score_images(images)})
    flags, cuts, rules = quality_flags(table, {"dark": {"method": "auto"}})
    assert np.flatnonzero(flags["dark"]).tolist() == list(range(darkened))
    assert rules["dark"] == "mode" and cuts["dark"] == pytest.approx(int(255 * (0.25 + 0.02 * (darkened - 1))) / 255)


@pytest.mark.hostile("score")
def test_a_minority_pinned_at_the_top_leaves_the_scores_below_to_the_other_rules():
    # the gap rule reads the top as the clean mode only where it holds most images: 10 at the top and 90 spread below
    # half of it are cut as before, by the rules on the 90
    scores = np.r_[np.ones(10), np.random.default_rng(0).uniform(0.0, 0.45, 90)]
    assert threshold_rule(scores, method="auto") == auto_cut(scores[scores < 1])


@pytest.mark.hostile("score")
@pytest.mark.parametrize("widening", ["bit replication", "rounding", "truncation"])
def test_photos_of_a_565_bit_camera_are_not_called_gained_among_ordinary_ones(widening):
    # an embedded camera's RGB565 frames (red and blue on a step of 8 codes, green of 4) widened to 8 bits: their
    # channels' codes interleave, and pooled they left holes between a green and a red code. Before, 10 of 10 such
    # photos scored light 1/16 and auto flagged all 10 among 110 ordinary ones; now each scores its exposure alone,
    # however a decoder widens the 5 and 6 bits (review: bit replication alone was tried)
    ordinary = photos(110, seed=21, low=20, high=235)
    bits = np.array([5, 6, 5])
    kept, top = photos(10, seed=22, low=20, high=235) >> (8 - bits), 2 ** bits - 1
    frames = {"bit replication": kept << (8 - bits) | kept >> (2 * bits - 8), "rounding": np.round(kept * 255 / top),
              "truncation": kept * 255 // top}[widening].astype(np.uint8)
    scores = score_images(np.concatenate([frames, ordinary]))
    assert [float(score) for score in scores["light"][:10]] == [pytest.approx(exposure(img), rel=1e-6)
                                                                 for img in frames]
    table = pd.DataFrame({"id": [f"i{k:03d}" for k in range(120)], **scores})
    flags, _, rules = quality_flags(table, {"light": {"method": "auto"}})
    assert (int(flags["light"].sum()), rules["light"]) == (0, "none")


@pytest.mark.hostile("score")
def test_photos_stretched_channel_by_channel_after_darkening_are_still_called_gained():
    # found by review: dim photos under a warm light (red, green and blue at 35%, 30% and 25%) auto-levelled channel by
    # channel (PIL's ImageOps.autocontrast) take a factor each, x3.4, x4.0 and x4.8, so their codes interleave with the
    # other channels' as an RGB565 source's do. Counting holes only between two codes of one channel (the RGB565 mend)
    # left these 10 among 110 ordinary photos scoring their exposure (0.69-0.73), flagged none; pooled holes are their
    # trace, and a source of 5 or 6 bits is told apart by its codes alone
    ordinary = photos(110, seed=21, low=20, high=235)
    dark = np.floor(photos(10, seed=22, low=20, high=235) * np.array([0.35, 0.3, 0.25]))
    low, high = dark.min(axis=(1, 2), keepdims=True), dark.max(axis=(1, 2), keepdims=True)
    stretched = np.floor((dark - low) * (255 / (high - low))).astype(np.uint8)
    scores = score_images(np.concatenate([stretched, ordinary]))
    assert [float(score) for score in scores["light"][:10]] == [pytest.approx(1 / 16)] * 10
    table = pd.DataFrame({"id": [f"i{k:03d}" for k in range(120)], **scores})
    flags, _, rules = quality_flags(table, {"light": {"method": "auto"}})
    assert np.flatnonzero(flags["light"]).tolist() == list(range(10))
