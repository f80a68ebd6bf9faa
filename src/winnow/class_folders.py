"""Class folders of an image folder (:mod:`winnow.image_files`) that would be one class read twice or two classes
shown alike: refused in one line, or (names equal but for letter case) named in a ``warning:`` line."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from winnow.errors import WinnowError
from winnow.ingest import alike
from winnow.remote_files import RemotePath, shown


def refuse_names_shown_alike(class_dirs: list[tuple], *, param: str) -> None:
    """Refuse two class folders whose names are equal under Unicode NFKC normalisation (``café`` typed as
    one code point and as ``e`` + a combining accent; a no-break space) or but for spaces (``cat`` and ``cat ``):
    they would be two classes shown with one name (:func:`winnow.ingest.alike`). Two equal but for letter case are
    named in a ``warning:`` line (``param``): macOS's and Windows' file systems hold them as one folder, but a letter
    data set's ``A`` and ``a`` are two classes (before: refused, a whole such data set with them); ``lower`` as
    those file systems fold case, a letter at a time (``casefold`` made ``Maße`` and ``Masse`` one).

    Two such folders in two split folders (``train/Cat`` and ``test/cat``), neither name in the other's split, are one
    class named two ways (:func:`_spelt_two_ways`): refused, with the fix that works (before: told to merge them into
    one folder, which moves test images into train; and a case pair was warned of so, then refused as a class
    without train images, to "add train images or remove the class")."""
    held = {(split, name) for split, name, _ in class_dirs}
    seen: dict[str, tuple[str, Path, str | None]] = {}
    spelt: dict[str, tuple[str, Path, str | None]] = {}  # the first folder of each name as case folds it, any split
    cased: dict[tuple, tuple[str, Path]] = {}
    pairs: dict[tuple[str, str], tuple[Path, Path]] = {}  # each pair of names once, with its first two folders
    for split, name, folder in class_dirs:
        other = seen.setdefault(alike(name), (name, folder, split))
        if other[0] != name:
            _spelt_two_ways(other, (name, folder, split), held, how="under Unicode normalisation or but for spaces")
            raise WinnowError(f"ingest.path: class folders {shown(other[1])} and {shown(folder)} have names equal "
                              f"under Unicode normalisation or but for spaces ({ascii(other[0])} and {ascii(name)}), "
                              "two classes shown alike; merge them into one folder or rename one")
        other = spelt.setdefault(alike(name).lower(), (name, folder, split))
        if other[0] != name:
            _spelt_two_ways(other, (name, folder, split), held, how="but for letter case")
        # a pair within one split folder: a pair across two is either refused above or held in one of them as well
        other = cased.setdefault((split, alike(name).lower()), (name, folder))
        if other[0] != name:
            pairs.setdefault((other[0], name), (other[1], folder))
    if pairs:
        first = next(iter(pairs.values()))
        print(f"warning: {param}: {len(pairs)} pair(s) of class folders have names equal but for letter case (first "
              f"{shown(first[0])} and {shown(first[1])}): each read as a class of its own, though macOS and Windows "
              "hold such a pair as one folder; if a pair is one class, merge its folders into one")


def _spelt_two_ways(first: tuple, second: tuple, held: set[tuple], *, how: str) -> None:
    """Refuse two class folders (``(name, folder, split)`` each) of names equal ``how`` that lie in two split folders,
    neither name in the other's split (``held``: every ``(split, name)`` of a class folder): one class named two ways,
    which would be read as two classes, each missing from the other's split. Nothing where they share a split."""
    (name, folder, split), (other_name, other, other_split) = first, second
    if split == other_split or (split, other_name) in held or (other_split, name) in held:
        return
    # the train folder's name kept (the names read alike: ascii() tells them apart)
    kept, renamed = (first, second) if other_split != "train" else (second, first)
    raise WinnowError(f"ingest.path: class folders {shown(folder)} and {shown(other)} have names equal {how} "
                      f"({ascii(name)} and {ascii(other_name)}), the {split} and the {other_split} split's only "
                      "folders of that name, so they would be read as two classes, each missing from the other's "
                      f"split; name the class alike in every split folder: rename {shown(renamed[1])} to "
                      f"{ascii(kept[0])}")


