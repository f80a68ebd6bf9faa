"""Moving a stage's outputs into place: atomic writes of a file (:func:`atomic_path`) or a folder
(:func:`atomic_folder`), all of a stage's outputs at once (:func:`together`), and the clean-up of what killed
runs left behind (:func:`finish_killed_commits`; their temporaries: :mod:`winnow.temporaries`). Stage scripts
import these through :mod:`winnow.stage`."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from stat import S_ISDIR
from typing import NamedTuple


def _temporary(path: Path, kind: str = "tmp") -> Path:
    """The sibling of ``path`` a writer stages it in (``tmp``) or moves the old one aside to (``old``):
    ``.<stem>.winnow-<kind>-<pid><suffix>``, which :func:`winnow.temporaries.sweep_temporaries` removes once the
    process is gone."""
    return path.with_name(f".{path.stem}.winnow-{kind}-{os.getpid()}{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``path`` (same suffix, so writers that go by it still do) to write to; it is
    renamed to ``path`` when the block ends without error and removed otherwise, so a reader or DVC never
    sees a half-written file. Inside :func:`together` the rename waits for the end of that block."""
    path = Path(path)
    made = _make_parents(path)
    tmp = _temporary(path)
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
    made = _make_parents(path)
    tmp = _temporary(path)
    remove(tmp)  # a killed run's, of a process id used again
    tmp.mkdir()
    try:
        yield tmp
        if _staged is None:
            _check_before_commit()
            _commit({path: tmp})
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
    tmp = _temporary(path, "scratch")
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


# final path -> its written temporary, while a together() block runs; None outside one
_staged: dict[Path, Path] | None = None
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
        tmp = _temporary(path)
        remove(tmp)  # a killed run's of a process id used again
        _staged[path] = tmp
        return tmp


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
        _commit(staged)
    finally:
        for tmp in (_staged or {}).values():
            remove(tmp)
        _staged = None
        while _made:  # the last write's first: an earlier one may have made the folder a later one's lies in
            _remove_empty(_made.pop())


class Move(NamedTuple):
    """One output of a commit: its ``path``, the temporary ``tmp`` that replaces it, the name ``old`` it is
    set aside under, and the identities (:func:`_identity`) of the temporary and of what ``path`` held
    (None: nothing). A rename keeps an identity; anything else that writes the path (DVC's run cache or checkout,
    a pull, a copy of the checkout) makes a new one."""

    path: Path
    tmp: Path
    old: Path
    tmp_id: list
    path_id: list | None


def _identity(path: Path) -> list | None:
    """What tells this file or folder from one written in its place: device, inode, and for a file its
    modification time and size (a file written anew may get the inode just freed); for a folder, the same of
    every file below it (DVC's checkout rewrites a folder's files in place). A file moved within the folder
    keeps all of these (the deepest moves first), so only the names are left out. None: nothing there."""
    try:
        stat = os.lstat(path)
    except FileNotFoundError:
        return None
    if not S_ISDIR(stat.st_mode):
        return [stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size]
    below = hashlib.sha256()
    for entry in sorted(_file_stats(path)):
        below.update(repr(entry).encode())
    return [stat.st_dev, stat.st_ino, below.hexdigest()]


def _file_stats(folder: Path) -> list[tuple[int, int, int]]:
    found = []
    for root, _, files in os.walk(folder):
        for name in files:
            stat = os.lstat(os.path.join(root, name))
            found.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
    return found


def _commit(staged: dict[Path, Path]) -> None:
    """Move each temporary of ``staged`` onto its path, the old output set aside until all are in place.
    The moves are written to a journal first: a run killed part-way (kill -9, a power cut) is finished by the
    next stage (:func:`finish_killed_commits`), and SIGINT, SIGTERM and SIGHUP wait until the moves are done (a
    Ctrl-C inside a rename had left some outputs new, the rest old). Should a move fail, every output gets
    back what it held."""
    # the deepest first: a file written into a staged folder lands there before the folder moves
    ordered = [(path, tmp) for path, tmp in sorted(staged.items(), key=lambda item: -len(item[0].parts))
               if tmp.exists()]
    for path, tmp in ordered:
        if path.exists() and path.is_dir() != tmp.is_dir():  # came since check_outputs: not ours to remove
            for _, leftover in ordered:
                remove(leftover)
            raise FileExistsError(errno.EEXIST, f"already there as a {'folder' if path.is_dir() else 'file'}",
                                  str(path))
    moves = [Move(path, tmp, _temporary(path, "old"), _identity(tmp), _identity(path)) for path, tmp in ordered]
    if not moves:
        return
    journal = _journal_path()
    with _signals_held():
        try:
            _write_journal(journal, moves, "forward")
            for move in moves:
                _put_in_place(move)
        except BaseException:
            try:
                _write_journal(journal, moves, "back")  # a kill while undoing must not finish forward
            except OSError:
                journal.unlink(missing_ok=True)
            _finish(moves, "back")
            journal.unlink(missing_ok=True)
            raise
        _finish(moves, "forward")
        journal.unlink()


