"""The npz source: images and labels stored as arrays in one ``.npz`` (:func:`load_npz`), read into a
:class:`winnow.sources.Loaded`.

An .npz is read as follows; each refusal is one line naming the file and the key (and row):

- pixels: uint8 as they are; other integer types only when every value lies in [0, 255] (never
  wrapped); floats with no NaN or infinity, in [0, 1] (times 255, rounded) when some value is
  fractional and none exceeds 1, or in [0, 255] (rounded) when the largest is at least 2. Floats that
  are all 0 or 1, or whose largest value lies in (1, 2) — [0, 1] data that overshoots, or a black
  [0, 255] image? — are refused as ambiguous; so are booleans and other types. NaN pixels are
  refused rather than quarantined: an array with NaNs was broken by the code that wrote it, and its
  other values are no more trustworthy;
- labels: one whole number per image, from 0; a float label such as 0.7 is refused at its row, never
  truncated, and booleans (True read as class 1) are refused; without class names the labels must run 0..K-1 without a gap;
- keys: only the documented ones (see :func:`load_npz`); an unknown key, a second layout or two keys
  for one split is refused, so no array is silently left out; so is a split's array of no images, which ingest
  would read as absent and carve that split from train. ``index`` / ``<split>_index`` (row
  numbers in an original set, as in the CIFAR-10 exact subset) must have one entry per image and are
  not stored: ids number the rows in file order.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from winnow.errors import WinnowError, first_repeated
from winnow.image_formats import IMAGE_SUFFIXES, image_format
from winnow.imageset import SOURCE_SPLITS, alike
from winnow.npz_pixels import check_one_scale, npz_images
from winnow.sources import Loaded, utf8_name

_NPZ_SPLIT_KEYS = {s: ((f"{s}_images", f"{s}_data", f"x_{s}"), (f"{s}_labels", f"y_{s}")) for s in SOURCE_SPLITS}
_NPZ_LAYOUTS = ("an .npz holds 'images' + 'labels' (optional 'splits', 'index', 'classes') or, per split "
                "train/val/test, '<split>_images' + '<split>_labels' (optional '<split>_index', 'classes')")


def load_npz(path: str | os.PathLike, *, classes: list[str] | None = None,
             classes_from: str = "ingest.classes") -> Loaded:
    """Arrays from an .npz: ``images`` + ``labels`` (optionally ``splits``), or per split
    ``<split>_images``/``<split>_data``/``x_<split>`` + ``<split>_labels``/``y_<split>`` for split in
    train/val/test; optionally ``classes``, and ``index`` / ``<split>_index`` (provenance, checked, not stored).

    Images are ``(N, H, W)``, ``(N, H, W, C)`` with C in 1 or 3, or flat rows: 784 values → 28x28x1,
    3072 values → CIFAR's planar R, G, B 32x32x3 (rows flattened pixel by pixel are refused, see
    :func:`winnow.sources.row_layout`); converted to uint8 as the module docstring says.
    Class names come from a ``classes`` array, the ``classes`` argument (where it came from:
    ``classes_from``, named by an error), or the label numbers.
    """
    path = Path(path)
    if not path.is_file():
        what = ("is a folder (ingest.source: imagefolder reads a folder)" if path.is_dir() else
                "is not a regular file (a FIFO, socket or device)" if path.exists() else "does not exist")
        raise WinnowError(f"ingest.path: {path} {what}; expected an .npz file")
    arrays = _read_npz(path)
    parts = _npz_parts(arrays, path)
    check_one_scale(arrays, [image_key for _, image_key, _ in parts], path)
    # bytes of the name that are not UTF-8 as \xNN (before: set-\xff.npz ended ingest in a traceback where the splits
    # are carved from the ids); a UTF-8 name is its own, so its ids and splits are as they were
    stem = os.fsencode(path.stem).decode("utf-8", "backslashreplace")
    images, labels, splits, ids = [], [], [], []
    keys = [image_key for _, image_key, _ in parts]
    for split, image_key, label_key in parts:
        pixels = npz_images(arrays[image_key], image_key, path)
        if split is not None and not len(pixels):  # before: carved from train without a word, as if the key were absent
            then = "be empty; fill it" if split == "train" else (  # before: train, too, "carved from the train images"
                f"be carved from the train images instead; fill it, or remove {image_key} and its labels to have ingest "
                "carve it")
            raise WinnowError(f"{path}: {image_key} holds no images, so the {split} split would {then}")
        if label_key is None:
            raise WinnowError(f"{path}: labels for {image_key} are missing; {_NPZ_LAYOUTS}")
        part_labels = _npz_labels(arrays[label_key], label_key, path, images=len(pixels), classes_from=classes_from)
        shape = arrays[image_key].shape
        if len(part_labels) == 1 != len(pixels) and len(shape) == 3 and shape[2] in (1, 3):
            # before: "labels has 1 labels for 16 images in images; give one per image" of one (16, 16, 3) image
            raise WinnowError(f"{path}: {image_key} has shape {shape}, read as {shape[0]} grey {shape[1]}x{shape[2]} "
                              f"images, beside 1 label in {label_key}: one {shape[0]}x{shape[1]} image without its batch "
                              f"axis? store it as np.expand_dims(image, 0), of shape (1, {', '.join(map(str, shape))})")
        if len(part_labels) == 1 != len(pixels) and len(shape) == 3 and shape[0] == 3:
            # before: "labels has 1 labels for 3 images in images; give one per image" of one torch (3, 32, 32) image
            raise WinnowError(f"{path}: {image_key} has shape {shape}, read as 3 grey {shape[1]}x{shape[2]} images, "
                              f"beside 1 label in {label_key}: one {shape[1]}x{shape[2]} image channels first, without "
                              "its batch axis, as torch stores it? store it as image.transpose(1, 2, 0)[None], of shape "
                              f"(1, {shape[1]}, {shape[2]}, 3)")
        if len(part_labels) != len(pixels):
            # not of square images whose labels are as many as a row's pixels (before: told to move an axis that
            # turned (50, 28, 28) into 28 images of 50x28, accepted); also of (H, W, C, N) with N in 1 or 3, read as is
            last = (f" (images last, {shape}, as MATLAB stores them? store np.moveaxis(images, -1, 0))"
                    if len(shape) == 3 and shape[2] == len(part_labels) != shape[1]
                    or len(shape) == 4 and shape[2] in (1, 3) and shape[3] == len(part_labels) else "")
            raise WinnowError(f"{path}: {label_key} has {len(part_labels)} labels for {len(pixels)} images in "
                              f"{image_key}; give one per image{last}")
        images.append(pixels)
        labels.append((label_key, part_labels))
        ids += [f"{stem}-{split or 'all'}-{i:05d}" for i in range(len(pixels))]
        splits += [split] * len(pixels)
    if not ids:
        raise WinnowError(f"{path}: holds no images")
    if len({im.shape[1:] for im in images}) > 1:  # before: the shapes alone, where ingest.size set did not help
        a = images[0].shape[1:]
        other, b = next((key, im.shape[1:]) for key, im in zip(keys, images) if im.shape[1:] != a)
        raise WinnowError(f"{path}: {keys[0]} holds {a[0]}x{a[1]} images of {a[2]} channel(s), {other} {b[0]}x{b[1]} of "
                          f"{b[2]}; an .npz's splits are read as one array, before ingest.size resizes it: store every "
                          "split's images at one size and channel count")
    classes = _npz_classes(arrays, labels, path, given=classes, given_from=classes_from)
    if "splits" in arrays:
        split_array = _npz_splits(arrays["splits"], len(splits), path)
    else:
        split_array = None if splits[0] is None else np.array(splits, dtype=object)
    return Loaded(np.concatenate(images), np.concatenate([lab for _, lab in labels]), np.array(ids, dtype=object),
                  classes, "npz", splits=split_array)


# what zipfile raises of a damaged or unusual member list (NotImplementedError: a member flagged as compressed patched
# data, flag bit 5; before, a traceback)
_UNREADABLE = (OSError, ValueError, EOFError, NotImplementedError, zipfile.BadZipFile)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as file:
        magic = file.read(6)
        file.seek(0)
        start = file.read(30 + 256)  # a zip's first member header, with its name
    # np.load reads whatever is neither a zip nor a .npy as a pickle, and says "pickled data" of any junk
    if not zipfile.is_zipfile(path) and magic != b"\x93NUMPY":
        first = _first_member_name(start)
        if first is not None:  # before: "not an .npz archive (no zip file ...)" and the layouts, which fix nothing
            raise WinnowError(f"{path}: an .npz cut short: it begins as one (its first member {first!r}), but its end, "
                              "where a zip lists its members, is missing, as an interrupted download or copy leaves "
                              "it; copy or write it again")
        if not start:  # before: "not an .npz archive" and the layouts, of a download that failed before its first byte
            raise WinnowError(f"{path}: is empty (0 bytes), as a download or copy that failed leaves it; copy or write "
                              "it again")
        if (found := image_format(start)) is not None:  # before: "not an .npz archive" and the layouts of arrays
            raise WinnowError(f"{path}: an image file ({found}), not an .npz archive of arrays; give the folder of "
                              "class folders it belongs in (root/<class>/<image files>), as ingest.path of source "
                              "imagefolder or as ingest.trusted_path")
        raise WinnowError(f"{path}: not an .npz archive (no zip file and no .npy array); {_NPZ_LAYOUTS}")
    if magic == b"\x93NUMPY":  # refused unread (before: read whole first, and one of Python objects refused with
        # numpy's "Object arrays cannot be loaded when allow_pickle=False", which says nothing of a single array)
        raise WinnowError(f"ingest.path: {path} is a single array, not an .npz archive; {_NPZ_LAYOUTS}")
    _refuse_zipped_images(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except _UNREADABLE as err:
        raise WinnowError(f"{path}: not a readable .npz without pickles ({err})") from None
    twice = first_repeated(list(npz.files))
    if twice is not None:  # a zip may hold two members of one name (or images and images.npy): one was kept unsaid
        npz.close()
        raise WinnowError(f"{path}: holds two members named {twice!r}; which is meant? keep one")
    # read one member at a time, so a failure names the member being read (before: dict(npz), and a damaged 'images'
    # blamed on a 'classes' of Python objects read after it, or named by no member)
    arrays, key = {}, None
    try:
        with npz:
            for key in npz.files:
                arrays[key] = npz[key]
    except MemoryError:  # the process's memory, not the file's: before, "not a readable .npz" under `ulimit -v`
        claimed = _claimed_past_member(path)
        if claimed:  # numpy allocates what a member's header claims before reading it: a crafted 200-byte .npz
            raise WinnowError(f"{path}: {claimed}; the member is damaged or crafted: write the arrays again with "
                              "np.savez") from None
        raise
    except Exception as err:  # a damaged or crafted member fails in many ways; none may escape as a traceback
        if key is not None and _pickled(path, key):  # before: numpy's "Object arrays cannot be loaded when
            # allow_pickle=False", no key
            raise WinnowError(f"{path}: not a readable .npz without pickles: member {key!r} is an array of Python "
                              "objects, which numpy stores as a pickle and reads only with allow_pickle (a pickle can "
                              "run any code, so none is read); store it as a plain array: names as "
                              "np.array(names, dtype=str), pixels and labels as numbers") from None
        raise WinnowError(f"{path}: not a readable .npz without pickles: member {key!r} ({type(err).__name__}: "
                          f"{err})") from None
    raw = next((key for key, value in arrays.items() if not isinstance(value, np.ndarray)), None)
    if raw is not None:  # numpy hands back the bytes of a member that is no .npy
        raise WinnowError(f"{path}: member {raw!r} is not an .npy array ({len(arrays[raw])} raw bytes); every member "
                          f"of an .npz is one array (np.savez writes them so)")
    return arrays


def _refuse_zipped_images(path: Path) -> None:
    """Refuse a zip that holds image files and no .npy array (an image folder zipped, given as the .npz or as the
    trusted set), by its member names alone. Before: np.load read every member whole, then the refusal said the first
    was "not an .npy array (82 raw bytes); every member of an .npz is one array", of a label book zipped to send."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist() if not name.endswith("/")]
    except _UNREADABLE:  # a damaged member list: np.load's refusal below words it (before: a traceback)
        return
    pictures = [name for name in names if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES]
    if pictures and not any(name.endswith(".npy") for name in names):
        raise WinnowError(f"{path}: a zip of image files ({len(pictures)}, first {pictures[0]!r}), not an .npz of "
                          "arrays; extract it and give the folder of class folders it holds (root/<class>/<image "
                          "files>), as ingest.path of source imagefolder or as ingest.trusted_path")


