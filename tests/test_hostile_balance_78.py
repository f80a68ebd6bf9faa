"""Hostile ends of the 78th stop's mend of balance's leftovers.

- few_sources counted a class's source images as its rows: a class of 5 rows of one picture (exact duplicates pruned
  kept, dedup not among pruned.cleaners) got 5 copies of that picture and no warning ("5 source images"); now its one
  picture is counted, and the line says how many of its rows are duplicates;
- train@balanced, run alone (dvc repro -s train@balanced) after balance's settings, the seed or data/ingest changed,
  trained the balanced variant of the old ones, exit 0: its rows now record what balance made them of, and train
  refuses another in one line naming the stage to rerun;
- ingest never makes an id of balance's copies (bal-<id>-<k>) or degrade's (<id>~dup<i>): an image file is read under
  its path, image suffix included, and a file whose suffix is not an image's is set aside.
"""

from __future__ import annotations

import numpy as np
import pytest

from winnow.balance import balanced_augment, few_sources
from winnow.imageset import pixel_digest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_a_class_of_one_picture_in_many_rows_is_warned_of_as_one_source():
    # a: 10 distinct images; b: 5 rows of one picture, which balance copies 5 times. Before: None (b counted 5 sources)
    labels = np.repeat([0, 1], [10, 5])
    images = np.random.default_rng(0).integers(0, 256, (15, 8, 8, 1), dtype=np.uint8)
    images[10:] = images[10]
    made = balanced_augment(images, labels, policy={"ops": ["noise"], "n": 1}, seed=0, num_classes=2)
    assert few_sources(labels, made, ["a", "b"], digests=pixel_digest(images)) == (
        "warning: balance: class b ends with 10 train images from 1 source image (4 of its 5 train rows exact "
        "duplicates of another, 5 augmented copies); so few sources add little variety: give the class more train "
        "images")
