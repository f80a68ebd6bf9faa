"""Hostile degrade settings and winnow commands (probe 66): the ground truth holds exactly the images degrade damaged.
Each case runs degrade in-process on a tiny colour imageset (three classes of random 8x8 images) and asserts the line,
or the exact rows, a user gets."""

import numpy as np
import pandas as pd
import pytest

from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import ImageSet


def colour_imageset(*, grey: int) -> ImageSet:
    """10 train images per class of random 8x8 colour pixels, the first ``grey`` train images grey (equal channels, as
    the black-and-white photos of a photo folder), and 1 val and 1 test image per class."""
    rows = [(f"train-{c}-{i}", "train", c) for c in range(3) for i in range(10)]
    rows += [(f"{split}-{c}", split, c) for split in ("val", "test") for c in range(3)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="RGB", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, 3), dtype=np.uint8)
    images[:grey] = images[:grey, :, :, :1]
    return ImageSet(images=images, manifest=manifest, classes=["a", "b", "c"])


@pytest.mark.hostile("params")
def test_a_grayscale_conversion_records_only_the_images_that_were_in_colour(capsys):
    # before: all 30 recorded as planted grayscale, the 5 grey already among them (the grayscale score reads the
    # channels: it saw those grey before degrade ran), each a level darker
    source = colour_imageset(grey=5)
    out, log = degrade(source, perturbations=[{"kind": "grayscale", "fraction": 1.0}], seed=0)
    assert sorted(log["id"]) == sorted(source.manifest["id"][5:30])
    assert np.array_equal(out.images[:5], source.images[:5])
    assert out.manifest["orig_mode"][:5].tolist() == ["RGB"] * 5
    assert capsys.readouterr().out.splitlines() == [
        "degrade: perturbations[0] (grayscale) found 5 of the 30 images it picked grey already; they are not "
        "recorded as damaged"]


@pytest.mark.hostile("params")
def test_a_grayscale_conversion_leaves_unrecorded_the_photos_a_grey_level_off_grey(capsys):
    # the grayscale score is the channels' spread averaged over the pixels, and its own cut 1/255 flags a spread of a
    # grey level (a black-and-white photo whose JPEG left a level of chroma noise): before, only equal channels counted
    # as grey already, so photos a level off grey, flagged before degrade ran, were recorded as planted grayscale
    source = colour_imageset(grey=10)
    source.images[:5, ..., 1] -= 1  # one level apart at every pixel: grey to the score (its cut)
    source.images[5:10, ..., 1] -= 2  # two levels apart: colour to it, made grey
    out, log = degrade(source, perturbations=[{"kind": "grayscale", "fraction": 1.0}], seed=0)
    assert sorted(log["id"]) == sorted(source.manifest["id"][5:30])
    assert np.array_equal(out.images[:5], source.images[:5])
    assert capsys.readouterr().out.splitlines() == [
        "degrade: perturbations[0] (grayscale) found 5 of the 30 images it picked grey already; they are not "
        "recorded as damaged"]


