"""Hostile review of stop 78's new features, 79: ``dedup.orientations: any`` on images whose low DCT spectrum is mostly
zeros (a gradient, stripes: half their 64 coefficients are 0 but for float rounding).

Each turned pHash is made from the upright image's one DCT by flipping the sign of odd coefficients along a reversed
axis; a coefficient that is 0 but for rounding (~1e-14) kept its rounding's sign, so whether it lay above the median
(itself ~0) was noise: a gradient transposed, or stripes turned 90 degrees, hashed 28-31 bits from the copy's own
pHash, and the copy stayed in train as unique under ``any``."""

import numpy as np
import pytest

from test_hostile_dedup_78 import _groups, _stroke
from winnow.phash import phash64, turned, turned_phashes, turns_for

_RAMP = np.tile(np.linspace(0, 255, 28).astype(np.uint8), (28, 1))  # dark left, light right
_STRIPES = np.tile((np.arange(28) // 4 % 2 * 255).astype(np.uint8), (28, 1))  # vertical bars 4 px wide


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("name, image", [("ramp", _RAMP), ("stripes", _STRIPES)])
def test_a_sparse_spectrum_image_turned_90_degrees_is_its_turned_copy_under_any(name, image):
    copy = np.ascontiguousarray(image.T)  # the same picture on its side
    ids = [f"train/0/{name}.png", "train/0/other.png", f"train/0/{name}-turned.png"]
    anyway = _groups(ids, [image, _stroke(11), copy], orientations="any")
    assert anyway["reason"].tolist() == ["kept", "unique", "turned_duplicate"]
    # upright finds no copy: the turn is the only link between the two
    assert _groups(ids, [image, _stroke(11), copy])["reason"].tolist() == ["unique", "unique", "unique"]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("image", [_RAMP, _STRIPES], ids=["ramp", "stripes"])
def test_the_turned_phashes_of_a_sparse_spectrum_are_those_of_the_turned_pixels(image):
    # the pHash of each turned view from the one DCT equals phash64 of the turned pixels, bit for bit, where before
    # 24-31 of 64 bits differed on every turn of the ramp and the stripes
    turns = turns_for(28, 28)
    pixels = image[None, ..., None]
    direct = [int(phash64(np.ascontiguousarray(turned(pixels, turn)))[0]) for turn in turns]
    assert [int(h) for h in turned_phashes(pixels, turns=turns)[:, 0]] == direct
