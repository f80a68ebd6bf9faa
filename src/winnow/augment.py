"""Augmentation operations in torch alone, on a whole batch at once, on any device: the copies of the
balance stage (:func:`augment`, uint8 numpy in and out) and the train stage's on-the-fly augmentation
(:func:`apply_policy`, a float batch on the device).

Every geometric op of every image is folded into one affine matrix per image, so a batch takes one
``affine_grid``/``grid_sample`` call whatever the ops; brightness, contrast, cutout, invert and noise are
elementwise after it (cutout first: it paints the background, which brightness and contrast then change as
the rest). What the geometry uncovers is filled with the image's own background
(:class:`winnow.configs.Policy` ``fill``): the mean colour of its one-pixel border, or its nearest edge
pixel, never a fixed black that would draw bars on white paper. Random draws come from a CPU
``torch.Generator`` seeded by the caller, so a seed gives the same images on any device (CUDA's resampling
may differ in the last bit). Values stay in [0, 255].

Read top to bottom: :func:`augment`, :func:`apply_policy`, then the helpers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from winnow.configs import GEOMETRIC_OPS, Policy
from winnow.pixel_batches import batch_rows

# each op's strength at magnitude 1 (RandAugment's largest, on a 0-1 scale)
MAX_SHEAR = 0.3  # horizontal shear factor
MAX_ROTATE = math.radians(30.0)
MAX_TRANSLATE = 0.3  # fraction of the image size
MAX_CROP = 0.5  # fraction of the area cut away by the random resized crop
MAX_ASPECT = math.log(4 / 3)  # log of the crop's largest aspect-ratio change
MAX_BRIGHTNESS = 0.9  # factor 1 +- 0.9, PIL's enhance range in RandAugment
MAX_CONTRAST = 0.9
MAX_CUTOUT = 0.5  # side of the cut-out square, as a fraction of the shorter side
MAX_NOISE = 0.2 * 255.0  # Gaussian sigma on the 0-255 scale
# :func:`augment`'s default batch: at most this many images, and at most this many pixels (2,048 of 32x32)
BATCH_IMAGES = 2048
BATCH_PIXELS = BATCH_IMAGES * 32 * 32


def augment(images: np.ndarray, *, policy: Mapping[str, Any] | Policy, seed: int, device: str | torch.device = "cpu",
            batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One augmented copy of every image.

    Args:
        images: uint8 ``(N, H, W, C)``.
        policy: a :class:`Policy` or its params dict.
        device: where the arithmetic runs; the random draws are made on the CPU either way.

    Returns:
        uint8 ``(N, H, W, C)`` copies, and bool ``(N, len(policy.ops))``: which ops each copy got. The
        random draws are made per batch of ``batch_size`` (None: :data:`BATCH_IMAGES`, fewer of images
        larger than 32x32: :data:`BATCH_PIXELS`), so the same seed and batch size give the same copies.
    """
    policy = Policy.from_params(policy)
    if batch_size is None:
        # bounded in pixels: each float32 temporary of a batch (the batch, its copy, the noise, the resampled
        # difference) is 4 bytes a value, about 30 times the uint8 copies at the peak. Before: 2,048 images whatever
        # their size, 1.7 GB above the copies for 2,048 96x96 RGB ones, about 10 GB at 224x224 (balance's copies,
        # density's val images). At 32x32 and below still 2,048, so the copies made there are as before
        batch_size = batch_rows(images, BATCH_IMAGES, pixels=BATCH_PIXELS)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    out, chosen = np.empty_like(images), np.zeros((len(images), len(policy.ops)), bool)
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).to(device)
        pixels, picked = apply_policy(batch.permute(0, 3, 1, 2).float(), policy, generator=generator)
        out[start:start + len(batch)] = pixels.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        chosen[start:start + len(batch)] = picked.numpy()
    return out, chosen


