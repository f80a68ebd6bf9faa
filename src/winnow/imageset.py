"""The imageset: the one on-disk format passed between pipeline stages.

An imageset is a folder holding

- ``images.npy``: uint8 array of shape ``(N, H, W, C)`` with ``C`` in {1, 3}, read memory-mapped
  so stages stream large sets without holding them in memory;
- ``manifest.parquet``: one row per image, columns :data:`MANIFEST_COLUMNS`;
- ``classes.json``: the class names, index = label.

Writes are atomic: everything goes to a temporary sibling folder which is renamed into place, so an
interrupted stage never leaves a half-written imageset behind for DVC to hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.errors import WinnowError, first_line, first_repeated, limits_met, out_of_memory, refuse_unreadable
from winnow.npy_rows import NpyRows, data_bytes
from winnow.outputs import atomic_folder

IMAGES = "images.npy"
MANIFEST_COLUMNS = ("id", "split", "label", "source", "orig_h", "orig_w", "orig_mode", "digest")
SOURCE_SPLITS = ("train", "val", "test")  # the splits a source may name (folders, .npz keys)
# trusted: a small set whose labels the user checked (ingest.trusted_path); never trained on, judged or changed,
# only the budget stage reads it (winnow.budget)
SPLITS = (*SOURCE_SPLITS, "trusted")


def more_val(manifest: pd.DataFrame) -> str:
    """How to give the val split of ``manifest`` (an imageset's) more images, as advice inside a line: raise
    ingest.val_fraction where ingest carved it from train; where the source holds its own val split, which ingest keeps
    as it is and reads no fraction for, add them there (an imagefolder's val images have ids ``val/<class>/<file>``,
    an npz's val arrays ``<stem>-val-<row>``). Before, augment-search, gan-synthesize and data-valuation told to raise
    the fraction there too, which changed nothing. The val rows of an .npz of one ``images`` array
    (``<stem>-all-<row>``) are its ``splits`` array's, or carved where it has none or names no val row: both ways are
    told, as the manifest cannot tell them apart (before: to raise the fraction alone, of a ``splits`` array's too)."""
    val = manifest[manifest["split"] == "val"]
    ids, source = val["id"].astype(str), val["source"].astype(str)
    folders = ((source == "imagefolder") & ids.str.startswith("val/")).to_numpy()
    arrays = ((source == "npz") & ids.str.fullmatch(r".*-val-\d+")).to_numpy()
    if len(val) and (folders | arrays).all():
        where = "its val/<class>/ folders" if folders.all() else "its val arrays" if arrays.all() else "its val images"
        return (f"add them to the source's own val split, {where}: ingest.val_fraction carves no val images where the "
                "source holds some")
    if len(val) and ((source == "npz") & ids.str.fullmatch(r".*-all-\d+")).all():
        return ("raise ingest.val_fraction, or, where the .npz's 'splits' array names the val images, name more of its "
                "rows val: ingest.val_fraction carves no val images where the source holds some")
    return "raise ingest.val_fraction"


class ImageSetError(WinnowError):
    """An imageset on disk (or about to be written) breaks the format; the message is one line."""


def alike(name: str) -> str:
    """A class name as a person reads it (here, beside classes.json, so a reader of class names that never ingests
    needs no more than this module): Unicode NFKC (a no-break space is a space, the ligature "ﬁ" is "fi"),
    runs of spaces as one, without surrounding spaces. NFC alone let "big cat" and "big cat" with a no-break space
    through as two classes, and a verdict typed as the one shown landed on the other."""
    return " ".join(unicodedata.normalize("NFKC", name).split())


def as_class(text: str, *, classes: list[str]) -> str:
    """The class of ``classes`` that ``text`` names as a person reads it (:func:`alike`), as ``classes`` spells it;
    ``text`` itself where it names none. Ingest refuses two classes alike, so at most one matches. One rule for every
    reader of a typed class name (a review's class cells, degrade options, ``study queue --classes``): a name in
    another Unicode form than the class's (a decomposed "café", a macOS folder's) is that class."""
    return text if text in classes else next((name for name in classes if alike(name) == alike(text)), text)


@dataclass(frozen=True)
class ImageSet:
    """Images, their manifest and the class names.

    Attributes:
        images: uint8 ``(N, H, W, C)``; a read-only memory map when read from disk.
        manifest: ``N`` rows, row ``i`` describes ``images[i]``; extra columns are allowed.
        classes: class names; ``label`` indexes this list.
    """

    images: np.ndarray
    manifest: pd.DataFrame
    classes: list[str]

    def __len__(self) -> int:
        return len(self.manifest)

    def split(self, name: str) -> "ImageSet":
        """The rows of one split, images loaded into memory."""
        return self.select(self.manifest["split"].to_numpy() == name)

    def select(self, rows: np.ndarray) -> "ImageSet":
        """A subset by boolean mask or integer positions, in the given order."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return ImageSet(
            images=np.asarray(self.images[rows]),
            manifest=self.manifest.iloc[rows].reset_index(drop=True),
            classes=list(self.classes),
        )

    @property
    def labels(self) -> np.ndarray:
        """int64 ``(N,)`` labels."""
        return self.manifest["label"].to_numpy(dtype=np.int64)


CHECKED_ROWS = 64  # images whose digests reading an imageset checks (_check_digests): before, the first and last


def equal_images(images: np.ndarray, others: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: whether each of uint8 ``(N, H, W, C)`` ``images`` equals the same row of ``others`` pixel
    for pixel (``N`` may be 0)."""
    return np.all(images == others, axis=tuple(range(1, images.ndim)))


def largest_differences(images: np.ndarray, others: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """int ``(N,)``: each of uint8 ``(N, H, W, C)`` ``images``' largest pixel difference from ``others[rows[i]]``
    (0: equal pixel for pixel), in batches: neither the gathered ``others`` nor a whole int16 difference of a large
    set is made at once."""
    out = np.empty(len(images), np.int16)
    for start in range(0, len(images), 1024):
        a = images[start : start + 1024].astype(np.int16)
        b = others[rows[start : start + 1024]]
        out[start : start + 1024] = np.abs(a - b).reshape(len(a), -1).max(1, initial=0)
    return out


def pixel_digest(images: np.ndarray) -> np.ndarray:
    """Hash of each image's decoded pixels (shape included), as 16-char hex strings.

    Args:
        images: uint8 ``(N, H, W, C)``.

    Returns:
        object array ``(N,)`` of str. Equal pixels give equal digests.
    """
    shape = ",".join(map(str, images.shape[1:])).encode()
    return np.array(
        [hashlib.blake2b(shape + np.ascontiguousarray(img).tobytes(), digest_size=8).hexdigest() for img in images],
        dtype=object,
    )


def validate(images: np.ndarray, manifest: pd.DataFrame, classes: list[str], *, where: str = "imageset") -> None:
    """Raise :class:`ImageSetError` with one line naming what is wrong; return quietly when sound."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ImageSetError(f"{where}: images must be a uint8 numpy array, got {getattr(images, 'dtype', type(images))}")
    if images.ndim != 4 or images.shape[3] not in (1, 3):
        raise ImageSetError(f"{where}: images must have shape (N, H, W, C) with C in {{1, 3}}, got {images.shape}")
    if 0 in images.shape[1:3]:  # no pixel to score, hash or train on: score ended in numpy's IndexError
        raise ImageSetError(f"{where}: images must be at least 1x1 pixels, got shape {images.shape}")
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise ImageSetError(f"{where}: manifest lacks column(s) {', '.join(missing)}")
    if len(manifest) != len(images):
        raise ImageSetError(f"{where}: manifest has {len(manifest)} rows but images.npy holds {len(images)} images")
    if manifest["id"].isna().any():
        raise ImageSetError(f"{where}: manifest has empty ids at rows {np.flatnonzero(manifest['id'].isna())[:5].tolist()}")
    dup = manifest["id"].duplicated()
    if dup.any():
        raise ImageSetError(f"{where}: ids must be unique; {int(dup.sum())} repeat, first {manifest['id'][dup].iloc[0]!r}")
    bad_split = ~manifest["split"].isin(SPLITS)
    if bad_split.any():
        raise ImageSetError(
            f"{where}: split must be one of {SPLITS}; row {int(np.flatnonzero(bad_split)[0])} "
            f"has {manifest['split'][bad_split].iloc[0]!r}"
        )
    expected = f"{where}: labels must be integers in [0, {len(classes) - 1}] (classes.json has {len(classes)})"
    # the stored type too, not only the values: '9.0' strings passed and were a traceback where a stage read them as
    # int64, and booleans passed as 0 and 1, a 10-class set quietly judged as 2 classes
    if len(manifest) and not pd.api.types.is_integer_dtype(manifest["label"].dtype):
        raise ImageSetError(f"{expected}; the label column holds {manifest['label'].dtype} values "
                            f"(row 0 has {manifest['label'].iloc[:1].tolist()[0]!r})")
    labels = manifest["label"].to_numpy(dtype=np.float64, na_value=np.nan)  # a nullable column's missing: NaN
    bad_label = np.isnan(labels) | (labels < 0) | (labels >= len(classes))
    if bad_label.any():
        row = int(np.flatnonzero(bad_label)[0])
        # as a plain number (before: "row 10 has np.int64(2)", numpy's repr), and a nullable column's gap as one
        value = manifest["label"].iloc[row:row + 1].tolist()[0]
        raise ImageSetError(f"{expected}; row {row} has " + ("no label" if pd.isna(value) else f"{value!r}"))


def write_imageset(
    path: str | os.PathLike, images: np.ndarray, manifest: pd.DataFrame, classes: list[str], *,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> None:
    """Validate and write an imageset atomically, replacing whatever was at ``path``; ``tables`` (file name ->
    frame, parquet) are written in the folder beside it (degrade's ``perturbations.parquet``).

    ``digest`` is filled in from the pixels when the column is missing. ``images`` is copied a batch at a
    time, so a memory-mapped array is never read whole into memory; a read-only memory map of a whole
    ``images.npy`` (an imageset passed on unchanged, e.g. degrade with nothing enabled) is hard-linked
    instead of copied when both lie on one file system (the same bytes, so DVC hashes it as before; a
    copy otherwise). Every writer makes new files, never rewrites one in place, so a link is never
    changed behind the other imageset's back.
    """
    path = Path(path)
    images = np.asanyarray(images)  # a memory map stays one: see whole_file
    manifest = manifest.reset_index(drop=True).copy()
    if "digest" not in manifest.columns:
        manifest["digest"] = pixel_digest(images)  # image by image: nothing the size of the set is made
    manifest["label"] = manifest["label"].astype(np.int64)
    validate(images, manifest, list(classes), where=str(path))
    with atomic_folder(path) as tmp:
        source = whole_file(images)
        if source is not None:
            link_or_copy(source, tmp / IMAGES)
        else:
            NpyRows.create(tmp / IMAGES, images.shape).write_rows(0, images)
        _write_tables(tmp, manifest, classes)
        for name, frame in (tables or {}).items():
            frame.to_parquet(tmp / name, index=False)


def finish_imageset(folder: Path, rows: NpyRows, manifest: pd.DataFrame, classes: list[str], *,
                    where: str) -> pd.DataFrame:
    """Complete an imageset whose ``images.npy`` was filled in ``folder`` (an :func:`~winnow.outputs.atomic_folder`) by
    :class:`~winnow.npy_rows.NpyRows`: digests computed a batch at a time, validated, manifest and class
    names written. ``where`` names the imageset in errors. Returns the manifest written (digests included)."""
    manifest = manifest.reset_index(drop=True).copy()
    digests = [pixel_digest(batch) for _, batch in rows.batches()]
    manifest["digest"] = np.concatenate(digests) if digests else np.array([], dtype=object)
    manifest["label"] = manifest["label"].astype(np.int64)
    validate(rows.array(), manifest, list(classes), where=where)
    _write_tables(folder, manifest, classes)
    return manifest


def _write_tables(folder: Path, manifest: pd.DataFrame, classes: list[str]) -> None:
    manifest.to_parquet(folder / "manifest.parquet", index=False)
    (folder / "classes.json").write_text(json.dumps(list(classes), indent=1) + "\n")


def whole_file(images: np.ndarray) -> Path | None:
    """The ``.npy`` file ``images`` maps read-only as a whole (every row, in order), or None."""
    if not isinstance(images, np.memmap) or images.mode != "r" or not images.filename:
        return None
    if not images.flags.c_contiguous or images.dtype != np.uint8:
        return None
    try:
        whole = NpyRows.open(images.filename)
    except (OSError, ValueError):
        return None
    # a view with the file's own shape, contiguous, is the file itself (a slice or reshape would differ)
    return whole.file if whole.shape == images.shape and whole.file.suffix == ".npy" else None


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source``; a copy where links are not possible (another file
    system, a file system without them)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def read_imageset(path: str | os.PathLike, *, mmap: bool = True) -> ImageSet:
    """Read and validate an imageset; images are memory-mapped read-only unless ``mmap=False``."""
    path = Path(path)
    for name in ("images.npy", "manifest.parquet", "classes.json"):
        if not (path / name).is_file():
            raise ImageSetError(f"{path}: not an imageset, {name} is missing (run the stage that writes it)")
    _check_layout(path)
    try:
        images = np.load(path / "images.npy", mmap_mode="r" if mmap else None)
    except (ValueError, OSError) as err:
        refuse_unreadable(err, path / "images.npy")
        if out_of_memory(err):  # its memory map past `ulimit -v`: before, "unreadable ([Errno 12] Cannot allocate ...)"
            raise
        raise ImageSetError(f"{path / 'images.npy'}: unreadable ({err})") from err
    try:
        manifest = pd.read_parquet(path / "manifest.parquet")
    except Exception as err:  # pyarrow raises several types for a damaged file
        refuse_unreadable(err, path / "manifest.parquet")
        if limits_met(err):  # pyarrow under the process's limits: not the file's fault
            raise
        raise ImageSetError(f"{path / 'manifest.parquet'}: unreadable ({err})") from err
    try:
        classes = json.loads((path / "classes.json").read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ImageSetError(f"{path / 'classes.json'}: not UTF-8 text ({err.reason} at byte {err.start}); the class "
                            "names are a JSON list written in UTF-8") from err
    except (ValueError, RecursionError) as err:  # also a number past 4,300 digits, or nesting past the parser's
        raise ImageSetError(f"{path / 'classes.json'}: not valid JSON ({first_line(err)})") from err
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ImageSetError(f"{path / 'classes.json'}: must be a JSON list of class-name strings")
    repeated = first_repeated(classes)
    if repeated is not None:  # two labels under one name: every per-class table would merge or drop one
        raise ImageSetError(f"{path / 'classes.json'}: class name {repeated!r} appears twice; names must be unique")
    validate(images, manifest, classes, where=str(path))
    _check_digests(path, images, manifest)
    return ImageSet(images=images, manifest=manifest, classes=classes)


# the stage that writes each imageset the stages read, by the folder's last two names (a refusal of one names it)
_WRITERS = {"data/ingest": "ingest", "data/degrade": "degrade", "data/gan": "gan-synthesize",
            "balanced/extra": "balance", "augmented/extra": "gan-synthesize"}


def _rerun(folder: Path) -> str:
    """What to do about imageset ``folder``'s broken file: rerun the stage that writes it, named where known."""
    stage = _WRITERS.get("/".join(Path(folder).parts[-2:]))
    return f"rerun the {stage} stage (dvc repro {stage})" if stage else "rerun the stage that writes it"


def _check_layout(path: Path) -> None:
    """Refuse an ``images.npy`` whose header numpy would read as other pixels than the bytes were written as:
    Fortran order (every image transposed) or a data length other than the header's shape needs (bytes
    appended, or cut: the shape was rewritten); or values other than uint8 pixels of shape ``(N, H, W, C)``, at
    least 1x1, ``C`` in {1, 3} (the writers' :func:`validate`), named with the stage to rerun. Reads the header and
    the file's size only."""
    file = path / IMAGES
    try:
        with open(file, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version not in ((1, 0), (2, 0)):  # what np.save writes for a plain uint8 array
                raise ValueError(f".npy format version {version[0]}.{version[1]}")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(handle)
            offset = handle.tell()
    except (ValueError, OSError, EOFError) as err:  # EOFError: an empty or cut-off header
        refuse_unreadable(err, file)
        raise ImageSetError(f"{file}: unreadable ({err})") from err
    if fortran and sum(size > 1 for size in shape) > 1:  # one axis longer than 1: the same bytes either way
        raise ImageSetError(f"{file}: its header says Fortran order, so each image would be read transposed; "
                            f"an imageset's images are stored in C order; {_rerun(path)}")
    # the type and shape an imageset is written in, from the header alone (before, validate refused a float64 or
    # int16 images.npy after reading it: "images must be a uint8 numpy array, got float64", with nothing to do)
    if dtype != np.uint8:
        raise ImageSetError(f"{file}: holds {dtype} values, not uint8 pixels; {_rerun(path)}")
    if len(shape) != 4 or shape[3] not in (1, 3):
        raise ImageSetError(f"{file}: images must have shape (N, H, W, C) with C in {{1, 3}}, got {tuple(shape)}; "
                            f"{_rerun(path)}")
    if 0 in shape[1:3]:
        raise ImageSetError(f"{file}: images must be at least 1x1 pixels, got shape {tuple(shape)}; {_rerun(path)}")
    held, needed = data_bytes(file, shape, dtype, offset)
    if held != needed:
        raise ImageSetError(f"{file}: holds {held:,} bytes of pixels but its header's shape {tuple(shape)} needs "
                            f"{needed:,}; {_rerun(path)}")


def _check_digests(path: Path, images: np.ndarray, manifest: pd.DataFrame) -> None:
    """Refuse pixels that are not those the manifest's ``digest`` was computed from, checked on
    :data:`CHECKED_ROWS` images spread evenly from the first to the last (a few hashes, whatever N): a header
    rewritten to another image shape (the digest hashes the shape too), another array of the same shape, rows
    shuffled throughout, or a block of them reaching a checked row fail it; a swap or a block between two
    checked rows (about N/63 apart) and one changed image among many pass (DVC's hash of the file sees them:
    ``dvc status``; a stage run outside DVC does not)."""
    rows = np.unique(np.linspace(0, len(images) - 1, CHECKED_ROWS).round().astype(np.int64)) if len(images) else ()
    for row in rows:
        if pixel_digest(images[row:row + 1])[0] != manifest["digest"].iloc[row]:
            raise ImageSetError(f"{path / IMAGES}: image {row} ({manifest['id'].iloc[row]!r}, shape "
                                f"{tuple(images.shape[1:])}) is not the image its manifest digest describes; "
                                f"images.npy changed after it was written; {_rerun(path)}")
