"""Hostile degrade settings (probe 72):

- a per-class share that rounds to no image of one class beside others it takes (a ``rates`` entry of a small class,
  a class_subsample ``keep`` that keeps every image of one class it names) says so, naming the class, rather than
  running as if that class had been damaged too;
- a near_duplicate ``hue`` on images of one channel, where the hue turn changes no pixel though low/high change the
  copies, is refused rather than recorded as a turn each copy never got;
- a grayscale conversion that picked only grey images, where the perturbations listed before it took every image in
  colour, is not told that a larger fraction may pick some (none it could pick is in colour);
- a deterministic damage whose picks were all images no stronger setting of it changes (black under a darkening or a
  gamma, a flat colour under a blur or a downscale, black under a thumbnail) is told so, not that its setting was too
  close to no change; likewise near duplicates of black images, which no low, high or hue changes, are not told to
  widen low/high;
- a data/ingest with a class that has no train image (which ingest refuses: written by hand, or before that check) is
  refused naming ingest, not degraded into a class no classifier learns, nor blamed on a damage with degrade off.

In-process on tiny imagesets: degrade itself, or the degrade stage's main in a tiny project.
"""

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, make_project, params_with
from test_hostile_degrade_70 import degrade_main
from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import ImageSet, write_imageset

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


def run_degrade(tmp_path, monkeypatch, perturbations, source: ImageSet, *, enabled=True):
    """The degrade stage's main in a project whose data/ingest is ``source``; returns its exit code (0 where it ran
    to the end), the project's files before it ran, and the project."""
    params = params_with("degrade", {"enabled": enabled, "disjoint": True, "perturbations": perturbations})
    params["variants"] = [v for v in params["variants"] if v != "oracle"]  # oracle needs degrade enabled
    project = make_project(tmp_path / "project", params)
    monkeypatch.chdir(project)
    write_imageset("data/ingest", source.images, source.manifest.drop(columns="digest"), source.classes)
    return (*degrade_main(project, monkeypatch), project)


