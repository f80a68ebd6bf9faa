"""Pixel damage: the exact, reusable definitions the degrade stage and the benchmarks share.

Every function takes a batch ``images`` of uint8 ``(N, H, W, C)`` with ``C`` in {1, 3} and returns a
new uint8 array (the input is never modified). Arithmetic is in float and the result is cast back
to uint8 as each docstring states, following ``shared/protocols/quality-detection.md`` where a
damage appears there, so figures compare with the literature.

Random damage takes a ``numpy.random.Generator`` as the keyword ``rng``; nothing reads global state.
Bicubic resizes go through Pillow, one image at a time: torch's ``interpolate(mode='bicubic')`` is
not bit-identical to Pillow (off by one on up to a quarter of the pixels, more when upscaling).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from winnow.configs import MAX_JITTER_FACTOR

_GRAY_WEIGHTS = np.array([0.2989, 0.587, 0.114], dtype=np.float32)  # torchvision's rgb_to_grayscale


def _to_uint8(values: np.ndarray, *, rounding: str) -> np.ndarray:
    """Clip float ``values`` to [0, 255] and cast: ``floor`` truncates, ``nearest`` rounds."""
    values = np.clip(values, 0, 255)
    return (np.floor(values) if rounding == "floor" else np.rint(values)).astype(np.uint8)


def brightness(images: np.ndarray, factor: float) -> np.ndarray:
    """``floor(clip(img * factor, 0, 255))``: factor < 1 darkens (dark), > 1 lightens (light)."""
    return _to_uint8(images.astype(np.float64) * factor, rounding="floor")


def gamma(images: np.ndarray, value: float) -> np.ndarray:
    """``round(255 * (img / 255) ** value)``: value > 1 darkens mid-tones, < 1 lightens them."""
    return _to_uint8(255.0 * (images / 255.0) ** value, rounding="nearest")


def gaussian_noise(images: np.ndarray, sigma: float, *, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, sigma²) noise, sigma on the 0–255 scale, drawn independently per pixel and channel
    (one sigma for all channels); rounded to nearest and clipped."""
    return _to_uint8(images + rng.normal(0.0, sigma, size=images.shape), rounding="nearest")


def salt_and_pepper(images: np.ndarray, rate: float, *, rng: np.random.Generator) -> np.ndarray:
    """Each pixel, with probability ``rate``, becomes white (255) or black (0) with equal odds,
    all its channels together."""
    hit = rng.random(images.shape[:3]) < rate
    salt = rng.random(images.shape[:3]) < 0.5
    out = images.copy()
    out[hit & salt] = 255
    out[hit & ~salt] = 0
    return out


def box_blur(images: np.ndarray, kernel: int) -> np.ndarray:
    """Per-channel ``kernel``×``kernel`` mean, ``scipy.ndimage.uniform_filter(mode='reflect')``,
    rounded to nearest (the protocol's blurry)."""
    from scipy import ndimage

    return _to_uint8(
        ndimage.uniform_filter(images.astype(np.float64), size=(1, kernel, kernel, 1), mode="reflect"),
        rounding="nearest",
    )


