"""What every stage script shares: its params section, atomic writes, checked reads of what other stages
wrote, one-line failures, and the clean-up of temporaries a killed run left behind."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from winnow.errors import WinnowError, escape_unencodable_output, fault_line, output_obstacle
from winnow.params import load as load_validated


def load_params(path: str | os.PathLike = "params.yaml") -> dict[str, Any]:
    """The whole params file as a dict, validated as a whole (:mod:`winnow.params`) before a stage does
    any work: a bad value in any section stops every stage with one line."""
    return load_validated(path)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (temporary name, then rename)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_to_builtin) + "\n")


def _temporary(path: Path, kind: str = "tmp") -> Path:
    """The sibling of ``path`` a writer stages it in (``tmp``) or moves the old one aside to (``old``):
    ``.<stem>.winnow-<kind>-<pid><suffix>``, which :func:`sweep_temporaries` removes once the process is gone."""
    return path.with_name(f".{path.stem}.winnow-{kind}-{os.getpid()}{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``path`` (same suffix, so writers that go by it still do) to write to; it is
    renamed to ``path`` when the block ends without error and removed otherwise, so a reader or DVC never
    sees a half-written file. Inside :func:`together` the rename waits for the end of that block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        yield tmp
        if _staged is None:
            tmp.replace(path)
        else:
            _staged[path] = tmp
    finally:
        if _staged is None or _staged.get(path) != tmp:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """:func:`atomic_path` for a folder: an empty temporary sibling folder to fill, which replaces ``path``
    (whatever was there) when the block ends without error and is removed otherwise, so DVC and the next
    stage never see half an imageset. Inside :func:`together` the rename waits for the end of that block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    _remove(tmp)  # a killed run's, of a process id used again
    tmp.mkdir()
    try:
        yield tmp
        if _staged is None:
            _commit({path: tmp})
        else:
            _staged[path] = tmp
    finally:
        if _staged is None or _staged.get(path) != tmp:
            _remove(tmp)


# final path -> its written temporary, while a together() block runs; None outside one
_staged: dict[Path, Path] | None = None


class Outputs:
    """What :func:`together` yields: :meth:`folder` stages an output folder."""

    def folder(self, path: str | os.PathLike) -> Path:
        """Where to write the folder ``path``: a temporary sibling (not created), moved into place with the
        other outputs; left unwritten (a process under torchrun that logs nothing), ``path`` is left as it is."""
        path = Path(path)
        tmp = _temporary(path)
        shutil.rmtree(tmp, ignore_errors=True)  # a killed run's of a process id used again
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
        staged, _staged = _staged, None
        _commit(staged)
    finally:
        for tmp in (_staged or {}).values():
            _remove(tmp)
        _staged = None


def _commit(staged: dict[Path, Path]) -> None:
    """Move each temporary of ``staged`` onto its path, the old output set aside until all are in place;
    should one move fail, every output gets back what it held."""
    done = []  # (path, what it held before, set aside, or None)
    try:
        # the deepest first: a file written into a staged folder lands there before the folder moves
        for path, tmp in sorted(staged.items(), key=lambda item: -len(item[0].parts)):
            if not tmp.exists():
                continue
            if path.exists() and path.is_dir() != tmp.is_dir():  # came since check_outputs: not ours to remove
                raise FileExistsError(errno.EEXIST, f"already there as a {'folder' if path.is_dir() else 'file'}",
                                      str(path))
            old = _temporary(path, "old") if path.exists() or path.is_symlink() else None
            if old is not None:
                path.rename(old)
            try:
                tmp.rename(path)
            except BaseException:
                if old is not None:
                    old.rename(path)
                raise
            done.append((path, old))
    except BaseException:
        for path, old in reversed(done):
            _remove(path)
            if old is not None:
                old.rename(path)
        for tmp in staged.values():
            _remove(tmp)
        raise
    for _, old in done:
        if old is not None:
            _remove(old)


def _remove(path: Path) -> None:
    """Remove a file, link or folder, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def check_outputs(*, stage: str, files: Iterable[str | os.PathLike] = (),
                  folders: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse, before any work, an output ``stage`` could not write at its end: a folder where it writes a
    file, a file where it writes a folder, a path under a file, or a folder that takes no new file."""
    for path, kind in [*((Path(f), "file") for f in files), *((Path(f), "folder") for f in folders)]:
        obstacle = output_obstacle(path, folder=kind == "folder")
        if obstacle is None:
            continue
        if obstacle.what == "kind":
            raise WinnowError(f"{stage}: {path} is a {'folder' if kind == 'file' else 'file'}, where the stage "
                              f"writes a {kind}; move it away, then rerun")
        if obstacle.what == "under":
            raise WinnowError(f"{stage}: {path} lies under the file {obstacle.where}; move that away, then rerun")
        raise WinnowError(f"{stage}: cannot write {path} in {obstacle.where} ({obstacle.why}); fix its "
                          "permissions, then rerun")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_torch(path: str | os.PathLike, obj) -> None:
    """``torch.save`` atomically, through a file object. Given a path, torch names the archive's inner folder
    after the file, and the temporary's name holds the process id: the same weights saved twice differed in
    bytes, so DVC saw every retrained model as changed and reran what reads it."""
    import torch  # here: most stages never save a model and skip torch's import

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(obj, handle)


