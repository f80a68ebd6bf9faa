"""Hostile degrade settings (probe 70):

- a long tail (class_subsample imbalance_ratio, its classes left to the data) after a class_removal spreads its ratio
  over the classes the removal left, and records those, rather than a tail of half the ratio recorded as the whole;
- a long tail given its classes, one of which an earlier removal emptied, is refused rather than run short of its
  ratio;
- a list whose perturbations all take no image names each one's own cause (a keep of 1, a rate that rounds to none),
  not "a fraction that rounds to no image" for perturbations that have no fraction;
- a class whose last train images label noise relabelled, or overwriting copies replaced (a class of one image), is
  refused naming that damage, not told to "remove or subsample fewer" or "keep more" where nothing was removed;
- a perturbation written without its kind (the key typed Kind) is told its kind is missing, not "unknown kind None";
- a shortage on a set of over 10,000 train images advises a share that fits, not one rounded up past the free images.

In-process on tiny imagesets: degrade itself, or the degrade stage's main in a tiny project.
"""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from hostile_harness import ROOT, assert_nothing_left, files_under, make_project, params_with
from winnow import params
from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import ImageSet, write_imageset
from winnow.stage import run


def imageset(train, classes) -> ImageSet:
    """``train[c]`` train images of class ``c`` and 1 val and 1 test image per class, random 8x8 grey pixels."""
    rows = [(f"train-{c}-{i}", "train", c) for c, n in enumerate(train) for i in range(n)]
    rows += [(f"{split}-{c}", split, c) for split in ("val", "test") for c in range(len(classes))]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    return ImageSet(images=images, manifest=manifest, classes=list(classes))


def run_degrade(tmp_path, monkeypatch, perturbations, *, train, classes):
    """The degrade stage's main in a project whose data/ingest is :func:`imageset`; returns its exit code (0 where it
    ran to the end), stdout and stderr, and the project's files before it ran."""
    params = params_with("degrade", {"enabled": True, "disjoint": True, "perturbations": perturbations})
    project = make_project(tmp_path / "project", params)
    monkeypatch.chdir(project)
    source = imageset(train, classes)
    write_imageset("data/ingest", source.images, source.manifest.drop(columns="digest"), source.classes)
    return (*degrade_main(project, monkeypatch), project)


def degrade_main(project, monkeypatch) -> tuple[int, set[str]]:
    """Run the degrade stage's main in ``project`` (the working folder) as its script does; returns its exit code (0
    where it ran to the end) and the project's files before it ran."""
    spec = importlib.util.spec_from_file_location("degrade_stage_70", ROOT / "stages" / "degrade.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    before = files_under(project)
    monkeypatch.setattr("sys.argv", ["stages/degrade.py"])
    try:
        run(stage.main)
        code = 0
    except SystemExit as ended:
        code = ended.code
    return code, before


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


@pytest.mark.hostile("params")
def test_a_list_that_takes_no_image_names_each_perturbations_own_cause(tmp_path, monkeypatch, capsys):
    # before: one line, "degrade: the 2 perturbation(s) took none of the 12 train images (a fraction that rounds to no
    # image takes none); output equals input", for a subsample and a rate, neither of them a fraction
    code, _, project = run_degrade(tmp_path, monkeypatch, [{"kind": "subsample", "keep": 1.0},
                                                           {"kind": "symmetric_noise", "rates": {"cat": 0.1}}],
                                   train=[4, 4, 4], classes=["cat", "dog", "owl"])
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "warning: degrade.perturbations[0] (subsample) took no image: its share rounds to keeping every image it "
        "thins; change it, or leave it out",
        "warning: degrade.perturbations[1] (symmetric_noise) took no image: each rate rounds to none of its class's "
        "train images; change it, or leave it out",
        "degrade: the 2 perturbation(s) took none of the 12 train images (each warning above says why); output "
        "equals input"]
    assert len(pd.read_parquet(project / "data/degrade/perturbations.parquet")) == 0


