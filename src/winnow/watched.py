"""A process watched by its parent: deaths no Python code sees become one line.

A stage (:func:`winnow.stage.run`) or a ``winnow`` command forks before its work; the parent only waits. A
signal that ends the child outright leaves Python no chance to speak, so the parent speaks for it."""

from __future__ import annotations

import atexit
import locale
import mmap
import os
import signal
import sys
from collections.abc import Callable

from winnow.errors import first_line

_NATIVE_CRASH = ("crashed in native code ({name}): a bug in winnow or a library it runs; outputs not yet complete "
                 "were left unwritten; rerun with PYTHONFAULTHANDLER=1 to see where, and report it")
_DEATH_LINES = {
    # an input mapped into memory (an imageset's pixels) that shrinks under the reader: the read faults
    "SIGBUS": "a file it read through a memory map was cut short while it ran, or its disk failed (SIGBUS); outputs "
              "not yet complete were left unwritten: rerun it once nothing else writes its inputs",
    "SIGKILL": "killed (SIGKILL): the kernel's out-of-memory killer ends a process so when memory runs out (dmesg "
               "says), or kill -9 did; outputs not yet complete were left unwritten: free memory or lower the batch "
               "or data size, then rerun",
    **{name: _NATIVE_CRASH.format(name=name) for name in ("SIGSEGV", "SIGABRT", "SIGILL", "SIGFPE")},
}


# a child that ends with a failing status but never began Python's exit (its exit handlers did not run): a native
# library ended it, as Ray's driver does with status 1 when its raylet dies, after its own log lines alone, and OpenBLAS
# with status 1 when memory runs out ("Memory allocation still failed after 10 retries, giving up": score or dedup
# under `ulimit -v 900000`, where the line named Ray alone)
_NATIVE_EXIT = ("ended with status {status} before any Python code could say why: a native library ended the process "
                "(OpenBLAS does so when memory runs out, Ray's driver when its raylet dies); outputs not yet complete "
                "were left unwritten: rerun it")


# how long a child has to end after a SIGTERM before it is killed: one stuck in native code (OpenBLAS retrying an
# allocation under `ulimit -v`, forever) never runs the handler that would end it in one line
TERM_GRACE = 30.0
# how often a parent run by DVC looks whether dvc still runs: DVC passes on no signal sent to it alone, so a stage
# whose dvc was killed or timed out ran on, and later wrote whole outputs that no lock entry names. Every parent
# wakes this often: Python runs a signal's handler between bytecodes, so a SIGINT landing after the last check and
# before a blocking waitpid began waited for the child to end (a test's stage slept its 60 s under load)
DVC_POLL = 0.5
# before: it said "nothing was written", while an output written as the stage goes (gan-synthesize's models/gan.pt,
# after every epoch) or moved into place as the stop came stayed whole in place
DVC_ENDED = ("dvc, which ran this stage, ended (killed or timed out) before it finished: outputs not yet complete "
             "were left unwritten; rerun dvc repro")
_RAN_BY: list[tuple[int, int]] = []  # (pid, start time) of the dvc that ran this process, once found
# the child's view of the map it shares with its parent: byte 0 is 1 once its Python exit began, byte 1 once its
# outputs were all written (:func:`outputs_written`)
_SHARED: list[mmap.mmap] = []


def death_line(number: int) -> str:
    """What a stage or command says when signal ``number`` ended its process before any Python code could
    speak."""
    name = signal.Signals(number).name
    return _DEATH_LINES.get(name, f"ended by {name}; outputs not yet complete were left unwritten: rerun it")


def outputs_written() -> None:
    """Tell the watching parent, from the child, that every output is in place; a stop from now on ends the process
    at once (its default action) and the parent says so truly. Before: a SIGINT once ``compare --out`` had written
    both outputs said "outputs not yet complete were left unwritten: rerun it". Nothing outside a watched child."""
    if not _SHARED:
        return
    _SHARED[0][1] = 1
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) != signal.SIG_IGN:  # under nohup SIGHUP stays ignored
            signal.signal(number, signal.SIG_DFL)


def dvc_ended() -> bool:
    """Whether the dvc process that ran this stage or command (found by :func:`watched_by_a_parent`) has ended:
    then a SIGTERM came from the watching parent, which saw that."""
    return bool(_RAN_BY) and _ended(*_RAN_BY[0])


