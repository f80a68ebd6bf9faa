"""Paths a command writes or reads, checked before any work: what would stop a write there
(:func:`check_output`, which also refuses the project's own files and stage outputs, as
:mod:`winnow.project_outputs` finds them), and input paths that are not regular files."""

import errno
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import NamedTuple

from winnow.errors import WinnowError
from winnow.project_outputs import project_file


class Obstacle(NamedTuple):
    """What stops a write at a path (:func:`output_obstacle`): ``kind`` (a folder where a file goes, or the
    reverse), ``under`` (``where``: the file the path lies under), ``dangling`` (``where``: the symbolic link the
    path lies under, ``why``: its target, which does not exist), ``unwritable`` (``where``: the deepest
    existing folder, which takes no new file; ``why``: the system's reason), ``read-only`` (the same, on a file
    system mounted read-only, whose permissions no chmod changes), ``mount`` (the path is a mount point, which no
    rename replaces) or ``long`` (``why``: the longest name the folder's file system takes)."""

    what: str
    where: str = ""
    why: str = ""


def output_obstacle(path: str | os.PathLike, *, folder: bool = False, replaced: bool = True) -> Obstacle | None:
    """What would stop writing the file (or, with ``folder``, the folder) ``path`` at the end of the work, or
    None; checked before any work, since the final write fails only after the work ran. ``replaced``: False for a
    folder written into (``study collect --out``, a variant's folder), which may well be a mount point; a folder a
    writer replaces says so as its write begins (:func:`refuse_mount_point`)."""
    path = os.fspath(path)
    if os.path.isdir(path) if not folder else os.path.exists(path) and not os.path.isdir(path):
        return Obstacle("kind")
    # written beside it and renamed over it, a mount point (a disk, or a folder or file bind-mounted into a container)
    # refuses the rename: before, ingest read and wrote everything, then said "data/ingest -> data/.ingest.winnow-old-
    # <pid>: Device or resource busy [EBUSY]; free space, or fix the path or its permissions", which neither fixes
    if replaced and mount_point(path):
        return Obstacle("mount")
    parts = os.path.normpath(path).split(os.sep)
    parents = [os.sep.join(parts[:i]) or os.sep for i in range(1, len(parts))] or [os.curdir]
    blocking = next((parent for parent in parents if os.path.exists(parent) and not os.path.isdir(parent)), None)
    if blocking is not None:
        return Obstacle("under", blocking)
    # a folder linked to a disk not mounted (models -> /mnt/big/models) passed, and the write's mkdir failed after the
    # work: train@baseline trained, then said "models: File exists [EEXIST]; free space, or fix the path ..."
    dangling = next((parent for parent in parents if os.path.islink(parent) and not os.path.exists(parent)), None)
    if dangling is not None:
        return Obstacle("dangling", dangling, os.readlink(dangling))
    # the deepest folder that exists must take a new file (permissions, a read-only or virtual file system)
    nearest = next((parent for parent in reversed(parents) if os.path.isdir(parent)), os.curdir)
    try:
        with tempfile.TemporaryFile(dir=nearest):
            pass
    except OSError as err:
        # a read-only mount (a checkout mounted so into a container): before, told to fix its permissions, which
        # chmod cannot ("chmod: Read-only file system")
        return Obstacle("read-only" if err.errno == errno.EROFS else "unwritable", nearest, err.strerror)
    # it is written as .<name>.winnow-tmp-<pid>[.suffix] and renamed: a name that fits but whose temporary does not
    # failed after the work (compare left its markdown without the JSON; gate printed PASS, then failed)
    longest = _name_max(nearest) - len(f"..winnow-scratch-{2**22}")
    if len(os.fsencode(os.path.basename(os.path.normpath(path)))) > longest:
        return Obstacle("long", why=str(longest))
    return None


# the mount table of this process (Linux): a bind mount of a folder or file of the same file system is a mount
# point that os.path.ismount, which compares devices and inodes, does not see
MOUNTINFO = "/proc/self/mountinfo"