@pytest.mark.hostile("intermediates")
def test_a_hue_turn_of_copies_of_one_channel_images_is_refused(tmp_path, monkeypatch, capsys):
    # before: exit 0, each of the 6 copies recorded in perturbations.parquet with the hue turn it drew (factors.hue up
    # to 0.3 of the colour wheel), none of them turned: grey pixels have no hue; only low/high changed them
    code, before, project = run_degrade(tmp_path, monkeypatch, [
        {"kind": "near_duplicate", "fraction": 0.5, "low": 0.8, "high": 1.2, "hue": 0.3, "mode": "add"}],
        imageset([4, 4, 4]))
    assert (code, capsys.readouterr().err) == (
        1, "error: degrade.perturbations[0] (near_duplicate): hue 0.3 turns no colour of the images, which have 1 "
           "channel, yet each copy would be recorded with its turn; set hue to 0, or leave it out\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_hue_turn_of_copies_of_colour_images_is_planted():
    _, log = degrade(imageset([4, 4, 4], channels=3), seed=0, perturbations=[
        {"kind": "near_duplicate", "fraction": 0.5, "low": 0.8, "high": 1.2, "hue": 0.3, "mode": "add"}])
    assert (log["kind"] == "near_duplicate").sum() == 6
    with pytest.raises(WinnowError) as refused:  # the same setting on the grey set, as the stage refuses it above
        degrade(imageset([4, 4, 4]), seed=0, perturbations=[
            {"kind": "near_duplicate", "fraction": 0.5, "low": 0.8, "high": 1.2, "hue": 0.3, "mode": "add"}])
    # (72r: any WinnowError passed here, a refusal of another cause too)
    assert str(refused.value) == (
        "degrade.perturbations[0] (near_duplicate): hue 0.3 turns no colour of the images, which have 1 channel, yet "
        "each copy would be recorded with its turn; set hue to 0, or leave it out")


@pytest.mark.hostile("intermediates")
def test_a_grayscale_conversion_left_no_colour_image_by_the_perturbations_before_it_is_told_so():
    # 20 train images, grey but for cat's first two; the brightness listed first takes 10 of them, both colour ones
    # among them (seed 0), and the grayscale's 1 to 10 picks are all among the 10 grey ones it left. Before: "2 of the
    # 20 train images are in colour: a larger fraction may pick some", and fractions 0.1, 0.2, 0.3 and 0.5 (every
    # image left) were each refused the same way
    source = imageset([10, 10, 0], channels=3)
    train = np.flatnonzero(source.manifest["split"] == "train")
    source.images[train[2:]] = source.images[train[2:], ..., :1]  # equal channels: grey
    brightness = {"kind": "brightness", "fraction": 0.5, "factor": 0.5}
    _, log = degrade(source, perturbations=[brightness], seed=0)
    assert {"train-0-0", "train-0-1"} <= set(log["id"])
    for fraction in (0.05, 0.5):
        with pytest.raises(WinnowError) as refused:
            degrade(source, perturbations=[brightness, {"kind": "grayscale", "fraction": fraction}], seed=0)
        picked = round(fraction * 20)
        assert str(refused.value) == (
            f"degrade.perturbations[1] (grayscale): the {picked} images it picked are grey already (channels at most a "
            "grey level apart), yet they would be recorded as damaged; none of the 10 train images the perturbations "
            "before it left is in colour (they took the 2); list it before them, or remove this entry")
    # listed before the brightness, a fraction of half the images picks a colour one
    _, log = degrade(source, perturbations=[{"kind": "grayscale", "fraction": 0.5}, brightness], seed=0)
    assert set(log.loc[log["kind"] == "grayscale", "id"]) <= {"train-0-0", "train-0-1"}
    assert (log["kind"] == "grayscale").sum() >= 1


def flat_imageset() -> ImageSet:
    """20 train images (10 a class), 18 of them black (of cat's last 8 and dog's 10), random colour 8x8 pixels."""
    source = imageset([10, 10, 0], channels=3)
    train = np.flatnonzero(source.manifest["split"] == "train")
    source.images[train[2:]] = 0
    return source


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("perturbation, held, other", [
    # a darkening floors white too: only black is left as it was (72r: was said to be "black and white only")
    ({"kind": "brightness", "factor": 0.5}, "black", "other than black"),
    ({"kind": "brightness", "factor": 2.0}, "black and white only (every value 0 or 255)", "of other values"),
    ({"kind": "gamma", "gamma": 2.0}, "black and white only (every value 0 or 255)", "of other values"),
    ({"kind": "blur", "kernel": 3}, "flat, one colour each", "of more than one colour"),
    ({"kind": "downscale", "size": 4}, "flat, one colour each", "of more than one colour"),
    ({"kind": "low_information", "size": 4}, "black", "other than black"),
], ids=["brightness", "brightness-light", "gamma", "blur", "downscale", "low_information"])
def test_a_damage_whose_picks_no_stronger_setting_changes_names_the_images(perturbation, held, other):
    # the 2 images fraction 0.1 picks among 20 (seed 0) are black. Before: "changed no pixel of the 2 images it picked
    # (factor 0.5: too close to no change); give a stronger setting", and no factor, gamma, kernel or size changes a
    # black image
    with pytest.raises(WinnowError) as refused:
        degrade(flat_imageset(), perturbations=[{**perturbation, "fraction": 0.1}], seed=0)
    assert str(refused.value) == (
        f"degrade.perturbations[0] ({perturbation['kind']}): the 2 images it picked are {held}, which it leaves as "
        f"they were at a stronger setting too, yet they would be recorded as damaged; 2 of the 20 train images are "
        f"{other}: a larger fraction may pick some, or remove this entry")
    # at the strongest setting too: the refusal's cause is the images
    strongest = {"brightness": {"factor": 0.0}, "gamma": {"gamma": 1000.0}, "blur": {"kernel": 17},
                 "downscale": {"size": 2}, "low_information": {"size": 1}}[perturbation["kind"]]
    with pytest.raises(WinnowError, match="which it leaves as they were at a stronger setting too"):
        degrade(flat_imageset(), perturbations=[{**perturbation, **strongest, "fraction": 0.1}], seed=0)


@pytest.mark.hostile("intermediates")
def test_a_damage_too_close_to_no_change_on_images_it_could_change_is_still_told_to_strengthen():
    with pytest.raises(WinnowError) as refused:
        degrade(imageset([10, 10, 0], channels=3), perturbations=[
            {"kind": "brightness", "factor": 1.001, "fraction": 0.1}], seed=0)
    assert str(refused.value) == ("degrade.perturbations[0] (brightness): changed no pixel of the 2 images it picked "
                                  "(factor 1.001: too close to no change); give a stronger setting")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("mode, copies", [("overwrite", 1), ("add", 2)])
def test_near_duplicates_of_black_images_are_not_told_to_widen_low_and_high(mode, copies):
    # the sources fraction 0.1 picks among 20 (seed 0) are black. Before: "... (low 0.8, high 1.2, hue 0.0: too close
    # to no change; ...); widen low/high, or use exact_duplicate", where jitter of any factor keeps black black
    spec = {"kind": "near_duplicate", "fraction": copies / 20, "mode": mode}
    with pytest.raises(WinnowError) as refused:
        degrade(flat_imageset(), perturbations=[spec], seed=0)
    assert str(refused.value) == (
        f"degrade.perturbations[0] (near_duplicate): {copies} of its {copies} copies are of black images, equal to "
        "their source at any low, high or hue, yet they would be recorded as near duplicates; use exact_duplicate (a "
        "copy of a black image is an exact one), or remove this entry")
    with pytest.raises(WinnowError, match="are of black images"):  # the widest range allowed changes nothing
        degrade(flat_imageset(), perturbations=[{**spec, "low": 0.25, "high": 255.0, "hue": 0.5}], seed=0)
    _, log = degrade(flat_imageset(), perturbations=[{**spec, "kind": "exact_duplicate"}], seed=0)
    assert (log["kind"] == "exact_duplicate").sum() == copies


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("train, enabled, line", [
    # degrade off: before, "error: degrade.perturbations: only class 'cat' keeps train images after the damage; a
    # classifier needs at least 2 classes, so remove or subsample fewer", of no damage
    ([4, 0, 0], False, "class 'dog' has no train images (2 in other splits), which ingest refuses (2 such class(es) "
                       "in all)"),
    # before: exit 0, data/degrade written with owl's val and test images and no train image of it
    ([4, 4, 0], True, "class 'owl' has no train images (2 in other splits), which ingest refuses (1 such class(es) in "
                      "all)"),
], ids=["off-one-class-taught", "on-one-class-untaught"])
def test_an_ingested_class_without_train_images_is_refused_naming_ingest(tmp_path, monkeypatch, capsys, train,
                                                                          enabled, line):
    code, before, project = run_degrade(tmp_path, monkeypatch, [{"kind": "blur", "fraction": 0.25, "kernel": 3}],
                                        imageset(train), enabled=enabled)
    assert (code, capsys.readouterr().err) == (
        1, f"error: data/ingest/manifest.parquet: {line}; rerun the ingest stage (dvc repro ingest)\n")
    assert_nothing_left(project, before)
