"""From a loaded source to the ingest imageset: resize, carve stratified splits, build the manifest, and add
the trusted split when the user gave one. The pixels go to disk a batch at a time
(:class:`winnow.npy_rows.NpyRows`), so ingest's memory does not grow with the number of images."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from winnow.errors import WinnowError, first_repeated
from winnow.imageset import alike, whole_file  # alike: its readers import it from here too
from winnow.npy_rows import BATCH_BYTES, NpyRows
from winnow.sources import Loaded

RESIZE_BYTES = 32 << 20  # pixels of one resize call: Pillow holds them and the rows-resized copy
_PASS_ORDER: dict[tuple, bool | None] = {}  # _rows_first's probes, by shape and size


def carve_splits(
    labels: np.ndarray, *, ids: np.ndarray, splits: np.ndarray | None, val_fraction: float, test_fraction: float,
    seed: int,
) -> np.ndarray:
    """Assign train/val/test, stratified by label, to images the source left without a split.

    A split the source already has is kept as it is; only the missing ones are carved out of train
    (or out of everything when the source has no splits at all). Within a class, images are ordered by a
    hash of ``seed`` and their id, and the first of that order go to test, then val: an image keeps its
    split when others are added or removed (a class grown by one moves at most one image across the test|val
    boundary and two across val|train, where both splits' counts round up at once, and no other class moves), so the
    test set of a data set that grew is the old one's, not a new draw. An .npz's
    ids are its file's name and row numbers (:mod:`winnow.npz_files`): there only rows appended keep the others'
    splits.

    Args:
        labels: int ``(N,)``.
        ids: ``(N,)`` the images' ids (unique).
        splits: str ``(N,)`` with None where the source gave no split, or None for all.

    Returns:
        object ``(N,)`` of "train" / "val" / "test".
    """
    for name, value in (("ingest.val_fraction", val_fraction), ("ingest.test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise WinnowError(f"{name}: {value} is outside [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise WinnowError("ingest.val_fraction + ingest.test_fraction must be below 1")
    out, present, pool = _source_splits(labels, splits)
    # carve from what the source calls train (or from everything), the same share of every class
    wanted = [(name, frac) for name, frac in (("test", test_fraction), ("val", val_fraction)) if name not in present]
    keys = np.array([int.from_bytes(hashlib.blake2b(f"{seed}:{image}".encode(), digest_size=8).digest(), "big")
                     for image in ids], dtype=np.uint64)
    for label in np.unique(labels[pool]):
        members = np.flatnonzero(pool & (labels == label))
        members = members[np.argsort(keys[members], kind="stable")]
        start = 0
        for name, frac in wanted:
            count = int(round(frac * len(members)))
            out[members[start:start + count]] = name
            start += count
    return out


def _source_splits(labels: np.ndarray, splits: np.ndarray | None) -> tuple[np.ndarray, set, np.ndarray]:
    """``(out, present, pool)``: object ``(N,)`` with the source's splits and "train" elsewhere, the splits
    the source gave, and bool ``(N,)`` of the images the missing splits are carved from."""
    out = np.full(len(labels), "train", dtype=object)
    given = np.zeros(len(labels), bool) if splits is None else np.array([s is not None for s in splits])
    if splits is not None:
        out[given] = splits[given]
    return out, set(out[given]), ~given | (out == "train")


def check_carved(labels: np.ndarray, splits: np.ndarray, *, given: np.ndarray | None, val_fraction: float,
                 test_fraction: float) -> None:
    """Refuse a val or test fraction above 0 that carved no image (every class's share rounded to 0):
    without val images every training would keep its first epoch. ``labels`` int ``(N,)``, ``splits`` the
    carved object ``(N,)``, ``given`` the source's splits (None where it gave none)."""
    _, present, pool = _source_splits(labels, given)
    for name, frac in (("test", test_fraction), ("val", val_fraction)):
        if frac > 0 and name not in present and not (splits == name).any():
            largest = int(np.bincount(labels[pool]).max()) if pool.any() else 0
            raise WinnowError(f"ingest.{name}_fraction: {frac} of {int(pool.sum())} images leaves the {name} split "
                              f"empty (each class's share rounds to 0 images); set at least {1 / max(largest, 1):.2g}")


def resize_batch(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(N, H, W, C)`` (C 1 or 3) → ``(N, size, size, C)``: each image exactly what Pillow's
    antialiased bicubic ``resize`` makes of it alone, in two Pillow calls per :data:`RESIZE_BYTES`.

    Pillow resizes in two passes, each rounded to 8 bits, with weights that depend only on the lengths:
    stacked top to bottom, the images' rows are resized in one call (a row never meets another image's);
    side by side, their columns are resized in one call (a column never meets another's). Which pass
    goes first Pillow chooses from the sizes (:func:`_rows_first`).
    """
    n, h, w, c = images.shape
    if (h, w) == (size, size):
        return images
    out = np.empty((n, size, size, c), np.uint8)
    rows_first = _rows_first(h, w, c, size) if n >= 4 else None  # a probe costs three resizes
    if rows_first is None:
        for i, image in enumerate(images):
            out[i] = _pillow_resize(image, (size, size))
        return out
    per_call = max(1, RESIZE_BYTES // (h * w * c))
    for first in range(0, n, per_call):
        chunk = images[first:first + per_call]
        out[first:first + len(chunk)] = (_resize_columns(_resize_rows(chunk, size), size) if rows_first
                                         else _resize_rows(_resize_columns(chunk, size), size))
    return out


def _resize_rows(images: np.ndarray, width: int) -> np.ndarray:
    """``(K, H, W, C)`` → ``(K, H, width, C)``: Pillow's row pass on the images one above the other."""
    k, h, w, c = images.shape
    return images if w == width else _pillow_resize(images.reshape(k * h, w, c), (width, k * h)).reshape(k, h, width, c)


def _resize_columns(images: np.ndarray, height: int) -> np.ndarray:
    """``(K, H, W, C)`` → ``(K, height, W, C)``: Pillow's column pass on the images side by side."""
    k, h, w, c = images.shape
    if h == height:
        return images
    wide = images.transpose(1, 0, 2, 3).reshape(h, k * w, c)
    return _pillow_resize(wide, (k * w, height)).reshape(height, k, w, c).transpose(1, 0, 2, 3)


def _rows_first(h: int, w: int, c: int, size: int) -> bool | None:
    """Whether Pillow resizes an ``h x w`` image (``c`` channels) to ``size x size`` rows first, columns
    first, or None when a probe cannot tell (then images are resized one by one). Pillow picks the order
    from the sizes, and its rule has changed between versions, so a random image is resized both ways
    and compared with Pillow's own result, once per shape."""
    if h == size or w == size:  # one pass
        return True
    key = (h, w, c, size)
    if key not in _PASS_ORDER:
        probe = np.random.default_rng(0).integers(0, 256, (1, h, w, c), np.uint8)
        whole = _pillow_resize(probe[0], (size, size))
        rows = np.array_equal(whole, _resize_columns(_resize_rows(probe, size), size)[0])
        columns = np.array_equal(whole, _resize_rows(_resize_columns(probe, size), size)[0])
        _PASS_ORDER[key] = rows if rows != columns else None
    return _PASS_ORDER[key]


def _pillow_resize(pixels: np.ndarray, width_height: tuple[int, int]) -> np.ndarray:
    """uint8 ``(H, W, C)`` resized by Pillow's bicubic filter to ``width_height``, as ``(H', W', C)``."""
    image = Image.fromarray(np.ascontiguousarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels))
    return np.asarray(image.resize(width_height, Image.Resampling.BICUBIC)).reshape(width_height[1], width_height[0], -1)


def to_imageset(loaded: Loaded, *, size: int | None, val_fraction: float, test_fraction: float, seed: int):
    """(images, manifest) ready for :func:`winnow.imageset.write_imageset`, in memory; the ingest stage
    uses :func:`ingest_manifest` and :func:`store_images`, which never hold the images whole."""
    manifest = ingest_manifest(loaded, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    return (loaded.images if size is None else resize_batch(loaded.images, size)), manifest


def ingest_manifest(loaded: Loaded, *, val_fraction: float, test_fraction: float, seed: int) -> pd.DataFrame:
    """The manifest (without digests) of a loaded source, splits carved; refuses a set that is not a
    classification problem (see :func:`check_classes`), and a split the source declared
    (:attr:`~winnow.sources.Loaded.declared`) whose every file was set aside, which carving would fill from train."""
    if len(loaded.images) == 0:
        raise WinnowError("ingest: the source yielded no readable images")
    bad = (loaded.labels < 0) | (loaded.labels >= len(loaded.classes))
    if bad.any():
        raise WinnowError(
            f"ingest: label {loaded.labels[bad][0]} at {loaded.ids[bad][0]} is outside the {len(loaded.classes)} classes"
        )
    read = set() if loaded.splits is None else set(loaded.splits)
    lost = next((split for split in loaded.declared if split not in read), None)
    if lost is not None:  # before: every file of root/test set aside (.tif), and the test split carved from train unsaid
        then = "no image is left to train on" if lost == "train" else "it would be carved from the train images instead"
        raise WinnowError(f"ingest: every file of the source's {lost} split was set aside, so {then}; convert or "
                          "replace its files")
    splits = carve_splits(loaded.labels, ids=loaded.ids, splits=loaded.splits, val_fraction=val_fraction,
                          test_fraction=test_fraction, seed=seed)
    check_classes(loaded.classes, loaded.labels, splits, given=loaded.splits)
    check_carved(loaded.labels, splits, given=loaded.splits, val_fraction=val_fraction, test_fraction=test_fraction)
    return _rows(loaded, splits.astype(str))


def _rows(loaded: Loaded, split) -> pd.DataFrame:
    return pd.DataFrame({"id": loaded.ids.astype(str), "split": split, "label": loaded.labels,
                         "source": loaded.source, "orig_h": loaded.orig_h, "orig_w": loaded.orig_w,
                         "orig_mode": loaded.orig_mode.astype(str)})


def store_images(file: Path, images: np.ndarray, *, size: int | None) -> NpyRows:
    """``images`` resized to ``size`` as the ``.npy`` ``file``, a batch at a time.

    Args:
        images: uint8 ``(N, H, W, C)``, in memory or a memory map; when it maps another ``.npy`` as a
            whole (a source streamed to disk) that file is read in batches and, already at ``size``,
            moved to ``file`` instead of copied.
    """
    source = whole_file(images)
    if source is not None and (size is None or images.shape[1:3] == (size, size)):
        os.replace(source, file)
        return NpyRows.open(file)
    side = images.shape[1:3] if size is None else (size, size)
    rows = NpyRows.create(file, (len(images), *side, images.shape[3]))
    batches = NpyRows.open(source).batches(rows=rows.batch_rows) if source is not None else (
        (start, images[start:start + rows.batch_rows]) for start in range(0, len(images), rows.batch_rows))
    for start, batch in batches:
        rows.write(start, resize_batch(np.asarray(batch), side[0]) if size is not None else np.asarray(batch))
    if source is not None:
        source.unlink()
    return rows


def all_grey(pixels) -> bool:
    """Whether every pixel of RGB ``pixels`` (``(..., 3)``: an image, a batch of them, or a Pillow RGB image) has
    equal red, green and blue, exactly: grey saved as RGB, which one channel holds whole. One meaning for the
    decoder's palette images without colour (:mod:`winnow.image_decode`) and the trusted images a grey data set
    takes (:func:`append_trusted`)."""
    pixels = np.asarray(pixels)
    return bool((pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all())


def _first_coloured(images: np.ndarray) -> int | None:
    """The row of the first of uint8 ``(N, H, W, 3)`` ``images`` (in memory or a memory map, read a batch at a time)
    that is not :func:`all_grey`, or None when every one is."""
    step = max(1, BATCH_BYTES // max(1, images[:1].nbytes))
    for start in range(0, len(images), step):
        batch = np.asarray(images[start:start + step])
        if not all_grey(batch):
            return start + next(i for i, image in enumerate(batch) if not all_grey(image))
    return None


VERDICT_CLASS_PREFIX = "class:"  # a review's "class:Reject": relabel to the class Reject, never the verdict reject


def _check_printable(name: str) -> None:
    """Refuse a class name with surrounding spaces, a control character (a newline, a tab) or an invisible
    formatting one (a right-to-left override): a verdict CSV strips the spaces, an XML attribute turns a newline
    into a space or cannot hold the control character, and an override shows "dog → owl" as "dog lwo →"."""
    odd = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf")), None)
    if odd is not None or name != name.strip():
        what = f"the character {ascii(odd)}" if odd is not None else "surrounding spaces"
        raise WinnowError(f"ingest: class name {ascii(name)} holds {what}, which the review, its verdict files "
                          "and the pages cannot carry as written; rename the class")
    # a spreadsheet runs a cell that starts so as a formula: the review queue is made to be opened in one, and
    # predictions.csv and the confusion tables name classes too (=HYPERLINK(...) was accepted); "-" and "-1" stay
    if name[:1] in "=+@" or (name[:1] == "-" and len(name) > 1 and not name[1:].replace(".", "", 1).isdigit()):
        raise WinnowError(f"ingest: class name {ascii(name)} starts with {name[0]!r}, which a spreadsheet opening the "
                          "review queue or predictions.csv reads as a formula; rename the class")


def check_classes(classes: list[str], labels: np.ndarray, splits: np.ndarray, *,
                  given: np.ndarray | None = None) -> None:
    """Refuse class names that are empty or repeated, fewer than two classes, or a class without train
    images: it cannot be learnt, and its zero would enter every macro average as if it were a result.

    Args:
        labels: int ``(N,)`` within ``classes``.
        splits: object ``(N,)`` of train/val/test.
        given: the source's own splits (None where it gave none, as :func:`carve_splits` takes them): lowering
            ``ingest.val_fraction`` / ``ingest.test_fraction`` is advised only for a class whose val or test images
            ingest carved (before: also of a class with no image at all, and of one whose images are all in the
            source's own test folder, which no fraction moves).
    """
    names = [str(c) for c in classes]
    repeated = first_repeated(names)
    if repeated is not None:
        raise WinnowError(f"ingest: class name {repeated!r} appears twice; class names must be unique")
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(alike(name), name)
        if other != name:  # a review import or a reader of classes.json takes them for one class
            raise WinnowError(f"ingest: class names {ascii(other)} and {ascii(name)} differ only in Unicode form or "
                              "surrounding spaces, two classes shown alike; rename one")
    if "" in names:
        raise WinnowError(f"ingest: class {names.index('')} has an empty name; name every class")
    for name in names:
        _check_printable(name)
    prefixed = next((n for n in names if n.startswith(VERDICT_CLASS_PREFIX)
                     and n[len(VERDICT_CLASS_PREFIX):] in names), None)
    if prefixed is not None:  # the review writes "relabel to X" as class:X when X reads as a verdict word
        raise WinnowError(f"ingest: class names {ascii(prefixed)} and {ascii(prefixed[len(VERDICT_CLASS_PREFIX):])} "
                          f"read alike in a review verdict ({VERDICT_CLASS_PREFIX}<class> names a class); rename one")
    train = np.bincount(labels[splits == "train"], minlength=len(names))
    learnt = [c for c, n in zip(names, train) if n]
    _, _, pool = _source_splits(labels, given)
    if len(learnt) < 2:
        which = f"only class {learnt[0]!r} has" if learnt else "no class has"
        # the other class's images all in val/test (the source's test folder, or carved from too few): before, "add
        # images of another class" of a set of two classes, naming neither the class nor, where it was carved, the fix
        idle = next((c for c, n in zip(names, train) if not n and (labels == names.index(c)).any()), None)
        if idle is not None and learnt:
            mine = labels == names.index(idle)
            lower = " or lower ingest.val_fraction / ingest.test_fraction" if (pool & mine).any() else ""
            raise WinnowError(f"ingest: {which} train images (class {idle!r} has {int(mine.sum())}, all in val/test); "
                              f"a classifier needs at least 2 classes, so add train images of class {idle!r}{lower}")
        raise WinnowError(f"ingest: {which} train images; a classifier needs at least 2 classes, so add images "
                          "of another class")
    empty = next((c for c, n in zip(names, train) if not n), None)
    if empty is not None:
        elsewhere = int((labels == names.index(empty)).sum())
        which = f"no train images ({elsewhere} in val/test)" if elsewhere else "no images"
        fix = ("add train images, remove the class, or lower ingest.val_fraction / ingest.test_fraction"
               if (pool & (labels == names.index(empty))).any() else "add train images or remove the class")
        raise WinnowError(f"ingest: class {empty!r} has {which}; a class with no images is not a class: {fix}")


def append_trusted(rows: NpyRows, manifest: pd.DataFrame, trusted: Loaded, *, size: int | None) -> pd.DataFrame:
    """The trusted set appended to the data set's ``rows`` (from :func:`store_images`) as split
    ``trusted``, a batch at a time; returns the manifest with its rows.

    The trusted images are resized like the others; single-channel ones join a colour set as RGB (grey
    repeated, as Pillow converts), and RGB ones join a grey set as one channel when every pixel is grey
    (R = G = B: grey saved as RGB, as matplotlib's ``imsave`` writes it); any other colour image is refused by a
    grey set, as are other sizes when ``ingest.size`` is null: nothing turns into different data without a word.
    """
    shape = (*(trusted.images.shape[1:3] if size is None else (size, size)), trusted.images.shape[3])
    if shape[2] == 3 and rows.shape[3] == 1:
        # before: "the trusted images are colour ...; give grey trusted images" of grey images saved as RGB
        coloured = _first_coloured(trusted.images)
        if coloured is not None:
            raise WinnowError(f"ingest.trusted_path: trusted image {trusted.ids[coloured]} is colour but the data set "
                              "is single-channel; give grey trusted images")
    if shape[:2] != rows.shape[1:3]:
        raise WinnowError(f"ingest.trusted_path: the trusted images are {shape[0]}x{shape[1]}, the data "
                          f"set's {rows.shape[1]}x{rows.shape[2]}; set ingest.size to resize both to one size")
    extra = store_images(rows.file.with_name(f".trusted-{rows.file.name}"), trusted.images, size=size)
    first = len(rows)
    rows.resize(first + len(extra))
    for start, batch in extra.batches(rows=rows.batch_rows):
        # grey to a colour set repeated; grey saved as RGB to a grey set, one of its equal channels
        rows.write(first + start, np.repeat(batch, 3, axis=3) if batch.shape[3] < rows.shape[3] else
                   batch[..., :rows.shape[3]])
    extra.file.unlink()
    return pd.concat([manifest, _rows(trusted, "trusted")], ignore_index=True)