def mount_point(path: str | os.PathLike) -> bool:
    """Whether ``path`` itself (a symbolic link there is not followed: renamed, it moves) is where a file system or a
    bind mount of a folder or file is mounted, by :data:`MOUNTINFO`; where there is none (not Linux),
    :func:`os.path.ismount`."""
    path = os.fspath(path)
    if os.path.islink(path) or not os.path.exists(path):
        return False
    try:
        with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as table:
            points = {_unescaped(fields[4]) for fields in map(str.split, table) if len(fields) > 4}
    except OSError:
        return os.path.ismount(path)
    absolute = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute)) in points


def refuse_mount_point(path: Path) -> None:
    """Refuse, as its write begins, a folder ``path`` that a writer replaces (:func:`winnow.outputs.atomic_folder`)
    when it is a mount point: the new folder is written beside it, and no rename replaces a mount point. A stage's
    check of its outputs refuses it so before any work, but for the folders it names as written into."""
    if mount_point(path):
        raise WinnowError(f"{path}: is a mount point, which the new folder written beside it cannot be renamed over; "
                          f"mount the folder it lies in ({path.parent}) instead, then rerun")


def _unescaped(field: str) -> str:
    """A path of the mount table, whose spaces, tabs, newlines and backslashes are written as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda octal: chr(int(octal.group(1), 8)), field)


def _name_max(folder: str) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output(path: str | os.PathLike | None, *, option: str, folder: bool = False, example: str = "",
                 replaced: bool = True) -> None:
    """Refuse, before any work, an output path a command could not write (:func:`output_obstacle`, ``replaced`` as
    there); ``option`` names the argument."""
    if path is None:
        return
    obstacle = output_obstacle(path, folder=folder, replaced=replaced)
    path, kind = os.fspath(path), "folder" if folder else "file"
    hint = f", e.g. {option} {example}" if example else ""
    if obstacle is None:
        owned = project_file(path)
        if owned:
            raise WinnowError(f"{option} {path}: is {owned}, which this would overwrite; give another path{hint}")
        special = None if folder else not_a_regular_file(path)
        if special:
            raise WinnowError(f"{option} {path}: is {special}, which the write would replace with a regular file; "
                              f"give the path of a regular file{hint}")
        return
    if obstacle.what == "kind":
        raise WinnowError(f"{option} {path}: is a {'file' if folder else 'folder'}; give a {kind} path{hint}")
    if obstacle.what == "under":
        raise WinnowError(f"{option} {path}: lies under the file {obstacle.where}; give a {kind} path{hint}")
    if obstacle.what == "dangling":
        raise WinnowError(f"{option} {path}: lies under {obstacle.where}, a symbolic link to {obstacle.why}, which "
                          f"does not exist; create that folder (or mount its disk), or give another {kind} path{hint}")
    if obstacle.what == "mount":
        raise WinnowError(f"{option} {path}: is a mount point, which the write cannot replace (it writes the new {kind} "
                          f"beside it and renames it into place); give another {kind} path{hint}")
    if obstacle.what == "long":
        raise WinnowError(f"{option} {path}: the name is too long to write safely (at most {obstacle.why} bytes here, "
                          f"to leave room for the temporary it is written as); give a shorter name{hint}")
    raise WinnowError(f"{option} {path}: cannot write in {obstacle.where} ({obstacle.why}); give a {kind} path "
                      f"where you can write{hint}")


def not_a_regular_file(path: str) -> str | None:
    """What an existing ``path`` is when a file written beside it and renamed over would replace something other
    than a regular file: a link (its target left unchanged) or a device (/dev/stdout, as root), else None. A
    stage's outputs may be DVC's links, so only the commands' own output options ask."""
    if os.path.islink(path):
        return "a symbolic link"
    if os.path.exists(path) and not os.path.isfile(path):
        return "a FIFO, socket or device"
    return None


EXPERIMENT_COPIES = (".dvc", "tmp", "exps")  # <project>/.dvc/tmp/exps/<tmp>/: where DVC copies a project to run an
# experiment in (`dvc exp run --queue`), and <project>/.dvc/tmp/exps/standalone/<tmp>/ (`dvc exp run --temp`)
STANDALONE = "standalone"


