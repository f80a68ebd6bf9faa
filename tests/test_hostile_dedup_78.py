"""Hostile dedup, leftovers of probe 77:

- ``dedup.keep: best_quality`` kept a JPEG re-encode of a digit over its PNG original: the re-encode's ringing lifts
  the low_information score (pixels off the black background) and light (fewer clipped highlights), so the mean of the
  seven scores ranked the lossy copy first and the original was dropped as its near copy. The original a group's
  copies were made from (the larger source, then the lossless file) is kept now, the scores choosing among the rest;
- copies turned by 90 or 180 degrees or mirrored top to bottom were found by no search. ``dedup.orientations: any``
  finds them (reason ``turned_duplicate``); the default ``upright`` does not, since a turned 6 is a 9.

The cases call the library the dedup stage calls, on a few generated 28x28 images."""

import io

import numpy as np
import pytest
import yaml
import pandas as pd
from PIL import Image, ImageDraw

from winnow.dedup import dedup_images
from winnow.errors import WinnowError
from winnow.groundtruth import QUALITY_ISSUES
from winnow.phash import turned
from winnow.quality import score_table

DEFAULTS = {"radius": 6, "min_correlation": 0.98, "flip": True, "crop": 0.0625}


def _stroke(seed: int) -> np.ndarray:
    """uint8 ``(28, 28)``: a white polyline on black, a digit-like drawing."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(image).line([tuple(rng.integers(5, 23, 2).tolist()) for _ in range(4)], fill=255, width=3)
    return np.asarray(image)


def _jpeg(image: np.ndarray, quality: int = 75) -> np.ndarray:
    """uint8 ``(H, W)``: ``image`` saved as a JPEG and read back, as ingest decodes a .jpg file."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer))


def _groups(ids: list[str], images: list[np.ndarray], *, sizes: list[int] | None = None, **dedup) -> pd.DataFrame:
    """dedup's groups of the train ``images`` (uint8 ``(28, 28)`` each) under ``ids``, at the default dedup settings
    but for ``dedup``; ``sizes``: each image's original side (default 28)."""
    pixels = np.stack(images)[..., None]
    side = sizes or [28] * len(ids)
    manifest = pd.DataFrame({"id": ids, "split": "train", "label": 0, "source": "t", "orig_h": side, "orig_w": side,
                             "orig_mode": "L", "digest": [f"d{k}" for k in range(len(ids))]})
    scores = score_table(pixels, manifest)
    return dedup_images(manifest, pixels, scores, **(DEFAULTS | dedup)).set_index("id")


def _mean_quality(images: list[np.ndarray]) -> np.ndarray:
    pixels = np.stack(images)[..., None]
    manifest = pd.DataFrame({"id": [str(k) for k in range(len(images))], "split": "train", "orig_h": 28,
                             "orig_w": 28, "digest": [f"d{k}" for k in range(len(images))]})
    return score_table(pixels, manifest)[list(QUALITY_ISSUES)].to_numpy(np.float64).mean(axis=1)


@pytest.mark.hostile("intermediates")
def test_best_quality_keeps_the_png_original_over_its_jpeg_re_encode():
    # before: the re-encode scored the higher mean (ringing off the black background) and was kept, the PNG dropped
    original = _stroke(3)
    copy = _jpeg(original)
    assert _mean_quality([original, copy])[1] > _mean_quality([original, copy])[0]  # what chose the JPEG before
    groups = _groups(["train/0/seven.png", "train/0/seven-copy.jpg"], [original, copy])
    assert groups["kept"].to_dict() == {"train/0/seven.png": True, "train/0/seven-copy.jpg": False}
    assert groups.loc["train/0/seven-copy.jpg", "reason"] == "near_duplicate"
    # listed the other way round, the original is still the one kept
    swapped = _groups(["train/0/a-copy.jpg", "train/0/b.png"], [copy, original])
    assert swapped["kept"].to_dict() == {"train/0/a-copy.jpg": False, "train/0/b.png": True}


@pytest.mark.hostile("intermediates")
def test_best_quality_keeps_the_larger_source_over_its_jpeg_of_a_smaller_one():
    # the copy from a 2x larger source is kept though both are JPEGs and the smaller one scores higher
    original = _stroke(3)
    small, large = _jpeg(original, 60), _jpeg(original, 95)
    assert _mean_quality([large, small])[1] > _mean_quality([large, small])[0]
    groups = _groups(["train/0/big.jpg", "train/0/small.jpg"], [large, small], sizes=[56, 28])
    assert groups["kept"].to_dict() == {"train/0/big.jpg": True, "train/0/small.jpg": False}