@pytest.mark.hostile("params")
@pytest.mark.parametrize("perturbations, train, classes, line", [
    # every train image of a relabelled to b: before, "..., so remove or subsample fewer", with nothing removed
    ([{"kind": "symmetric_noise", "rates": {"a": 1.0}}], [4, 4], ["a", "b"],
     "error: degrade.perturbations: only class 'b' keeps train images after the damage; a classifier needs at least 2 "
     "classes, so relabel fewer"),
    # 6 of the 12 train images copied over the other 6: cat's and dog's one image each among the 6 overwritten
    ([{"kind": "exact_duplicate", "fraction": 0.5}], [1, 1, 10], ["cat", "dog", "owl"],
     "error: degrade.perturbations: only class 'owl' keeps train images after the damage; a classifier needs at "
     "least 2 classes, so overwrite fewer with copies (mode: add keeps the images copied over)"),
    # before: "...; keep more, or remove it on purpose with class_removal", where nothing was kept or not
    ([{"kind": "pair_flip", "rates": {"cat": 1.0}, "mapping": {"cat": "dog"}}], [4, 4, 4], ["cat", "dog", "owl"],
     "error: degrade.perturbations: class 'cat' keeps no train image after the damage (1 class(es) in all); relabel "
     "fewer of its images, or remove it on purpose with class_removal"),
], ids=["relabelled-two-classes", "copied-over", "relabelled-one-class"])
def test_a_class_emptied_by_relabelling_or_copies_is_refused_naming_that_damage(tmp_path, monkeypatch, capsys,
                                                                                perturbations, train, classes, line):
    code, before, project = run_degrade(tmp_path, monkeypatch, perturbations, train=train, classes=classes)
    assert (code, capsys.readouterr().err) == (1, line + "\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_a_long_tail_given_a_class_an_earlier_removal_emptied_is_refused():
    # before: exit 0, cat kept whole and dog at 1/2 (20 of 40), owl's place and its 1/4 falling on no image: a tail of
    # ratio 2 recorded in the ground truth as imbalance_ratio 4 over cat, dog and owl
    with pytest.raises(WinnowError) as refused:
        degrade(imageset([40, 40, 40], ["cat", "dog", "owl"]), seed=0, perturbations=[
            {"kind": "class_removal", "classes": ["owl"]},
            {"kind": "class_subsample", "classes": ["cat", "dog", "owl"], "imbalance_ratio": 4}])
    assert str(refused.value) == (
        "degrade.perturbations[1] (class_subsample): classes names 'owl', which the removals before it leave without "
        "train images, so the tail would fall short of imbalance_ratio 4; leave 'owl' out of classes")


@pytest.mark.hostile("params")
def test_a_perturbation_without_kind_is_told_its_kind_is_missing(tmp_path):
    # before: "degrade.perturbations[0]: unknown kind None; allowed: ...", a kind never written (the key typed Kind)
    project = make_project(tmp_path / "project", params_with("degrade.perturbations", [
        {"Kind": "blur", "fraction": 0.1, "kernel": 3}]))
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        params.load(project / "params.yaml")
    assert str(refused.value) == (
        "params.yaml: degrade.perturbations[0]: kind is missing (keys given: ['Kind', 'fraction', 'kernel']); add "
        "kind, one of: symmetric_noise, pair_flip, class_removal, class_subsample, subsample, gaussian_noise, "
        "salt_pepper, brightness, gamma, blur, downscale, odd_size, odd_aspect_ratio, grayscale, low_information, "
        "exact_duplicate, near_duplicate")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_a_shortage_on_a_large_set_advises_a_share_that_fits():
    # 11 cats among 30,000 train images (1x1 pixels: only the labels matter). Before: "allowed range [0, 0.0004]",
    # 11 / 30,000 rounded up to 4 decimals, which needs round(0.0004 * 30,000) = 12 cats, and the line came back
    source = imageset([11, 14995, 14994], ["cat", "dog", "owl"])
    source = ImageSet(images=source.images[:, :1, :1], manifest=source.manifest, classes=source.classes)
    line = ("degrade.perturbations[0] (pair_flip) fraction: needs {} train images but only 11 are free (after removals "
            "and the perturbations before it, of the classes its mapping moves); allowed range [0, 0.00037]")
    flip = {"kind": "pair_flip", "mapping": {"cat": "dog"}}
    with pytest.raises(WinnowError) as refused:
        degrade(source, seed=0, perturbations=[{**flip, "fraction": 0.001}])
    assert str(refused.value) == line.format(30)
    _, log = degrade(source, seed=0, perturbations=[{**flip, "fraction": 0.00037}])
    assert sorted(log["id"]) == sorted(f"train-0-{i}" for i in range(11))
