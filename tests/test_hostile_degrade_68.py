"""Hostile degrade settings (probe 68): a pair flip's mapping is named as the user wrote it. In-process, no data
beyond a tiny imageset: each case asserts the whole line a user gets."""

import numpy as np
import pandas as pd
import pytest

from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import ImageSet


def tiny_imageset() -> ImageSet:
    """4 train, 1 val and 1 test image of random 8x8 grey pixels per class of cat, dog, owl."""
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in (("train", 4), ("val", 1), ("test", 1))
            for c in range(3) for i in range(n)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    return ImageSet(images=images, manifest=manifest, classes=["cat", "dog", "owl"])


@pytest.mark.hostile("params")
@pytest.mark.parametrize("mapping, line", [
    # before: "mapping[0] must be a class other than itself, got 0" for {cat: cat}, an index the user never wrote
    ({"owl": "dog", "cat": "cat"}, "mapping[cat] must be a class other than itself, got 'cat'"),
    ({"dog": 1}, "mapping[dog] must be a class other than itself, got 1"),
])
def test_a_pair_flip_mapping_a_class_to_itself_names_it_as_written(mapping, line):
    with pytest.raises(WinnowError) as refused:
        degrade(tiny_imageset(), perturbations=[{"kind": "pair_flip", "fraction": 0.25, "mapping": mapping}])
    assert str(refused.value) == f"degrade.perturbations[0] (pair_flip): {line}"
