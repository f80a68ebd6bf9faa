"""What every stage script shares: its params section, atomic writes, one-line failures, and the clean-up of
temporaries a killed run left behind (the checked reads of what other stages wrote: :mod:`winnow.stage_reads`)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from winnow.stage_process import interactive_session, keep_freed_memory
from winnow.commit_journal import JOURNAL, finish_killed_commits
from winnow.errors import WinnowError, first_line
from winnow.output_paths import output_obstacle, refuse_mount_point
from winnow.output_streams import (
    escape_unencodable_output, fill_closed_streams, flush_now, let_the_terminal_close, no_colour_reset_at_exit,
    say_error, streams_as_they_are,
)
from winnow.outputs import (  # noqa: F401  (stage scripts import the writers of outputs from here)
    Outputs, atomic_folder, atomic_path, before_commit, scratch_folder, together,
)
from winnow.params_read import check_unchanged, forget, remember
from winnow.params import load as load_validated
from winnow.progress_env import check_progress_variables
from winnow.stops import (
    drop_broken_dvc_lock, ignore_stops, stage_script, stop_line, stops_as_they_are, terminate_as_interrupt,
)
from winnow.temporaries import sweep_temporaries
from winnow.watched import in_utf8_mode, watched_by_a_parent


def load_params(path: str | os.PathLike = "params.yaml", *, repo: str | None = None) -> dict[str, Any]:
    """The whole params file as a dict, validated as a whole (:mod:`winnow.params`) before a stage does
    any work: a bad value in any section stops every stage with one line. Under :func:`run` the values are
    compared with the file again before the outputs go into place (:mod:`winnow.params_read`). ``repo``: the
    project folder a command's ``--repo`` named, where ``path`` is."""
    params = load_validated(path, repo=repo)
    remember(path, params)
    return params


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (temporary name, then rename)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_to_builtin) + "\n")


