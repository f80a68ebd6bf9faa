"""How a stage or ``winnow`` command stops: SIGTERM and SIGHUP raised as an interrupt (:func:`terminate_as_interrupt`),
the one line an interrupt or a fault of the machine ends with (:func:`stop_line`), no second stop on the way out
(:func:`ignore_stops`), and DVC's lock file that a stop inside DVC's own write left broken
(:func:`drop_broken_dvc_lock`). :func:`winnow.stage.run` and :func:`winnow.cli.main` use them."""

from __future__ import annotations

import atexit
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from winnow.errors import INTERRUPTED, WinnowError, fault_line
from winnow.output_streams import fill_closed_streams
from winnow.progress_env import check_progress_variables
from winnow.openmp_settings import openmp_refusal
from winnow.stage_process import interactive_session, plot_backend_refusal, spin_briefly
from winnow.watched import DVC_ENDED, _flush, dvc_ended


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (:data:`STOPS`), raised in the main thread where it arrives, as Ctrl-C raises
    KeyboardInterrupt."""


# the signals that end a stage or command as Ctrl-C does: SIGTERM (`timeout`, `kill`, a cancelled CI job) and SIGHUP
# (its terminal closed: an ssh connection lost with the stage in its background, `cmd > log 2>&1 &`); before, SIGHUP's
# default action ended parent and child at once, the log ended without a line and a streamed imageset's temporary
# stayed in data/ until a later stage swept it
STOPS = (signal.SIGTERM, signal.SIGHUP)


_TERMINATED: list[int] = []  # the STOPS received, so run() words the interrupt as the first one
_INTERRUPTS: list[int] = []  # the SIGINTs received (_noted_interrupt), so stop_line knows an import one cut short
_SWALLOWED: list[int] = []  # a stop whose Terminated a finalizer swallowed, sent again (_sent_again_when_swallowed)


def terminate_as_interrupt() -> None:
    """Make SIGTERM and SIGHUP (:data:`STOPS`; an ignored SIGHUP, under nohup, stays ignored) raise
    :class:`Terminated` in the main thread. Their default action ended the process on the
    spot: no line said why, and the temporaries of the writes under way (a streamed imageset: gigabytes) stayed in
    data/ until a later stage swept them; raised, it unwinds through every writer's clean-up as Ctrl-C does, and
    during the moves into place it waits like SIGINT (:func:`winnow.outputs.together`). Python's own SIGINT handler
    is replaced by :func:`_noted_interrupt`, which raises as it does and notes the signal. A handler set by someone
    else (a launcher) is left alone."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # raised as ever, and noted (stop_line)
        signal.signal(signal.SIGINT, _noted_interrupt)
    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return

    def terminated(number: int, _frame) -> None:
        if _TERMINATED and not _SWALLOWED:  # a second one (see ignore_stops) raised again in the first one's clean-up
            return  # and cut it short
        _SWALLOWED.clear()
        _TERMINATED.append(number)
        raise Terminated()

    for number in STOPS:
        if signal.getsignal(number) == signal.SIG_DFL:
            signal.signal(number, terminated)
    sys.unraisablehook = _sent_again_when_swallowed(sys.unraisablehook)


def _noted_interrupt(number: int, _frame) -> None:
    """SIGINT's handler: Python's own (KeyboardInterrupt), the signal noted first. An interrupt landing inside an
    extension module's import can be replaced by that module's ImportError, the KeyboardInterrupt lost with it (numpy's
    C code: "PyCapsule_Import could not import module "datetime""), so the note is what tells the two apart."""
    _INTERRUPTS.append(number)
    raise KeyboardInterrupt


def stops_as_they_are() -> Callable[[], None]:
    """What puts the handlers of :data:`STOPS` and SIGINT, :data:`sys.unraisablehook` and the stops received back as
    they are now: an in-process caller of :func:`winnow.stage.run` (a test runner, a notebook) was left with the stage's
    handlers after it returned, so a later SIGTERM raised winnow's :class:`Terminated` inside the caller, and a stage
    run again in the same process took a SIGTERM for a second one, which its handler ignores, and ran on to its end."""
    if threading.current_thread() is not threading.main_thread():  # terminate_as_interrupt sets none there
        return lambda: None
    handlers = {number: signal.getsignal(number) for number in (*STOPS, signal.SIGINT)}
    hook = sys.unraisablehook
    received = list(_TERMINATED), list(_SWALLOWED), list(_INTERRUPTS)

    def restore() -> None:
        for number, handler in handlers.items():
            if handler is not None:  # one set outside Python is left as it is now
                signal.signal(number, handler)
        sys.unraisablehook = hook
        _TERMINATED[:], _SWALLOWED[:], _INTERRUPTS[:] = received

    return restore