def watched_by_a_parent(*, speaker: str, tidy: Callable[[], None], setup: Callable[[], None] | None = None) -> None:
    """Fork; return in the child, which does the work; the parent waits and leaves with the child's status.

    A death no Python code sees (a memory-mapped input truncated under the reader: SIGBUS; the out-of-memory
    killer: SIGKILL; a crash in a native library) ended a stage or command with a bare status, 135 or 137, and no word.
    The parent sees it: it calls ``tidy`` (which removes the temporaries the child left), says in one line
    ``error: <speaker>: <what happened>`` and leaves with the shell's status for it (128 + the signal), whatever
    ``tidy`` meets. SIGTERM or SIGHUP sent to the parent goes on to the child, which ends as it always did, and so
    does a SIGINT unless the terminal sent it (Ctrl-C reaches the child from the terminal too, as under a shell;
    ``kill -INT`` or ``timeout -s INT`` reach the parent alone); a child still running :data:`TERM_GRACE` seconds
    after a SIGTERM (or SIGHUP) is killed, and the parent says so. ``setup`` runs in the child before SIGTERM,
    SIGINT and SIGHUP are let through (a handler for them), so none arrives before it. A parent killed outright takes the child
    with it (Linux's parent-death signal). Run by DVC (Linux), the parent also stops the child as for SIGTERM once
    the dvc process that ran it has ended, which the child says in one line (:data:`DVC_ENDED`)."""
    if not hasattr(os, "fork"):
        return
    dvc = dvc_that_ran_this()
    _RAN_BY[:] = [dvc] if dvc else []
    _flush()
    parent = os.getpid()
    # none lost between fork and handler: a SIGINT there met the parent's default handler, and the child slept on
    # (a test sending it as soon as the child spoke timed out under load). Blocking holds a stop back from this thread
    # alone: a library's thread (OpenBLAS's, started by numpy's import) took it instead, and a SIGINT inherited ignored
    # (`cmd &`) was lost, a SIGTERM at its default killed the parent outright (CI met the first), so until the
    # parent's handlers are in place a stop is noted, and acted on once they are
    stops = [signal.SIGTERM, signal.SIGINT]
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:  # under nohup it stays ignored
        stops.append(signal.SIGHUP)
    before = {number: signal.getsignal(number) for number in stops}
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    noted: list[int] = []
    for number in stops:
        signal.signal(number, lambda number, _frame: noted.append(number))
    exiting = mmap.mmap(-1, 2)  # shared with the child (_SHARED)
    child = os.fork()
    if child == 0:
        _die_with(parent)
        _SHARED[:] = [exiting]
        atexit.register(exiting.__setitem__, 0, 1)  # registered before the work, so run after its own handlers
        for number, handler in before.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        # a stage started in the background of a script (`cmd &`) inherits SIGINT ignored, so the SIGINT its parent
        # passes on did nothing and the stage ran to the end; the parent acts on it, so the child must too
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if setup is not None:
            setup()
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        return
    killed_after_term: list[int] = []
    passed_on: list[int] = []  # the stop the grace runs from: SIGTERM, or a closed terminal's SIGHUP

    def terminate(number: int, _frame) -> None:
        _send(child, number)
        if signal.getitimer(signal.ITIMER_REAL)[0] == 0:
            passed_on.append(number)
            signal.setitimer(signal.ITIMER_REAL, TERM_GRACE)

    def stop_as_dvc_ended() -> None:
        # not when a SIGTERM was passed on already (`timeout` kills dvc's whole group): a second one, arriving while
        # the child winds down, cut its unwinding short
        if signal.getitimer(signal.ITIMER_REAL)[0] == 0:
            terminate(signal.SIGTERM, None)

    def kill_after_term(_number: int, _frame) -> None:
        killed_after_term.append(signal.SIGKILL)
        _send(child, signal.SIGKILL)

    signal.signal(signal.SIGINT, lambda number, _frame: None if _from_the_terminal() else _send(child, number))
    signal.signal(signal.SIGTERM, terminate)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:  # its terminal closed: passed on as SIGHUP (not under nohup)
        signal.signal(signal.SIGHUP, terminate)
    signal.signal(signal.SIGALRM, kill_after_term)
    for number in noted:
        signal.getsignal(number)(number, None)
    signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)

    def tidy_and_say(line: str) -> None:
        try:
            tidy()
        finally:  # said even when the sweep fails (a temporary it may not remove): the next stage sweeps again
            print(f"error: {speaker}: {line}", file=sys.stderr)

    status = 1
    try:
        status = os.waitstatus_to_exitcode(_wait(child, stop=stop_as_dvc_ended))
        signal.setitimer(signal.ITIMER_REAL, 0)
        # reaped: its pid may be another's soon
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
            signal.signal(number, signal.SIG_IGN)
        if status > 0 and exiting[0] == 0:  # before: status 1 and only Ray's own log lines, no error: line
            tidy_and_say(_NATIVE_EXIT.format(status=status))
        elif status < 0:
            number, status = -status, 128 - status
            line = death_line(number)
            if exiting[1] == 1:
                line = f"ended by {signal.Signals(number).name} after its outputs were written"
            elif killed_after_term and number == signal.SIGKILL:
                # the stop it did not answer, and its status (before: SIGTERM and 143 after a SIGHUP too)
                stop = signal.Signals(passed_on[0])
                line, status = (f"did not end within {TERM_GRACE:g} s of {stop.name} (stuck in native code), so it "
                                "was killed (SIGKILL); outputs not yet complete were left unwritten: rerun it",
                                128 + stop)
            tidy_and_say(line)
    except Exception as err:  # the sweep's own failure, after the line above: one more line
        print(f"error: {speaker}: its temporaries were not all removed ({first_line(err)}); the next stage to "
              "start removes them", file=sys.stderr)
    finally:
        _flush()
        os._exit(status)  # the child ran the stage's exit handlers; the parent's copies of them must not run again