def refuse_one_folder_twice(class_dirs: list[tuple]) -> None:
    """Refuse two class folders that are one folder (a symbolic link to another class's): every image in it
    would be read twice, under two labels, or under one label in two splits (``root/val`` a link to ``root/test``:
    before, said to be "two classes' image", with advice to copy the images the classes share)."""
    seen: dict[str, tuple] = {}
    for split, name, folder in class_dirs:
        if isinstance(folder, RemotePath):
            continue
        other_split, other_name, other = seen.setdefault(os.path.realpath(folder), (split, name, folder))
        if other == folder:
            continue
        if other_name == name:  # one class in two split folders: each image would be in both splits
            raise WinnowError(f"ingest.path: class folders {shown(other)} and {shown(folder)} are one folder (a "
                              f"symbolic link), so each of its images would be in both the {other_split} and the "
                              f"{split} split; remove the link (a val or test split ingest.path lacks is carved from "
                              "train)")
        raise WinnowError(f"ingest.path: class folders {shown(other)} and {shown(folder)} are one folder (a "
                          "symbolic link), so each of its images would be two classes' image; remove the link "
                          "or copy the images a class really shares")


def refuse_split_files(root, split_names: list[str], rejected: list[tuple[str, str]], *, loose: str) -> None:
    """Refuse a file named as a val or test split folder at the top of an image folder of split folders (``root/train``
    and a file ``root/test``: an archive left packed, a copy cut short): before, it was one row "not in a class folder"
    and the split was carved from the train images without a word, as a dangling link there is refused for
    (:func:`winnow.image_files._folders`). ``rejected``: the rows of the top's listing, the files among them of reason
    ``loose``. In a layout of class folders alone no split is read from folders, and such a file stays a row."""
    if not split_names:
        return
    files = {path for path, reason in rejected if reason == loose}
    for split in ("val", "test"):
        path = root / split
        if split not in split_names and shown(path) in files:
            raise WinnowError(f"ingest.path: split folder {shown(path)} is a file, not a folder, so the {split} split "
                              f"would be carved from the train images instead; unpack its images into "
                              f"{shown(path)}/<class>/ (an archive?), or move it out of {shown(root)} to have ingest "
                              "carve that split from train")


def refuse_unfollowed_class_folders(parent, rejected: list[tuple[str, str]], *, param: str,
                                    file_suffixes: Collection[str]) -> None:
    """Refuse an entry beside the class folders in ``parent`` (the image folder, or a split folder) that is a dangling
    link (a DVC link cache not pulled, a drive not mounted) named as a folder, not as an image file (a suffix of
    ``file_suffixes``): before, it was one row among ``rejected``, and its class vanished from classes.json without a
    word, where an empty class folder is refused (a class with no images is not a class) and a split folder that
    cannot be followed is too. So is a link whose target cannot be looked at (``unreadable: Permission denied``: a
    folder of another user's; ``Not a directory``: a path through a file): before, one row, its class gone as a
    dangling one's was. A link loop there links to nothing that could be restored, and stays a row.
    ``param``: the parameter naming the folder."""
    if isinstance(parent, RemotePath):  # a bucket's listing holds no links
        return
    for where, kind in rejected:
        dangling = kind.startswith("dangling symbolic link")
        if not dangling and not kind.startswith("unreadable: "):
            continue
        name = where.rsplit("/", 1)[-1]
        if shown(parent / name) != where or Path(name).suffix.lower() in file_suffixes:
            continue
        if dangling:
            raise WinnowError(f"{param}: class folder {where} cannot be read ({kind}), so its class would be left out, "
                              "with its images; restore what it links to (`dvc pull`, a drive to mount), or remove it "
                              "to leave the class out")
        if os.path.islink(parent / name):  # a link's target, not the entry itself, failed to be looked at
            raise WinnowError(f"{param}: class folder {where} is a symbolic link whose target cannot be looked at "
                              f"({kind.removeprefix('unreadable: ')}), so its class would be left out, with its "
                              f"images; make {shown(os.readlink(parent / name))} a folder this user can read, or "
                              "remove the link to leave the class out")
