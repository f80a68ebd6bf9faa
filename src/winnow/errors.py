"""The one error type a stage reports as a single line (see :func:`winnow.stage.run`)."""

import errno
import numbers
import os
import urllib.parse


class WinnowError(ValueError):
    """Bad input or parameters. The message is one line naming the file, row or parameter and the fix."""


INTERRUPTED = 130  # the shell's status for a process ended by SIGINT


class StoppedBySignal(WinnowError):
    """A stop (SIGINT, SIGTERM) taken where the command can say more than the interrupt's own line (what it undid):
    its exit status is the shell's for the signal, ``128 + number``, as every other interrupted command's."""

    def __init__(self, message: str, *, number: int):
        super().__init__(message)
        self.status = 128 + int(number)


# what to do about EFBIG, a file past the process's file-size limit or the file system's largest file
TOO_LARGE_FIX = ("the file is larger than this process may write (`ulimit -f`) or than its file system holds (FAT32: "
                 "4 GiB); raise the limit, or write to another file system")


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
        if err.errno == errno.EFBIG:  # before: "free space, or fix the path ...", which changes neither limit
            return f"{where}{what}; {TOO_LARGE_FIX}, then rerun", 1
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


def check_neighbour_count(k, available: int, *, where: str, among: str, largest: int | None = None) -> None:
    """Raise :class:`WinnowError` naming ``where`` unless ``k`` is an integer (numpy's too) in
    ``[1, available]``: past that a k-nearest search has no k neighbours to give (``among``: what they are
    drawn from, for the message, e.g. "train images"). ``largest``: the top of the range the message offers, where
    the caller refuses some counts up to ``available`` itself (None: ``available``)."""
    if not isinstance(k, numbers.Integral) or not 1 <= k <= available:
        raise WinnowError(f"{where}: {k!r} neighbours asked but only {available} {among}; choose an integer in "
                          f"[1, {available if largest is None else largest}]")


def check_fits_in_memory(n_bytes: int, *, what: str) -> None:
    """Raise :class:`WinnowError` naming ``what`` when it needs more bytes than this machine has memory: a
    setting that asks for the impossible gets one line before any work, not the allocator's traceback after
    some of it."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if n_bytes > total:
        raise WinnowError(f"{what} take {n_bytes / 2**30:,.1f} GiB, more than this machine's {total / 2**30:,.1f} GiB "
                          "of memory; lower it")


def listed(names, *, at_most: int = 12) -> str:
    """``a, b, c`` for a message: the first ``at_most`` names, then ``…`` when there are more."""
    names = [str(n) for n in names]
    return ", ".join(names[:at_most]) + (", …" if len(names) > at_most else "")


def named_then_counted(texts, *, most: int, noun: tuple[str, str] | None = None) -> str:
    """``a, b and 3 more`` for a message: the first ``most`` of ``texts`` as given, then how many more, followed by
    ``noun``'s singular or plural (``("class", "classes")``: "and 1 more class", "and 2 more classes") where given."""
    texts = [str(t) for t in texts]
    more = len(texts) - most
    tail = "" if more <= 0 else f" and {more} more" + (f" {noun[more != 1]}" if noun else "")
    return ", ".join(texts[:most]) + tail


def named_in_brackets(names, *, most: int) -> str:
    """``('a', 'b' and 3 more)`` for a message: the first ``most`` of ``names`` as Python writes them (class 0 and
    class '0' must not read alike), in brackets, then how many more."""
    names = list(names)
    shown = ", ".join(map(repr, names[:most]))
    return f"({shown}{f' and {len(names) - most} more' if len(names) > most else ''})"


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), to quote inside a one-line error."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def redacted(text: str) -> str:
    """A URL as messages may show it: protocol, host and path, with no userinfo and no query."""
    parts = urllib.parse.urlsplit(text, allow_fragments=False)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path.partition('#')[0]}"
