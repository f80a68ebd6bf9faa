"""Hostile cases of the score and threshold stages (probe 71):

- a data set of which 50-75% of the images are dark (two clear modes of about the same size): Silverman's bandwidth,
  wide over two modes, left the dark mode's flank past the cut denser than the bright mode, no valley was found, and
  dark flagged none with no word (rule none), where 80% dark got the majority rule's too_many warning;
- the ceiling's warning, which names a fixed cut to give where the set-apart images are damage: the value it named,
  rounded to 3 decimals, flagged fewer images than the warning said it set apart;
- a set of mostly dim photos whose light cut the ceiling sets aside and that flags more than
  threshold.max_flagged_fraction too: the warning told the user to raise the fraction, which then flagged none all the
  same (by the ceiling), and named no fixed cut;
- a manifest whose original size is past what an image file holds (1e20): a RuntimeWarning and an error line naming
  neither the file nor the image.

Stage cases run the real script in this process on a throwaway project of a few small images; the others call the
library the stages call."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under, make_project, undamaged_params, write_scores
from test_hostile_threshold_64 import _stage_in_process
from winnow.degrade import perturbation_table
from winnow.imageset import write_imageset
from winnow.quality import SCORES
from winnow.stage import write_table

TOO_MANY_DARK = ("warning: threshold: dark's cut would flag more than threshold.max_flagged_fraction (0.5) of the "
                 "images, so it flags none: a property most images share is the data set's norm; raise the fraction if "
                 "it is not")


def _project(root: Path, images: np.ndarray, params: dict) -> Path:
    """data/degrade of ``images`` (ids ``i000``..., all train, two classes), nothing planted, under ``params``."""
    n = len(images)
    manifest = pd.DataFrame({"id": [f"i{k:03d}" for k in range(n)], "split": "train", "label": np.arange(n) % 2,
                             "source": "t", "orig_h": images.shape[1], "orig_w": images.shape[2], "orig_mode": "RGB"})
    make_project(root, params)
    write_imageset(root / "data/degrade", images, manifest, ["a", "b"])
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    return root


def _flagged(root: Path, issue: str) -> list[str]:
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    return flags.loc[flags[issue], "id"].tolist()


@pytest.mark.hostile("score")
def test_a_set_mostly_dark_in_a_mode_of_its_own_is_told_and_cut_at_a_raised_fraction(tmp_path, monkeypatch, capsys):
    # before: exit 0, "dark 0" and no warning (rule none): 60 of 100 photos darkened to 15% form a mode as large as the
    # bright one, the majority rule found no valley between them, so neither max_flagged_fraction nor anything else
    # could let the cut apply, and the user was never told that most of the set was dark (80 of 100 were told)
    rng = np.random.default_rng(0)
    images = rng.integers(60, 256, (100, 16, 16, 3), dtype=np.uint8)
    images[:60] = (images[:60] * 0.15).astype(np.uint8)
    params = undamaged_params()
    _project(tmp_path, images, params)
    assert _stage_in_process(tmp_path, "score", monkeypatch, capsys).returncode == 0
    done = _stage_in_process(tmp_path, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert TOO_MANY_DARK in done.stdout.splitlines()
    assert _flagged(tmp_path, "dark") == []
    # the fix the warning names works: at a fraction above 60% the 60 dark photos, and they alone, are flagged
    params["threshold"]["max_flagged_fraction"] = 0.7
    make_project(tmp_path, params)
    done = _stage_in_process(tmp_path, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert _flagged(tmp_path, "dark") == [f"i{k:03d}" for k in range(60)]


@pytest.mark.hostile("score")
def test_the_fixed_cut_the_ceiling_warning_names_flags_the_images_it_set_apart(tmp_path, monkeypatch, capsys):
    # before: "light's scores set apart 59 images (cut 0.795) ... set threshold.issues.light: {method: fixed, value:
    # 0.795}", and that value flagged 58 of them: the cut, 0.79542, rounded to 3 decimals, left out the image scoring
    # between 0.795 and the cut
    rng = np.random.default_rng(40)
    light = np.concatenate([rng.uniform(0.55, 0.8, 59), rng.normal(0.92, 0.02, 141)]).clip(0, 1).astype(np.float32)
    params = undamaged_params()
    root = _project(tmp_path, np.zeros((200, 8, 8, 3), np.uint8), params)
    write_scores(root, pd.DataFrame({"id": [f"i{k:03d}" for k in range(200)], **{s: np.float32(1) for s in SCORES},
                                     "light": light}), score=params["score"])
    done = _stage_in_process(root, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("warning: threshold: light's")]
    said = re.fullmatch(r"warning: threshold: light's scores set apart 59 images \(cut (0\.\d+)\), but most of them lie "
                        r"above 0\.5, where no image is light by exposure, so it flags none: in a set whose norm is "
                        r"dimmer than usual they are ordinary; if they are damage, set threshold\.issues\.light: "
                        r"\{method: fixed, value: (0\.\d+)\}", line)
    assert said is not None, line
    assert said[1] == said[2], line
    assert _flagged(root, "light") == []
    # the value it names, given as it says, flags those 59 images, the 59 lowest scores
    params["threshold"]["issues"]["light"] = {"method": "fixed", "value": float(said[2])}
    make_project(root, params)
    done = _stage_in_process(root, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert _flagged(root, "light") == [f"i{k:03d}" for k in range(59)]


@pytest.mark.hostile("score")
def test_a_light_cut_over_the_fraction_and_the_ceiling_names_both_settings_it_takes(tmp_path, monkeypatch, capsys):
    # before: "light's cut would flag more than threshold.max_flagged_fraction (0.5) of the images, so it flags none:
    # ...; raise the fraction if it is not", and raised to 0.9 light flagged none still, now by its ceiling (45 dim
    # photos at 0.62-0.72 lie above 0.5, where no image is light by exposure): the advice led nowhere by itself
    rng = np.random.default_rng(0)
    light = np.concatenate([rng.uniform(0.62, 0.72, 45), rng.normal(0.95, 0.01, 15)]).astype(np.float32)
    params = undamaged_params()
    root = _project(tmp_path, np.zeros((60, 8, 8, 3), np.uint8), params)
    write_scores(root, pd.DataFrame({"id": [f"i{k:03d}" for k in range(60)], **{s: np.float32(1) for s in SCORES},
                                     "light": light}), score=params["score"])
    done = _stage_in_process(root, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if line.startswith("warning: threshold: light")]
    assert len(said) == 1, said
    found = re.fullmatch(r"warning: threshold: light's scores set apart 45 images \(cut (0\.\d+)\), but most of them lie "
                         r"above 0\.5, where no image is light by exposure, so it flags none: in a set whose norm is "
                         r"dimmer than usual they are ordinary; if they are damage, set threshold\.issues\.light: "
                         r"\{method: fixed, value: (0\.\d+)\} and threshold\.max_flagged_fraction: 0\.75 \(they are "
                         r"75% of the images\)", said[0])
    assert found is not None and found[1] == found[2], said[0]
    assert _flagged(root, "light") == []
    # both settings as it names them: the 45 dim photos are flagged light, and they alone
    params["threshold"]["issues"]["light"] = {"method": "fixed", "value": float(found[2])}
    params["threshold"]["max_flagged_fraction"] = 0.75
    make_project(root, params)
    done = _stage_in_process(root, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert _flagged(root, "light") == [f"i{k:03d}" for k in range(45)]


@pytest.mark.hostile("score")
def test_an_original_size_past_what_an_image_file_holds_names_the_manifest_row(tmp_path, monkeypatch, capsys):
    # before: "RuntimeWarning: invalid value encountered in cast" and "error: orig_h and orig_w must be 12 positive
    # sizes, one per image" on stderr, naming neither the file nor the image: 1e20 passed the stage's check of whole
    # sizes of at least 1 pixel, and its cast to int64 did not
    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    root = _project(tmp_path, images, undamaged_params())
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet").drop(columns=["digest"])
    manifest["orig_w"] = manifest["orig_w"].astype(np.float64)
    manifest.loc[3, "orig_w"] = 1e20
    write_imageset(root / "data/degrade", images, manifest, ["a", "b"])
    before = files_under(root)
    done = _stage_in_process(root, "score", monkeypatch, capsys)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        "error: data/degrade/manifest.parquet: 1 image(s) of an original size past 2,147,483,647 pixels a side, more "
        "than an image file holds, first 'i003' (8 x 1e+20); rerun the degrade stage (dvc repro degrade)"]
    assert_nothing_left(root, before)
