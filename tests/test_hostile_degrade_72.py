"""Hostile degrade settings (probe 72):

A per-class share that rounds to no image of one class beside others it takes (a ``rates`` entry of a small class,
a class_subsample ``keep`` that keeps every image of one class it names) says so, naming the class, rather than
running as if that class had been damaged too.

In-process on tiny imagesets: degrade itself, or the degrade stage's main in a tiny project.
"""

import numpy as np
import pandas as pd
import pytest

from winnow.degrade import degrade
from winnow.imageset import ImageSet

CLASSES = ["cat", "dog", "owl"]


def imageset(train, *, channels=1) -> ImageSet:
    """``train[c]`` train images of class ``c`` and 1 val and 1 test image per class, random 8x8 pixels."""
    rows = [(f"train-{c}-{i}", "train", c) for c, n in enumerate(train) for i in range(n)]
    rows += [(f"{split}-{c}", split, c) for split in ("val", "test") for c in range(len(CLASSES))]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(
        source="t", orig_h=8, orig_w=8, orig_mode="L" if channels == 1 else "RGB", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, channels), dtype=np.uint8)
    return ImageSet(images=images, manifest=manifest, classes=list(CLASSES))


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("perturbation, train, planted, line", [
    # 0.1 of cat's 4 images is 0.4, no image; 0.5 of dog's 4 is 2
    ({"kind": "symmetric_noise", "rates": {"cat": 0.1, "dog": 0.5}}, [4, 4, 4], {"dog": 2},
     "warning: degrade.perturbations[0] (symmetric_noise) rates['cat'] took no image: 0.1 of its 4 train images "
     "rounds to none; change it, or leave 'cat' out of rates"),
    ({"kind": "pair_flip", "rates": {"cat": 0.1, "dog": 0.5}, "mapping": {"cat": "owl", "dog": "owl"}}, [4, 4, 4],
     {"dog": 2},
     "warning: degrade.perturbations[0] (pair_flip) rates['cat'] took no image: 0.1 of its 4 train images rounds to "
     "none; change it, or leave 'cat' out of rates"),
    # keep 0.9 of cat's 4 images is 3.6, all 4 kept; of dog's 20 it is 18, 2 removed
    ({"kind": "class_subsample", "classes": ["cat", "dog"], "keep": 0.9}, [4, 20, 4], {"dog": 2},
     "warning: degrade.perturbations[0] (class_subsample) took no image of class 'cat': keep 0.9 of its 4 train "
     "images rounds to keeping all 4; change it, or leave 'cat' out of classes"),
], ids=["symmetric-rates", "pair-flip-rates", "class-subsample-keep"])
def test_a_share_that_rounds_to_no_image_of_one_class_beside_others_says_so(capsys, perturbation, train, planted,
                                                                           line):
    # before: not a word; the ground truth recorded cat's share beside dog's, and the run read as planting both
    source = imageset(train)
    _, log = degrade(source, perturbations=[perturbation], seed=0)
    classes = dict(zip(source.manifest["id"], source.manifest["label"]))
    assert log["id"].map(classes).map(CLASSES.__getitem__).value_counts().to_dict() == planted
    assert capsys.readouterr().out.splitlines() == [line]


@pytest.mark.hostile("intermediates")
def test_a_share_that_takes_some_of_every_class_it_names_says_nothing(capsys):
    _, log = degrade(imageset([10, 10, 10]), perturbations=[
        {"kind": "symmetric_noise", "rates": {"cat": 0.2, "dog": 0.3}},
        {"kind": "class_subsample", "classes": ["owl"], "keep": 0.5}], seed=0)
    # owl's 10 x 0.5 removed; cat's 10 x 0.2 and dog's 10 x 0.3 relabelled
    assert log["kind"].value_counts().to_dict() == {"class_subsample": 5, "symmetric_noise": 5}
    assert capsys.readouterr().out == ""