def write_table(path: str | os.PathLike, frame) -> None:
    """Write a DataFrame atomically as parquet or CSV, chosen by the suffix."""
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


SKIPPED_PREFIX = "skipped: "
SKIPPED_NOTE = "skipped.txt"


def write_skipped(reason: str, *, folders: Iterable[str | os.PathLike] = (),
                  files: Iterable[str | os.PathLike] = ()) -> None:
    """Stand-ins for the outputs of a stage that has nothing to do in this configuration (DVC wants every
    declared output to exist): each folder becomes a folder holding only ``skipped.txt``, each file a
    text file; both say ``skipped: <reason>``. A metrics JSON says it with ``{"skipped": reason}``."""
    text = f"{SKIPPED_PREFIX}{reason}\n"
    for folder in map(Path, folders):
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp, old = (folder.with_name(f".{folder.name}.winnow-{kind}-{os.getpid()}") for kind in ("tmp", "old"))
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        (tmp / SKIPPED_NOTE).write_text(text, encoding="utf-8")
        if folder.exists():
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old)
        else:
            tmp.rename(folder)
    for path in files:
        write_text(path, text)


def clear_skipped(*, folders: Iterable[str | os.PathLike] = (), files: Iterable[str | os.PathLike] = ()) -> None:
    """Remove the stand-ins :func:`write_skipped` left, so a real run starts from nothing (DVC removes
    outputs before a stage runs; a script run by hand does not)."""
    for folder in map(Path, folders):
        if (folder / SKIPPED_NOTE).is_file():
            shutil.rmtree(folder)
    for path in map(Path, files):
        if path.is_file() and path.read_bytes().startswith(SKIPPED_PREFIX.encode()):
            path.unlink()


def _to_builtin(value: Any) -> Any:
    # numpy scalars and arrays leak into metrics; JSON wants plain numbers and lists
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def rerun_error(path: str | os.PathLike, problem: str, *, written_by: str) -> WinnowError:
    """The one line for an intermediate file that is missing or broken: the file, what is wrong with it and
    the stage that writes it again (its DVC name, e.g. ``threshold``, ``train@baseline``)."""
    return WinnowError(f"{path}: {problem}; rerun the {written_by} stage (dvc repro {written_by})")


def read_table(path: str | os.PathLike, *, written_by: str, columns: Iterable[str] = (),
               missing_ok: bool = False, unique: str | None = None, rows_of: tuple[str, Any] | None = None,
               ids_of: tuple[str, Any] | None = None):
    """A table another stage wrote, parquet or CSV by the suffix, holding at least ``columns``.

    A missing, empty, truncated or foreign file, or one without a needed column, raises
    :func:`rerun_error`; with ``missing_ok`` an absent file gives None (its stage is optional).

    Args:
        unique: a column no two rows may share (``"id"`` for a table of one row per image): a repeated
            value would make a merge fail or a lookup by id pick one of two rows.
        rows_of: ``(imageset, ids)``: the table must hold exactly one row per id of ``ids`` (the images of
            the imageset folder ``imageset``, named in the message) and no row for another id, in any
            order; implies ``unique="id"``. A missing image would pass unexamined, an unknown one is
            another imageset's.
        ids_of: ``(imageset, ids)``: every row names an id of ``ids`` (a table of some of the images, such
            as decisions), no row for another id.
    """
    import pandas as pd

    path = Path(path)
    if missing_ok and not path.exists():
        return None
    if not path.is_file():
        raise rerun_error(path, "not found", written_by=written_by)
    kind = "CSV" if path.suffix == ".csv" else "parquet"
    try:
        frame = pd.read_csv(path) if kind == "CSV" else pd.read_parquet(path)
    except (OSError, ValueError) as err:  # pyarrow and pandas raise subclasses of these for a damaged file
        raise rerun_error(path, f"not a readable {kind} file ({_detail(err)})", written_by=written_by) from err
    if rows_of is not None:
        unique = "id"
    columns = [*columns, *([unique] if unique is not None and unique not in columns else [])]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise rerun_error(path, f"lacks column(s) {', '.join(missing)}", written_by=written_by)
    if unique is not None:
        repeated = frame[unique].duplicated()
        if repeated.any():
            noun = "id(s)" if unique == "id" else f"value(s) of {unique}"
            raise rerun_error(path, f"{int(repeated.sum())} repeated {noun}, first "
                                    f"{_shown(frame[unique][repeated].iloc[0])}", written_by=written_by)
    for given, every in ((rows_of, True), (ids_of, False)):
        problem = None if given is None else _rows_problem(frame["id"], *given, every=every)
        if problem:
            raise rerun_error(path, problem, written_by=written_by)
    return frame