def check_outputs(*, stage: str, files: Iterable[str | os.PathLike] = (),
                  folders: Iterable[str | os.PathLike] = (), into: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse, before any work, an output ``stage`` could not write at its end: a folder where it writes a
    file, a file where it writes a folder, a path under a file, a file or a replaced folder that is a mount point, or
    a folder that takes no new file, the working folder (the project's, where the moves into place are listed first)
    included where there are moves to list (a folder, or several outputs). ``into``: the ``folders`` the stage writes
    its files into, never replacing the folder (a variant's, plots/gan), which may be mount points."""
    files, folders, into = list(files), list(folders), {Path(f) for f in into}
    for path, kind in [*((Path(f), "file") for f in files), *((Path(f), "folder") for f in folders)]:
        # a folder written into may be a mount point; one that is replaced (an imageset, Data Docs, train's log) is
        # refused here: before, only as its write began, after the work where that is at the end (degrade, the GAN's
        # data/gan, a variant's Data Docs after every copy was made)
        obstacle = output_obstacle(path, folder=kind == "folder", replaced=kind == "file" or path not in into)
        if obstacle is None:
            locked = _unremovable(path) if kind == "folder" else None
            if locked is not None and os.access(locked, os.R_OK | os.X_OK):  # it may be listed and entered
                raise WinnowError(f"{stage}: cannot replace {path}: {locked} is read-only; make it writable (chmod -R "
                                  f"u+w {path}), then rerun")
            if locked is not None:
                # a folder without its search bit (`chmod -R 644 data`): before, called read-only and told u+w, after
                # which the stage refused it again
                raise WinnowError(f"{stage}: cannot replace {path}: {locked} cannot be listed or entered; make it "
                                  f"readable, searchable and writable (chmod -R u+rwX {path}), then rerun")
            continue
        if obstacle.what == "kind":
            raise WinnowError(f"{stage}: {path} is a {'folder' if kind == 'file' else 'file'}, where the stage "
                              f"writes a {kind}; move it away, then rerun")
        if obstacle.what == "under":
            raise WinnowError(f"{stage}: {path} lies under the file {obstacle.where}; move that away, then rerun")
        if obstacle.what == "dangling":
            raise WinnowError(f"{stage}: {path} lies under {obstacle.where}, a symbolic link to {obstacle.why}, which "
                              "does not exist; create that folder (or mount its disk), then rerun")
        if obstacle.what == "mount" and kind == "folder":
            refuse_mount_point(path)  # the line its write gives
        if obstacle.what == "mount":
            raise WinnowError(f"{stage}: {path} is a mount point, which the stage cannot replace (it writes the new "
                              f"file beside it and renames it into place); mount the folder it lies in ({path.parent}) "
                              "instead, then rerun")
        if obstacle.what == "long":
            raise WinnowError(f"{stage}: {path}: the name is too long to write safely (at most {obstacle.why} bytes "
                              "here); give a shorter one")
        raise WinnowError(f"{stage}: cannot write {path} in {obstacle.where} ({obstacle.why}); {_fix(obstacle)}, then "
                          "rerun")
    # a project folder that takes no new file beside output folders that do (mounted so into a container) failed only
    # after the work. A stage of one output file (score, report) replaces it in one rename (atomic_path) and lists
    # nothing there: refused all the same, it could not run
    if folders or len(files) > 1:
        check_journal_folder(stage)


def check_journal_folder(speaker: str, *, command: bool = False) -> None:
    """Refuse, before any work, a working folder that takes no new file: :func:`together` and :func:`atomic_folder`
    list their moves into place there first (:data:`winnow.commit_journal.JOURNAL`), and failed only after the work, on
    ".winnow-commit-<pid>-<token>.json.part: Permission denied", a file the user never heard of. ``command``: a
    ``winnow`` command (``study collect --out`` elsewhere run from a read-only folder, ``review export``), not a
    stage."""
    journal = output_obstacle(JOURNAL.format(pid=os.getpid(), token="check"))
    if journal is None or journal.what not in ("unwritable", "read-only"):
        return
    if command:
        raise WinnowError(f"{speaker}: cannot write in the working folder {Path.cwd()} ({journal.why}), where the "
                          f"command lists its outputs' moves into place before it makes them; {_fix(journal)}, "
                          "or run it from a folder you can write in")
    raise WinnowError(f"{speaker}: cannot write in the project folder {Path.cwd()} ({journal.why}), where the stage "
                      f"lists its outputs' moves into place before it makes them; {_fix(journal)}, then rerun")


def _fix(obstacle) -> str:
    """What makes a folder that takes no new file (:func:`winnow.output_paths.output_obstacle`) take one: a read-only
    mount's permissions are no chmod's to change (before, it was told to fix them)."""
    return "mount its file system writable" if obstacle.what == "read-only" else "fix its permissions"


def _unremovable(folder: Path) -> Path | None:
    """The first folder at or below an existing output ``folder`` whose entries this process cannot remove (a
    folder made read-only), or None. The new folder is moved in beside it and the old one removed after every
    output is in place: a read-only one failed there, with the new outputs already in and the old copy left
    hidden (``.<name>.winnow-old-<pid>``), and so every later stage, which retried the removal."""
    if not folder.is_dir() or folder.is_symlink():
        return None
    removable = os.R_OK | os.W_OK | os.X_OK  # to list, unlink from and enter
    if not os.access(folder, removable):
        return folder
    for root, dirs, _ in os.walk(folder):  # a folder it cannot list it never walks into: each is checked here
        for name in dirs:
            below = Path(root, name)
            if not below.is_symlink() and not os.access(below, removable):
                return below
    return None


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def torch_file_damage(path: str | os.PathLike) -> str | None:
    """What is damaged in the zip archive ``torch.save`` wrote at ``path``: a member whose bytes fail their CRC-32
    (a bit flipped on disk or in a copy), or an archive that cannot be read through; None when every member
    checks, for a member written without a CRC (0) and for a file that is no zip archive (torch.load says what it
    is). torch.load checks no CRC: a model with one flipped bit in a weight was evaluated as another model (accuracy
    0.518, was 0.849), without a word."""
    import zipfile
    import zlib

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError):
        return None
    with archive:
        for member in archive.infolist():
            if member.CRC == 0:  # torch.serialization.set_crc32_options(False) writes 0 for every member: no CRC to
                continue         # check (before: every such file torch wrote read as corrupt)
            try:
                with archive.open(member) as data:  # zipfile raises BadZipFile at the end of a member that fails
                    while data.read(1 << 24):
                        pass
            except zipfile.BadZipFile:
                return f"its member {member.filename} fails its CRC-32 check (a bit changed on disk or in a copy)"
            except (OSError, EOFError, zlib.error) as err:
                return f"its archive cannot be read through ({first_line(err)[:120]})"
    return None


def write_torch(path: str | os.PathLike, obj) -> None:
    """``torch.save`` atomically, through a file object. Given a path, torch names the archive's inner folder
    after the file, and the temporary's name holds the process id: the same weights saved twice differed in
    bytes, so DVC saw every retrained model as changed and reran what reads it."""
    import torch  # here: most stages never save a model and skip torch's import

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        try:
            torch.save(obj, handle)
        except RuntimeError as err:
            # torch's archive writer answers a failed write (a full disk, `ulimit -f`) with its own RuntimeError,
            # "unexpected pos ...", which read as a bug: a traceback instead of the disk's one line
            failed = err.__context__
            if not isinstance(failed, OSError):
                raise
            raise OSError(failed.errno, failed.strerror or str(failed), str(path)) from err


def write_table(path: str | os.PathLike, frame) -> None:
    """Write a DataFrame atomically as parquet or CSV, chosen by the suffix."""
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


def _to_builtin(value: Any) -> Any:
    # numpy scalars and arrays leak into metrics; JSON wants plain numbers and lists
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run(main: Callable[[], None], *, reads_arguments: bool = False, torchrun: bool = False) -> None:
    """Run a stage's main, first removing what killed runs left behind (:func:`sweep_temporaries`); a
    WinnowError becomes one line on stderr and exit status 1.

    ``reads_arguments``: main checks ``sys.argv`` itself (train, evaluate, contracts); any other stage takes
    none and refuses them, so ``python stages/report.py --help`` says so instead of writing the report.

    ``torchrun``: main may run as one rank of several (train: DDP, rank 0 writes); any other stage launched by
    torchrun as one of several processes (``WORLD_SIZE`` above 1) is refused before any work.

    A ``TQDM_*`` variable tqdm cannot draw the progress bars with is refused before any work
    (:func:`winnow.progress_env.check_progress_variables`).

    SIGTERM (``timeout``, ``kill``, a cancelled CI job) ends the stage as Ctrl-C does: one line, status 143, and
    every temporary removed on the way out (:func:`terminate_as_interrupt`).

    Called from a script's top level, the stage runs in a forked child that its parent watches
    (:func:`winnow.watched.watched_by_a_parent`), so that even a death no Python code sees is one line."""
    # in-process callers (tests) never are; nor is an interactive session's __main__ (a notebook's cells, the
    # REPL, a script IPython runs as a notebook's `%run stages/x.py`): before, run(main) there forked the caller, its own
    # process left waiting to exit with the child's status (the kernel ended), and re-ran it in UTF-8 mode under another
    # locale. A script without a file that runs once (`python -c`, as the tests start stages) is a stage script
    # (`ipython stages/x.py` runs in-process too: IPython shows each exit as a traceback of SystemExit and exits 1
    # whatever the status, forked or not; the README sends such a user to python)
    caller = sys._getframe(1).f_globals
    forked = caller.get("__name__") == "__main__" and not interactive_session()
    if forked:
        in_utf8_mode()
    # an in-process caller gets its own stdout and stderr back as they were when the stage returns or refuses
    restore_streams = (lambda: None) if forked else streams_as_they_are()
    fill_closed_streams()
    escape_unencodable_output()
    let_the_terminal_close()
    if forked:
        no_colour_reset_at_exit()
    forget()  # what an earlier run in this process read (tests) is not this stage's
    # an in-process caller gets its own handlers of the stops back when the stage returns or refuses (a forked child
    # never returns)
    restore_stops = (lambda: None) if forked else stops_as_they_are()
    before_commit.append(check_unchanged)
    try:
        # inside the try: a SIGTERM or SIGINT sent before the child lets them through arrives as that happens, in
        # watched_by_a_parent (before: a traceback and status 1 where one line and 143 were due, met under load)
        if forked:
            watched_by_a_parent(speaker=stage_script(), tidy=tidy_killed_runs,
                                setup=terminate_as_interrupt)  # the child's handler, before SIGTERM is let through
            keep_freed_memory()  # the stage's own process: its batches reuse the pages the batch before faulted in
        else:
            terminate_as_interrupt()
        tidy_killed_runs()
        if not reads_arguments and len(sys.argv) > 1:
            raise WinnowError(f"{stage_script()} takes no arguments (got {' '.join(sys.argv[1:])}); run it as "
                              f"dvc.yaml does: python {stage_script(runnable=True)}")
        if not torchrun:
            _refuse_ranks()
        check_progress_variables()
        main()
        if forked:  # every output is in place: a stop asked for while the process winds down has nothing to stop, and
            ignore_stops()  # its line said outputs were left unwritten
        unwritten = flush_now()  # stdout on a full disk: one line and status 1 now, not Python's at the exit
        if unwritten is not None:
            raise unwritten
    except WinnowError as err:
        say_error(f"error: {err}")
        sys.exit(1)
    except (Exception, KeyboardInterrupt) as err:  # the disk, memory or the user is one line; a bug its traceback
        fault = stop_line(err)
        if fault is None:
            raise
        if forked:
            ignore_stops()
        say_error(f"error: {stage_script()}: {fault[0]}")
        sys.exit(fault[1])
    finally:
        before_commit.remove(check_unchanged)
        restore_stops()
        restore_streams()


def _refuse_ranks() -> None:
    """One line when torchrun started this stage as one of several processes. Before, `torchrun --nproc_per_node=2
    stages/represent.py` trained the judge under DDP, each rank on half the images (features up to 0.32 from one
    process's, kNN vote 0.78 for 0.80), and both ranks wrote every output, exit 0. A WORLD_SIZE that is no number is
    left to the training's own line (:func:`winnow.torch_runtime.distributed_setup`)."""
    world = os.environ.get("WORLD_SIZE", "")
    if world.isascii() and world.isdecimal() and int(world) > 1:
        script = stage_script()
        # evaluate's variant too (before: dropped)
        command = shlex.join(["python", stage_script(runnable=True), *sys.argv[1:]])
        raise WinnowError(f"{script} runs in one process, but torchrun started {int(world)} (WORLD_SIZE={int(world)}): "
                          "each would write every output, and a judge it trains would learn from a share of the "
                          f"images; run {command} (only stages/train.py trains under torchrun)")


def tidy_killed_runs(*, beside: Iterable[str | os.PathLike] = ()) -> None:
    """Finish or drop the output moves of killed runs and remove their temporaries (also beside each path of
    ``beside``: :func:`sweep_temporaries`), saying what was done."""
    finished, dropped = finish_killed_commits()
    if finished:
        print(f"finished moving {len(finished)} output(s) of a killed run into place: "
              f"{', '.join(map(str, finished))}")
    if dropped:
        print(f"left {len(dropped)} output(s) of a killed run as they are, since written anew: "
              f"{', '.join(map(str, dropped))}")
    removed = sweep_temporaries(beside=beside)
    if removed:
        print(f"removed {len(removed)} temporary file(s) left by killed runs: {', '.join(map(str, removed))}")
    drop_broken_dvc_lock()
