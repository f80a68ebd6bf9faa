"""The listing of a folder that :mod:`winnow.image_files` walks, local or remote (:mod:`winnow.remote_files`): its
entries sorted by name, each with its kind (a file, a folder or why neither), the hidden ones apart
(:func:`winnow.remote_files.is_hidden`), and everything below a folder; a folder that cannot be listed is refused in
one line, a mount's hiccup as such.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from winnow.errors import WinnowError
from winnow.remote_files import RemotePath, is_hidden, not_read, refuse_transient, shown


def folder_entries(folder: Path, *, hidden: bool = False, scanned: tuple[list, list] | None = None) -> list[tuple[Path, str]]:
    """The non-hidden entries of ``folder`` (``hidden``: only the hidden ones, :func:`is_hidden`) sorted by
    name, each with its kind: ``file`` (a regular file, links followed), ``dir`` (likewise) or the reason it
    is neither. ``os.scandir``'s cached types and string keys, as sorting Paths and a ``stat`` per file cost
    more than decoding small images. ``scanned``: :func:`scan_folder` of a local ``folder``, where it was listed
    already (a class folder's files and its hidden images, from one listing)."""
    if isinstance(folder, RemotePath):
        return folder.entries(hidden=hidden)
    entries = (scan_folder(folder) if scanned is None else scanned)[hidden]
    # a scandir name is one part: pathlib's own walks (iterdir, glob) join it unparsed, a third of `folder / name`'s
    # cost, 10 ms of listing 8,068 files before any is decoded; `/` where a Python lacks that private method
    child = getattr(folder, "_make_child_relpath", None)
    return [(child(e.name) if child else folder / e.name, entry_kind(e)) for e in entries]


def scan_folder(folder: Path) -> tuple[list[os.DirEntry], list[os.DirEntry]]:
    """The non-hidden and the hidden (:func:`is_hidden`) entries of the local ``folder``, each sorted by name: one
    listing of a class folder for its files and its hidden images, which took two (4 ms of 8,068 files, #20)."""
    try:
        with os.scandir(folder) as scan:
            both = ([], [])
            for entry in scan:
                both[is_hidden(entry.name)].append(entry)
    except OSError as err:  # before: "fix its permissions" of a mount's hiccup too, and of a folder moved meanwhile
        refuse_transient(err, folder)
        if err.errno in (errno.EMFILE, errno.ENFILE):  # the process's, as a decode's (before: "moved meanwhile?")
            raise not_read("ingest.path", folder, err.strerror, check="the open-file limit (`ulimit -n`)") from None
        fix = ("fix its permissions" if err.errno in (errno.EACCES, errno.EPERM) else
               "it was there a moment before (moved or removed meanwhile?): rerun once the data is no longer being "
               "changed" if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP) else "check the folder, then rerun")
        raise WinnowError(f"ingest.path: cannot list {shown(folder)} ({err.strerror}); {fix}") from None
    for entries in both:
        entries.sort(key=lambda e: e.name)
    return both


def entry_kind(entry: os.DirEntry) -> str:
    try:
        if entry.is_file():
            return "file"
        if entry.is_dir():
            return "dir"
    except OSError as err:  # is_file() raises for a link loop instead of answering False
        # a link's target on a network mount (DVC's symlink cache on NFS) that hiccups: the mount's fault, as a read's
        # (before: a row "unreadable: Stale file handle", which DVC kept, the listing being unchanged)
        refuse_transient(err, entry.path)
        return "symbolic link loop" if err.errno == errno.ELOOP else f"unreadable: {err.strerror}"
    if entry.is_symlink() and not os.path.exists(entry.path):
        return "dangling symbolic link: its target does not exist"
    return "not a regular file (a FIFO, socket or device)"


def everything_below(folder: Path) -> list[Path]:
    """Every non-hidden, non-folder entry below ``folder``; a folder link, or a folder that cannot be
    listed, is one entry itself (links are not followed, so a loop cannot recur). Walked with a list of the folders
    still to list, not by recursion: a tree nested deeper than Python's recursion limit (a copy that followed a link
    loop, ``cp -rL``, nests folders until the path is too long) stopped ingest with a RecursionError's traceback."""
    if isinstance(folder, RemotePath):
        return folder.below()
    if folder.is_symlink():
        return [folder]
    found, waiting = [], [folder]
    while waiting:
        current = waiting.pop()
        try:
            with os.scandir(current) as scan:
                entries = [e for e in scan if not is_hidden(e.name)]
        except OSError:
            found.append(current)
            continue
        for entry in entries:
            (waiting if entry.is_dir(follow_symlinks=False) else found).append(Path(entry.path))
    return sorted(found)