def refuse_missing_from_experiment_copy(path: str | os.PathLike, *, param: str) -> None:
    """One line naming ``param`` when the relative ``path`` is not found because the command runs in the copy DVC made
    of a project to run a queued or ``--temp`` experiment (:data:`EXPERIMENT_COPIES`), which holds only what git and DVC
    track, and the project itself holds ``path``. Before: "ingest.path: raw does not exist", of a folder the user saw
    in the project, and ``dvc queue logs`` said nothing of the copy. A ``path`` DVC tracks (its ``.dvc`` file, or a
    folder's above it, in the copy) was left out because the experiment named its stages: DVC checks out only the data
    of their pipeline, which reads ``path`` by a parameter, not as a dependency; the line says so (before, it told the
    user to `dvc add` and commit what they had)."""
    if os.path.isabs(path) or os.path.lexists(path):
        return
    cwd = Path.cwd()
    parts = cwd.parts
    for i in range(len(parts) - 4, 0, -1):  # the innermost copy first
        if parts[i:i + 3] != EXPERIMENT_COPIES:
            continue
        # `--temp`'s copies lie one folder deeper, in standalone/ (before, that folder was named as the copy)
        deeper = parts[i + 3] == STANDALONE and len(parts) > i + 4
        project, copy = Path(*parts[:i]), Path(*parts[:i + 4 + deeper])
        # the copy is of the git repository: a `dvc init --subdir` project's .dvc lies below its top
        root = next((folder for folder in (cwd, *cwd.parents)
                     if folder.is_relative_to(copy) and (folder / ".dvc").is_dir()), copy)
        original = project / cwd.relative_to(root) / path
        if not os.path.lexists(original):
            return
        tracked = _dvc_file(path)
        if tracked is not None:
            raise WinnowError(f"{param}: {path} is tracked by DVC ({tracked}) but not checked out in the copy of the "
                              f"project this experiment runs in ({copy}): an experiment of named stages checks out "
                              f"only the data of their pipeline, which reads {path} by its parameter, not as a "
                              "dependency; run the experiment with no stage named (dvc exp run --queue, or --temp), "
                              f"or name {tracked} beside its stages (dvc exp run --queue {tracked} <stage>)")
        raise WinnowError(f"{param}: {path} is not in the copy of the project this experiment runs in ({copy}), "
                          f"though {original} is there: `dvc exp run --queue` and `--temp` copy only what git "
                          f"and DVC track; give its absolute path, or commit it to git or DVC (dvc add {path}, "
                          f"then commit {path}.dvc)")


def _dvc_file(path: str | os.PathLike) -> str | None:
    """The ``.dvc`` file (as `dvc add` names it, relative to the working folder) that tracks the relative ``path`` or a
    folder above it, where one is here; else None."""
    path = Path(os.path.normpath(path))
    for tracked in (path, *path.parents[:-1]):
        if ".." not in tracked.parts and os.path.isfile(f"{tracked}.dvc"):
            return f"{tracked}.dvc"
    return None


def check_input_file(path: Path, *, option: str, fix: str) -> None:
    """Raise one line, ``{option}: {path} <what it is>; {fix}``, unless ``path`` is a regular file (or a link
    to one): not found, a folder, a symlink loop, a dangling symlink or a FIFO, socket or device."""
    what = not_a_file(path)
    if what == "not found":
        refuse_missing_from_experiment_copy(path, param=option)
    if what is not None:
        raise WinnowError(f"{option}: {path} {what}; {fix}")


def not_a_file(path: Path) -> str | None:
    """What ``path`` is, in words (``not found``, ``is a folder, not a file``, ``is a dangling symlink (to …)``…),
    unless it is a regular file (or a link to one): then None."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            what = "is a symlink loop (it points back to itself), not a file"
        elif _is_symlink(path):
            what = f"is a dangling symlink (to {os.readlink(path)}, which does not exist)"
        elif err.errno in (errno.ENOENT, errno.ENOTDIR):
            what = "not found"
        else:
            what = f"cannot be read ({err.strerror})"
    else:
        if stat.S_ISREG(mode):
            return None
        what = "is a folder, not a file" if stat.S_ISDIR(mode) else "is not a regular file (a FIFO, socket or device)"
    return what


def _is_symlink(path: Path) -> bool:
    """``path.is_symlink()``, False where lstat fails as stat did: before, a name too long for the file system
    (ENAMETOOLONG, which is_symlink does not pass over) was "stages/represent.py: <name>: File name too long; free
    space, ..." of represent.pretrained.torchscript, naming neither the option nor a fix that works."""
    try:
        return path.is_symlink()
    except OSError:
        return False