def _sent_again_when_swallowed(hook):
    """``hook`` (a :data:`sys.unraisablehook`), but a :class:`Terminated` raised inside a finalizer (a weakref callback,
    a ``__del__``), which Python prints and forgets, has its SIGTERM sent again a moment later, to stop the process
    where it runs on. Before: `timeout` stopping `winnow study collect` inside DVC's ``exp show`` printed "Exception
    ignored in: <function WeakSet.__init__.<locals>._remove ...>" and a traceback, ran on, and was killed 30 s later
    by its watching parent as "stuck in native code". From a timer thread: sent from the hook, the signal's handler
    ran inside the hook, and Python forgot that one too. A KeyboardInterrupt swallowed so has its SIGINT sent again
    (before: ``kill -INT``, which the watching parent passes on once, or Ctrl-C, printed the same traceback and the
    command ran to its end, with no grace period after which the parent kills it)."""
    def swallowed(unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)
            return
        stopped = isinstance(unraisable.exc_value, Terminated)
        number = (_TERMINATED or [signal.SIGTERM])[-1] if stopped else signal.SIGINT
        if number != signal.SIGINT:  # SIGINT's handler raises at every one: nothing to mark
            _SWALLOWED.append(number)
        again = threading.Timer(0.01, os.kill, (os.getpid(), number))
        again.daemon = True
        again.start()

    return swallowed


def raise_received_stop(err: Exception) -> None:
    """Raise, from ``err``, the stop (SIGINT, SIGTERM, SIGHUP) received before it, if any: an optional extra's
    ImportError (any error of Great Expectations' import) that may be a stop cutting its import short
    (:func:`_noted_interrupt`), met where a missing extra falls back to another way or is said in one line. Before,
    Ctrl-C while faiss loaded ran the stage on to its end with numpy's search, status 0, and Ctrl-C while Ray loaded
    said "Ray is not installed: pip install 'ray[data]'", status 1, of a Ray that is installed."""
    if _TERMINATED:
        raise Terminated() from err
    if _INTERRUPTS:
        raise KeyboardInterrupt from err


