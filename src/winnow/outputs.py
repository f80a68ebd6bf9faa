"""Moving a stage's outputs into place: atomic writes of a file (:func:`atomic_path`) or a folder
(:func:`atomic_folder`), and all of a stage's outputs at once (:func:`together`, committed by
:mod:`winnow.commit_journal`, which also finishes what killed runs left behind; their temporaries:
:mod:`winnow.temporaries`). Stage scripts import these through :mod:`winnow.stage`."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from winnow.commit_journal import commit_staged
from winnow.file_ops import remove, temporary_sibling
from winnow.output_paths import refuse_mount_point


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``path`` (same suffix, so writers that go by it still do) to write to; it is
    renamed to ``path`` when the block ends without error and removed otherwise, so a reader or DVC never
    sees a half-written file. Inside :func:`together` the rename waits for the end of that block."""
    path = Path(path)
    made = _make_parents(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        if _staged is None:
            _check_before_commit()
            tmp.replace(path)
        else:
            _staged[path] = tmp
    except OSError as err:
        # a full disk fails a file object's write or close, np.save's and torch.save's writes naming no file: the
        # stage's one line said "No space left on device" and nothing of where
        if err.filename is None and (err.errno is not None or type(err) is OSError):  # not a library's own kind
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    finally:
        if _staged is None or _staged.get(path) != tmp:
            tmp.unlink(missing_ok=True)
        _release(made)


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """:func:`atomic_path` for a folder: an empty temporary sibling folder to fill, which replaces ``path``
    (whatever was there) when the block ends without error and is removed otherwise, so DVC and the next
    stage never see half an imageset. Inside :func:`together` the rename waits for the end of that block."""
    path = Path(path)
    refuse_mount_point(path)  # before it is filled: ingest streams every image into it
    made = _make_parents(path)
    tmp = temporary_sibling(path)
    remove(tmp)  # a killed run's, of a process id used again
    tmp.mkdir()
    try:
        yield tmp
        if _staged is None:
            _check_before_commit()
            commit_staged({path: tmp})
        else:
            _staged[path] = tmp
    except OSError as err:
        # pyarrow's parquet writer meets a full disk (or `ulimit -f`) at its close and names no file: an imageset's
        # manifest.parquet failed so, and ingest's line said "Error writing bytes to file" and nothing of where. Only a
        # full disk's errors: the block also reads (a source decoded into the folder), and a read's fault is not here
        if err.filename is None and err.errno in _DISK_FULL:
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    finally:
        if _staged is None or _staged.get(path) != tmp:
            remove(tmp)
        _release(made)


_DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)  # no room on the disk, past `ulimit -f`, past the quota


@contextmanager
def scratch_folder(path: str | os.PathLike) -> Iterator[Path]:
    """An empty sibling folder of ``path`` for the work files a stage needs until its outputs are written: on
    the same file system, so an output can hard-link a file made there (never ``/tmp``, which may be memory).
    Removed when the block ends, and by :func:`sweep_temporaries` after a killed run."""
    path = Path(path)
    made = _make_parents(path)
    tmp = temporary_sibling(path, "scratch")
    remove(tmp)  # a killed run's, of a process id used again
    tmp.mkdir()
    try:
        yield tmp
    except OSError as err:
        # a full disk or `ulimit -f` met writing a work file named the scratch folder, removed before anyone could
        # look ("data/.degrade.winnow-scratch-15596/images.npy: File too large"): the output it was for is named
        named = None if err.filename is None else Path(os.fsdecode(err.filename)).absolute()
        if err.errno in _DISK_FULL and (named is None or named.is_relative_to(tmp.absolute())):
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    finally:
        remove(tmp)
        _release(made)


def _make_parents(path: Path) -> list[Path]:
    """Make the folders ``path`` lies in; those this made, deepest first, for :func:`_remove_empty` when the write
    ends. Before: an ingest stopped before its imageset was whole (`ulimit -n`, a file not read) left an empty data/."""
    made = [parent for parent in path.parents if not parent.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    return made


def _release(made: list[Path]) -> None:
    """:func:`_remove_empty` of the folders a write made, now, or inside :func:`together` when that block ends: its
    staged temporaries keep them until then, and a block that fails removes those. Before, a stage stopped after
    one output was staged (a full disk at the next, params edited meanwhile) left its new data/x/ and metrics/ empty."""
    if _staged is None:
        _remove_empty(made)
    else:
        _made.append(made)


def _remove_empty(folders: list[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty: what a write that failed made, and left nothing in."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # an output (or a temporary still staged) is in it, or another's file
            return


# final path -> its written temporary (None: to be removed), while a together() block runs; None outside one
_staged: dict[Path, Path | None] | None = None
# the folders each write of that block made (:func:`_make_parents`), for its end
_made: list[list[Path]] = []
# run before any output moves into place; one that raises leaves the old outputs and removes the new (a stage run
# sets winnow.params_read.check_unchanged: outputs of params edited meanwhile must not be recorded as the new ones)
before_commit: list[Callable[[], None]] = []


def _check_before_commit() -> None:
    for check in before_commit:
        check()


class Outputs:
    """What :func:`together` yields: :meth:`folder` stages an output folder."""

    def folder(self, path: str | os.PathLike) -> Path:
        """Where to write the folder ``path``: a temporary sibling (not created), moved into place with the
        other outputs; left unwritten (a process under torchrun that logs nothing), ``path`` is left as it is."""
        path = Path(path)
        refuse_mount_point(path)
        # made here, as a staged write makes its folders, so that they go with a block that fails: before, a training
        # interrupted in a fresh project left metrics/train/ behind, empty (dvclive made it for the log)
        _made.append(_make_parents(path))
        tmp = temporary_sibling(path)
        remove(tmp)  # a killed run's of a process id used again
        _staged[path] = tmp
        return tmp

    def removal(self, path: str | os.PathLike) -> None:
        """Remove the output file ``path`` as the other outputs move into place, in the same commit (a kill finishes
        or undoes it with them); kept where the block fails. Before, ``study collect`` removed the plots of sweeps it
        no longer drew after its commit, and a kill in between left one beside the new table."""
        _staged[Path(path)] = None


@contextmanager
def together() -> Iterator[Outputs]:
    """Write a stage's outputs as one: every atomic write in the block (:func:`write_json`,
    :func:`write_table`, ...) and every :meth:`Outputs.folder` is kept as a temporary, and all are renamed
    into place when the block ends without error, or removed when it fails or is interrupted: never some
    outputs new and the rest old. Check the outputs before any work (:func:`check_outputs`)."""
    global _staged
    if _staged is not None:
        raise RuntimeError("together() blocks do not nest")
    _staged = {}
    try:
        yield Outputs()
        _check_before_commit()
        staged, _staged = _staged, None
        commit_staged(staged)
    finally:
        for tmp in (_staged or {}).values():
            if tmp is not None:  # a removal staged (Outputs.removal) has no temporary
                remove(tmp)
        _staged = None
        while _made:  # the last write's first: an earlier one may have made the folder a later one's lies in
            _remove_empty(_made.pop())


