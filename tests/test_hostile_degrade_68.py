"""Hostile degrade settings (probe 68): a pair flip's mapping named as the user wrote it, and, under degrade.disjoint
false, two damages of one image where one hides or undoes the other (brightness and gamma; a blur under a thumbnail
or noise; a thumbnail under a blur or noise; a darkening under salt or gaussian noise; a grayscale under gaussian
noise; a brightening and a thumbnail) refused rather than recorded as both, the other order advised only where it
keeps both. In-process on a tiny imageset but one stage run: each case asserts the whole line a user gets, or the
exact ground truth."""

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_error_line, assert_nothing_left, run_stage
from test_hostile_degrade import project_with

from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import ImageSet


def tiny_imageset(channels: int = 1) -> ImageSet:
    """4 train, 1 val and 1 test image of random 8x8 pixels (grey, or colour for 3 ``channels``) per class of cat,
    dog, owl."""
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in (("train", 4), ("val", 1), ("test", 1))
            for c in range(3) for i in range(n)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(
        source="t", orig_h=8, orig_w=8, orig_mode="L" if channels == 1 else "RGB", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, channels), dtype=np.uint8)
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


@pytest.mark.hostile("params")
@pytest.mark.parametrize("first, later", [
    ({"kind": "brightness", "fraction": 1.0, "factor": 0.05}, {"kind": "gamma", "fraction": 1.0, "gamma": 0.2}),
    ({"kind": "gamma", "fraction": 1.0, "gamma": 3.0}, {"kind": "brightness", "fraction": 1.0, "factor": 3.5}),
])
def test_brightness_and_gamma_that_may_meet_on_one_image_are_refused(first, later):
    # before: with disjoint false, x0.05 then gamma 0.2 recorded every image dark while white came back at 138/255
    # (12 after the x0.05, (12/255) ** 0.2 after the gamma): above half-bright, where no dark cut reaches, so the dark
    # detector was scored as missing images that were not dark
    with pytest.raises(WinnowError) as refused:
        degrade(tiny_imageset(), perturbations=[first, later], disjoint=False)
    said = (f"degrade.perturbations[1] ({later['kind']}): with degrade.disjoint false it may "
            f"damage again images perturbations[0] ({first['kind']}) changed, while the ground "
            "truth would keep both; set degrade.disjoint: true or keep one of them")
    assert str(refused.value) == said
    # apart, each image gets one of them (half the train images each) and the ground truth holds both
    apart = [{**first, "fraction": 0.5}, {**later, "fraction": 0.5}]
    _, log = degrade(tiny_imageset(), perturbations=apart)
    assert log["kind"].value_counts().to_dict() == {first["kind"]: 6, later["kind"]: 6}
    assert not log["id"].duplicated().any()


@pytest.mark.hostile("params")
@pytest.mark.parametrize("blur", [{"kind": "blur", "fraction": 1.0, "kernel": 3},
                                  {"kind": "downscale", "fraction": 1.0, "size": 4}])
def test_a_blur_and_a_thumbnail_that_may_meet_are_refused_in_either_order(blur):
    # before: with disjoint false, blur then low_information recorded every image as blurred and as low information,
    # while the thumbnail had shrunk the blur away (box 5 then 10x10 thumbnails of MNIST-5k digits: blurry score median
    # 0.666, clean digits 0.687, blurred ones 0.327), so the blurry detector was scored as missing them all
    thumbnail = {"kind": "low_information", "fraction": 1.0, "size": 2}
    with pytest.raises(WinnowError) as refused:
        degrade(tiny_imageset(), perturbations=[blur, thumbnail], disjoint=False)
    said = (f"degrade.perturbations[1] (low_information): with degrade.disjoint false it may "
            f"shrink into a thumbnail images perturbations[0] ({blur['kind']}) blurred, which then "
            "look sharp, while the ground truth would keep both; set degrade.disjoint: true or keep one of them")
    assert str(refused.value) == said
    # the other order, which that line advised, hid the thumbnail instead: a blur spreads it over the black canvas
    # (10x10 thumbnails of MNIST-5k digits: low_information 0.041; after box 5 0.120, above the 0.071 of clean digits'
    # 1st percentile), yet both were recorded
    with pytest.raises(WinnowError) as refused:
        degrade(tiny_imageset(), perturbations=[thumbnail, blur], disjoint=False)
    said = (f"degrade.perturbations[1] ({blur['kind']}): with degrade.disjoint false it may blur images "
            "perturbations[0] (low_information) shrank into a thumbnail, which the blur then spreads over the black "
            "canvas, while the ground truth would keep both; set degrade.disjoint: true or keep one of them")
    assert str(refused.value) == said
    # apart, each image gets one of them and the ground truth holds both
    _, log = degrade(tiny_imageset(), perturbations=[{**thumbnail, "fraction": 0.5}, {**blur, "fraction": 0.5}])
    assert log["kind"].value_counts().to_dict() == {"low_information": 6, blur["kind"]: 6}


