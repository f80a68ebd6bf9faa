"""The quality scores and the pHash are exact: every score byte equals the definitions in
:mod:`winnow.quality` computed one image at a time in plain numpy, whatever the batching, chunking and
threads; every hash equals imagehash's, also where the DCT coefficients tie (flat and symmetric images)."""

import numpy as np
import pytest
from PIL import Image
from threadpoolctl import threadpool_limits

from winnow.phash import phash64
from winnow.quality import SCORES, score_images
from winnow.sharpness import area_matrix
from winnow.thumbnails import thumbnail_features

HSP = np.array([0.241, 0.691, 0.068], np.float32)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
NOISE_RATIO = np.sqrt(5.0)


def laplacian_ratio(luma: np.ndarray) -> float:
    if luma.shape[0] < 3 or luma.shape[1] < 3:
        return NOISE_RATIO
    lap = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1]
    down, across = luma[1:] - luma[:-1], luma[:, 1:] - luma[:, :-1]
    gradient = np.sqrt(np.square(down)[None].mean(axis=(1, 2))[0] + np.square(across)[None].mean(axis=(1, 2))[0])
    edges = lap.reshape(1, -1).std(axis=1)[0]
    return NOISE_RATIO if gradient < 0.01 else edges / gradient


def gain_holes(img: np.ndarray) -> float:
    """Of the codes 1-254 whose two neighbouring codes each hold 4 or more values (0 and 255 counted empty), the
    share no value of the image takes; 0 where fewer than 16 codes have such neighbours, where 8 or more of those lie
    below 48 and under 1/5 of them are holes (a darkening curve), in a grey image and in a colour one of 256 colours or
    fewer."""
    counts = np.bincount(img.ravel(), minlength=256)
    counts[[0, 255]] = 0
    code = np.arange(1, 255)
    candidates = (counts[code - 1] >= 4) & (counts[code + 1] >= 4)
    holes = candidates & (counts[code] == 0)
    low = candidates & (code < 48)
    colours = len(np.unique(img.reshape(-1, img.shape[2]), axis=0))
    grey = img.shape[2] == 1 or (img == img[..., :1]).all()
    darkening = low.sum() >= 8 and holes[low].sum() / low.sum() < 0.2
    if candidates.sum() < 16 or darkening or grey or colours <= 256:
        return 0.0
    return float(holes.sum() / candidates.sum())


def reference(img: np.ndarray, orig_h: int, orig_w: int, light: float, dark: float) -> dict[str, np.float32]:
    """The five pixel scores of one uint8 ``(H, W, C)`` image, each as the module docstring defines it,
    written plainly (no chunks, threads, sorting or in-place arithmetic)."""
    pixels = img.astype(np.float32)
    if img.shape[2] == 1:
        hsp, luma, top, chroma = pixels[..., 0] / 255, pixels[..., 0], img[..., 0], 0.0
    else:
        hsp, luma = np.sqrt(np.square(pixels) @ HSP) / 255, pixels @ LUMA
        top = img.max(axis=2)
        chroma = (top - img.min(axis=2))[None].mean(axis=(1, 2))[0] / 255
    dark_value, bright = np.percentile(hsp.reshape(1, -1), [dark, light], axis=1)[:, 0]
    clipped = (top == 255)[None].mean(axis=(1, 2))[0]
    off_mode = 1 - np.unique(hsp, return_counts=True)[1].max() / hsp.size
    holes = gain_holes(img)
    gain = (1 - min(holes, 0.5)) ** 4 if holes >= 0.2 else 1.0
    height, width = luma.shape
    h, w = min(orig_h, height), min(orig_w, width)
    if (h, w) != (height, width):  # sharpness is judged at the original size: area-averaged back down
        luma = area_matrix(height, h) @ luma @ area_matrix(width, w).T
    return {name: np.float32(value) for name, value in {
        "dark": dark_value, "light": min(1 - 0.5 * (clipped + bright), gain),
        "blurry": np.clip(laplacian_ratio(luma) / NOISE_RATIO, 0, 1),
        "low_information": off_mode, "grayscale": chroma}.items()}