def _six() -> np.ndarray:
    """uint8 ``(28, 28)``: a drawn 6 (a loop with a stem rising to the right), whose half-turn is a 9."""
    image = Image.new("L", (28, 28), 0)
    draw = ImageDraw.Draw(image)
    draw.ellipse((7, 13, 19, 25), outline=255, width=3)
    draw.arc((7, 3, 27, 27), 180, 270, fill=255, width=3)
    return np.asarray(image)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("turn", ["rot90", "rot180", "rot270", "upside_down", "transpose"])
def test_a_turned_copy_is_grouped_under_any_orientation_and_not_upright(turn):
    # before: no search compared a turned image, so its copy stayed in train as unique under every setting
    original, other = _stroke(3), _stroke(11)
    copy = np.ascontiguousarray(turned(original[None], turn)[0])
    ids = ["train/0/a.png", "train/0/b.png", "train/0/a-turned.png"]
    upright = _groups(ids, [original, other, copy])
    assert upright["reason"].tolist() == ["unique", "unique", "unique"]
    anyway = _groups(ids, [original, other, copy], orientations="any")
    assert anyway["reason"].tolist() == ["kept", "unique", "turned_duplicate"]
    assert anyway["group"].iloc[0] == anyway["group"].iloc[2]


@pytest.mark.hostile("intermediates")
def test_a_six_and_its_half_turn_a_nine_are_two_pictures_upright():
    six = _six()
    nine = np.ascontiguousarray(six[::-1, ::-1])
    ids = ["train/6/six.png", "train/9/nine.png"]
    assert _groups(ids, [six, nine])["reason"].tolist() == ["unique", "unique"]
    # under any the half-turn is its copy: the reason the default is upright
    assert _groups(ids, [six, nine], orientations="any")["reason"].tolist() == ["kept", "turned_duplicate"]


@pytest.mark.hostile("intermediates")
def test_a_mirrored_copy_keeps_its_flip_reason_under_any():
    # the left-right mirror stays dedup.flip's (its rule for two labels with it), not a turned copy
    original = _stroke(3)
    ids = ["train/0/a.png", "train/0/a-mirror.png"]
    groups = _groups(ids, [original, np.ascontiguousarray(original[:, ::-1])], orientations="any")
    assert groups["reason"].tolist() == ["kept", "flip_crop_duplicate"]


@pytest.mark.hostile("params")
def test_an_unknown_orientations_setting_is_one_line():
    with pytest.raises(WinnowError) as refused:
        _groups(["a.png"], [_stroke(3)], orientations="sideways")
    assert str(refused.value) == "params.yaml dedup.orientations: must be one of upright, any, got 'sideways'"


@pytest.mark.hostile("params")
def test_params_yaml_declares_orientations_upright_and_refuses_any_without_a_radius():
    from hostile_harness import ROOT, default_params, params_with
    from winnow.params import validate

    assert yaml.safe_load((ROOT / "params.yaml").read_text())["dedup"]["orientations"] == "upright"
    with pytest.raises(WinnowError) as refused:
        validate(params_with("dedup", default_params()["dedup"] | {"radius": None, "flip": False, "crop": None,
                                                                   "orientations": "any"}))
    assert str(refused.value) == ("params.yaml: dedup.radius: null (exact copies only), but orientations any: the "
                                  "turned copies are searched by pHash within the radius, so none would be found; set "
                                  "a radius (6 finds them), or orientations: upright")
    with pytest.raises(WinnowError) as refused:
        validate(params_with("dedup.orientations", "sideways"))
    assert str(refused.value) == 'params.yaml: dedup.orientations: "sideways" is not one of upright, any'


@pytest.mark.hostile("intermediates")
def test_groups_recorded_before_orientations_existed_read_as_upright():
    # groups written by the winnow before the setting searched upright only: a reader run alone takes them under
    # upright and refuses them under any (dedup rerun finds the turned copies)
    from hostile_harness import default_params
    from winnow.flag_cuts import GROUPED_AT, check_grouped_at, grouped_record

    params = default_params()
    groups = pd.DataFrame({"id": ["a"]})
    groups.attrs[GROUPED_AT] = {k: v for k, v in grouped_record(params).items() if k != "orientations"}
    check_grouped_at(groups, params=params)
    params["dedup"]["orientations"] = "any"
    with pytest.raises(WinnowError) as refused:
        check_grouped_at(groups, params=params)
    assert 'grouped with dedup.orientations "upright", but params.yaml gives "any" now' in str(refused.value)
