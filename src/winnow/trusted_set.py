"""The trusted set (``ingest.trusted_path``): images whose labels the user checked, one split, read by the
sources' own readers (:mod:`winnow.sources`: a folder as the imagefolder source, an .npz as the npz source)
and matched to the data set's classes by name; ingest appends it as the trusted split, the budget's judge.

A module of its own: the sources read a data set as it comes, this one reads a second set against the
classes of the first.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.errors import WinnowError, first_repeated
from winnow.image_files import load_imagefolder
from winnow.imageset import as_class
from winnow.npz_files import load_npz
from winnow.remote_files import RemotePath, locate
from winnow.sources import Loaded

TRUSTED_LAYOUTS = "a folder root/<class>/<image files> or an .npz with images + labels (optional classes)"


def load_trusted(path: str | os.PathLike, *, classes: list[str], size: int | None,
                 into: str | os.PathLike | None = None) -> Loaded:
    """The trusted set (``ingest.trusted_path``): images whose labels the user checked, one split.

    A folder is read as the imagefolder source, an .npz as the npz source, by the same rules; an .npz
    without a ``classes`` array labels by index into ``classes``, otherwise every class is matched to
    ``classes`` by name. Ids are ``trusted/<the reader's id>``.

    Args:
        classes: the data set's class names (the main source's).
        into: where a folder's pixels are streamed (see :func:`winnow.image_files.load_imagefolder`).

    Raises:
        WinnowError: a missing path, split folders or keys (the set is one split), a class the data set
            lacks; the readers' own refusals name ``ingest.trusted_path`` instead of ``ingest.path``.
    """
    path = locate_trusted(path)
    try:
        named = True  # a folder's class folders name its classes
        if path.is_dir():
            loaded = load_imagefolder(path, size=size, into=into, param="ingest.trusted_path")
        else:
            named = _names_classes(path)
            if named is False:
                _refuse_numbered_classes(path, classes)
            # unreadable (None): load_npz says why, before any word on its labels
            loaded = load_npz(path, classes=None if named is not False else classes, classes_from="the data set")
    except WinnowError as err:  # the readers name the parameter they usually read
        message = str(err)
        if message.startswith("ingest.path: "):
            raise WinnowError("ingest.trusted_path: " + message.removeprefix("ingest.path: ")) from None
        if message.startswith(f"{path}: "):  # the .npz reader's lines open on the file alone: say which setting gave it
            # (before: "…/book.npz: not an .npz archive …", which a user looks for under ingest.path)
            raise WinnowError(f"ingest.trusted_path: {message}") from None
        raise
    if len(loaded.images) == 0:
        reason = f" (the first set aside: {loaded.rejected[0][0]}: {loaded.rejected[0][1]})" if loaded.rejected else ""
        raise WinnowError(f"ingest.trusted_path: {path} yielded no readable image{reason}")
    if loaded.splits is not None:
        raise WinnowError(f"ingest.trusted_path: {path} has splits ({', '.join(sorted(set(loaded.splits)))}); the "
                          f"trusted set is one split: give {TRUSTED_LAYOUTS}")
    if not named and any(c != str(i) for i, c in enumerate(classes)):
        # an index means whichever class sorts there today: with a class removed from the data set every checked
        # "dog" of the set that judges the budget became "horse" without a word
        raise WinnowError(f"ingest.trusted_path: {path} labels by index (it holds no classes array), and the data "
                          f"set's classes have names ({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''}), "
                          "which a class added or removed renumbers; add a classes array naming each label's class")
    repeated = first_repeated([str(c) for c in loaded.classes])
    if repeated is not None:  # two names matched to one class would merge them without a word
        raise WinnowError(f"ingest.trusted_path: class name {repeated!r} appears twice in {path}; class names must be "
                          "unique")
    # a class read as a person reads it (as_class, the one rule for a class name met outside classes.json), spelt as
    # the data set spells it. Before: a trusted folder "café" (NFC) beside the data set's macOS-made "café" (NFD) was
    # refused as "differ only in Unicode form", the two printing exactly alike, so no rename a user could see fixed it
    names = [as_class(str(c), classes=classes) for c in loaded.classes]
    merged = first_repeated(names)
    if merged is not None:  # two trusted classes that read as one: which of them the user checked is not ours to pick
        twins = [str(c) for c, name in zip(loaded.classes, names) if name == merged]
        raise WinnowError(f"ingest.trusted_path: classes {ascii(twins[0])} and {ascii(twins[1])} of {path} differ "
                          f"only in Unicode form or surrounding spaces, both the data set's class {ascii(merged)}; "
                          "merge them into one")
    unknown = [c for c in names if c not in classes]
    if unknown:
        raise WinnowError(f"ingest.trusted_path: class {unknown[0]!r} of {path} is not a class of the data set "
                          f"({', '.join(classes[:10])}{', ...' if len(classes) > 10 else ''}); name its classes as "
                          "the data set does")
    index = np.array([classes.index(c) for c in names], dtype=np.int64)
    ids = np.array([f"trusted/{i}" for i in loaded.ids], dtype=object)
    return Loaded(loaded.images, index[loaded.labels], ids, list(classes), loaded.source,
                  orig_h=loaded.orig_h, orig_w=loaded.orig_w, orig_mode=loaded.orig_mode, rejected=loaded.rejected,
                  oriented=[(f"trusted/{i}", tag) for i, tag in loaded.oriented])


def contradicted_pictures(manifest: pd.DataFrame, classes: list[str], *, examples: int = 3) -> str | None:
    """The ``warning:`` line where one picture (pixel for pixel: the imageset ``manifest``'s ``digest``) lies in the
    trusted split under more than one class (``classes``: names by label), naming up to ``examples`` of them with each
    file and its class; None where there is none. Before, ingest said nothing of a label book contradicting itself:
    only the budget, many stages later, left such a picture out of its judge."""
    trusted = manifest[manifest["split"] == "trusted"]
    mixed = trusted[trusted.groupby("digest")["label"].transform("nunique").to_numpy() > 1]
    if mixed.empty:
        return None
    pictures = list(mixed.groupby("digest", sort=False))
    named = "; ".join(", ".join(f"{row.id} as {classes[row.label]!r}" for row in rows.itertuples())
                      for _, rows in pictures[:examples])
    return (f"warning: ingest.trusted_path: {len(pictures)} picture(s) lie in it under more than one class, pixel for "
            f"pixel ({named}{'; …' if len(pictures) > examples else ''}): a label book gives each picture one label, "
            "and the budget leaves these out of its judge; keep each picture under its one class in "
            "ingest.trusted_path")


def locate_trusted(path: str | os.PathLike) -> Path | RemotePath:
    """``ingest.trusted_path`` located (:func:`winnow.remote_files.locate`) and refused in one line where its path
    alone says it cannot be the trusted set: not there, neither a folder nor a regular file, or at a URL not a
    folder. The ingest stage asks before it reads the data set (before: a trusted path mistyped was said not to exist
    only after every image of ingest.path was decoded, an hour of a large set, or after a problem of the data set)."""
    where = locate(path, param="ingest.trusted_path")
    if isinstance(where, RemotePath):
        if not where.is_dir():
            what = "is not a folder" if where.exists() else "does not exist"
            raise WinnowError(f"ingest.trusted_path: {where} {what}; at a URL the trusted set is a folder "
                              "root/<class>/* (an .npz is read from a local path)")
        return where
    if not where.exists():
        raise WinnowError(f"ingest.trusted_path: {where} does not exist; give {TRUSTED_LAYOUTS}")
    if not where.is_dir() and not where.is_file():
        # before: a FIFO was opened as an .npz, whose open waits for a writer: ingest hung for ever
        raise WinnowError(f"ingest.trusted_path: {where} is neither a folder nor a regular file (a FIFO, socket or "
                          f"device); give {TRUSTED_LAYOUTS}")
    return where


def _refuse_numbered_classes(path, classes: list[str]) -> None:
    """One line when a trusted .npz labels by index (no ``classes`` array) into classes named by numbers that
    are not their indices: the label 2 would mean the class at index 2 (``'10'`` among ``0…10`` sorted by name), where the
    user meant the class named 2."""
    numbered = [(i, c) for i, c in enumerate(classes) if c.isascii() and c.isdigit() and int(c) != i]
    if numbered:
        index, name = numbered[0]
        raise WinnowError(f"ingest.trusted_path: {path} labels by index (it holds no classes array), and the data "
                          f"set's classes are named by numbers that are not their indices (class {name!r} is index "
                          f"{index}); add a classes array naming each label's class")



def _names_classes(path: Path) -> bool | None:
    """Whether the .npz at ``path`` holds a ``classes`` array; None when it is no readable zip, for
    :func:`load_npz` to say what is wrong with it (before: False, and a trusted .npz cut short in its download,
    beside classes named 0 … 10, was told it "holds no classes array; add a classes array")."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "classes.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return None