def varied_set(rng, channels: int, n: int = 300, side: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise, smooth, flat, dark, overexposed and blocky images; some with a smaller original size."""
    images = rng.integers(0, 256, (n, side, side, channels), dtype=np.uint8)
    kind = np.arange(n) % 6
    images[kind == 1] = np.sort(images[kind == 1], axis=2)
    images[kind == 2] = rng.integers(0, 256, ((kind == 2).sum(), 1, 1, channels), dtype=np.uint8)
    images[kind == 3] //= 40
    images[kind == 4] = np.clip(images[kind == 4].astype(int) * 4, 0, 255).astype(np.uint8)
    images[kind == 5] = images[kind == 5][:, ::8, ::8].repeat(8, axis=1).repeat(8, axis=2)[:, :side, :side]
    orig = np.where(np.arange(n) % 5 == 0, rng.choice([4, 12, 20], n), side)
    return images, orig, np.where(np.arange(n) % 7 == 0, rng.choice([8, side, 40], n), orig)


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("light, dark", [(75.0, 99.0), (0.0, 100.0), (50.0, 37.5)])
def test_scores_equal_the_definitions_image_by_image(rng, channels, light, dark):
    images, orig_h, orig_w = varied_set(rng, channels)
    images[6::12] &= 0xFE  # even codes only, as after a x2 gain: light's holes
    images[7::12] = np.round(255 * (np.arange(256) / 255) ** 2.2).astype(np.uint8)[images[7::12]]  # holes up high
    for batch_size in (1024, 7):
        got = score_images(images, orig_h=orig_h, orig_w=orig_w, light_percentile=light, dark_percentile=dark,
                           batch_size=batch_size)
        assert set(got) == set(SCORES)
        for i, img in enumerate(images):
            for name, value in reference(img, orig_h[i], orig_w[i], light, dark).items():
                assert got[name][i].tobytes() == value.tobytes(), (name, i, got[name][i], value)


def test_scores_of_an_image_do_not_depend_on_its_neighbours(rng):
    images, orig_h, orig_w = varied_set(rng, 3, n=40, side=17)
    together = score_images(images, orig_h=orig_h, orig_w=orig_w)
    for i in range(len(images)):
        alone = score_images(images[i : i + 1], orig_h=orig_h[i : i + 1], orig_w=orig_w[i : i + 1])
        for name in SCORES[:5]:
            assert together[name][i].tobytes() == alone[name][0].tobytes(), (name, i)


def test_scores_and_thumbnails_of_resampled_images_do_not_depend_on_the_blas_threads(rng):
    # RGB noise upscaled to an original of 60..199 pixels, then by ingest to 224: blurry area-averages it back down
    # and the thumbnails down to 16x16, both by float32 matrix products (OpenBLAS)
    sizes = rng.integers(60, 200, (24, 2))
    images = np.stack([np.asarray(Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
                                  .resize((int(w), int(h)), Image.BILINEAR).resize((224, 224), Image.BILINEAR))
                       for h, w in sizes])
    runs = []
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            runs.append((score_images(images, orig_h=sizes[:, 0], orig_w=sizes[:, 1]), thumbnail_features(images)))
    # before: blurry differed in the last bit in about half the images and every thumbnail row by up to 7e-7 between
    # one BLAS thread (taskset -c 0, or a Ray worker) and two, against the engine's byte-identical promise
    (scores_1, thumbs_1), (scores_2, thumbs_2) = runs
    for name in SCORES:
        assert scores_1[name].tobytes() == scores_2[name].tobytes(), name
    assert thumbs_1.tobytes() == thumbs_2.tobytes()


@pytest.mark.parametrize("side", [32, 20, 45])
def test_phash64_equals_imagehash_where_coefficients_tie(rng, side):
    """Flat, mirror-symmetric and blocky images have DCT coefficients equal to the median up to rounding:
    their bits are decided by the rounding of imagehash's own transform."""
    import imagehash
    from PIL import Image

    images, _, _ = varied_set(rng, 3, n=120, side=side)
    half = images[:40, :, : side // 2]
    images[:40, :, side - side // 2 :] = half[:, :, ::-1]  # mirror-symmetric left to right
    images[40:50] = 0
    images[50:60, :, :] = images[50:60, :1, :]  # every row the same
    expected = [int(str(imagehash.phash(Image.fromarray(img))), 16) for img in images]
    assert phash64(images).tolist() == expected
    assert phash64(images, batch_size=9).tolist() == expected
