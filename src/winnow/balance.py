"""Balanced augmentation (001 §3.4): augmented copies bring every class up to the same count, and
edge cases (images far from their class centre) get more of the copies than typical images.

The augmentations are torch only (torchvision does not import here) and work on a whole batch at
once: every geometric op of every image is folded into one affine matrix per image, so a batch takes
one ``affine_grid``/``grid_sample`` call whatever the ops; invert and noise are elementwise after it.
Images go in and come out as uint8 ``(N, H, W, C)`` numpy arrays; the work can run on a CUDA device.
Random draws come from a CPU ``torch.Generator`` seeded by the caller, so a seed gives the same images.

Read top to bottom: :func:`augment` (its :class:`winnow.configs.Policy` says how), :func:`balance_counts`,
:func:`balanced_augment`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from winnow.configs import GEOMETRIC_OPS, Policy
from winnow.errors import WinnowError

# each op's strength at magnitude 1 (RandAugment's largest, on a 0–1 scale)
MAX_SHEAR = 0.3  # horizontal shear factor
MAX_ROTATE = math.radians(30.0)
MAX_TRANSLATE = 0.3  # fraction of the image size
MAX_CROP = 0.5  # fraction of the area cut away by the random resized crop
MAX_ASPECT = math.log(4 / 3)  # log of the crop's largest aspect-ratio change
MAX_NOISE = 0.2 * 255.0  # Gaussian sigma on the 0–255 scale


def augment(images: np.ndarray, *, policy: Mapping[str, Any] | Policy, seed: int, device: str | torch.device = "cpu",
            batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """One augmented copy of every image.

    Args:
        images: uint8 ``(N, H, W, C)``.
        policy: a :class:`Policy` or its params dict.
        device: where the arithmetic runs; the random draws are made on the CPU either way.

    Returns:
        uint8 ``(N, H, W, C)`` copies, and bool ``(N, len(policy.ops))``: which ops each copy got. The
        random draws are made per batch of ``batch_size``, so the same seed and batch size give the same
        copies (on the CPU; CUDA's resampling may differ in the last bit).
    """
    policy = Policy.from_params(policy)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    out, chosen = np.empty_like(images), np.zeros((len(images), len(policy.ops)), bool)
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).to(device)
        pixels, picked = _augment_batch(batch.permute(0, 3, 1, 2), policy, generator)
        out[start:start + len(batch)] = pixels.permute(0, 2, 3, 1).cpu().numpy()
        chosen[start:start + len(batch)] = picked.numpy()
    return out, chosen


def _augment_batch(x: torch.Tensor, policy: Policy, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``(B, C, H, W)`` → augmented uint8 ``(B, C, H, W)`` and the bool ``(B, len(ops))`` ops chosen."""
    b, _, h, w = x.shape
    k = len(policy.ops)
    order = torch.rand(b, k, generator=generator).argsort(dim=1)
    picked = torch.zeros(b, k, dtype=torch.bool).scatter_(1, order[:, :policy.n], True)
    sign = torch.where(torch.rand(b, k, generator=generator) < 0.5, -1.0, 1.0)
    strength = policy.magnitude * (0.5 + 0.5 * torch.rand(b, k, generator=generator)) * sign
    place = torch.rand(b, 3, generator=generator) * 2 - 1  # crop centre and translate direction, in [-1, 1]
    noise = torch.randn(x.shape, generator=generator) if "noise" in policy.ops else None
    on = {op: picked[:, i] for i, op in enumerate(policy.ops)}
    s = {op: strength[:, i] for i, op in enumerate(policy.ops)}

    out = x.float()
    geometric = picked[:, torch.tensor([op in GEOMETRIC_OPS for op in policy.ops])].any(dim=1)
    if geometric.any():
        theta = _affine(on, s, place, h, w)[geometric, :2].to(x.device)
        grid = F.affine_grid(theta, [int(geometric.sum()), x.shape[1], h, w], align_corners=False)
        rows = geometric.to(x.device)
        # zero padding: the background of digits, and what training's random crop pads with
        out[rows] = F.grid_sample(out[rows], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if "invert" in on:
        out = torch.where(on["invert"].to(x.device)[:, None, None, None], 255.0 - out, out)
    if noise is not None:
        sigma = (on["noise"] * s["noise"].abs() * MAX_NOISE).to(x.device)
        out = out + noise.to(x.device) * sigma[:, None, None, None]
    return out.round().clamp(0, 255).to(torch.uint8), picked


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


def balance_counts(labels: np.ndarray, *, num_classes: int, target: int | str = "max") -> np.ndarray:
    """int64 ``(num_classes,)``: how many images each class needs added to reach ``target``.

    ``target`` is ``"max"`` (the largest class's count) or a number of images; a class already at or
    above it gets 0 (nothing is removed), and so does a class with no image, which has nothing to
    augment from.

    Args:
        labels: int ``(N,)`` in ``[0, num_classes)``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise WinnowError(f"balance: labels must be in [0, {num_classes - 1}], got {labels.min()}..{labels.max()}")
    counts = np.bincount(labels, minlength=num_classes)
    if target == "max":
        goal = int(counts.max(initial=0))
    elif isinstance(target, (int, np.integer)) and not isinstance(target, bool) and target >= 0:
        goal = int(target)
    else:
        raise WinnowError(f"balance.target: must be 'max' or a number of images >= 0, got {target!r}")
    return np.where(counts > 0, np.maximum(goal - counts, 0), 0).astype(np.int64)


def edge_cases(scores: np.ndarray, labels: np.ndarray, *, fraction: float) -> np.ndarray:
    """bool ``(N,)``: per class, the ``fraction`` of its images with the highest float ``(N,)`` scores
    (at least one per class when ``fraction`` > 0). Ranked within each class because distances to a
    class centre are on each class's own scale."""
    if not 0.0 <= fraction <= 1.0:
        raise WinnowError(f"balance.edge_fraction: must be in [0, 1], got {fraction!r}")
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if scores.shape != labels.shape or not np.isfinite(scores).all():
        raise WinnowError(f"balance: edge_scores must be finite floats, one per image {labels.shape}, "
                          f"got {scores.shape}")
    edge = np.zeros(len(labels), bool)
    for label in np.unique(labels) if fraction > 0 else []:
        members = np.flatnonzero(labels == label)
        top = max(1, round(fraction * len(members)))
        edge[members[np.argsort(-scores[members], kind="stable")[:top]]] = True
    return edge


class Balanced(NamedTuple):
    """What :func:`balanced_augment` made: ``images`` uint8 ``(M, H, W, C)``, ``labels`` int64 ``(M,)``,
    ``source`` int64 ``(M,)`` the input each copy was made from, ``ops`` bool ``(M, len(policy.ops))``
    the ops each copy got, and ``edge`` bool ``(N,)`` which inputs counted as edge cases."""

    images: np.ndarray
    labels: np.ndarray
    source: np.ndarray
    ops: np.ndarray
    edge: np.ndarray


def balanced_augment(
    images: np.ndarray, labels: np.ndarray, *, policy: Mapping[str, Any] | Policy, seed: int, num_classes: int,
    target: int | str = "max", edge_scores: np.ndarray | None = None, edge_fraction: float = 0.1,
    edge_extra: float = 2.0, device: str | torch.device = "cpu",
) -> Balanced:
    """Augmented copies that bring every class to ``target`` images (:func:`balance_counts`).

    Each class's copies are spread over its images as evenly as the count allows (every image gets
    ``floor`` or ``ceil`` of its share; which ones get the extra one is drawn from ``seed``). With
    ``edge_scores`` (float ``(N,)``, higher = farther from the class centre, e.g. the distance to the
    class centroid in a classifier's feature space), the top ``edge_fraction`` of each class are edge
    cases (001's extra augmentation): their share weighs ``1 + edge_extra`` against 1 for the rest.
    The extra copies come out of the same per-class budget, so class counts stay equal; a class that
    needs no copies (the largest, under ``target="max"``) gets none, edge cases included; set a
    ``target`` above the largest count to augment every class.

    Args:
        images: uint8 ``(N, H, W, C)``; labels: int ``(N,)`` in ``[0, num_classes)``.
        policy: a :class:`Policy` or its params dict.

    Returns:
        :class:`Balanced`, copies grouped by class, then by source image.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(images) != len(labels):
        raise WinnowError(f"balance: {len(images)} images but {len(labels)} labels")
    policy = Policy.from_params(policy)
    needed = balance_counts(labels, num_classes=num_classes, target=target)
    edge = (np.zeros(len(labels), bool) if edge_scores is None
            else edge_cases(edge_scores, labels, fraction=edge_fraction))
    if edge_extra < 0:
        raise WinnowError(f"balance.edge_extra: must be >= 0, got {edge_extra!r}")
    weight = np.where(edge, 1.0 + edge_extra, 1.0)
    rng = np.random.default_rng(seed)
    copies = np.zeros(len(labels), np.int64)
    for label in np.flatnonzero(needed):
        members = np.flatnonzero(labels == label)
        share = needed[label] * weight[members] / weight[members].sum()
        whole = np.floor(share).astype(np.int64)
        # the copies floor() left over go to the largest remainders; ties (all of them when the weights
        # are equal) fall in a random order, so no image is favoured for its position
        tiebreak = rng.permutation(len(members))
        extra = np.lexsort((tiebreak, -(share - whole)))[:needed[label] - whole.sum()]
        whole[extra] += 1
        copies[members] = whole
    source = np.repeat(np.arange(len(labels)), copies)
    source = source[np.argsort(labels[source], kind="stable")]
    new, ops = augment(images[source], policy=policy, seed=seed, device=device)
    return Balanced(new, labels[source], source, ops, edge)
