"""A command's stdout and stderr as the world leaves them: closed before it started, a terminal without the characters
it prints, a pipe's reader that leaves early, a terminal that closes while it runs. Each is set up once, as a stage or
a ``winnow`` command starts (:func:`winnow.stage.run`, :func:`winnow.cli.main`)."""

import atexit
import errno
import os
import sys


def fill_closed_streams() -> None:
    """stdout and stderr that were closed when the process started (``2>&-``, a launcher that closes them), which Python
    sets to None, write to /dev/null, their descriptor too while it is still free: before, the progress bars (tqdm
    writes to ``sys.stderr`` as it finds it) ended ingest, train and represent with an AttributeError, status 1 and no
    word, and an error line printed to a ``sys.stderr`` of None went to stdout (print's default). A descriptor left free
    would be the next file opened, and a library's own write to it would land there. A closed stdin stays None: a
    command that reads it says it was closed (``--from-json -``)."""
    for number, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        filled = None
        try:
            os.fstat(number)
        except OSError:  # still free: /dev/null takes it, passed on to the commands it runs (dvc, git) as a 2 would be
            opened = os.open(os.devnull, os.O_WRONLY)
            if opened != number:
                os.dup2(opened, number)
                os.close(opened)
            os.set_inheritable(number, True)
            filled = number
        stream = open(os.devnull, "w", encoding="utf-8")
        _opened.append((stream, filled))
        setattr(sys, name, stream)


# what fill_closed_streams opened, in order: each /dev/null stream it set, and the descriptor it filled (None: none),
# closed by the restore of a streams_as_they_are made before them
_opened: list = []


def escape_unencodable_output() -> None:
    """stdout and stderr write a character their encoding lacks as an escape (``\\u2192``) instead of raising
    UnicodeEncodeError: under ``LANG=C`` the gate's arrows and compare's ± ended both commands."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def streams_as_they_are():
    """What puts ``sys.stdout`` and ``sys.stderr`` back as they are now, and the ``errors`` each writes with, for an
    in-process caller of a stage or command (a test runner, a notebook, a benchmark): before, it was left writing with
    :func:`escape_unencodable_output`'s escapes, through :func:`let_the_terminal_close`'s wrappers, and through the
    colorama wrappers importing DVC puts on both (train's log, dvclive, imports it), which strip the caller's colours
    for good and hold on to whatever stream the caller had at that moment."""
    streams = {name: getattr(sys, name) for name in ("stdout", "stderr")}
    errors = {name: getattr(stream, "errors", None) for name, stream in streams.items()}
    mark = len(_opened)

    def restore() -> None:
        for name, stream in streams.items():
            setattr(sys, name, stream)
            if errors[name] is not None and getattr(stream, "errors", None) != errors[name] \
                    and hasattr(stream, "reconfigure"):
                stream.reconfigure(errors=errors[name])
        # the /dev/null streams fill_closed_streams set in place of a None since, closed, and each descriptor it
        # filled free again, as the caller had it: before, left to the garbage collector (a ResourceWarning)
        while len(_opened) > mark:
            stream, filled = _opened.pop()
            stream.close()
            if filled is not None and _is_devnull(filled):
                os.close(filled)

    return restore


def _is_devnull(number: int) -> bool:
    """Whether descriptor ``number`` is open on /dev/null."""
    try:
        held, null = os.fstat(number), os.stat(os.devnull)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (null.st_dev, null.st_ino)


class _ReaderMayLeave:
    """A command's stdout whose reader may close the pipe before the end (``winnow gate | head -1``): from then on
    the output goes to /dev/null and the command goes on, so the files it writes are written and its exit status
    is its own. Before, the first write past the reader ended a failing gate with status 0 and no report."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as err:
            if not self._gone(err):
                raise
            self._reader_left()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as err:
            if not self._gone(err):
                raise
            self._reader_left()

    @staticmethod
    def _gone(err: OSError) -> bool:
        return isinstance(err, BrokenPipeError)

    def _reader_left(self) -> None:
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())  # Python's last flush goes nowhere too

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def let_the_reader_leave() -> None:
    """Wrap ``sys.stdout`` (when there is one) in :class:`_ReaderMayLeave`, for a command run as a process."""
    if sys.stdout is not None and not isinstance(sys.stdout, _ReaderMayLeave):
        sys.stdout = _ReaderMayLeave(sys.stdout)