THUMBNAIL = {"kind": "low_information", "fraction": 1.0, "size": 2}


@pytest.mark.hostile("params")
@pytest.mark.parametrize("first, later, line", [
    # before: recorded as both, while the noise took the thumbnail's black canvas off its one level (10x10 thumbnails of
    # MNIST-5k digits: low_information 0.041; after gaussian sigma 1 0.335, where clean digits' 1st percentile is 0.071)
    (THUMBNAIL, {"kind": "gaussian_noise", "fraction": 1.0, "sigma": 1},
     "cover in noise images perturbations[0] (low_information) shrank into a thumbnail, whose black canvas then reads "
     "as detail, while the ground truth would keep both; set degrade.disjoint: true or keep one of them"),
    (THUMBNAIL, {"kind": "salt_pepper", "fraction": 1.0, "rate": 0.1},
     "cover in noise images perturbations[0] (low_information) shrank into a thumbnail, whose black canvas then reads "
     "as detail, while the ground truth would keep both; set degrade.disjoint: true or keep one of them"),
    # before: recorded as both, while noise drawn per channel put colour back (greyed CIFAR-subset images: grayscale 0,
    # after sigma 1 0.007, above the 1/255 a grey image's channels may differ by)
    ({"kind": "grayscale", "fraction": 1.0}, {"kind": "gaussian_noise", "fraction": 1.0, "sigma": 1},
     "cover in noise images perturbations[0] (grayscale) greyed, whose noise, drawn per channel, then reads as colour, "
     "while the ground truth would keep both; list it before perturbations[0], set degrade.disjoint: true or keep one "
     "of them"),
    # before: recorded as both, while the noise lifted the dark score's 99th percentile past half-bright, where no dark
    # cut reaches (MNIST-5k digits x0.5: 0.494; after sigma 3 84% of them above 0.5; x0.05 after sigma 60 95%)
    ({"kind": "brightness", "fraction": 1.0, "factor": 0.5}, {"kind": "gaussian_noise", "fraction": 1.0, "sigma": 3},
     "cover in noise images perturbations[0] (brightness) darkened, whose noise then reads as bright, while the ground "
     "truth would keep both; list it before perturbations[0], set degrade.disjoint: true or keep one of them"),
    # before: recorded as both, while the thumbnail's black canvas outweighed the light in either order (CIFAR-subset
    # images x2: light 0.062; then a 10x10 thumbnail 0.985, a thumbnail then x2 0.973; clean's 1st percentile 0.37)
    ({"kind": "brightness", "fraction": 1.0, "factor": 2.0}, THUMBNAIL,
     "shrink into a thumbnail images perturbations[0] (brightness) lightened, which its black canvas then outweighs, "
     "while the ground truth would keep both; set degrade.disjoint: true or keep one of them"),
    (THUMBNAIL, {"kind": "brightness", "fraction": 1.0, "factor": 2.0},
     "lighten images perturbations[0] (low_information) shrank into a thumbnail, whose black canvas then outweighs "
     "the light, while the ground truth would keep both; set degrade.disjoint: true or keep one of them"),
])
def test_two_damages_of_which_one_hides_the_other_from_its_score_are_refused(first, later, line):
    with pytest.raises(WinnowError) as refused:  # colour images, for a grayscale to grey
        degrade(tiny_imageset(3), perturbations=[first, later], disjoint=False)
    said = f"degrade.perturbations[1] ({later['kind']}): with degrade.disjoint false it may {line}"
    assert str(refused.value) == said
    # apart, each image gets one of them and the ground truth holds both
    _, log = degrade(tiny_imageset(3), perturbations=[{**first, "fraction": 0.5}, {**later, "fraction": 0.5}])
    assert log["kind"].value_counts().to_dict() == {first["kind"]: 6, later["kind"]: 6}


