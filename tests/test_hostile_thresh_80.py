"""Stop 80: threshold.bins' cost, and the all-white image's light score.

- threshold.bins (and embedding_clean.bins, read by the same cut methods) 65536 was accepted, where the auto cut
  smooths its histogram over a bandwidth of bins: its time grows with their square (8,068 scores: 0.015 s an issue at
  4096 bins, 0.29 s at 16384, 1-5 s at 65536 on a quiet CPU, 7-16 s loaded). Now above 4096 is one line with the
  range and why.
- an all-white RGB image scored light 3e-8 (HSP's weights sum to 1 only up to float32 rounding: white's brightness
  read 0.99999994) and dark 0.99999994, so a fixed light cut of 0 flagged none, while an all-black image scores dark
  exactly 0. Now an all-white image scores light 0 and dark 1 exactly, as a grey one did; no other image's score moved
  (every score of MNIST-5k and 400 constructed images byte for byte, before and after).
"""

import numpy as np
import pytest

from hostile_harness import params_with
from test_quality import TEXTURE
from winnow.errors import WinnowError
from winnow.params import validate
from winnow.quality import quality_flags, score_images

WHY = (": the auto cut smooths its histogram over a bandwidth of bins, so its time grows with the square of their "
       "number (8,068 scores: 0.02 s an issue at 4096, 1-5 s at 65536); use 2 to 4096 (default 256)")


@pytest.mark.parametrize("path", ["threshold.bins", "embedding_clean.bins"])
def test_bins_past_4096_are_refused_with_the_range_and_why(path):
    with pytest.raises(WinnowError) as raised:
        validate(params_with(path, 65536))
    assert str(raised.value) == f"params.yaml: {path}: 65536 is above 4096{WHY}"


def test_bins_of_4096_are_accepted():
    assert validate(params_with("threshold.bins", 4096))["threshold"]["bins"] == 4096


def _flat(value, channels: int) -> np.ndarray:
    return np.full((32, 32, channels), value, np.uint8)


@pytest.mark.parametrize("channels", [3, 1])
def test_an_all_white_image_scores_light_0_and_a_fixed_light_cut_of_0_flags_it(channels):
    import pandas as pd

    texture = TEXTURE if channels == 3 else TEXTURE[..., :1]
    # white but one pixel a level off: clipped all the same, but not saturated, so not at the extreme
    almost = _flat(255, channels)
    almost[0, 0, 0] = 254
    images = np.concatenate([texture, _flat(255, channels)[None], _flat(0, channels)[None], almost[None]])
    scores = score_images(images)
    white, black = -3, -2
    # brightness 255/255 = 1 at every pixel: light 1 - (1 + 1) / 2 = 0, dark (a percentile of it) 1
    assert scores["light"][white] == 0.0 and scores["dark"][white] == 1.0
    assert scores["dark"][black] == 0.0 and scores["light"][black] == 1.0
    # one flat colour: every pixel at the most common brightness, and no detail to call blurred
    assert scores["low_information"][[white, black]].tolist() == [0.0, 0.0]
    assert scores["blurry"][[white, black]].tolist() == [1.0, 1.0]
    table = pd.DataFrame({"id": [f"img{k}" for k in range(len(images))], **scores})
    flags, cuts, _ = quality_flags(table, {"light": {"method": "fixed", "value": 0},
                                           "dark": {"method": "fixed", "value": 0}})
    assert np.flatnonzero(flags["light"]).tolist() == [len(images) + white]
    assert np.flatnonzero(flags["dark"]).tolist() == [len(images) + black]