def import_optional(name: str, *, refusal: Callable[[ImportError], Exception] | None = None):
    """The module ``name`` of an optional extra (``a.b``: the submodule, as :func:`importlib.import_module` gives
    it), imported now. Where it cannot be: the stop that cut its import short raised (:func:`raise_received_stop`),
    then ``refusal(err)`` raised from the ImportError where given (the one line naming the extra), else None, for
    the caller's own fallback. For imports of a whole module alone: one of names (``from m import a``), a factory
    that imports (fsspec's), or any error of a broken install keeps its own handler."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise_received_stop(err)  # a Ctrl-C that cut the import short: not a missing package, no fallback
        if refusal is not None:
            raise refusal(err) from err
        return None


def stop_line(err: BaseException) -> tuple[str, int] | None:
    """:func:`winnow.errors.fault_line`, with an interrupt that a SIGTERM or SIGHUP raised
    (:func:`terminate_as_interrupt`) worded as one and given the shell's status for it, 143 or 129; worded
    :data:`winnow.watched.DVC_ENDED` when the dvc that ran it has ended (the watching parent sent it then)."""
    fault = fault_line(err)
    if fault is None and isinstance(err, ImportError) and (_INTERRUPTS or _TERMINATED):
        # the stop cut an import short, and the extension's ImportError replaced its interrupt (_noted_interrupt):
        # before, Ctrl-C a moment into `winnow gate` ended in numpy's traceback, "Importing the numpy C-extensions
        # failed", and status 1, as if the installation were broken
        fault = fault_line(KeyboardInterrupt())
    if fault is not None and _TERMINATED and fault[1] == INTERRUPTED:
        number = signal.Signals(_TERMINATED[0])
        line = DVC_ENDED if dvc_ended() else fault[0].replace("interrupted", f"terminated ({number.name})", 1)
        return line, 128 + number
    return fault


def missing_module_line(err: BaseException) -> tuple[str, int] | None:
    """``(line, 1)`` for a module this Python lacks, met as a stage script or ``winnow`` command imports its modules
    (:func:`one_line_from_the_start`, :func:`winnow.cli.main`), or later as it imports one where it is needed (dvc,
    scipy): the stage run by a Python other than the project's environment (a dvc installed elsewhere, pipx's or the
    system's, running ``python`` from a PATH without .venv); None for anything else, and for a winnow module (a
    checkout's own fault: its traceback is wanted). Before: a traceback ending in ``ModuleNotFoundError: No module
    named 'numpy'``. An optional package (timm, s3fs, fiftyone; faiss) is handled where it is imported (a
    WinnowError naming its extra; numpy's search under compute.knn: auto) and never reaches this."""
    if not isinstance(err, ModuleNotFoundError) or not err.name or err.name.partition(".")[0] == "winnow":
        return None
    return (f"this Python ({sys.executable}) has no module named {err.name!r}, which winnow imports: it is not the "
            "project's environment; run it there (make repro sets up .venv; activate it with . .venv/bin/activate "
            "before dvc repro), then rerun"), 1


def ignore_stops() -> None:
    """Ignore SIGINT, SIGTERM and SIGHUP from now on, in a forked stage or command on its way out: a second stop
    (`timeout` or a kill of the process group reaches both it and its watching parent, which passes its copy on) came
    while the first one's line was printed (a traceback), or once Python's exit had restored SIGTERM's default action,
    which killed the process, and the parent said a second line."""
    for number in (signal.SIGINT, *STOPS):
        signal.signal(number, signal.SIG_IGN)


def stops_raised() -> None:
    """Every stop raised as an interrupt from now on, in a stage or ``winnow`` command as it starts, before its
    imports (seconds): SIGTERM and SIGHUP (:func:`terminate_as_interrupt`), and SIGINT where it was ignored from the
    start. Started in a script's background (`cmd &`) SIGINT is ignored, as run's forked child undoes: before, a
    kill -INT during the imports did nothing and the stage or command ran to the end with status 0, where the same
    signal a moment later, once it had begun, stopped it."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    terminate_as_interrupt()  # SIGINT noted as it raises


# sys.argv[0] of a script the interpreter read without a file: `python - < stages/ingest.py`, `python < ...`, -c
_NAMELESS = {"-": "<stdin>", "": "<stdin>", "-c": "<-c>"}
# what a line tells a user to run where the stage's own script cannot be named
ANY_STAGE = "stages/<stage>.py"


def stage_script(*, runnable: bool = False) -> str:
    """The running stage's script as its lines name it: ``stages/<its file name>``, or ``stages/<stdin>`` (``<-c>``)
    where the interpreter read it from standard input (or ``-c``), which names no file to know it by; with
    ``runnable``, what a line tells a user to run, :data:`ANY_STAGE` there. Before: ``stages/-``, a path that is none,
    and "run it as dvc.yaml does: python stages/-"."""
    name = Path(sys.argv[0]).name if sys.argv else ""
    return ANY_STAGE if runnable and name in _NAMELESS else script_named(name)


def script_named(name: str) -> str:
    """``stages/<name>`` for the file name of a stage script as ``sys.argv[0]`` gives it (:func:`stage_script`)."""
    return f"stages/{_NAMELESS.get(name, name)}"


def one_line_from_the_start() -> None:
    """Called by a stage script (as ``__main__``) before its other imports, which take seconds (torch's up to 16 s on a
    busy machine) before :func:`winnow.stage.run` starts: Ctrl-C, SIGTERM or a fault of the machine among them (a
    memory limit failing numpy's or torch's load) ends the stage in the one line ``run`` says, with its status. before:
    a traceback ending in KeyboardInterrupt, MemoryError or ImportError, and SIGTERM ended the stage without a word.
    An error that is no fault (a bug) keeps its traceback. First of all, before torch's import loads OpenMP, its
    threads are set to spin briefly while they wait (:func:`winnow.stage_process.spin_briefly`)."""
    caller = sys._getframe(1).f_globals
    if caller.get("__name__") != "__main__":  # imported by a test: its process is left alone
        return
    if not interactive_session():  # a notebook's `%run stages/x.py` keeps its kernel's settings
        spin_briefly()  # before torch's import below, which loads OpenMP
    fill_closed_streams()  # before the imports open files: a closed 2 would be the first one's
    _refuse_another_checkout(caller.get("__file__"))
    # a kernel has loaded OpenMP (or will hang on its own) and matplotlib; a stage that plots checks MPLBACKEND here,
    # read at its imports (report) or after its work (balance's and gan-synthesize's sample grids)
    hang = None if interactive_session() else openmp_refusal() or plot_backend_refusal(stage_script())
    if hang is not None:
        print(f"error: {stage_script()}: {hang}", file=sys.stderr)
        sys.exit(1)
    stops_raised()
    script = stage_script()

    def said(kind, err, trace) -> None:
        fault = stop_line(err) or missing_module_line(err)
        if fault is None:
            sys.__excepthook__(kind, err, trace)
            return
        ignore_stops()  # a second Ctrl-C while the line is printed was a traceback of this hook
        print(f"error: {script}: {fault[0]}", file=sys.stderr)
        # the exit handlers run as at any exit: in run's forked child one marks that Python's exit began (before: a
        # stop escaping run there, a Ctrl-C as a refusal printed, skipped it, and the watching parent said a second
        # line, that a native library had ended the stage)
        atexit._run_exitfuncs()
        _flush()
        os._exit(fault[1])  # KeyboardInterrupt's own exit is by SIGINT, not status 130

    sys.excepthook = said


def _refuse_another_checkout(script: str | None) -> None:
    """One line and status 1 when the stage script ``script`` imported winnow from another place than the ``src/`` of
    its own checkout: Python looks in the script's folder (stages/), then in the installed packages, so without
    dvc.yaml's ``PYTHONPATH=src`` a second checkout or git worktree sharing the environment ran the code of the
    checkout installed (editable) there on its own data, without a word."""
    if not script:
        return
    own = Path(script).resolve().parent.parent / "src" / "winnow"
    running = Path(__file__).resolve().parent
    if own.is_dir() and own.resolve() != running:
        command = shlex.join(["python", f"stages/{Path(script).name}", *sys.argv[1:]])
        print(f"error: stages/{Path(script).name}: imports winnow from {running}, not from this checkout's {own}; run "
              f"it as dvc.yaml does: PYTHONPATH=src {command}", file=sys.stderr)
        sys.exit(1)


def drop_broken_dvc_lock(root: str | os.PathLike = ".") -> None:
    """Remove DVC's ``.dvc/tmp/rwlock`` when a run stopped inside DVC's own write of it left it empty or half
    written: every later dvc command, and winnow's own ``dvc status``, then failed with "Unable to read
    RWLock-file" until a person removed it. DVC reads a missing one as no locks; a broken one holds none it can
    read either. DVC truncates the file, then writes it, holding its guard ``rwlock.lock`` beside it: one that
    reads broken is read again holding that guard, taken as DVC takes it (:func:`_dvc_guard`)."""
    path = Path(root) / ".dvc" / "tmp" / "rwlock"
    if _broken_text(path) is None:
        return
    try:
        check_progress_variables()  # DVC imports tqdm, which reads them
    except WinnowError:  # left for a run without them: a stage refuses them next, and no dvc command runs under them
        return  # before: a stage starting beside a broken lock ended in tqdm's traceback from DVC's import, unchecked
    from dvc.exceptions import DvcException  # only now: a stage's start imports no DVC

    try:
        # held by another dvc (a second dvc repro, dvc exp run), which is writing it: before, a stage starting then
        # read it empty and removed it with the locks of the stages running; that dvc's release of its own then
        # failed on an assertion, and a third dvc could run a stage they held
        with _dvc_guard(path):
            text = _broken_text(path)
            if text is not None:
                path.unlink()
    except (OSError, DvcException):  # the guard still held (DVC's wait ran out), the file not removable, or DVC's
        return                       # config unreadable (DVC itself stops on it)
    if text is not None:
        print(f"removed DVC's lock file {path}, left {'empty' if not text else 'half written'} by a stopped run")


def _dvc_guard(path: Path):
    """DVC's guard of its lock file ``path``, as its rwlock makes it (waiting as DVC waits, 3 seconds): a ``flock``
    of ``rwlock.lock`` (zc.lockfile), or under ``core.hardlink_lock: true`` (for file systems without flock) that
    file as a hard link to a claim file (flufl.lock), which a flock never meets. Before, the guard was always taken
    as a flock: under hardlink_lock the lock file was removed while another dvc wrote it, and the empty
    ``rwlock.lock`` the flock left made the next dvc fail ("Unable to acquire lock")."""
    from dvc.config import Config
    from dvc.lock import make_lock

    hardlink = Config(dvc_dir=str(path.parent.parent))["core"].get("hardlink_lock", False)
    return make_lock(str(path.with_name("rwlock.lock")), tmp_dir=str(path.parent), hardlink_lock=hardlink)


def _broken_text(path: Path) -> str | None:
    """The text of DVC's lock file ``path`` when it is there and not JSON; else None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return text
    return None
