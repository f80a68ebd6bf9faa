"""Hostile degrade settings and winnow commands (probe 64): a perturbation that takes no image beside others that do.
Each case runs degrade in-process on a tiny imageset (three classes of random 8x8 images) and asserts the line, or
the exact data, a user gets."""

import numpy as np
import pandas as pd
import pytest

from winnow.degrade import degrade
from winnow.imageset import ImageSet

CLASSES = ["a", "b", "c"]


def tiny_imageset(train=(10, 10, 10)) -> ImageSet:
    """``train`` images per class of random 8x8 grey pixels, and 2 val and 2 test images per class."""
    sizes = {"train": train, "val": (2, 2, 2), "test": (2, 2, 2)}
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in sizes.items() for c in range(3) for i in range(n[c])]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    return ImageSet(images=images, manifest=manifest, classes=CLASSES)


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("perturbations", "counts", "line"), [
    # 0.01 of 30 rounds to no image; the blur's 3 images are planted
    ([{"kind": "blur", "fraction": 0.1, "kernel": 3}, {"kind": "symmetric_noise", "fraction": 0.01}], {"blur": 3},
     "warning: degrade.perturbations[1] (symmetric_noise) took no image: fraction 0.01 of the 30 train images rounds "
     "to none; change it, or leave it out"),
    ([{"kind": "symmetric_noise", "rates": {"a": 0.04}}, {"kind": "blur", "fraction": 0.1, "kernel": 3}], {"blur": 3},
     "warning: degrade.perturbations[0] (symmetric_noise) took no image: each rate rounds to none of its class's train "
     "images; change it, or leave it out"),
    # the class the first removal emptied: the second has nothing to thin
    ([{"kind": "class_removal", "classes": ["c"]}, {"kind": "class_subsample", "classes": ["c"], "keep": 0.5}],
     {"class_removal": 10},
     "warning: degrade.perturbations[1] (class_subsample) took no image: its classes keep no train image after the "
     "removals; change it, or leave it out"),
    # keep 0.97 of class a's 10 train images rounds to all 10
    ([{"kind": "class_subsample", "classes": ["a"], "keep": 0.97}, {"kind": "blur", "fraction": 0.1, "kernel": 3}],
     {"blur": 3},
     "warning: degrade.perturbations[0] (class_subsample) took no image: its share rounds to keeping every image it "
     "thins; change it, or leave it out"),
    # 0.6 of an image rounds to 1, but 15 + 15 + 1 would not fit in 30: picked() gives back the one rounded up most
    ([{"kind": "blur", "fraction": 0.49, "kernel": 3}, {"kind": "gaussian_noise", "fraction": 0.49, "sigma": 5},
      {"kind": "salt_pepper", "fraction": 0.02, "rate": 0.1}], {"blur": 15, "gaussian_noise": 15},
     "warning: degrade.perturbations[2] (salt_pepper) took no image: fraction 0.02 of the 30 train images rounds to 1, "
     "given back so that the others' rounded-up shares fit; change it, or leave it out"),
], ids=["fraction", "rates", "emptied-class", "keep", "given-back"])
def test_a_perturbation_that_takes_no_image_beside_others_says_so(capsys, perturbations, counts, line):
    # before: not a word; the run read as planting every perturbation listed, and only a 0 in metrics/degrade.json
    # (or a missing truth entry in the cleaners' metrics) told that one planted nothing
    _, log = degrade(tiny_imageset(), perturbations=perturbations, seed=0)
    assert log["kind"].value_counts().to_dict() == counts
    assert capsys.readouterr().out.splitlines() == [line]


def test_perturbations_that_all_take_images_say_nothing(capsys):
    _, log = degrade(tiny_imageset(), perturbations=[{"kind": "blur", "fraction": 0.1, "kernel": 3},
                                                     {"kind": "symmetric_noise", "fraction": 0.1}], seed=0)
    assert log["kind"].value_counts().to_dict() == {"blur": 3, "symmetric_noise": 3}
    assert capsys.readouterr().out == ""
