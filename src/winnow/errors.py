"""The one error type a stage reports as a single line (see :func:`winnow.stage.run`)."""

import errno
import functools
import numbers
import os
import stat
import tempfile
import urllib.parse
from pathlib import Path
from typing import NamedTuple


class WinnowError(ValueError):
    """Bad input or parameters. The message is one line naming the file, row or parameter and the fix."""


INTERRUPTED = 130  # the shell's status for a process ended by SIGINT


def fault_line(err: BaseException) -> tuple[str, int] | None:
    """``(line, exit status)`` for a fault of the machine rather than of the input: the disk or a folder's
    permissions refuse a read or write (an ``OSError``, naming its path), memory runs out, or the user
    interrupts, or DVC's sqlite state cannot be opened or written; None for anything else (a bug: its traceback
    is wanted). Writers stage every output and rename it only when whole, so a fault leaves the last complete
    outputs in place."""
    if _interrupted(err):
        return "interrupted; outputs not yet complete were left unwritten: rerun it", INTERRUPTED
    if _gpu_out_of_memory(err):  # before: "out of memory (MemoryError); free memory ...", read as the host's
        said = ". ".join(first_line(err).split(". ")[:2])  # "CUDA out of memory. Tried to allocate 2.00 GiB"
        return (f"out of the GPU's memory ({said}); free it (another process using the GPU: nvidia-smi) or lower the "
                "batch or model size, then rerun"), 1
    if out_of_memory(err):
        return "out of memory (MemoryError); free memory or lower the batch or data size, then rerun", 1
    if thread_refused(err):
        return ("cannot start a thread: the process's memory limit (`ulimit -v`) or its limit of processes and threads "
                "(`ulimit -u`, a container's pids limit) is reached; raise it or free memory, then rerun"), 1
    unmapped = _library_unmapped(err)
    if unmapped:
        return (f"a library could not be loaded into memory ({unmapped}): the process's memory limit (`ulimit -v`, a "
                "container's) is too low or memory ran out; raise the limit or free memory, then rerun"), 1
    import sqlite3  # DVC keeps its state (file hashes, experiment caches) in sqlite files: sqlite's error names none

    if isinstance(err, sqlite3.Error):
        return (f"DVC's state database could not be opened or written ({first_line(err)}); it is in DVC's site cache "
                "(`dvc config core.site_cache_dir`; by default under /var/tmp/dvc): make that folder writable, free "
                "space there, or point core.site_cache_dir elsewhere, then rerun"), 1
    if isinstance(err, BrokenPipeError) and err.filename is None:
        # before: "Broken pipe [EPIPE]; free space, or fix the path or its permissions" for `dvc repro | head`
        return ("Broken pipe [EPIPE]: what read its output (a pipe such as `| head` or `| less`) closed before it "
                "finished; rerun it with the output to the screen or a file"), 1
    if isinstance(err, OSError):
        code = f" [{errno.errorcode[err.errno]}]" if err.errno in errno.errorcode else ""
        # numpy's short write says only "5040 requested and 992 written": its message, not a bare "OSError"
        what = f"{err.strerror or first_line(err)}{code}"
        paths = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
        where = f"{paths}: " if paths else ""  # numpy's and print()'s writes name no file; pyarrow's say it inside
        if err.errno in (errno.EMFILE, errno.ENFILE):  # before: "free space, or fix the path or its permissions"
            return f"{where}{what}; raise the open-file limit (`ulimit -n`) or close other programs, then rerun", 1
        return f"{where}{what}; free space, or fix the path or its permissions, then rerun", 1
    return None


def refuse_unreadable(err: BaseException, path: str | os.PathLike) -> None:
    """Raise ``err``, a reader's refusal of ``path`` for its permissions, as a PermissionError naming ``path``: a fault
    of the machine, whose line (:func:`fault_line`) says to fix them; any other error is left to the caller. Worded by
    the readers of what a stage wrote, it read as a damaged file ("not a readable parquet file (... Permission
    denied); rerun the score stage"), though rerunning changes no permission and DVC skips a stage whose outputs are
    unchanged: the advice went round in a circle."""
    if isinstance(err, PermissionError):
        raise PermissionError(err.errno, os.strerror(err.errno or errno.EACCES), str(path)) from err


