"""Committing a stage's staged outputs as one (:func:`winnow.outputs.together`): each output's move into place is
written to a journal first, so a run killed midway is finished or undone by the next stage that starts
(:func:`finish_killed_commits`), never left with some outputs new and the rest old."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from stat import S_ISDIR
from typing import NamedTuple

from winnow.errors import WinnowError
from winnow.file_ops import is_temporary_sibling, remove, running, temporary_sibling


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


def commit_staged(staged: dict[Path, Path | None]) -> None:
    """Move each temporary of ``staged`` onto its path, the old output set aside until all are in place; a path
    staged with None is set aside and not replaced: removed with the rest's landing (its move's ``tmp_id`` None).
    The moves are written to a journal first: a run killed part-way (kill -9, a power cut) is finished by the
    next stage (:func:`finish_killed_commits`), and SIGINT, SIGTERM and SIGHUP wait until the moves are done (a
    Ctrl-C inside a rename had left some outputs new, the rest old). Should a move fail, every output gets
    back what it held."""
    # the deepest first: a file written into a staged folder lands there before the folder moves
    ordered = [(path, tmp or temporary_sibling(path)) for path, tmp in sorted(
        staged.items(), key=lambda item: -len(item[0].parts)) if (path.is_file() if tmp is None else tmp.exists())]
    for path, tmp in ordered:
        # came since check_outputs: not ours to remove
        if staged[path] is not None and path.exists() and path.is_dir() != tmp.is_dir():
            for _, leftover in ordered:
                remove(leftover)
            raise FileExistsError(errno.EEXIST, f"already there as a {'folder' if path.is_dir() else 'file'}",
                                  str(path))
    moves = [Move(path, tmp, temporary_sibling(path, "old"), _identity(tmp), _identity(path)) for path, tmp in ordered]
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
            # a removal (no temporary) whose path still holds what it held: killed before its move
            if os.path.lexists(move.tmp) or (move.tmp_id is None and _identity(move.path) == move.path_id):
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
    if move.tmp_id is not None:  # else a removal: set aside, and removed with the rest of what was
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
    next. A journal that cannot be read as :func:`commit_staged` writes it (an older winnow's, a damaged one) is
    refused in one line, before anything is swept. Returns ``(finished, dropped)``: the outputs of each kind."""
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
        except FileNotFoundError:
            continue  # finished by another process meanwhile
        except (OSError, ValueError) as err:
            raise _unread(journal, f"{err.strerror or err}" if isinstance(err, OSError) else "it is no JSON") from None
        moves, direction = _read_moves(record, journal)
        claimed = _journal_path()
        try:
            os.rename(journal, claimed)
        except FileNotFoundError:
            continue  # claimed by another process
        if all(map(_as_left, moves)):
            _finish(moves, direction)
            finished += _outputs(moves)
        else:
            _drop(moves)
            dropped += _outputs(moves)
        claimed.unlink()
    return finished, dropped


def _read_moves(record, journal: Path) -> tuple[list[Move], str]:
    """The moves and the direction of a killed run's journal ``record``, refused (:func:`_unread`) unless each move is
    as :func:`commit_staged` writes it: the temporary and the set-aside name siblings of the output, named as
    :func:`winnow.file_ops.temporary_sibling` names them, so that finishing or dropping it renames or removes nothing
    else."""
    try:
        direction, moves = record["direction"], [Move(Path(path), Path(tmp), Path(old), tmp_id, path_id)
                                                 for path, tmp, old, tmp_id, path_id in record["moves"]]
    except (KeyError, TypeError, ValueError):
        older = isinstance(record, dict) and all(isinstance(move, list) and len(move) == 3
                                                 for move in record.get("moves") or [None])
        raise _unread(journal, "an older winnow's, whose moves name no identities" if older else
                      "not a journal of moves as this winnow writes them") from None
    for move in moves:
        for kind, sibling in (("tmp", move.tmp), ("old", move.old)):
            if not is_temporary_sibling(sibling, move.path, kind):
                raise _unread(journal, f"{sibling} is not a temporary of {move.path}")
    if direction not in ("forward", "back"):
        raise _unread(journal, f"direction {direction!r} is neither forward nor back")
    return moves, direction


def _unread(journal: Path, why: str) -> WinnowError:
    """The one line for a killed run's journal that cannot be read as :func:`commit_staged` writes it. Before: left
    alone without a word, and the sweep then removed the temporaries it named, the old output set aside among them
    (an output killed between its two renames was lost, neither old nor new), and the journal stayed for good."""
    return WinnowError(f"{journal}: a killed run's record of its output moves, which cannot be read ({why}); its "
                       "outputs may be half moved, so nothing was finished or swept: run `dvc checkout --force` to put "
                       f"back the outputs dvc.lock records, then delete {journal} and rerun")


def _outputs(moves: list[Move]) -> list[Path]:
    """The paths of ``moves`` that are outputs, not files written into a folder output's temporary (an imageset's
    rejected.csv, written as ``data/.ingest.winnow-tmp-<pid>/rejected.csv``), which move with that folder. Before, the
    next stage said "finished moving 4 output(s) of a killed run into place: data/.ingest.winnow-tmp-31544/rejected.csv,
    ..." of ingest's two, naming temporaries that were gone."""
    return [move.path for move in moves if not any(move.path.is_relative_to(other.tmp) for other in moves)
            and move.tmp_id is not None]  # a removal moved nothing into place


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