def gaussian_blur(images: np.ndarray, kernel: int, *, sigma: float | None = None) -> np.ndarray:
    """Per-channel Gaussian blur cut to a ``kernel``×``kernel`` window (``mode='reflect'``), rounded.

    ``sigma`` defaults to OpenCV's choice for the kernel size, ``0.3 * ((kernel - 1) / 2 - 1) + 0.8``,
    so a kernel size alone means the same blur as ``cv2.GaussianBlur(img, (k, k), 0)`` does.
    """
    from scipy import ndimage

    if sigma is None:
        sigma = 0.3 * ((kernel - 1) / 2 - 1) + 0.8
    blurred = ndimage.gaussian_filter(
        images.astype(np.float64), sigma=(0, sigma, sigma, 0), radius=(0, kernel // 2, kernel // 2, 0), mode="reflect"
    )
    return _to_uint8(blurred, rounding="nearest")


def median_blur(images: np.ndarray, kernel: int) -> np.ndarray:
    """Per-channel ``kernel``×``kernel`` median, ``scipy.ndimage.median_filter(mode='reflect')``."""
    from scipy import ndimage

    return ndimage.median_filter(images, size=(1, kernel, kernel, 1), mode="reflect")


def blur(images: np.ndarray, *, method: str, kernel: int) -> np.ndarray:
    """Blur by ``method`` in :data:`winnow.configs.BLUR_METHODS` with an odd ``kernel`` size."""
    return {"box": box_blur, "gaussian": gaussian_blur, "median": median_blur}[method](images, kernel)


def resize(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Each image resized to ``shape = (height, width)`` with Pillow BICUBIC.

    Returns:
        uint8 ``(N, height, width, C)``.
    """
    height, width = shape
    out = np.empty((len(images), height, width, images.shape[3]), dtype=np.uint8)
    for i, image in enumerate(images):
        # Pillow wants 2-D arrays for one channel ("L") and 3-D for three ("RGB")
        pil = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
        out[i] = np.asarray(pil.resize((width, height), Image.BICUBIC)).reshape(height, width, -1)
    return out


def resample(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resized to ``shape = (height, width)`` and back to the input's size, both Pillow BICUBIC.

    This is what an imageset holds for a file stored at ``shape``: ingest resizes every image to the
    set's size, so downscaling, odd size and odd aspect ratio all become this round trip.
    """
    return resize(resize(images, shape), images.shape[1:3])


def low_information(images: np.ndarray, size: int) -> np.ndarray:
    """The image resized to ``size``×``size`` (Pillow BICUBIC), pasted at the top-left of a black
    canvas of the input's size."""
    out = np.zeros_like(images)
    out[:, :size, :size] = resize(images, (size, size))
    return out


def gray_levels(images: np.ndarray) -> np.ndarray:
    """float32 ``(N, H, W, 1)``: ``trunc(.2989 R + .587 G + .114 B)``; a 1-channel image as is."""
    if images.shape[3] == 1:
        return images.astype(np.float32)
    return np.trunc(images.astype(np.float32) @ _GRAY_WEIGHTS)[..., None]


def grayscale(images: np.ndarray) -> np.ndarray:
    """The gray levels (:func:`gray_levels`) copied into every channel; shape kept."""
    return np.broadcast_to(gray_levels(images), images.shape).astype(np.uint8)


def jitter(
    images: np.ndarray,
    *,
    brightness: float | np.ndarray = 1.0,
    contrast: float | np.ndarray = 1.0,
    saturation: float | np.ndarray = 1.0,
    hue: float | np.ndarray = 0.0,
) -> np.ndarray:
    """Colour jitter, the protocol's near duplicate, as torchvision computes it on uint8 (float32).

    Applied in this order, each step clamped to [0, 255] and truncated:
    brightness ``x * f``; contrast ``f * x + (1 - f) * mean(gray)``; saturation
    ``f * x + (1 - f) * gray``; then, where ``hue`` is not 0, the hue turned by ``hue`` of a full
    circle (in [-0.5, 0.5]). ``gray`` is :func:`gray_levels`.

    Args:
        images: uint8 ``(N, H, W, C)``; on one channel saturation and hue change nothing.
        brightness, contrast, saturation, hue: one factor for all images, or float ``(N,)``;
            brightness, contrast and saturation in [0, :data:`MAX_JITTER_FACTOR`].

    Raises:
        ValueError: a brightness, contrast or saturation factor outside that range (or NaN): in float32 it
        would overflow into NaN pixels, cast to garbage instead of a copy.
    """
    for name, factor in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        factor = np.asarray(factor, dtype=np.float64).ravel()
        bad = factor[~((factor >= 0) & (factor <= MAX_JITTER_FACTOR))]  # NaN fails both comparisons
        if len(bad):
            raise ValueError(f"jitter: {name} factors must lie in [0, {MAX_JITTER_FACTOR:g}], got {bad[0]:g}")

    def per_image(factor):
        return np.asarray(factor, dtype=np.float32).reshape(-1, 1, 1, 1)

    def blend(x, other, factor):
        factor = per_image(factor)
        return np.trunc(np.clip(factor * x + (1 - factor) * other, 0, 255))

    out = blend(images.astype(np.float32), 0.0, brightness)
    out = blend(out, gray_levels(out).mean(axis=(1, 2, 3), keepdims=True), contrast)
    if images.shape[3] == 1:  # gray already: blending with itself would only add float rounding
        return out.astype(np.uint8)
    out = blend(out, gray_levels(out), saturation).astype(np.uint8)
    if np.any(np.asarray(hue) != 0):
        out = _turn_hue(out, np.broadcast_to(np.asarray(hue, dtype=np.float64), (len(out),)))
    return out


def _turn_hue(images: np.ndarray, turns: np.ndarray) -> np.ndarray:
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(images, channel_axis=-1)
    hsv[..., 0] = (hsv[..., 0] + turns.reshape(-1, 1, 1)) % 1.0
    return _to_uint8(hsv2rgb(hsv, channel_axis=-1) * 255.0, rounding="nearest")


def jitter_factors(
    count: int, *, low: float, high: float, hue: float = 0.0, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Random factors for :func:`jitter`: brightness, contrast, saturation each float ``(count,)``
    from U[low, high] (drawn in that order), hue from U[-hue, hue]."""
    factors = {name: rng.uniform(low, high, size=count) for name in ("brightness", "contrast", "saturation")}
    factors["hue"] = rng.uniform(-hue, hue, size=count) if hue else np.zeros(count)
    return factors


# pixels damaged at a time by :func:`in_chunks`: each kind works in float64 (8 bytes a value, and a temporary or
# two beside it), so a chunk's work stays near 30 MiB whatever the number of images damaged
CHUNK_BYTES = 1 << 20


def in_chunks(damage, images: np.ndarray, **per_image: np.ndarray) -> np.ndarray:
    """``damage(chunk, **per_image)`` over consecutive chunks of uint8 ``(N, H, W, C)`` ``images`` of at most
    :data:`CHUNK_BYTES` of pixels (one image at least), each ``(N,)`` array of ``per_image`` sliced with its
    chunk; the results put together, uint8 ``(N, H, W, C)``. The same bytes as one call for a ``damage`` that
    treats each image alone, and for :func:`gaussian_noise`, whose chunks, in order, draw one call's values one after
    another (not :func:`salt_and_pepper`, which draws every hit before any colour)."""
    out = np.empty(images.shape, np.uint8)
    step = max(1, CHUNK_BYTES // max(1, int(np.prod(images.shape[1:]))))
    for start in range(0, len(images), step):
        rows = slice(start, start + step)
        out[rows] = damage(images[rows], **{name: values[rows] for name, values in per_image.items()})
    return out
