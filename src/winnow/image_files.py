"""The ``imagefolder`` source: a folder of image files, one sub-folder per class.

Layouts: ``root/<class>/<file>`` (no splits) or ``root/<split>/<class>/<file>`` with split in
train/val/test. Conversion of each file to uint8 is described in :mod:`winnow.sources`.

What is read and what is set aside (a row ``(path, reason)`` in ``rejected``, later
``data/ingest/rejected.csv``) — nothing is skipped without a row, except hidden entries (names
starting with ``.``: ``.DS_Store``, ``.ipynb_checkpoints``, editors' swap files; and Windows' ``Thumbs.db`` and
``desktop.ini``, a macOS zip's ``__MACOSX``, macOS's custom folder icon ``Icon\\r``, a Synology NAS's ``@eaDir`` and
``#recycle``, a disk's ``lost+found``, ``System Volume Information`` and ``$RECYCLE.BIN``, and the
``<file>:Zone.Identifier`` a copy from Windows into WSL writes beside each file:
:func:`winnow.remote_files.is_hidden`), which are the file system's and tools' own and never read (a hidden folder
of image files beside the class folders whose name starts with ``.``, and hidden image files in a class folder, get
a ``warning:`` line: they may be a class or its images):

- a file directly inside a class folder is decoded; one that is not an image, is truncated (a PNG whose chunks
  fail their CRC check, or whose image data ends before its last row, too), cannot be
  decoded, is animated (an APNG or animated WebP: which frame is the image?), has a file name that is not valid UTF-8, or whose header claims more pixels than Pillow's
  ``Image.MAX_IMAGE_PIXELS`` (a decompression bomb, or a 108-megapixel phone's photo, whose row says to save it
  smaller; refused before any pixel is decoded) is a row;
- a dangling symbolic link, a symbolic-link loop, a FIFO, socket or device is a row (a link to a
  regular file is followed and read, as a copy of it would be: two paths of one file, a symbolic or hard link
  or DVC's link caches, which make exact copies links to one cache file, are two images, and one picture under
  two labels is dedup's label conflict, as for copies);
- a file whose name equals an earlier file's of its class folder under Unicode NFC normalisation (``café.png``
  as one code point and as ``e`` + a combining accent) is a row: two ids shown alike;
- files below a folder nested in a class folder are rows with reason ``nested folder``: the class of
  ``cat/kittens/x.png`` is not obvious (``cat``? ``kittens``?), and tools leave such folders behind
  (``old/``, ``augmented/``), so they are listed rather than guessed;
- a file beside the class folders (``root/x.png``, ``root/train/x.png``) is a row.

Refused with one line (no output): split folders mixed with class folders (``root/{train,cat,dog}``:
is ``train`` a class?), split folders without a train folder (``root/{val,test}``), an entry named as a split folder
that is a link that cannot be followed (dangling, a loop: :func:`_folders`) or, beside split folders, a file, a class folder that is a link to nothing or to what cannot be looked at (its class would vanish without a word), a split folder with no class folder in it (empty, or unlabelled images straight inside:
the split would be carved from train without a word), a class folder with no files directly inside it (a class
with no images is not a class: it would enter macro averages as a zero), a folder name that is not valid UTF-8 (class
names are written to classes.json), two class folders whose names are equal under Unicode NFC
normalisation (``café`` as one code point and as ``e`` + a combining accent: two classes shown alike), a file whose
bytes do not come for the store's or the disk's sake, or a link whose target's mount fails so when looked at
(:func:`winnow.remote_files.refuse_transient`: a row would be kept by DVC once they answer again). Two
whose names differ but for letter case (``A`` and ``a``) are two classes, as Linux holds them, with a ``warning:``
line: macOS and Windows hold them as one folder.

EXIF orientation (JPEG, WebP, PNG ``eXIf``) is applied with ``PIL.ImageOps.exif_transpose``, so a
photo is stored as it is shown; ``orig_h``/``orig_w`` are the size as shown, and each image turned
is listed in ``oriented`` with its orientation tag (2..8).

``root`` may be a URL (``s3://``, ``gs://``, ``az://``, ``memory://``, ``file://``; :mod:`winnow.remote_files`):
the folder is then listed and its files read through fsspec, and decoded exactly as local files.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import numpy as np

from winnow.class_folders import (
    refuse_names_shown_alike, refuse_one_folder_twice, refuse_split_files, refuse_unfollowed_class_folders,
)
from winnow.errors import WinnowError
from winnow.folder_listing import everything_below, folder_entries, scan_folder
from winnow.image_decode import decode_files
from winnow.image_formats import IMAGE_SUFFIXES, head, image_format
from winnow.image_notes import warn_unseen
from winnow.imageset import SOURCE_SPLITS
from winnow.remote_files import RemotePath, locate, shown
from winnow.sources import Loaded

NESTED = "nested folder: only files directly inside a class folder are read; move it up or remove it"
OUTSIDE = "not in a class folder: files must sit in root/<class>/ or root/<split>/<class>/"


def load_imagefolder(root: str | os.PathLike | RemotePath, *, size: int | None, into: str | os.PathLike | None = None,
                     progress: bool = False, param: str = "ingest.path") -> Loaded:
    """Images from ``root/<class>/*`` or ``root/<split>/<class>/*``; see the module docstring for what
    is read, set aside (``rejected``) or refused.

    The files are decoded in batches straight into the ``.npy`` file ``into``, and ``images`` is a
    read-only memory map of it, so a set larger than memory can be read; without ``into`` ``images`` is an array
    in memory, which they are decoded into (:class:`~winnow.npy_rows.MemoryRows`). ``progress`` shows a bar on a
    terminal. ``param``: the parameter that named ``root``, which its ``warning:`` lines name.
    """
    into = Path(into) if into is not None else None
    root = root if isinstance(root, RemotePath) else locate(root, param="ingest.path")
    if not root.is_dir():  # before: a mistyped path was "not a folder" too, which sent people looking at its type
        what = "is not a folder" if root.exists() else "does not exist"
        raise WinnowError(f"ingest.path: {shown(root)} {what} (expected root/<class>/<image files>)")
    rejected: list[tuple[str, str]] = []
    top = _folders(root, rejected, splits=param == "ingest.path")
    split_names = [name for name in top if name in SOURCE_SPLITS]
    if split_names and len(split_names) < len(top):
        _refuse_mixed_layout(root, top, split_names, param=param)
    if split_names and "train" not in split_names and param == "ingest.path":
        # before: "no class has train images; a classifier needs at least 2 classes, so add images of another class"
        # of root/{val,test}/{cat,dog}, two classes of images
        raise WinnowError(f"ingest.path: {shown(root)} holds split folders ({', '.join(split_names)}) but no train "
                          f"folder, so no image would be left to train on; put the train images in "
                          f"{shown(root / 'train')}/<class>/* (ingest carves a val or test split whose folder is "
                          "missing from train)")
    if param == "ingest.path":  # a file root/test: before, a row, and the split carved from train unsaid
        refuse_split_files(root, split_names, rejected, loose=OUTSIDE)
    split_dirs = [(s, top[s]) for s in split_names] if split_names else [(None, root)]
    _warn_hidden_classes([parent for _, parent in split_dirs], param=param)
    class_dirs = []
    for split, parent in split_dirs:
        found = _folders(parent, rejected) if split else top
        refuse_unfollowed_class_folders(parent, rejected, param=param, file_suffixes=IMAGE_SUFFIXES)
        if split and not found and param == "ingest.path":  # the trusted set is one split: its split folders refused
            _refuse_split_without_classes(split, parent)
        class_dirs += [(split, name, folder) for name, folder in found.items()]
    classes = sorted({name for _, name, _ in class_dirs})
    refuse_names_shown_alike(class_dirs, param=param)
    refuse_one_folder_twice(class_dirs)
    if not classes:
        loose = [path.name for path, kind in folder_entries(root) if kind == "file"]
        held = f", only {len(loose)} file(s) (first {shown(loose[0])})" if loose else ""
        raise WinnowError(f"ingest.path: {shown(root)} has no class folders{held} (expected root/<class>/* or "
                          f"root/<split>/<class>/*){_backslashed(loose, remote=isinstance(root, RemotePath))}")
    files, hidden = [], []
    for split, name, folder in class_dirs:
        scanned = None if isinstance(folder, RemotePath) else scan_folder(folder)  # files and hidden images: one listing
        found = _class_files(folder, rejected, scanned)
        own_hidden = _hidden_images(folder, scanned)
        hidden += own_hidden
        if not found:
            # "Train", "TEST": split folders as another tool names them, read as classes (split names are lower case)
            why = f" ({name!r} is not the split folder {name.casefold()!r}: split folders are named in lower " \
                  "case)" if split is None and name != name.casefold() and name.casefold() in SOURCE_SPLITS else ""
            if own_hidden:  # before: "no files" alone, as the warning naming them came after this line, never shown
                why += f" ({len(own_hidden)} hidden image file(s), first {shown(own_hidden[0].name)}: names starting " \
                       "with '.' are never read; rename them if they are its images)"
            alone = sum(s == split for s, _, _ in class_dirs) == 1  # the only folder of the root or of its split
            inner = [path.name for path, kind in folder_entries(folder) if kind == "dir"] if not why else []
            if inner and alone:  # before: "add its images or remove the folder" of the folder an unzipped archive
                # wraps the class folders in (root/flowers/{daisy,rose}; root/train/train/{cat,dog}, as unzipping
                # train.zip into train makes): removing it deletes them all
                holder = dict(split_dirs)[split]
                fix = (f"the class folders, move them up into {shown(holder)}" if split else
                       f"the class or split folders, point {param} at {shown(folder)}")
                raise WinnowError(f"ingest.path: {shown(holder)} holds one folder, {shown(folder.name)}, which holds "
                                  f"folders ({len(inner)}, first {shown(inner[0])}) and no files: if those are {fix}")
            if inner:  # before: "add its images or remove the folder" of Training/ beside Testing/ (a Kaggle MRI set's
                # split folders), removing the test split; and of train/cat/kittens/ or a trusted set's, removing them
                rename = "if it is a split folder, name it train, val or test (root/{train,val,test}/<class>/*); if a " \
                         "class, " if split is None and param == "ingest.path" else ""
                raise WinnowError(f"ingest.path: class folder {shown(folder)} holds folders ({len(inner)}, first "
                                  f"{shown(inner[0])}) and no files: {rename}move its images up out of them")
            elsewhere = sorted({s for s, other, _ in class_dirs if other == name and s != split})
            if elsewhere and param == "ingest.path":  # before: "a class with no images is not a class: ... remove the
                # folder" of root/test/c beside root/train/c, whose removal left the test split without c: refused next
                fix = (f"remove {shown(dict(split_dirs)[split])} to have ingest carve the {split} split from train"
                       if split != "train" else "remove its folders from every split to leave the class out")
                raise WinnowError(f"ingest.path: class folder {shown(folder)} has no files directly inside it{why}, so "
                                  f"the {split} split would hold no image of class {name!r}, which has a folder "
                                  f"in {', '.join(elsewhere)}; add its {split} images, or {fix}")
            raise WinnowError(f"ingest.path: class folder {shown(folder)} has no files directly inside it{why}; a "
                              "class with no images is not a class: add its images or remove the folder")
        label, prefix = classes.index(name), f"{split}/{name}/" if split else f"{name}/"
        files += [(split, label, f, prefix + f.name) for f in found]  # the id: the path below root
    decoded, rows, mixed = decode_files(files, size, into, progress=progress)
    ok = [i for i, d in enumerate(decoded) if d[0] is not None]
    rejected += [(shown(files[i][2]), d[1]) for i, d in enumerate(decoded) if d[0] is None]
    rejected.sort()
    ids = np.array([files[i][3] for i in ok], dtype=object)
    if mixed:
        first = {}  # the first file of each size, to name two
        for i in ok:
            first.setdefault(decoded[i][2], files[i][2])
        # height x width, said so: a photo viewer names a size width first (Pillow's 609x324 is numpy's 324x609)
        seen = ", ".join(f"{shown(path)} {h}x{w}" for (h, w), path in list(first.items())[:2])
        seen += ", height x width"
        raise WinnowError(f"ingest.size: the images of {shown(root)} have {mixed} different sizes (first seen: {seen}); "
                          "set ingest.size to resize them to one")
    warn_unseen(hidden, [(files[i][2], decoded[i][4]) for i in ok], param=param)
    if not ok:
        return Loaded(np.zeros((0, size or 1, size or 1, 1), np.uint8), np.zeros(0, np.int64), ids,
                      classes, "imagefolder", rejected=rejected)
    return Loaded(
        rows.array(),
        np.array([files[i][1] for i in ok], dtype=np.int64),
        ids,
        classes,
        "imagefolder",
        splits=np.array([files[i][0] for i in ok], dtype=object) if split_names else None,
        orig_h=np.array([decoded[i][2][0] for i in ok], dtype=np.int64),
        orig_w=np.array([decoded[i][2][1] for i in ok], dtype=np.int64),
        orig_mode=np.array([decoded[i][1] for i in ok], dtype=object),
        rejected=rejected,
        oriented=[(ids[k], decoded[i][3]) for k, i in enumerate(ok) if decoded[i][3] != 1],
        declared=tuple(split_names),
    )


def _refuse_mixed_layout(root: Path, top: dict[str, Path], split_names: list[str], *, param: str) -> None:
    """Refuse split folders beside class folders (``root/{train,cat,dog}``: is ``train`` a class?), saying for
    ``ingest.path`` the way out the folders' contents point to: a split-named folder holding files is a class, one of
    the others holding folders alone a split folder named otherwise (``validation``)."""
    others = [name for name in top if name not in SOURCE_SPLITS]
    kinds = {name: {kind for _, kind in folder_entries(folder)} for name, folder in top.items()} \
        if param == "ingest.path" else {}
    split_like = [name for name in others if kinds.get(name) == {"dir"}]
    classy = next((name for name in split_names if "file" in kinds.get(name, ())), None)
    named = ""
    if classy:  # before: no way out said for a class named as a split (CIFAR-100's "train", a vehicle set's)
        named = (f"; if {classy} is a class, move every class folder, {classy} too, into a folder named train "
                 "(root/train/<class>/*: the train split, val and test carved from it as from root/<class>/*)")
    elif split_like:  # before: root/{train,validation,test}/<class>/ was told "if test is a class, move every class
        # folder, test too, into a folder named train", of a split folder
        named = f"; {split_like[0]} holds folders and no files: if it is a split folder, name it train, val or test"
    raise WinnowError(
        f"ingest.path: {shown(root)} mixes split folders ({', '.join(split_names)}) with class folders "
        f"({', '.join(others[:5])}); use root/<class>/* or root/{{train,val,test}}/<class>/*, not both{named}")


def _refuse_split_without_classes(split: str, folder: Path) -> None:
    """Refuse a split folder with no class folder in it (empty, or unlabelled images straight inside): before, ingest
    carved that split from the train images without a word (an empty ``root/test``: 2 train images a class)."""
    files = [path.name for path, kind in folder_entries(folder) if kind == "file"]
    held = f"{len(files)} file(s) (first {shown(files[0])}) but no class folder" if files else "no class folder"
    instead = "carved from the train images instead" if split != "train" else "empty"
    fix = ", or remove the folder to have ingest carve the split from train" if split != "train" else ""
    raise WinnowError(f"ingest.path: split folder {shown(folder)} holds {held}, so the {split} split would be "
                      f"{instead}; put its labelled images in {shown(folder)}/<class>/{fix}"
                      f"{_backslashed(files, remote=isinstance(folder, RemotePath))}")


def _backslashed(names: list[str], *, remote: bool) -> str:
    """What to say of files where class folders were looked for whose names hold a backslash (``cat\\0.png``): a zip
    written on Windows with backslashes for folders, extracted by Python's zipfile (shutil.unpack_archive, a download
    helper), which keeps them in the names; empty unless most do (before: "no class folders" alone of such a set; and
    "a zip written on Windows" of unlabelled images one of which a Linux user named with a backslash). ``remote``: keys
    of a bucket (an upload from Windows kept them), where no unzip makes folders."""
    if sum("\\" in name for name in names) * 2 <= len(names):
        return ""
    if remote:
        return ("; their names hold '\\', the folder separator of Windows, which the upload kept in the keys: upload "
                "them again with '/' between the folders")
    return ("; their names hold '\\', the folder separator of a zip written on Windows, which Python's zipfile "
            "keeps in the names: extract it with unzip, which makes them folders")


def _folders(parent: Path, rejected: list, *, splits: bool = False) -> dict[str, Path]:
    """Sub-folders of ``parent`` by name; any other entry there becomes a rejected row. ``splits`` (``ingest.path``'s
    top): an entry named as a split folder that cannot be followed (a dangling link, a link loop: a DVC link cache or
    a drive not there) is refused, as a split folder that yields no image is (before: one row, and the split carved
    from the train images without a word, or the train split said to hold no class)."""
    folders = {}
    for path, kind in folder_entries(parent):
        if splits and path.name in SOURCE_SPLITS and kind not in ("dir", "file"):
            then = ("no image would be left to train on" if path.name == "train" else
                    f"the {path.name} split would be carved from the train images instead")
            raise WinnowError(f"ingest.path: split folder {shown(path)} cannot be read ({kind}), so {then}; restore "
                              "what it links to (`dvc pull`, a drive to mount)"
                              + (", or remove it to have ingest carve that split from train"
                                 if path.name != "train" else ""))
        if kind != "dir":
            rejected.append((shown(path), OUTSIDE if kind == "file" else kind))
        elif not _utf8(path.name):
            raise WinnowError(f"ingest.path: folder name {shown(path)} is not valid UTF-8; rename it "
                              "(class names are written to classes.json)")
        else:
            folders[path.name] = path
    return folders


def _warn_hidden_classes(parents: list[Path], *, param: str) -> None:
    """A ``warning:`` line for each hidden folder beside the class folders that holds image files: it is
    left out as ``.ipynb_checkpoints`` is, but a class folder named ``.c`` would vanish without a word.
    ``param`` names the folder's parameter (before: a trusted set's said ``ingest.path``). A system's own folder
    (``#recycle``, ``@eaDir``, ``__MACOSX``: :data:`winnow.remote_files.SYSTEM_NAMES`) is left out silently: it
    is never a class (before: "a name starting with '.'" was said of it, with advice to rename it a class)."""
    for parent in parents:
        try:
            hidden = [folder for folder, kind in folder_entries(parent, hidden=True)
                      if kind == "dir" and folder.name.startswith(".")]
        except WinnowError:
            continue  # listed again right after, and refused there in one line
        for folder in hidden:
            try:
                images = sum(kind == "file" and path.suffix.lower() in IMAGE_SUFFIXES
                             for path, kind in folder_entries(folder))
            except WinnowError:
                continue
            if images:
                print(f"warning: {param}: left out the hidden folder {shown(folder)} ({images} image "
                      "file(s)): a name starting with '.' is never read; rename it if it is a class")


def _hidden_images(folder: Path, scanned: tuple[list, list] | None = None) -> list[Path]:
    """The hidden files of a class folder that are images (an image suffix and an image format's signature):
    ``.IMG_0001.png`` is left out as ``.DS_Store`` is, but would vanish without a word (before: no row, no
    warning). A macOS AppleDouble file (``._x.jpg``, the system's record of ``x.jpg``) is never opened."""
    try:
        hidden = [path for path, kind in folder_entries(folder, hidden=True, scanned=scanned)
                  if kind == "file" and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("._")]
    except WinnowError:  # listed already: a folder that cannot be listed was refused there
        return []
    return [path for path in hidden if _image_signature(path)]


def _image_signature(path: Path) -> bool:
    """Whether ``path`` starts as a PNG, JPEG, BMP or WebP file does (:func:`winnow.image_formats.image_format`; False
    when it cannot be read: a hidden file is never read, so only the warning on it is lost)."""
    return image_format(head(path)) is not None


def _class_files(folder: Path, rejected: list, scanned: tuple[list, list] | None = None) -> list[Path]:
    """The readable candidates in a class folder; every other entry (any depth) becomes a rejected row, and so
    does a file whose name equals an earlier one's under Unicode NFC normalisation (``café.png`` typed two
    ways): the two ids would be shown alike, and a tool that normalises names (an editor saving the review
    queue, a copy to macOS) would give one image's verdict or file to the other."""
    files, names = [], {}
    for path, kind in folder_entries(folder, scanned=scanned):
        name = path.name  # a property pathlib works out at each call
        if kind == "dir":
            rejected += [(shown(p), NESTED) for p in everything_below(path)]
        elif kind != "file":
            rejected.append((shown(path), kind))
        elif not _utf8(name):
            rejected.append((shown(path), "file name is not valid UTF-8; rename it"))
        elif "\r" in name:  # pandas writes a lone \r unquoted, and every reader ends the row there
            rejected.append((shown(path), "file name holds a carriage return (\\r), which the CSV files of "
                                          "predictions and reviews cannot carry as written; rename it"))
        elif (twin := names.setdefault(name if name.isascii() else unicodedata.normalize("NFC", name), name)) != name:
            rejected.append((shown(path), f"its name is {ascii(twin)} in another Unicode form ({ascii(name)}), "
                                          "two images shown with one name; rename one"))
        else:
            files.append(path)
    return files


def _utf8(name: str) -> bool:
    if name.isascii():  # every ASCII name is UTF-8
        return True
    try:
        name.encode("utf-8")  # a name that is not UTF-8 on disk arrives with surrogate escapes
    except UnicodeEncodeError:
        return False
    return True