def _rows_problem(table_ids, imageset: str, ids, *, every: bool) -> str | None:
    """What keeps ``table_ids`` from naming only ids of ``ids`` (imageset ``imageset``'s) and, with ``every``,
    each of them once, or None."""
    import pandas as pd

    known = pd.Index(ids)
    present = pd.Index(table_ids)
    extra = table_ids[~present.isin(known)].drop_duplicates()
    absent = known[~known.isin(present)] if every else known[:0]
    problems = []
    if len(extra):
        problems.append(f"{len(extra)} id(s) not in {imageset}, first {_shown(extra.iloc[0])}")
    if len(absent):
        problems.append(f"no row for {len(absent)} image(s) of {imageset}, first {_shown(absent[0])}")
    return ", and ".join(problems) or None


def _shown(value: Any) -> str:
    """A value for a message: ``'img-3'`` or ``7``, not ``np.int64(7)``."""
    return repr(value.item() if type(value).__module__ == "numpy" else value)


def read_json(path: str | os.PathLike, *, written_by: str, keys: Iterable[str] = (), missing_ok: bool = False):
    """JSON another stage wrote; with ``keys``, an object holding at least those keys. Failures as
    :func:`read_table`."""
    path = Path(path)
    if missing_ok and not path.exists():
        return None
    if not path.is_file():
        raise rerun_error(path, "not found", written_by=written_by)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise rerun_error(path, f"not a readable JSON file ({_detail(err)})", written_by=written_by) from err
    keys = list(keys)
    if keys and not isinstance(value, dict):
        raise rerun_error(path, f"holds a JSON {type(value).__name__}, not an object", written_by=written_by)
    missing = [k for k in keys if k not in value]
    if missing:
        raise rerun_error(path, f"lacks key(s) {', '.join(missing)}", written_by=written_by)
    return value


def _detail(err: Exception) -> str:
    """The first line of a reader's error, without the path it repeats (``... source '<path>': why``)."""
    lines = str(err).strip().splitlines()
    return (lines[0].split("': ", 1)[-1] if lines else type(err).__name__)[:160]


# atomic_path, together, the imageset writer, the Data Docs builder and the review export's thumbnails name their
# temporaries .<name>.winnow-tmp-<pid>[.suffix] (and .<name>.winnow-old-<pid>[.suffix] for what they replace);
# "winnow-" so a user's own dot-file (.notes.old-2024.txt) is never taken for one
OUTPUT_ROOTS = ("data", "models", "metrics", "plots", "reports", "reviews")
_TEMPORARY = re.compile(r"^\..+\.winnow-(?:tmp|old)-(\d+)(?:\..*)?$")


def sweep_temporaries(roots: Iterable[str | os.PathLike] = OUTPUT_ROOTS) -> list[Path]:
    """Remove the temporaries that writers killed before their rename (kill -9, a power cut) left under
    ``roots``; those of a process still running are left alone. Returns what was removed."""
    removed = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                match = _TEMPORARY.match(name)
                if match is None or _running(int(match.group(1))):
                    continue
                path = Path(folder) / name
                if name in dirs:
                    dirs.remove(name)  # not walked into: it is going
                try:
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                except OSError:
                    continue  # not ours to remove (permissions): leave it rather than stop the stage
                removed.append(path)
    return removed


def _running(pid: int) -> bool:
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


def run(main: Callable[[], None], *, reads_arguments: bool = False) -> None:
    """Run a stage's main, first removing what killed runs left behind (:func:`sweep_temporaries`); a
    WinnowError becomes one line on stderr and exit status 1.

    ``reads_arguments``: main checks ``sys.argv`` itself (train, evaluate, contracts); any other stage takes
    none and refuses them, so ``python stages/report.py --help`` says so instead of writing the report."""
    escape_unencodable_output()
    try:
        removed = sweep_temporaries()
        if removed:
            print(f"removed {len(removed)} temporary file(s) left by killed runs: {', '.join(map(str, removed))}")
        if not reads_arguments and len(sys.argv) > 1:
            script = f"stages/{Path(sys.argv[0]).name}"
            raise WinnowError(f"{script} takes no arguments (got {' '.join(sys.argv[1:])}); run it as dvc.yaml "
                              f"does: python {script}")
        main()
    except WinnowError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except (Exception, KeyboardInterrupt) as err:  # the disk, memory or the user is one line; a bug its traceback
        fault = fault_line(err)
        if fault is None:
            raise
        print(f"error: stages/{Path(sys.argv[0]).name}: {fault[0]}", file=sys.stderr)
        sys.exit(fault[1])