@pytest.mark.hostile("params")
def test_a_grayscale_conversion_of_images_all_grey_already_is_refused(tmp_path):
    with pytest.raises(WinnowError) as err:
        degrade(colour_imageset(grey=36), perturbations=[{"kind": "grayscale", "fraction": 0.5}], seed=0,
                workdir=tmp_path)
    assert str(err.value) == ("degrade.perturbations[0] (grayscale): the 15 images it picked are grey already "
                              "(channels at most a grey level apart), yet they would be recorded as damaged; remove "
                              "this entry")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("spec", "files", "line"), [
    ({"kind": "odd_size", "fraction": 1.0, "size": 16}, (16, 16), "files of 16x16's pixel count"),
    ({"kind": "odd_aspect_ratio", "fraction": 1.0, "ratio": 0.5}, (8, 4), "files of 8x4's aspect ratio"),
], ids=["odd_size", "odd_aspect_ratio"])
def test_an_odd_size_records_only_the_files_that_had_another_size(capsys, spec, files, line):
    # before: all 30 recorded as planted, the 5 files that had that size already among them (the odd-size scores read
    # the files' sizes from the manifest: they saw those 5 as odd before degrade ran)
    source = colour_imageset(grey=0)
    source.manifest.loc[:4, ["orig_h", "orig_w"]] = files
    out, log = degrade(source, perturbations=[spec], seed=0)
    assert sorted(log["id"]) == sorted(source.manifest["id"][5:30])
    assert np.array_equal(out.images[:5], source.images[:5])
    assert out.manifest[["orig_h", "orig_w"]][5:30].drop_duplicates().values.tolist() == [list(files)]
    assert capsys.readouterr().out.splitlines() == [
        f"degrade: perturbations[0] ({spec['kind']}) found 5 of the 30 images it picked {line} already; they are not "
        "recorded as damaged"]


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("spec", "files", "line"), [
    ({"kind": "odd_size", "fraction": 1.0, "size": 16}, (32, 8), "files of 16x16's pixel count"),
    ({"kind": "odd_aspect_ratio", "fraction": 1.0, "ratio": 0.5}, (16, 8), "files of 8x4's aspect ratio"),
], ids=["odd_size", "odd_aspect_ratio"])
def test_an_odd_size_leaves_unrecorded_the_files_its_score_read_as_that_size_already(capsys, spec, files, line):
    # the odd-size score reads log sqrt(h w), the odd-aspect score log(w / h): a 32x8 file is as large as a 16x16 one,
    # a 16x8 file (a portrait photo at another resolution) as narrow as an 8x4 one. Before, only the exact size
    # counted: those 5, odd to their score before degrade ran, were recorded as planted and their manifest rewritten
    source = colour_imageset(grey=0)
    source.manifest.loc[:4, ["orig_h", "orig_w"]] = files
    out, log = degrade(source, perturbations=[spec], seed=0)
    assert sorted(log["id"]) == sorted(source.manifest["id"][5:30])
    assert np.array_equal(out.images[:5], source.images[:5])
    assert out.manifest[["orig_h", "orig_w"]][:5].drop_duplicates().values.tolist() == [list(files)]
    assert capsys.readouterr().out.splitlines() == [
        f"degrade: perturbations[0] ({spec['kind']}) found 5 of the 30 images it picked {line} already; they are not "
        "recorded as damaged"]


@pytest.mark.hostile("params")
def test_an_odd_size_every_picked_file_had_is_refused(tmp_path):
    # parse refuses the files' most common size (32x8 here); 16x16 is as many pixels, which the odd-size score reads.
    # Since stop 73 odd_size keeps the files' aspect ratio (size 16 on 32x8 files is 32x8 itself), so parse refuses it
    # before any work, naming the square of as many pixels
    source = colour_imageset(grey=0)
    source.manifest.loc[:19, ["orig_h", "orig_w"]] = (32, 8)
    source.manifest.loc[20:29, ["orig_h", "orig_w"]] = (16, 16)
    with pytest.raises(WinnowError) as err:
        degrade(source, perturbations=[{"kind": "odd_size", "fraction": 1.0, "size": 16}], seed=0, workdir=tmp_path)
    assert str(err.value) == ("degrade.perturbations[0] (odd_size): size must be a size other than the files' 32x8 (as "
                              "many pixels as 16x16), got 16")
    assert list(tmp_path.iterdir()) == []


def test_a_contamination_runs_on_a_manifest_without_the_files_sizes():
    # parse reads the files' sizes where the manifest has them, else the stored size; before, every contamination
    # read orig_h and orig_w to tell the files of an odd size already, and a blur ended in pandas' KeyError
    source = colour_imageset(grey=0)
    source = ImageSet(images=source.images, manifest=source.manifest.drop(columns=["orig_h", "orig_w"]),
                      classes=source.classes)
    _, log = degrade(source, perturbations=[{"kind": "blur", "fraction": 0.5, "kernel": 3}], seed=0)
    assert len(log) == 15


@pytest.mark.hostile("params")
def test_a_grayscale_conversion_that_picked_only_grey_images_of_a_set_in_colour_too_says_so():
    # 25 of the 30 train images grey, 3 picked (seed 0: all grey). Before: 'remove this entry', as if no train image
    # could be converted
    with pytest.raises(WinnowError) as err:
        degrade(colour_imageset(grey=25), perturbations=[{"kind": "grayscale", "fraction": 0.1}], seed=0)
    assert str(err.value) == ("degrade.perturbations[0] (grayscale): the 3 images it picked are grey already "
                              "(channels at most a grey level apart), yet they would be recorded as damaged; 5 of the "
                              "30 train images are in colour: a larger fraction may pick some, or remove this entry")
