"""Hostile degrade settings (probe 77):

- a low_information thumbnail or a downscale on images too small for any size (1x1, 2x2: ingest.size null keeps a
  source's size) is told the images are too small, not given a range no value holds ("[2, 1]");
- an odd_aspect_ratio on files of 1x1, or on the side of 1 where the files' side is 1 pixel, is told no ratio there
  changes their shape, not to move the ratio "far enough from 1", which no ratio on that side is;
- images a gamma curve or a near duplicate's jitter darkened (or lightened), beside images planted dark (or light), are
  left out of that issue's figures in metrics/threshold.json (counted in ``explained``), not counted as the detector's
  false positives when it flags them; such a row without its gamma or its copy's factors is one line naming degrade.

In-process: degrade itself on tiny imagesets, or the threshold stage's main on a project whose scores are written by
hand.
"""

import json

import numpy as np
import pandas as pd
import pytest
from hostile_harness import assert_error_line, assert_nothing_left, files_under, undamaged_params, write_scores
from test_hostile_threshold_64 import _stage_in_process
from test_hostile_threshold_74 import _scored
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


LOG = "data/degrade/perturbations.parquet"


def planted(root, rows: list[tuple[str, str, str]]) -> None:
    """degrade's log of ``rows`` (id, kind, params) in the ``root`` project."""
    pd.DataFrame({"id": [r[0] for r in rows], "kind": [r[1] for r in rows], "params": [r[2] for r in rows],
                  "source_id": None, "original_label": -1}).to_parquet(root / LOG, index=False)


def copy_of(brightness: float) -> str:
    """A near duplicate's params as degrade records them, its jitter's ``brightness`` factor."""
    return json.dumps({"fraction": 0.05, "mode": "overwrite", "low": 0.25, "high": 0.3, "hue": 0.0, "factors": {
        "brightness": brightness, "contrast": 0.27, "saturation": 0.27, "hue": 0.0}}, sort_keys=True)


@pytest.mark.hostile("score")
@pytest.mark.parametrize("issue, factor, toned", [
    ("dark", 0.2, ("gamma", json.dumps({"fraction": 0.05, "gamma": 4.0}))),
    ("light", 3.0, ("gamma", json.dumps({"fraction": 0.05, "gamma": 0.25}))),
    ("dark", 0.2, ("near_duplicate", copy_of(0.26))),
    ("light", 3.0, ("near_duplicate", copy_of(2.5))),
])
def test_images_a_gamma_curve_or_a_copy_toned_are_no_false_positives_of_dark_or_light(tmp_path, monkeypatch, capsys,
                                                                                       issue, factor, toned):
    # before: 40 train images, 2 planted dark by brightness x0.2 and 2 darkened by gamma 4 (or near duplicates jittered
    # to 0.26 of their brightness), all 4 at the score's floor and flagged: dark read tp 2, fp 2, precision 0.5, the
    # detector blamed for finding damage degrade had done
    scores = np.r_[0.0, 0.0, 0.0, 0.0, np.full(36, 0.9)]
    root = _scored(tmp_path, scores, undamaged_params())
    if issue == "light":  # the light issue on its own score, dark's scores all 0.9
        table = pd.read_parquet(root / "data/score/scores.parquet")
        table["light"], table["dark"] = table["dark"], np.float32(0.9)
        write_scores(root, table.drop(columns="digest"), score=undamaged_params()["score"])
    planted(root, [("i000", "brightness", json.dumps({"factor": factor})),
                   ("i001", "brightness", json.dumps({"factor": factor})),
                   ("i002", *toned), ("i003", *toned)])
    done = _stage_in_process(root, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    found = json.loads((root / "metrics/threshold.json").read_text())[issue]
    assert {k: found[k] for k in ("flagged", "flagged_train", "explained", "tp", "fp", "fn", "precision")} == {
        "flagged": 4, "flagged_train": 2, "explained": 2, "tp": 2, "fp": 0, "fn": 0, "precision": 1.0}


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("kind, params, what", [
    ("gamma", '{"fraction": 0.05}', "gamma (a finite number above 0)"),
    ("gamma", '{"gamma": 0}', "gamma (a finite number above 0)"),
    ("near_duplicate", '{"factors": [1.1]}', "copy's factors (a finite brightness, 0 or more)"),
    ("near_duplicate", '{"factors": {"brightness": NaN}}', "copy's factors (a finite brightness, 0 or more)"),
])
def test_a_toning_row_without_its_setting_is_one_line_naming_degrade(tmp_path, monkeypatch, capsys, kind, params,
                                                                      what):
    root = _scored(tmp_path, np.r_[0.0, 0.0, np.full(38, 0.9)], undamaged_params())
    planted(root, [("i000", "brightness", '{"factor": 0.2}'), ("i001", kind, params)])
    before = files_under(root)
    line = assert_error_line(_stage_in_process(root, "threshold", monkeypatch, capsys))
    assert line == (f"error: {LOG}: image 'i001': {kind} params {params!r} hold no {what} degrade writes; rerun the "
                    "degrade stage (dvc repro degrade)")
    assert_nothing_left(root, before)