def thread_refused(err: BaseException) -> bool:
    """Whether ``err`` is a thread the process's limits refused: its stack cannot be mapped under `ulimit -v`, or one
    more thread is past a pids limit. Python's thread pools raise RuntimeError (before: a traceback, as a bug's: score
    of 12,000 64x64 images under `ulimit -v 800000`); pyarrow's reader its own error, which an imageset's reader
    worded as a damaged manifest ("unreadable (Unknown error: Failed to launch worker thread: ...)")."""
    return (isinstance(err, RuntimeError) and str(err) == "can't start new thread"
            or type(err).__module__.startswith("pyarrow") and "Failed to launch worker thread" in str(err))


def limits_met(err: BaseException) -> bool:
    """Whether ``err`` is the process's limits met (:func:`out_of_memory`, :func:`thread_refused`), as a parquet read
    under them raises it: a reader that words a file's damage lets it pass, for :func:`fault_line` to say so."""
    return out_of_memory(err) or thread_refused(err)


def out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is memory running out (Python's MemoryError, torch's own, an ENOMEM such as a memory map's
    under `ulimit -v`): a reader that words a file's damage from the errors a library raises lets it pass, for
    :func:`fault_line` to say what to do."""
    return (isinstance(err, MemoryError) or _torch_out_of_memory(err)
            or isinstance(err, OSError) and err.errno == errno.ENOMEM)


def _gpu_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is ``torch.OutOfMemoryError``, a device's memory (CUDA's, MPS's) running out, not the host's."""
    return isinstance(err, RuntimeError) and type(err).__name__ == "OutOfMemoryError"


def _torch_out_of_memory(err: BaseException) -> bool:
    """torch's out of memory: ``torch.OutOfMemoryError`` on a GPU, a plain RuntimeError from its CPU allocator
    ("DefaultCPUAllocator: can't allocate memory"); both RuntimeErrors, which read as bugs otherwise."""
    return _gpu_out_of_memory(err) or (isinstance(err, RuntimeError)
                                       and "DefaultCPUAllocator: can't allocate memory" in str(err))


def _library_unmapped(err: BaseException) -> str | None:
    """The dynamic loader's failure to map a shared library into memory, which Python raises as an ImportError
    ("libtorch_cpu.so: failed to map segment from shared object") where the address space is limited: a
    traceback, as a bug's, where the memory limit was the fault. Its line naming the library, or None. numpy wraps
    it in a page of advice ending "Original error was: <it>" (before: the line quoted the page's first line,
    "IMPORTANT: PLEASE READ THIS FOR ADVICE ON HOW TO SOLVE THIS ISSUE!", and named no library)."""
    if not isinstance(err, ImportError):
        return None
    said = next((line for line in str(err).splitlines() if "failed to map segment from shared object" in line), None)
    return None if said is None else said.strip().removeprefix("Original error was: ")