def _first_member_name(start: bytes) -> str | None:
    """The name of an .npy member a zip's first bytes ``start`` begin (a local file header, np.savez's first), or None."""
    if not start.startswith(b"PK\x03\x04") or len(start) < 30:
        return None
    name = start[30:30 + int.from_bytes(start[26:28], "little")]
    return name.decode("utf-8", "backslashreplace") if name.endswith(b".npy") and len(name) > 4 else None


def _pickled(path: Path, key: str) -> bool:
    """Whether the .npy header of the member ``key`` of the .npz ``path`` says it holds Python objects
    (``dtype=object``: class names taken from pandas, ragged arrays), which numpy writes as a pickle."""
    return any(info.filename in (key, f"{key}.npy") and dtype.hasobject for info, _, dtype, _ in _member_headers(path))


def _member_headers(path: Path):
    """``(info, shape, dtype, bytes held after the header)`` of each member of the .npz ``path`` that opens on an .npy
    header (the others are left out: numpy's own error says what it met)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            try:
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                        else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(member)
                    held = info.file_size - member.tell()
            except Exception:  # noqa: BLE001 - no .npy header to read
                continue
            yield info, shape, dtype, held


def _claimed_past_member(path: Path) -> str | None:
    """``member 'images.npy' claims ... bytes but holds ...`` for the first member of the .npz ``path`` whose .npy
    header claims more data than the member holds, else None. Before: a header claiming (10**12,) uint8 in a
    200-byte archive said "out of memory; free memory or lower the batch or data size", as memory running out does."""
    for info, shape, dtype, held in _member_headers(path):
        claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if claimed > held:
            return (f"member {info.filename!r} claims {claimed:,} bytes of data (shape {shape}, {dtype}) but holds "
                    f"{held:,}")
    return None


def _npz_parts(arrays: dict, path: Path) -> list[tuple[str | None, str, str | None]]:
    """(split or None, image key, label key or None) per part; refuses unknown keys and ambiguous layouts."""
    if "images" in arrays:
        parts, known = [(None, "images", "labels" if "labels" in arrays else None)], {"images", "labels", "splits"}
    else:
        parts, known = [], set()
        for split, (image_keys, label_keys) in _NPZ_SPLIT_KEYS.items():
            present_images = [k for k in image_keys if k in arrays]
            present_labels = [k for k in label_keys if k in arrays]
            for present in (present_images, present_labels):
                if len(present) > 1:
                    raise WinnowError(f"{path}: both {present[0]} and {present[1]} are present; keep one")
            if present_labels and not present_images:
                raise WinnowError(f"{path}: {present_labels[0]} has no images array ({' or '.join(image_keys)})")
            if present_images:
                parts.append((split, present_images[0], (present_labels or [None])[0]))
                known |= {present_images[0], *present_labels}
    for split, image_key, _ in parts:
        index = f"{split}_index" if split else "index"
        if index in arrays:  # provenance (row numbers in an original set): checked for alignment, not stored
            if arrays[index].shape != arrays[image_key].shape[:1]:
                raise WinnowError(f"{path}: {index} has shape {arrays[index].shape}, not one entry per image in {image_key}")
            known.add(index)
    extra = sorted(set(arrays) - known - {"classes"})
    if extra:
        raise WinnowError(f"{path}: unexpected array(s) {', '.join(extra)}; {_NPZ_LAYOUTS}; rename or remove them")
    if not parts:
        raise WinnowError(f"{path}: no image arrays; {_NPZ_LAYOUTS}")
    return parts


def _npz_labels(values: np.ndarray, key: str, path: Path, *, images: int,
                classes_from: str = "ingest.classes") -> np.ndarray:
    """int64 ``(N,)``: one whole, non-negative number per image; refuses (naming the row) anything else.
    ``images``: how many the labels are for; ``classes_from``: what else than a 'classes' array may name the classes
    (:func:`load_npz`'s)."""
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 0:  # before: "got shape () (one-hot rows? store their argmax)" of one image's label
        raise WinnowError(f"{path}: {key} is a single number, not an array of one class number per image; store the "
                          "labels as shape (N,) (one image's: np.array([label]))")
    # not of one image's one-hot row (before: told to ravel it into as many labels as classes)
    if values.ndim == 2 and values.shape[0] == 1 < values.shape[1] and images != 1:
        raise WinnowError(f"{path}: {key} has shape {values.shape}: one row of {values.shape[1]} labels, as MATLAB "
                          "stores them? store them as shape (N,): labels.ravel()")
    if values.ndim != 1:
        raise WinnowError(f"{path}: {key} must hold one class number per image, got shape {values.shape} "
                          "(one-hot rows? store their argmax)")
    # booleans too: before, True and False were read as classes 1 and 0 without a word (a mask, or "is a dog",
    # stored where the class numbers go)
    if values.dtype.kind not in "iuf":
        # ingest.classes names the classes of the npz source alone: a trusted .npz was sent to it (before), in vain
        named = "a 'classes' array or ingest.classes" if classes_from == "ingest.classes" else "a 'classes' array"
        raise WinnowError(f"{path}: {key} has labels of type {values.dtype}; store class numbers 0..K-1 and the "
                          f"names in {named}")
    stored = values  # a label quoted as stored: before, as :g, so 4294967295 (a marker of no label) was "4.29497e+09"
    if values.dtype.kind == "f":  # compared in float64: 2**31 overflows float16 (before: numpy's "overflow encountered
        values = values.astype(np.float64)  # in cast" RuntimeWarning on stderr for every float16 label array)
    for bad, what in (
        (~np.isfinite(values) | (values != np.round(values)) if values.dtype.kind == "f" else None,
         "not a whole class number; a label is never rounded"),
        (values < 0, "below 0; class numbers start at 0"),
        (values >= 2**31, "not a class number"),
    ):
        if bad is not None and bad.any():
            row = int(np.argmax(bad))
            raise WinnowError(f"{path}: {key} row {row} is {stored[row]!s}, {what}")
    return values.astype(np.int64)


def _npz_classes(arrays: dict, labels: list[tuple[str, np.ndarray]], path: Path, *, given: list[str] | None,
                 given_from: str) -> list[str]:
    """Class names from the file, the ``ingest.classes`` parameter or the label numbers; every label must name one."""
    if "classes" in arrays:
        names = arrays["classes"]
        if names.ndim != 1 or names.dtype.kind not in "USiu":
            raise WinnowError(f"{path}: 'classes' must be a 1-D array of class names, got {names.dtype} {names.shape}")
        classes = [utf8_name(n, what=f"{path}: 'classes' row {i}") if isinstance(n, bytes) else str(n)
                   for i, n in enumerate(names.tolist())]
        # ingest.classes typed as a person reads them (winnow.imageset.alike, the one rule for a class typed), kept as
        # the file spells them, which its other readers (a trusted set of the same names) match. Before: "café" typed
        # (NFC) beside the file's decomposed one (NFD) was told to "make them equal", both lists printing alike
        if given is not None and list(given) != classes and [alike(str(c)) for c in given] != list(map(alike, classes)):
            raise WinnowError(f"{given_from}: {path} names its own classes; set ingest.classes: null or make them "
                              "equal")
        where = f"{path}'s 'classes'"
    elif given is not None:
        classes, where = [str(c) for c in given], given_from
    else:
        present = np.unique(np.concatenate([lab for _, lab in labels]))
        gap = next((i for i, v in enumerate(present) if v != i), None)
        if gap is not None:
            raise WinnowError(f"{path}: no image has label {gap} (labels go up to {present[-1]}); number the classes "
                              "0..K-1 without gaps, or name them with a 'classes' array or ingest.classes")
        return [str(c) for c in range(len(present))]
    for key, part in labels:
        beyond = part >= len(classes)
        if beyond.any():
            row = int(np.argmax(beyond))
            raise WinnowError(f"{path}: {key} row {row} is {part[row]}, beyond the {len(classes)} classes of {where}")
    return classes


def _npz_splits(values: np.ndarray, n: int, path: Path) -> np.ndarray:
    """object ``(N,)`` of train/val/test from the ``splits`` array."""
    if values.ndim != 1 or len(values) != n or values.dtype.kind not in "US":
        raise WinnowError(f"{path}: 'splits' must hold train, val or test for each of the {n} images, got "
                          f"{values.dtype} {values.shape}")
    names = np.array([v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v for v in values.tolist()],
                     dtype=object)
    bad = ~np.isin(names, SOURCE_SPLITS)
    if bad.any():
        row = int(np.argmax(bad))
        raise WinnowError(f"{path}: 'splits' row {row} is {names[row]!r}; each must be train, val or test")
    return names