class _TerminalMayClose(_ReaderMayLeave):
    """A stage's or command's stdout or stderr on a terminal, which may close while it runs (an ssh session ended, the
    stage disowned in its background so that no SIGHUP came): from then on the output goes to /dev/null and the stage
    goes on to write its outputs (a command too: gate and compare print before they write their files). Before, its
    first print after the close failed with EIO: ingest stopped with "Input/output error [EIO]; free space, or fix the
    path or its permissions, then rerun", its work lost, in a line no one read. A pipe's reader that leaves (``| head``)
    still stops a stage (:func:`fault_line`)."""

    @staticmethod
    def _gone(err: OSError) -> bool:
        return err.errno == errno.EIO


def let_the_terminal_close() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in :class:`_TerminalMayClose` where they are a terminal, one closed
    already included (EIO from a file is its disk's fault, said as one)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if _a_terminal(stream) and not isinstance(stream, _TerminalMayClose):
            setattr(sys, name, _TerminalMayClose(stream))


def _a_terminal(stream) -> bool:
    """Whether ``stream`` writes to a terminal, open or closed: one closed before :func:`let_the_terminal_close` ran (a
    stage's imports take seconds before :func:`winnow.stage.run` calls it) is no tty to ``isatty``, and went
    unwrapped, so the stage's first print ended it with EIO as before a581fc9; its attributes fail with EIO there."""
    try:
        if stream is None or stream.isatty():
            return stream is not None
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # closed, or no file behind it
        return False
    try:
        import termios
    except ImportError:  # not Unix
        return False
    try:
        termios.tcgetattr(fd)
    except termios.error as err:
        return err.args[0] == errno.EIO  # a hung-up terminal; ENOTTY for a file, a pipe, /dev/null
    return True


def no_colour_reset_at_exit() -> None:
    """Keep colorama from writing its reset (``ESC[0m``) to stdout as the process exits. Importing DVC runs
    ``colorama.init()`` (dvc/__init__.py), which registers that write at the exit; on a terminal each command that
    read DVC (``winnow compare``, ``gate``, train through dvclive) ended with it, under ``NO_COLOR=1`` or
    ``TERM=dumb`` too, after its last line. Nothing winnow prints is coloured, and DVC's coloured lines reset
    themselves. Marked as registered before DVC is imported, and unregistered if it was; for a command run as a
    process only (an in-process caller keeps its own colorama as it is)."""
    try:
        from colorama import initialise
    except ImportError:  # no DVC either
        return
    initialise.atexit_done = True
    atexit.unregister(initialise.reset_all)


def flush_now(name: str = "stdout") -> OSError | None:
    """Flush ``sys.<name>`` while the command can still say how it ends; returns the OSError of a flush that failed
    (stdout on a full disk: ENOSPC), after which the stream writes to /dev/null, so that the interpreter's own flush at
    the exit has nothing left to fail on. Before, a stage whose stdout was a file on a full disk wrote its outputs and
    then ended in Python's exit with status 120 and "Exception ignored in: <_io.TextIOWrapper name='<stdout>' ...>"
    and the OSError on stderr: neither the one line nor status 1 (a failing stage too)."""
    stream = getattr(sys, name)
    try:
        if stream is not None:
            stream.flush()
    except OSError as err:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # the buffer's rest goes there at the exit
        return err
    return None


def say_error(line: str) -> None:
    """Print ``line`` on stderr after flushing stdout (:func:`flush_now`), ending as the caller says (status 1 or the
    fault's) even when neither can be written: the line is lost then, but nothing spills and the status holds."""
    flush_now("stdout")
    try:
        print(line, file=sys.stderr)
    except OSError:
        pass
    flush_now("stderr")
