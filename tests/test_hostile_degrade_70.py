"""Hostile degrade settings (probe 70):

- a long tail (class_subsample imbalance_ratio, its classes left to the data) after a class_removal spreads its ratio
  over the classes the removal left, and records those, rather than a tail of half the ratio recorded as the whole.

In-process on tiny imagesets.
"""

import json

import numpy as np
import pandas as pd
import pytest

from winnow.degrade import degrade
from winnow.imageset import ImageSet


def imageset(train, classes) -> ImageSet:
    """``train[c]`` train images of class ``c`` and 1 val and 1 test image per class, random 8x8 grey pixels."""
    rows = [(f"train-{c}-{i}", "train", c) for c, n in enumerate(train) for i in range(n)]
    rows += [(f"{split}-{c}", split, c) for split in ("val", "test") for c in range(len(classes))]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    return ImageSet(images=images, manifest=manifest, classes=list(classes))


@pytest.mark.hostile("params")
@pytest.mark.parametrize("removed, counts, tail", [("owl", [40, 10, 0], [0, 1]), ("cat", [0, 40, 10], [1, 2])])
def test_a_long_tail_after_a_class_removal_spreads_its_ratio_over_the_classes_left(removed, counts, tail):
    # before: the tail's places counted the removed class, so of cat, dog and owl with owl removed, cat kept all 40 and
    # dog 1/2 (20), a ratio of 2 recorded as imbalance_ratio 4 over [0, 1, 2]; with cat removed, dog, the largest left,
    # was cut to half. A ratio of 4 over the two classes left keeps the head whole and the tail at 40 / 4
    out, log = degrade(imageset([40, 40, 40], ["cat", "dog", "owl"]), seed=0, perturbations=[
        {"kind": "class_removal", "classes": [removed]}, {"kind": "class_subsample", "imbalance_ratio": 4}])
    assert np.bincount(out.labels[out.manifest["split"] == "train"], minlength=3).tolist() == counts
    assert json.loads(log.loc[log["kind"] == "class_subsample", "params"].iloc[0]) == {"classes": tail,
                                                                                       "imbalance_ratio": 4.0}