# the moves of a commit under way, in the working folder (the project's root for a stage), paths relative to
# it, and which way to finish them; a token of its own, so a process with a reused id never writes over a
# killed run's journal
JOURNAL = ".winnow-commit-{pid}-{token}.json"


def _journal_path() -> Path:
    return Path(JOURNAL.format(pid=os.getpid(), token=secrets.token_hex(4)))


def _write_journal(journal: Path, moves: list[Move], direction: str) -> None:
    part = journal.with_name(journal.name + ".part")
    try:
        part.write_text(json.dumps({"direction": direction, "moves": [
            [os.path.relpath(move.path), os.path.relpath(move.tmp), os.path.relpath(move.old), move.tmp_id,
             move.path_id] for move in moves]}))
    except OSError as err:
        # a full disk fails the write (or its close) after the file was made: an empty .part stayed in the project
        part.unlink(missing_ok=True)
        if err.filename is None:  # the close names no file, and the line must say which disk is full
            raise OSError(err.errno, err.strerror, str(part)) from err
        raise
    os.replace(part, journal)


def _finish(moves: list[Move], direction: str) -> None:
    """Complete ``moves`` from wherever they stopped: ``forward`` puts every temporary in place (all new),
    ``back`` gives every output what it held (all old); then removes what was set aside or left over. Either
    may run again over its own result and changes nothing."""
    for move in moves:
        if direction == "forward":
            if os.path.lexists(move.tmp):
                _put_in_place(move)
        else:
            if _identity(move.path) == move.tmp_id:  # the new output had landed
                remove(move.path)
            if os.path.lexists(move.old):
                move.old.rename(move.path)
    for move in moves:
        remove(move.tmp)
        remove(move.old)


def _put_in_place(move: Move) -> None:
    """Set aside what ``move.path`` holds, if anything, and rename the temporary onto it."""
    if os.path.lexists(move.path):
        move.path.rename(move.old)
    move.tmp.rename(move.path)


def _as_left(move: Move) -> bool:
    """Whether ``move``'s three paths hold only what the commit put there: the temporary, the old output
    set aside, and at the path one of the two (or nothing)."""
    return (_identity(move.tmp) in (None, move.tmp_id) and _identity(move.old) in (None, move.path_id)
            and _identity(move.path) in (None, move.tmp_id, move.path_id))


def finish_killed_commits() -> tuple[list[Path], list[Path]]:
    """Finish the commits of runs killed part-way (their journals, :data:`JOURNAL`, in the working folder):
    all their outputs new, or all old where the moves were being undone. A commit whose outputs were written
    since by something else (DVC's run cache or checkout, a pull, a copy of the checkout) is dropped
    (:func:`_drop`). Each journal is first claimed, renamed to one of this process, so that of processes
    starting together (the ranks of a torchrun) one finishes it, and a kill while finishing leaves it for the
    next. Returns ``(finished, dropped)``: the outputs of each kind."""
    finished, dropped = [], []
    for journal in sorted(Path(".").glob(".winnow-commit-*.json*")):
        pid = journal.name.removeprefix(".winnow-commit-").split("-")[0].split(".")[0]
        # one of this process's id is a killed run's that had the id before: this one has committed nothing yet
        if not pid.isdigit() or (int(pid) != os.getpid() and running(int(pid))):
            continue
        if journal.name.endswith(".part"):  # cut short before any move began
            journal.unlink(missing_ok=True)
            continue
        try:
            record = json.loads(journal.read_text())
            moves = [Move(Path(path), Path(tmp), Path(old), tmp_id, path_id)
                     for path, tmp, old, tmp_id, path_id in record["moves"]]
            direction = record["direction"]
        except FileNotFoundError:
            continue  # finished by another process meanwhile
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not one of ours: left alone
        claimed = _journal_path()
        try:
            os.rename(journal, claimed)
        except FileNotFoundError:
            continue  # claimed by another process
        if all(map(_as_left, moves)):
            _finish(moves, direction)
            finished += [move.path for move in moves]
        else:
            _drop(moves)
            dropped += [move.path for move in moves]
        claimed.unlink()
    return finished, dropped


def _drop(moves: list[Move]) -> None:
    """Give up ``moves`` whose outputs were written since: the temporaries not yet in place are removed,
    and an old output set aside goes back where its path is empty (never both copies of an output lost);
    outputs in place stay as they are."""
    for move in moves:
        remove(move.tmp)
        if os.path.lexists(move.old):
            if os.path.lexists(move.path):
                remove(move.old)
            else:
                move.old.rename(move.path)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP wait until the block ends, then reach the process as they would have (in the main
    thread; elsewhere the block runs as it is)."""
    held = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    if threading.current_thread() is not threading.main_thread() or None in map(signal.getsignal, held):
        yield
        return
    caught: list[int] = []
    before = {number: signal.signal(number, lambda number, _frame: caught.append(number)) for number in held}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
        for number in dict.fromkeys(caught):
            os.kill(os.getpid(), number)


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
