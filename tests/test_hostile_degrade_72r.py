"""Review of the degrade mends of probe 72 (tests/test_hostile_degrade_72.py), the cases next to them:

- a darkening (brightness factor below 1) whose picks are all black, among images of black and white only, is told
  its picks are black and that the images holding white (which a darkening floors) are there to pick, not that its
  picks are "black and white only" and "remove this entry";
- a class_subsample long tail whose place past the head rounds to keeping every image of its class, beside classes it
  thins, says so (as a ``keep`` that rounds so does), whether the tail's classes are given or left to the data; a tail
  that thins each class past its head says nothing.

In-process on the tiny imagesets of probe 72: the degrade stage's main in a tiny project, or degrade itself.
"""

import numpy as np
import pytest

from hostile_harness import assert_nothing_left
from test_hostile_degrade_72 import CLASSES, imageset, run_degrade
from winnow.degrade import degrade


def black_and_white_imageset():
    """22 train images (cat 10, dog 10, owl 2: the stage refuses a class without one) of black and white only (every
    value 0 or 255), all but cat's first two black."""
    source = imageset([10, 10, 2], channels=3)
    train = np.flatnonzero(source.manifest["split"] == "train")
    source.images[train] = np.where(source.images[train] > 127, 255, 0).astype(np.uint8)
    source.images[train[2:]] = 0
    return source


@pytest.mark.hostile("intermediates")
def test_a_darkening_of_black_picks_among_black_and_white_images_names_them_black(tmp_path, monkeypatch, capsys):
    # the 2 images fraction 0.1 picks of 22 (seed 0) are black. Before: "the 2 images it picked are black and white only
    # (every value 0 or 255), which it leaves as they were at a stronger setting too, ...; remove this entry", though
    # a darkening floors every 255 below it: the 2 images holding white were counted as left alike, and not offered
    code, before, project = run_degrade(tmp_path, monkeypatch, [{"kind": "brightness", "fraction": 0.1, "factor": 0.5}],
                                        black_and_white_imageset())
    assert (code, capsys.readouterr().err) == (
        1, "error: degrade.perturbations[0] (brightness): the 2 images it picked are black, which it leaves as they "
           "were at a stronger setting too, yet they would be recorded as damaged; 2 of the 22 train images are other "
           "than black: a larger fraction may pick some, or remove this entry\n")
    assert_nothing_left(project, before)
    # the advice works: half of the images (11) picks the two, which it darkens, and the black ones are left unrecorded
    _, log = degrade(black_and_white_imageset(), perturbations=[{"kind": "brightness", "fraction": 0.5,
                                                                 "factor": 0.5}], seed=0)
    assert set(log["id"]) == {"train-0-0", "train-0-1"}
    assert capsys.readouterr().out.splitlines() == [
        "degrade: perturbations[0] (brightness) left 9 of the 11 images it picked pixel for pixel as they were; they "
        "are not recorded as damaged"]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("classes", [None, ["cat", "dog", "owl"]], ids=["data-classes", "given-classes"])
def test_a_long_tail_place_that_rounds_to_keeping_its_whole_class_says_so(capsys, classes):
    # ratio 1.2 over cat 20, dog 4, owl 20: dog's place keeps 1.2 ** -0.5 = 0.913 of 4, 3.65, rounded to all 4; owl
    # keeps 20 / 1.2 = 16.7, 17. Before: not a word, the tail recorded over the three classes with dog left whole
    tail = {"kind": "class_subsample", "imbalance_ratio": 1.2, **({"classes": classes} if classes else {})}
    source = imageset([20, 4, 20])
    _, log = degrade(source, perturbations=[tail], seed=0)
    labels = dict(zip(source.manifest["id"], source.manifest["label"]))
    assert log["id"].map(labels).map(CLASSES.__getitem__).value_counts().to_dict() == {"owl": 3}
    assert capsys.readouterr().out.splitlines() == [
        "warning: degrade.perturbations[0] (class_subsample) took no image of class 'dog': its place in the tail keeps "
        "0.913 of its 4 train images, which rounds to keeping all 4; change imbalance_ratio, or leave 'dog' out of "
        "classes"]


@pytest.mark.hostile("intermediates")
def test_a_long_tail_that_thins_each_class_past_its_head_says_nothing(capsys):
    # ratio 2 over 20 a class: dog keeps 20 / sqrt(2), 14, and owl 10
    _, log = degrade(imageset([20, 20, 20]), perturbations=[{"kind": "class_subsample", "imbalance_ratio": 2}], seed=0)
    assert len(log) == 6 + 10
    assert capsys.readouterr().out == ""