@pytest.mark.hostile("params")
@pytest.mark.parametrize("noise", [{"kind": "gaussian_noise", "fraction": 1.0, "sigma": 30},
                                   {"kind": "salt_pepper", "fraction": 1.0, "rate": 0.2}])
def test_a_blur_later_noise_would_hide_is_refused_and_noise_listed_before_it_runs(noise):
    # before: with disjoint false, blur then noise recorded every image as blurred while the noise put fine detail back
    # (box 5 on MNIST-5k digits: blurry median 0.327; then gaussian noise sigma 30: 0.929, salt and pepper 0.02: 0.898,
    # clean digits 0.687), so the blurry detector was scored as missing images that look sharp
    blur = {"kind": "blur", "fraction": 1.0, "kernel": 3}
    with pytest.raises(WinnowError) as refused:
        degrade(tiny_imageset(), perturbations=[blur, noise], disjoint=False)
    said = (f"degrade.perturbations[1] ({noise['kind']}): with degrade.disjoint false it may cover "
            "in noise images perturbations[0] (blur) blurred, which then look sharp, while the "
            "ground truth would keep both; list it before perturbations[0], set degrade.disjoint: "
            "true or keep one of them")
    assert str(refused.value) == said
    _, log = degrade(tiny_imageset(), perturbations=[noise, blur], disjoint=False)  # the blur smooths the noise
    assert log.groupby("id")["kind"].apply(sorted).map(tuple).value_counts().to_dict() == {
        tuple(sorted(["blur", noise["kind"]])): 12}


@pytest.mark.hostile("params")
def test_a_darkening_later_salt_would_hide_is_refused_and_salt_listed_before_it_runs():
    # before: with disjoint false, brightness x0.05 then salt and pepper 0.02 recorded every image dark while the white
    # salt lifted the dark score's 99th percentile: 36% of 1,000 MNIST-5k digits scored above half-bright, where no dark
    # cut reaches (all of them at 0.05), so the dark detector was scored as missing them
    dark, salt = {"kind": "brightness", "fraction": 1.0, "factor": 0.05}, {"kind": "salt_pepper", "fraction": 1.0,
                                                                           "rate": 0.2}
    with pytest.raises(WinnowError) as refused:
        degrade(tiny_imageset(), perturbations=[dark, salt], disjoint=False)
    said = ("degrade.perturbations[1] (salt_pepper): with degrade.disjoint false it may cover in "
            "noise images perturbations[0] (brightness) darkened, whose white salt then reads as "
            "bright, while the ground truth would keep both; list it before perturbations[0], set "
            "degrade.disjoint: true or keep one of them")
    assert str(refused.value) == said
    _, log = degrade(tiny_imageset(), perturbations=[salt, dark], disjoint=False)  # the salt darkened with the rest
    assert log.groupby("id")["kind"].apply(sorted).map(tuple).value_counts().to_dict() == {
        ("brightness", "salt_pepper"): 12}
    # a light factor is not hidden by salt (its score reads the 75th percentile): it runs in either order
    light = {**dark, "factor": 3.5}
    _, log = degrade(tiny_imageset(), perturbations=[light, salt], disjoint=False)
    assert sorted(log["kind"].value_counts().to_dict().items()) == [("brightness", 12), ("salt_pepper", 12)]


@pytest.mark.hostile("params")
def test_the_degrade_stage_ends_a_hidden_blur_in_one_line_and_writes_nothing(tmp_path):
    project, before = project_with(tmp_path, [{"kind": "blur", "fraction": 0.5, "kernel": 3},
                                              {"kind": "gaussian_noise", "fraction": 0.5, "sigma": 30}], disjoint=False)
    line = assert_error_line(run_stage(project, "degrade"))
    assert line == ("error: degrade.perturbations[1] (gaussian_noise): with degrade.disjoint false it may cover in "
                    "noise images perturbations[0] (blur) blurred, which then look sharp, while the ground truth would "
                    "keep both; list it before perturbations[0], set degrade.disjoint: true or keep one of them")
    assert_nothing_left(project, before)
