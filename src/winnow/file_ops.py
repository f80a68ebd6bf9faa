"""Small operations on files and processes that every writer shares: remove a path (naming the whole path when it
cannot), a file's sha256, whether a process still runs, and the temporary sibling a write is staged in."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path


def temporary_sibling(path: Path, kind: str = "tmp") -> Path:
    """The sibling of ``path`` a writer stages it in (``tmp``) or moves the old one aside to (``old``):
    ``.<stem>.winnow-<kind>-<pid><suffix>``, which :func:`winnow.temporaries.sweep_temporaries` removes once the
    process is gone."""
    return path.with_name(f".{path.stem}.winnow-{kind}-{os.getpid()}{path.suffix}")


def is_temporary_sibling(candidate: Path, path: Path, kind: str = "tmp") -> bool:
    """Whether ``candidate`` is :func:`temporary_sibling` ``(path, kind)`` as some process names it (any pid)."""
    return candidate.parent == path.parent and re.fullmatch(
        rf"\.{re.escape(path.stem)}\.winnow-{kind}-\d+{re.escape(path.suffix)}", candidate.name) is not None


def remove(path: Path) -> None:
    """Remove a file, link or folder, if there."""
    if path.is_dir() and not path.is_symlink():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=_naming_the_path)
        else:
            shutil.rmtree(path, onerror=lambda function, name, info: _naming_the_path(function, name, info[1]))
    else:
        path.unlink(missing_ok=True)


def _naming_the_path(_function, name: str, err: BaseException) -> None:
    """Raise ``err`` of :func:`shutil.rmtree` naming the whole path of what it could not remove: its own names only
    the entry (``manifest.parquet``), and the line then said nothing of where."""
    if isinstance(err, OSError) and err.filename != name:
        raise OSError(err.errno, err.strerror, name) from err
    raise err


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def kept_sha256(path: str | os.PathLike) -> str:
    """:func:`file_sha256` of ``path``, hashed once per version of the file in this process, for a file that each
    check reads whole (represent_settings' digest of ``represent.file``: before, data valuation read it three times and
    the budget once more at each record of the embedding, a 10 GB file 10 GB at each). The version is told by the
    stat taken before the hash (size, modification and change time, inode, device), as git and DVC tell it: the change
    time, which no tool sets back, sees an edit whose size and modification time were kept (``cp -p``). A file changed
    within :data:`RACY_NS` of its hash is hashed again next time: the kernel's clock steps in milliseconds, so an edit
    of the same size in the same step would keep the stat."""
    path = os.path.abspath(path)
    stat = os.stat(path)
    mark = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)
    kept = _HASHED.get(path)
    if kept is not None and kept[0] == mark:
        return kept[1]
    began = time.time_ns()
    digest = file_sha256(path)
    if stat.st_ctime_ns < began - RACY_NS:
        _HASHED[path] = (mark, digest)
    return digest


RACY_NS = 2_000_000_000  # a file changed this close to its hash is hashed again by the next read (a FAT disk's 2 s)
_HASHED: dict[str, tuple[tuple, str]] = {}  # kept_sha256's: path -> (its stat's mark, its sha256)


def file_digests(paths, *, kept: bool = False) -> dict[str, str | None]:
    """:func:`file_sha256` of each file at ``paths``, by path, None for one missing or unreadable (or no regular file):
    what a record of the files an output was made from holds, to be compared with them later (the contracts' verdicts,
    the budget's decisions). ``kept``: hashed once per version in this process (:func:`kept_sha256`), for a large file
    each check reads whole (the represent stage's embedding)."""
    return {str(path): file_digest(path, kept=kept) for path in paths}


def file_digest(path: str | os.PathLike, *, kept: bool = False) -> str | None:
    """:func:`file_sha256` (``kept``: :func:`kept_sha256`), or None where ``path`` is missing, unreadable or no
    regular file."""
    try:
        if not os.path.isfile(path):
            return None
        return kept_sha256(path) if kept else file_sha256(path)
    except OSError:
        return None


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a killed child its parent has not reaped yet)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows; sweep nothing there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except (OverflowError, ValueError):
        return False  # no process can have this number
    try:  # /proc/<pid>/stat: "pid (name) state ..."
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
