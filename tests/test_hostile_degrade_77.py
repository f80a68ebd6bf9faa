"""Hostile degrade settings (probe 77):

- a low_information thumbnail or a downscale on images too small for any size (1x1, 2x2: ingest.size null keeps a
  source's size) is told the images are too small, not given a range no value holds ("[2, 1]");
- an odd_aspect_ratio on files of 1x1, or on the side of 1 where the files' side is 1 pixel, is told no ratio there
  changes their shape, not to move the ratio "far enough from 1", which no ratio on that side is.

In-process on tiny imagesets: degrade itself.
"""

import numpy as np
import pandas as pd
import pytest
from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import ImageSet

CLASSES = ["cat", "dog", "owl"]


def imageset(*, side: int, channels: int = 1, files=None) -> ImageSet:
    """4 train, 1 val and 1 test image per class of random ``side`` x ``side`` pixels; ``files``: the files' (height,
    width) before ingest (default the stored size)."""
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in (("train", 4), ("val", 1), ("test", 1))
            for c in range(3) for i in range(n)]
    height, width = files or (side, side)
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(
        source="t", orig_h=height, orig_w=width, orig_mode="L" if channels == 1 else "RGB", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), side, side, channels), dtype=np.uint8)
    return ImageSet(images=images, manifest=manifest, classes=list(CLASSES))


def refusal(source: ImageSet, perturbation: dict) -> str:
    with pytest.raises(WinnowError) as refused:
        degrade(source, perturbations=[perturbation])
    return str(refused.value)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("side, channels, perturbation, least", [
    (1, 1, {"kind": "low_information", "fraction": 0.25, "size": 1}, 1),
    (1, 3, {"kind": "downscale", "fraction": 0.25, "size": 2}, 2),
    (2, 1, {"kind": "downscale", "fraction": 0.25, "size": 2}, 2),
])
def test_a_size_on_images_too_small_for_any_is_told_so(side, channels, perturbation, least):
    # before: "size must be an integer in [1, 0], got 1" and "[2, 1], got 2": a range no size holds, which the user
    # could only read as a size to change
    assert refusal(imageset(side=side, channels=channels), perturbation) == (
        f"degrade.perturbations[0] ({perturbation['kind']}): the images are {side}x{side}, too small for any size (it "
        f"must be at least {least} and below their smaller side); set ingest.size (8 to 1024) to resize them, or "
        "remove this entry")


@pytest.mark.hostile("params")
def test_a_size_that_fits_the_images_still_runs():
    # a 1x1 thumbnail on the black canvas of a 2x2 image: all but the top-left pixel black
    out, log = degrade(imageset(side=2), perturbations=[{"kind": "low_information", "fraction": 0.25, "size": 1}])
    thumbnails = out.images[out.manifest["id"].isin(log["id"]).to_numpy()]
    assert len(log) == 3 and thumbnails.reshape(3, 4)[:, 1:].tolist() == [[0, 0, 0]] * 3


@pytest.mark.hostile("params")
@pytest.mark.parametrize("ratio", [0.5, 3.0])
def test_an_odd_aspect_ratio_of_1x1_files_is_told_no_ratio_changes_them(ratio):
    # before: "ratio must be far enough from 1 to change a 1x1 file's shape, got 0.5": 0.01 or 100 were refused alike
    assert refusal(imageset(side=8, files=(1, 1)), {"kind": "odd_aspect_ratio", "fraction": 0.25, "ratio": ratio}) == (
        "degrade.perturbations[0] (odd_aspect_ratio): no ratio changes the shape of the files, which are 1x1 (the odd "
        "file is smaller than theirs in one direction); remove this entry")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("files, ratio, line", [
    ((1, 8), 3.0, "ratio must be below 1 for files of 1x8 (the odd file is smaller than theirs in one direction, and "
                  "their height is 1 pixel), got 3.0"),
    ((8, 1), 0.5, "ratio must be above 1 for files of 8x1 (the odd file is smaller than theirs in one direction, and "
                  "their width is 1 pixel), got 0.5"),
])
def test_an_odd_aspect_ratio_on_the_side_a_1_pixel_file_cannot_take_names_the_other(files, ratio, line):
    # before: "ratio must be far enough from 1 to change a 1x8 file's shape, got 3.0": no ratio above 1 does
    source = imageset(side=8, files=files)
    assert refusal(source, {"kind": "odd_aspect_ratio", "fraction": 0.25, "ratio": ratio}) == (
        f"degrade.perturbations[0] (odd_aspect_ratio): {line}")
    # the other side of 1, as the line says, plants the damage
    _, log = degrade(source, perturbations=[{"kind": "odd_aspect_ratio", "fraction": 0.25, "ratio": 1 / ratio}])
    assert len(log) == 3