def dvc_that_ran_this() -> tuple[int, int] | None:
    """``(pid, start time)`` of the dvc process that ran this stage's command: the nearest ancestor whose environment
    lacks the ``DVC_STAGE`` that DVC sets for the command alone (the shell it runs the command in, which may or may
    not exec python, and any wrapper inherit it). None when ``DVC_STAGE`` is unset, when no such ancestor is found
    below pid 1, and where no ``/proc`` tells (not Linux)."""
    stage = os.environ.get("DVC_STAGE")
    if stage is None:
        return None
    mark = f"DVC_STAGE={stage}".encode()
    try:
        fields = _stat(os.getpid())
        while (pid := int(fields[1])) > 1:  # each ancestor's stat read once: its start time, then its parent
            fields = _stat(pid)
            with open(f"/proc/{pid}/environ", "rb") as environ:
                if mark not in environ.read().split(b"\0"):
                    return pid, int(fields[19])
    except (OSError, IndexError, ValueError):  # an ancestor gone meanwhile, or no /proc
        return None
    return None


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces): state, ppid, ...; the
    start time is the 20th."""
    with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
        text = stat.read()
    return text[text.rindex(")") + 2:].split()


def _ended(pid: int, start: int) -> bool:
    """Whether process ``pid``, started at ``start``, has ended: gone, a zombie its parent has not reaped yet, or
    its pid another process's since."""
    try:
        fields = _stat(pid)
    except OSError:
        return True
    return fields[0] in ("Z", "X") or int(fields[19]) != start


def _wait(child: int, *, stop: Callable[[], None]) -> int:
    """``child``'s wait status. The wait wakes every :data:`DVC_POLL` seconds, so a signal's handler runs within
    that however the signal fell; run by DVC (:data:`_RAN_BY`), it also looks whether dvc has ended, and then calls
    ``stop`` once and waits for the child to end."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # pending, it ends the wait at once
    try:
        while not dvc_ended():
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid:
                return status
            signal.sigtimedwait({signal.SIGCHLD}, DVC_POLL)
        stop()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return os.waitpid(child, 0)[1]


def in_utf8_mode() -> None:
    """Run this process again in Python's UTF-8 mode when the locale's encoding is another (a Latin-1 locale, or
    ``LC_ALL=C`` with ``PYTHONUTF8=0``): file names were decoded in the locale's encoding (class ``cafÃ©`` where the
    folder is ``café``; under C, valid UTF-8 names refused as not UTF-8), and text files read and written in it (Data
    Docs pages failed on a dash). The project's files are UTF-8 whatever the locale."""
    encodings = {sys.getfilesystemencoding(), locale.getpreferredencoding(False)}
    # not on Windows, whose os.execv ends this process at once with status 0 and runs the new one detached
    if os.name != "posix" or sys.flags.utf8_mode or {e.lower().replace("-", "") for e in encodings} == {"utf8"}:
        return
    if sys.argv[:1] in (["-"], [""]):  # a script read from stdin: run again, it read stdin at its end, ran nothing
        # and said nothing, exit 0 (`LC_ALL=C PYTHONUTF8=0 python - < stages/ingest.py`)
        from winnow.stops import ANY_STAGE, stage_script  # here: stops imports this module

        print(f"error: {stage_script()}: this locale's encoding ({', '.join(sorted(encodings))}) needs the stage "
              "started again in Python's UTF-8 mode, but a script read from standard input cannot be read again; run "
              f"it as dvc.yaml does: python {ANY_STAGE}, or set PYTHONUTF8=1", file=sys.stderr)
        _flush()
        sys.exit(1)
    _flush()
    os.execv(sys.executable, [sys.executable, "-X", "utf8", *sys.orig_argv[1:]])


def _flush() -> None:
    """Flush stdout and stderr; Python sets either to None when its file descriptor was closed at the start
    (``winnow gate >&-``)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def _die_with(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` dies (Linux; elsewhere nothing)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        return
    if os.getppid() != parent:  # it died before the request took hold
        os._exit(128 + signal.SIGKILL)


def _from_the_terminal() -> bool:
    """Whether a SIGINT to this process most likely came from its terminal's Ctrl-C, which the child gets too:
    this process's group is the terminal's foreground group."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            if os.isatty(stream.fileno()):
                return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (AttributeError, OSError, ValueError):  # closed, replaced, or no terminal after all
            continue
    return False


def _send(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:  # it has just ended; waitpid reports how
        pass