def apply_policy(x: torch.Tensor, policy: Policy, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """float ``(B, C, H, W)`` on the 0-255 scale → augmented float ``(B, C, H, W)`` in [0, 255] on the same
    device, and bool ``(B, len(policy.ops))`` on the CPU: the ops each image got. ``generator``: a CPU
    generator, advanced by the draws."""
    b, c, h, w = x.shape
    k = len(policy.ops)
    order = torch.rand(b, k, generator=generator).argsort(dim=1)
    picked = torch.zeros(b, k, dtype=torch.bool).scatter_(1, order[:, :policy.n], True)
    sign = torch.where(torch.rand(b, k, generator=generator) < 0.5, -1.0, 1.0)
    low = 0.5 if policy.kind == "rand" else 0.0
    strength = policy.magnitude * (low + (1 - low) * torch.rand(b, k, generator=generator)) * sign
    place = torch.rand(b, 5, generator=generator) * 2 - 1  # crop centre, translate heading, cutout centre
    noise = torch.randn(x.shape, generator=generator) if "noise" in policy.ops else None
    on = {op: picked[:, i] for i, op in enumerate(policy.ops)}
    on_device = strength.to(x.device)  # one copy for the pixel ops; the affine matrices are built on the CPU
    s = {op: on_device[:, i] for i, op in enumerate(policy.ops)}
    fill = border_mean(x) if policy.fill != "edge" or "cutout" in on else None  # the colour uncovered pixels take

    out = x.to(torch.float32, copy=True)  # the caller's batch stays as it was
    geometric = picked[:, torch.tensor([op in GEOMETRIC_OPS for op in policy.ops])].any(dim=1)
    if geometric.any():
        theta = _affine(on, {op: strength[:, i] for i, op in enumerate(policy.ops)}, place, h, w)[geometric, :2].to(x.device)
        grid = F.affine_grid(theta, [int(geometric.sum()), c, h, w], align_corners=False)
        rows = geometric.to(x.device)
        if policy.fill == "edge":
            out[rows] = F.grid_sample(out[rows], grid, mode="bilinear", padding_mode="border", align_corners=False)
        else:  # resample the difference from the border colour: outside the image it is 0, i.e. that colour
            shifted = F.grid_sample(out[rows] - fill[rows], grid, mode="bilinear", padding_mode="zeros",
                                    align_corners=False)
            out[rows] = shifted + fill[rows]
    view = lambda op: on[op].to(x.device)[:, None, None, None]  # noqa: E731 - (B, 1, 1, 1) bool
    # cutout paints the background the geometry fills with, so it comes before the ops that change every pixel's
    # colour, which then change the square's as the paper's. Before: after brightness and contrast, the border colour of
    # the image as it came, a white square on paper brightness had darkened to 57 (or 200 on paper contrast made 255)
    if "cutout" in on:
        side = MAX_CUTOUT * s["cutout"].abs() * min(h, w)
        centre = (place[:, 3:5].to(x.device) + 1) / 2 * torch.tensor([h, w], device=x.device)
        ys = torch.arange(h, device=x.device)[None, :, None] + 0.5
        xs = torch.arange(w, device=x.device)[None, None, :] + 0.5
        inside = (((ys - centre[:, 0, None, None]).abs() <= side[:, None, None] / 2)
                  & ((xs - centre[:, 1, None, None]).abs() <= side[:, None, None] / 2))
        out = torch.where(view("cutout") & inside[:, None], fill, out)
    if "brightness" in on:
        out = torch.where(view("brightness"), out * (1 + MAX_BRIGHTNESS * s["brightness"])[:, None, None, None], out)
    if "contrast" in on:
        grey = out.mean(dim=(1, 2, 3), keepdim=True)
        scaled = grey + (out - grey) * (1 + MAX_CONTRAST * s["contrast"])[:, None, None, None]
        out = torch.where(view("contrast"), scaled, out)
    if "invert" in on:
        out = torch.where(view("invert"), 255.0 - out, out)
    if noise is not None:
        sigma = on["noise"].to(x.device) * s["noise"].abs() * MAX_NOISE
        out = out + noise.to(x.device) * sigma[:, None, None, None]
    return out.clamp(0, 255), picked


def border_mean(x: torch.Tensor) -> torch.Tensor:
    """float ``(B, C, 1, 1)``: the mean of each image's one-pixel border, per channel, of float ``(B, C, H, W)``:
    the background colour a shifted or rotated image is filled with."""
    frame = torch.ones(x.shape[-2:], dtype=torch.bool, device=x.device)
    frame[1:-1, 1:-1] = False
    return x.float()[..., frame].mean(dim=-1)[..., None, None]


def _affine(on: dict[str, torch.Tensor], s: dict[str, torch.Tensor], place: torch.Tensor, h: int,
            w: int) -> torch.Tensor:
    """float ``(B, 3, 3)``: per image, output → input coordinates (``affine_grid``'s [-1, 1] convention)
    of its geometric ops composed; the identity for an op it did not draw."""
    b = len(place)
    zero, one = torch.zeros(b), torch.ones(b)

    def matrix(*top: torch.Tensor) -> torch.Tensor:  # six float (B,) entries: the top two rows
        return torch.stack([torch.stack(top[:3], 1), torch.stack(top[3:], 1), torch.stack([zero, zero, one], 1)], 1)

    steps = {}
    if "flip" in on:
        steps["flip"] = matrix(-one, zero, zero, zero, one, zero)
    if "crop" in on:
        area = 1.0 - MAX_CROP * s["crop"].abs()
        aspect = torch.exp(MAX_ASPECT * s["crop"])  # the sign picks wider or taller
        cw, ch = (area * aspect).sqrt().clamp(max=1.0), (area / aspect).sqrt().clamp(max=1.0)
        steps["crop"] = matrix(cw, zero, place[:, 0] * (1 - cw), zero, ch, place[:, 1] * (1 - ch))
    # [-1, 1] coordinates stretch a non-square image, so shear and rotation are converted from pixels
    if "shear" in on:
        steps["shear"] = matrix(one, MAX_SHEAR * s["shear"] * h / w, zero, zero, one, zero)
    if "rotate" in on:
        angle = MAX_ROTATE * s["rotate"]
        steps["rotate"] = matrix(angle.cos(), -angle.sin() * h / w, zero, angle.sin() * w / h, angle.cos(), zero)
    if "translate" in on:
        heading = math.pi * place[:, 2]
        reach = 2 * MAX_TRANSLATE * s["translate"].abs()  # [-1, 1] spans the image, so a fraction f is 2 f
        steps["translate"] = matrix(one, zero, reach * heading.cos(), zero, one, reach * heading.sin())
    total = torch.eye(3).repeat(b, 1, 1)
    for op, step in steps.items():  # filled in GEOMETRIC_OPS's order
        total = torch.where(on[op][:, None, None], total @ step, total)
    return total
