"""From a loaded source to the ingest imageset: resize, carve stratified splits, build the manifest, and add
the trusted split when the user gave one."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from winnow.errors import WinnowError
from winnow.sources import Loaded


def carve_splits(
    labels: np.ndarray, *, splits: np.ndarray | None, val_fraction: float, test_fraction: float, seed: int
) -> np.ndarray:
    """Assign train/val/test, stratified by label, to images the source left without a split.

    A split the source already has is kept as it is; only the missing ones are carved out of train
    (or out of everything when the source has no splits at all).

    Args:
        labels: int ``(N,)``.
        splits: str ``(N,)`` with None where the source gave no split, or None for all.

    Returns:
        object ``(N,)`` of "train" / "val" / "test".
    """
    for name, value in (("ingest.val_fraction", val_fraction), ("ingest.test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise WinnowError(f"{name}: {value} is outside [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise WinnowError("ingest.val_fraction + ingest.test_fraction must be below 1")
    out = np.full(len(labels), "train", dtype=object)
    given = np.zeros(len(labels), bool) if splits is None else np.array([s is not None for s in splits])
    if splits is not None:
        out[given] = splits[given]
    present = set(out[given])
    pool = ~given | (out == "train")
    # carve from what the source calls train (or from everything), the same share of every class
    wanted = [(name, frac) for name, frac in (("test", test_fraction), ("val", val_fraction)) if name not in present]
    rng = np.random.default_rng(seed)
    for label in np.unique(labels[pool]):
        members = np.flatnonzero(pool & (labels == label))
        members = members[rng.permutation(len(members))]
        start = 0
        for name, frac in wanted:
            count = int(round(frac * len(members)))
            out[members[start:start + count]] = name
            start += count
    return out


def resize_batch(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(N, H, W, C)`` → ``(N, size, size, C)`` with Pillow's antialiased bicubic filter."""
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, images.shape[3]), np.uint8)
    for i, img in enumerate(images):  # Pillow resizes one image at a time; only on ingest
        pil = Image.fromarray(img[..., 0] if img.shape[2] == 1 else img)
        out[i] = np.asarray(pil.resize((size, size), Image.Resampling.BICUBIC)).reshape(size, size, -1)
    return out


def to_imageset(loaded: Loaded, *, size: int | None, val_fraction: float, test_fraction: float, seed: int):
    """(images, manifest) ready for :func:`winnow.imageset.write_imageset`; refuses a set that is not a
    classification problem (see :func:`check_classes`)."""
    if len(loaded.images) == 0:
        raise WinnowError("ingest: the source yielded no readable images")
    bad = (loaded.labels < 0) | (loaded.labels >= len(loaded.classes))
    if bad.any():
        raise WinnowError(
            f"ingest: label {loaded.labels[bad][0]} at {loaded.ids[bad][0]} is outside the {len(loaded.classes)} classes"
        )
    splits = carve_splits(loaded.labels, splits=loaded.splits, val_fraction=val_fraction,
                          test_fraction=test_fraction, seed=seed)
    check_classes(loaded.classes, loaded.labels, splits)
    images = loaded.images if size is None else resize_batch(loaded.images, size)
    manifest = pd.DataFrame({
        "id": loaded.ids.astype(str),
        "split": splits.astype(str),
        "label": loaded.labels,
        "source": loaded.source,
        "orig_h": loaded.orig_h,
        "orig_w": loaded.orig_w,
        "orig_mode": loaded.orig_mode.astype(str),
    })
    return images, manifest


def check_classes(classes: list[str], labels: np.ndarray, splits: np.ndarray) -> None:
    """Refuse class names that are empty or repeated, fewer than two classes, or a class without train
    images: it cannot be learnt, and its zero would enter every macro average as if it were a result.

    Args:
        labels: int ``(N,)`` within ``classes``.
        splits: object ``(N,)`` of train/val/test.
    """
    names = [str(c) for c in classes]
    repeated = next((c for i, c in enumerate(names) if c in names[:i]), None)
    if repeated is not None:
        raise WinnowError(f"ingest: class name {repeated!r} appears twice; class names must be unique")
    if "" in names:
        raise WinnowError(f"ingest: class {names.index('')} has an empty name; name every class")
    train = np.bincount(labels[splits == "train"], minlength=len(names))
    learnt = [c for c, n in zip(names, train) if n]
    if len(learnt) < 2:
        which = f"only class {learnt[0]!r} has" if learnt else "no class has"
        raise WinnowError(f"ingest: {which} train images; a classifier needs at least 2 classes, so add images "
                          "of another class")
    empty = next((c for c, n in zip(names, train) if not n), None)
    if empty is not None:
        elsewhere = int((labels == names.index(empty)).sum())
        which = f"no train images ({elsewhere} in val/test)" if elsewhere else "no images"
        raise WinnowError(f"ingest: class {empty!r} has {which}; a class with no images is not a class: add train "
                          "images, remove the class, or lower ingest.val_fraction / ingest.test_fraction")


def with_trusted(images: np.ndarray, manifest: pd.DataFrame, trusted: Loaded, *, size: int | None):
    """``(images, manifest)`` of :func:`to_imageset` with the trusted set appended as split ``trusted``.

    Args:
        images: uint8 ``(N, H, W, C)``, the data set's; trusted: :func:`winnow.sources.load_trusted`.

    The trusted images are resized like the others; single-channel ones join a colour set as RGB (grey
    repeated, as Pillow converts), colour ones are refused by a grey set, as are other sizes when
    ``ingest.size`` is null: nothing turns into different data without a word.
    """
    extra = trusted.images if size is None else resize_batch(trusted.images, size)
    if extra.shape[3] == 1 and images.shape[3] == 3:
        extra = np.repeat(extra, 3, axis=3)
    if extra.shape[3] == 3 and images.shape[3] == 1:
        raise WinnowError("ingest.trusted_path: the trusted images are colour but the data set is single-channel; "
                          "give grey trusted images")
    if extra.shape[1:] != images.shape[1:]:
        raise WinnowError(f"ingest.trusted_path: the trusted images are {extra.shape[1]}x{extra.shape[2]}, the data "
                          f"set's {images.shape[1]}x{images.shape[2]}; set ingest.size to resize both to one size")
    rows = pd.DataFrame({"id": trusted.ids.astype(str), "split": "trusted", "label": trusted.labels,
                         "source": trusted.source, "orig_h": trusted.orig_h, "orig_w": trusted.orig_w,
                         "orig_mode": trusted.orig_mode.astype(str)})
    return np.concatenate([images, extra]), pd.concat([manifest, rows], ignore_index=True)