def first_repeated(names: list[str]) -> str | None:
    """The first name that appears a second time in ``names``, or None when all differ."""
    seen = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _interrupted(err: BaseException | None) -> bool:
    """Ctrl-C, or an error raised while handling one (a library that wraps the interrupt in its own error
    would read as damaged input)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


def check_known(given, known, *, where: str) -> None:
    """Raise :class:`WinnowError` naming ``where`` when ``given`` (a params mapping) has keys outside ``known``."""
    unknown = set(given) - set(known)
    if unknown:
        raise WinnowError(f"{where}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")


def check_neighbour_count(k, available: int, *, where: str, among: str) -> None:
    """Raise :class:`WinnowError` naming ``where`` unless ``k`` is an integer (numpy's too) in
    ``[1, available]``: past that a k-nearest search has no k neighbours to give (``among``: what they are
    drawn from, for the message, e.g. "train images")."""
    if not isinstance(k, numbers.Integral) or not 1 <= k <= available:
        raise WinnowError(f"{where}: {k!r} neighbours asked but only {available} {among}; choose an integer in "
                          f"[1, {available}]")


def check_fits_in_memory(n_bytes: int, *, what: str) -> None:
    """Raise :class:`WinnowError` naming ``what`` when it needs more bytes than this machine has memory: a
    setting that asks for the impossible gets one line before any work, not the allocator's traceback after
    some of it."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if n_bytes > total:
        raise WinnowError(f"{what} take {n_bytes / 2**30:,.1f} GiB, more than this machine's {total / 2**30:,.1f} GiB "
                          "of memory; lower it")


class Obstacle(NamedTuple):
    """What stops a write at a path (:func:`output_obstacle`): ``kind`` (a folder where a file goes, or the
    reverse), ``under`` (``where``: the file the path lies under), ``dangling`` (``where``: the symbolic link the
    path lies under, ``why``: its target, which does not exist), ``unwritable`` (``where``: the deepest
    existing folder, which takes no new file; ``why``: the system's reason) or ``long`` (``why``: the longest
    name the folder's file system takes)."""

    what: str
    where: str = ""
    why: str = ""


def output_obstacle(path: str | os.PathLike, *, folder: bool = False) -> Obstacle | None:
    """What would stop writing the file (or, with ``folder``, the folder) ``path`` at the end of the work, or
    None; checked before any work, since the final write fails only after the work ran."""
    path = os.fspath(path)
    if os.path.isdir(path) if not folder else os.path.exists(path) and not os.path.isdir(path):
        return Obstacle("kind")
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
        return Obstacle("unwritable", nearest, err.strerror)
    # it is written as .<name>.winnow-tmp-<pid>[.suffix] and renamed: a name that fits but whose temporary does not
    # failed after the work (compare left its markdown without the JSON; gate printed PASS, then failed)
    longest = _name_max(nearest) - len(f"..winnow-scratch-{2**22}")
    if len(os.fsencode(os.path.basename(os.path.normpath(path)))) > longest:
        return Obstacle("long", why=str(longest))
    return None


def _name_max(folder: str) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output(path: str | os.PathLike | None, *, option: str, folder: bool = False, example: str = "") -> None:
    """Refuse, before any work, an output path a command could not write (:func:`output_obstacle`); ``option``
    names the argument."""
    if path is None:
        return
    obstacle = output_obstacle(path, folder=folder)
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
    if obstacle.what == "long":
        raise WinnowError(f"{option} {path}: the name is too long to write safely (at most {obstacle.why} bytes here, "
                          f"to leave room for the temporary it is written as); give a shorter name{hint}")
    raise WinnowError(f"{option} {path}: cannot write in {obstacle.where} ({obstacle.why}); give a {kind} path "
                      f"where you can write{hint}")


_PIPELINE_FILES = {"params.yaml": "the project's params.yaml", "dvc.yaml": "the project's dvc.yaml",
                   "dvc.lock": "the project's dvc.lock", ".git": "git's own folder", ".dvc": "DVC's own folder"}


def project_file(path: str) -> str | None:
    """What ``path`` is to the DVC project it lies in (the nearest folder above it holding dvc.yaml or .dvc, from
    wherever the command runs) when a command's output there would overwrite the pipeline's own files:
    params.yaml, dvc.yaml, dvc.lock, .git, .dvc, or a stage's output (or what lies under one); else None.
    ``winnow compare --out params.yaml`` replaced the params with markdown, and so did ``--out ../params.yaml``
    from a subfolder before the project was found from the path rather than the current folder."""
    target = os.path.realpath(path)
    root = project_root(os.path.dirname(target))
    if root is None:
        return None
    relative = os.path.relpath(target, root)
    top = relative.split(os.sep)[0]
    if top in _PIPELINE_FILES and os.path.exists(os.path.join(root, top)):
        return _PIPELINE_FILES[top]
    return _output_of(root, relative)


def stage_output(path: str) -> str | None:
    """``an output of the <name> stage (<out>)`` when ``path``, as written or with its links resolved, is or lies
    under an output in the dvc.yaml of the project the command runs in (the current folder's, where params.yaml is
    read), else None: a file there is deleted by dvc repro before that stage runs. A templated output
    (models/${item.variant}.pt) counts for each variant params.yaml lists, as DVC expands it (models/baseline.pt,
    of train@baseline), not as :func:`project_file` reads it, its whole folder: models/encoder.pt is no variant's
    model. Before, a TorchScript model kept as models/baseline.pt passed, and dvc repro deleted it before
    train@baseline ran. Before that, the project was found from the resolved path: another
    checkout's data/represent/embeddings.npy was refused though this project's dvc repro never touches it, and a
    link in data/degrade to a file elsewhere passed, though dvc repro deletes the link."""
    root = project_root(os.getcwd())
    if root is None:
        return None
    for target, base in ((os.path.abspath(path), root), (os.path.realpath(path), os.path.realpath(root))):
        relative = os.path.relpath(target, base)
        if relative.split(os.sep)[0] != os.pardir:
            found = _output_of(root, relative, templated=False)
            if found:
                return found
    return None


def _output_of(root: str, relative: str, *, templated: bool = True) -> str | None:
    """The output of the project at ``root`` that ``relative`` is or lies under, as :func:`project_file` says it;
    ``templated``: a templated output counts as its folder, else as each of its expansions (:func:`_expanded`)."""
    import yaml

    try:
        stages = (_parsed_yaml(Path(root, "dvc.yaml").read_text()) or {}).get("stages") or {}
    except (OSError, ValueError, yaml.YAMLError):  # no dvc.yaml, or a broken one, which is for dvc to report
        return None
    for name, stage in stages.items():
        for key in ("outs", "metrics", "plots"):
            for entry in (stage.get(key) or []) if isinstance(stage, dict) else []:
                out = next(iter(entry)) if isinstance(entry, dict) else str(entry)
                if "${" in out:  # a templated out (metrics/evaluate/${item.variant}.json)
                    outs = [(name, out.split("${")[0])] if templated else _expanded(root, name, out)
                else:
                    outs = [(name, out)]
                for stage_name, out in outs:
                    if out and (relative == out.rstrip("/") or relative.startswith(out.rstrip("/") + "/")
                                or (out.endswith("/") and relative.startswith(out))):
                        return f"an output of the {stage_name} stage ({out})"
    return None


def _expanded(root: str, name: str, out: str) -> list[tuple[str, str]]:
    """``(stage, output)`` for each variant of the project's params.yaml (its ``variants``, from which DVC expands its
    matrix stages) that the output ``out`` of the stage ``name`` names with ``${item.variant}``: ``("train@baseline",
    "models/baseline.pt")``; none for another template, or variants that are no list of names (for the params check,
    or DVC, to report)."""
    import yaml

    if out.replace("${item.variant}", "").count("${"):
        return []
    try:
        variants = (_parsed_yaml(Path(root, "params.yaml").read_text()) or {}).get("variants")
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return []
    if not (isinstance(variants, list) and all(isinstance(variant, str) for variant in variants)):
        return []
    return [(f"{name}@{variant}", out.replace("${item.variant}", variant)) for variant in variants]


@functools.lru_cache(maxsize=4)
def _parsed_yaml(text: str):
    """``yaml.safe_load(text)``, parsed once per text: :func:`stage_output` read dvc.yaml (1,000 lines) and, for each
    templated output, params.yaml anew, 18 pure-Python parses and 0.3 CPU s in every stage whose params name a path
    (ingest.path). Keyed by the text, so an edited file is parsed again; callers only read the result."""
    import yaml

    return yaml.safe_load(text)


def project_root(folder: str) -> str | None:
    """The nearest of ``folder`` and the folders above it that holds a dvc.yaml or a .dvc folder, or None."""
    while True:
        if os.path.isfile(os.path.join(folder, "dvc.yaml")) or os.path.isdir(os.path.join(folder, ".dvc")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def not_a_regular_file(path: str) -> str | None:
    """What an existing ``path`` is when a file written beside it and renamed over would replace something other
    than a regular file: a link (its target left unchanged) or a device (/dev/stdout, as root), else None. A
    stage's outputs may be DVC's links, so only the commands' own output options ask."""
    if os.path.islink(path):
        return "a symbolic link"
    if os.path.exists(path) and not os.path.isfile(path):
        return "a FIFO, socket or device"
    return None


def check_input_file(path: Path, *, option: str, fix: str) -> None:
    """Raise one line, ``{option}: {path} <what it is>; {fix}``, unless ``path`` is a regular file (or a link
    to one): not found, a folder, a symlink loop, a dangling symlink or a FIFO, socket or device."""
    what = not_a_file(path)
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
        elif path.is_symlink():
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


def listed(names, *, at_most: int = 12) -> str:
    """``a, b, c`` for a message: the first ``at_most`` names, then ``…`` when there are more."""
    names = [str(n) for n in names]
    return ", ".join(names[:at_most]) + (", …" if len(names) > at_most else "")


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), to quote inside a one-line error."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def redacted(text: str) -> str:
    """A URL as messages may show it: protocol, host and path, with no userinfo and no query."""
    parts = urllib.parse.urlsplit(text, allow_fragments=False)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path.partition('#')[0]}"
