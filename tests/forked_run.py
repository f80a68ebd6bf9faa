"""Run a stage script, or ``python -m`` a module, as a new ``python`` process would, but forked from one
warm interpreter that has already imported numpy, pandas, scipy and torch.

A hostile case runs the real stage script and reads its exit status, stdout and stderr. As fresh processes
those cases spent most of their time importing torch (about 4 s a run on 2 cores; half the suite's time
went to it). Here each test worker starts one server that imports the common packages once and forks a
child per run. The child gets what a new process gets:
- its own working directory, environment, ``sys.argv``, ``sys.path[0]`` (the script's folder; for ``-m`` the cwd), and
  stdin from /dev/null;
- stdout and stderr to files, read back as text;
- the exit status of ``sys.exit``, or 1 with the traceback printed for an uncaught exception, and -N when
  a signal N killed it; ``atexit`` handlers run, as at a normal exit.

Torch is imported but never run in the server, so no thread pool exists to be broken by the fork.
``WINNOW_TEST_FRESH_PROCESS=1`` makes :func:`run` start a real process instead, to check that both agree.
"""

from __future__ import annotations

import atexit
import gc
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

_servers: dict[str, "_Server"] = {}


def run(kind: str, target: str, args: list[str], *, cwd: Path, env: dict, timeout: float
        ) -> subprocess.CompletedProcess:
    """``python target args`` (``kind`` "script") or ``python -m target args`` ("module") in ``cwd`` with
    ``env``, as :func:`subprocess.run` with ``capture_output=True, text=True`` returns it; raises
    :class:`subprocess.TimeoutExpired` after ``timeout`` seconds."""
    command = [sys.executable, *(["-m"] if kind == "module" else []), target, *args]
    if os.environ.get("WINNOW_TEST_FRESH_PROCESS") == "1":
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    # one server per import path (what its warm imports depend on); the rest of env goes with each run, as
    # pytest changes PYTEST_CURRENT_TEST for every test
    key = env.get("PYTHONPATH", "")
    if key not in _servers:
        _servers[key] = _Server(env)
    reply = _servers[key].call(kind=kind, target=target, args=list(args), cwd=str(cwd), env=dict(env),
                               timeout=timeout)
    if reply["timed_out"]:
        raise subprocess.TimeoutExpired(command, timeout, output=reply["stdout"], stderr=reply["stderr"])
    return subprocess.CompletedProcess(command, reply["returncode"], reply["stdout"], reply["stderr"])


def _stops_at_their_defaults() -> None:
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


class _Server:
    """The warm interpreter of this test worker, spoken to over a socket pair."""

    def __init__(self, env: dict):
        ours, theirs = socket.socketpair()
        # without the TQDM_ variables of the run that starts it: tqdm reads them as it is imported (dvc.repo imports
        # it), and one tqdm cannot use would end the server's imports; each run's child gets its own environment
        env = {name: value for name, value in env.items() if not name.startswith("TQDM_")}
        # started with the stops at their defaults: a library run in this worker before (Ray's init) left SIGINT and
        # SIGHUP ignored, which the server and every run it forks inherited for the worker's life, so the suite's
        # signal tests timed out or ran on in whichever worker started its server after the Ray tests
        self.process = subprocess.Popen([sys.executable, __file__, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                                        env=env, stdin=subprocess.DEVNULL, preexec_fn=_stops_at_their_defaults)
        theirs.close()
        self.connection = Connection(ours.detach())
        atexit.register(self.close)

    def call(self, **request) -> dict:
        self.connection.send(request)
        try:
            return self.connection.recv()
        except EOFError:
            raise RuntimeError(f"the forked-run server died (exit status {self.process.wait()}); its stderr is "
                               "above") from None

    def close(self) -> None:
        self.connection.close()  # the server reads end-of-file and exits
        self.process.wait(timeout=30)


# what some stages import only where they use it, at up to 4 s a run (Great Expectations) on 2 cores: the server
# imports them too, unless PYTHONPATH shadows the package (a test's stand-in for a broken install must be what the
# run imports). None of them starts a thread on import, so the fork stays safe.
_PRELOADED = ("matplotlib.pyplot", "PIL.Image", "sklearn.metrics", "cleanlab.filter", "dvclive", "dvc.repo",
              "great_expectations")


def _serve(fd: int) -> None:
    import numpy, pandas, pyarrow.parquet, scipy.stats, torch, yaml  # noqa: F401 E401 what every stage imports
    import torch._dynamo  # noqa: F401 every torch.optim optimizer imports it on first use: 2 s a stage here

    _preload(_PRELOADED)
    _preload_winnow()
    # what the imports made is moved out of the collector's sight (the fork-server recipe of the gc docs): a child's
    # collections then no longer walk, and so write to, the server's objects, copying every page they lie on (a run
    # paid for that copying in CPU time: about 8% of a short stage's). The child's own objects are collected as before
    gc.collect()
    gc.freeze()
    connection = Connection(fd)
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        connection.send(_fork_and_wait(**request))


def _preload(modules) -> None:
    """Import each of ``modules`` whose package no PYTHONPATH folder shadows; one that fails is left to the run."""
    import importlib

    folders = [Path(entry) for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # as winnow.gx_import sets it before its own import
    for module in modules:
        package = module.split(".")[0]
        if any((folder / package).exists() or (folder / f"{package}.py").exists() for folder in folders):
            continue
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the run imports it again and meets the same fault itself
            pass


ROOT = Path(__file__).resolve().parents[1]
# what a preloaded module put in os.environ on import (winnow.torch_runtime's setdefault): a child replaces the
# environment with its run's, so these are set again there, as the module's import would set them in a new process
_SET_ON_IMPORT: dict[str, str] = {}


def _preload_winnow() -> None:
    """Import the winnow modules that the stage scripts (stages/*.py) and ``winnow.cli`` import at their top: about
    a tenth of a CPU second a run. Only where PYTHONPATH is this checkout's src alone, the harness's own, which no
    test edits: a run with a stand-in package ahead of it (or another winnow) imports everything itself."""
    import ast
    import importlib

    if os.environ.get("PYTHONPATH") != str(ROOT / "src"):
        return
    modules = set()
    # not winnow.cli itself: ``python -m`` of a module already imported makes runpy warn on stderr
    for script in [*sorted((ROOT / "stages").glob("*.py")), ROOT / "src/winnow/cli.py"]:
        for node in ast.parse(script.read_text()).body:
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            modules.update(name for name in names if name.split(".")[0] == "winnow")
    before = dict(os.environ)
    for module in sorted(modules):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the run imports it again and meets the same fault itself
            pass
    _SET_ON_IMPORT.update({key: value for key, value in os.environ.items() if key not in before})


def _fork_and_wait(*, kind: str, target: str, args: list[str], cwd: str, env: dict, timeout: float) -> dict:
    # mkdtemp, not TemporaryDirectory: the child runs the atexit hooks, and TemporaryDirectory's would delete
    # the folder under the server's feet
    folder = tempfile.mkdtemp(prefix="forked-run-")
    try:
        out, err = Path(folder, "stdout"), Path(folder, "stderr")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(kind, target, args, cwd, env, out, err)
        deadline = time.monotonic() + timeout
        timed_out = False
        while not (waited := os.waitpid(pid, os.WNOHANG))[0]:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                waited, timed_out = os.waitpid(pid, 0), True
                break
            time.sleep(0.005)
        return {"returncode": os.waitstatus_to_exitcode(waited[1]), "timed_out": timed_out,
                "stdout": _text(out), "stderr": _text(err)}
    finally:
        shutil.rmtree(folder)


def _child(kind: str, target: str, args: list[str], cwd: str, env: dict, out: Path, err: Path) -> None:
    """Never returns: runs the target and leaves with its exit status."""
    code = 1
    try:
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, out, os.O_WRONLY | os.O_CREAT),
                                (2, err, os.O_WRONLY | os.O_CREAT)):
            opened = os.open(path, flags)
            os.dup2(opened, fd)
            os.close(opened)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        for key, value in _SET_ON_IMPORT.items():
            os.environ.setdefault(key, value)
        sys.argv = [target, *args]
        if kind == "script":
            sys.path[0] = str(Path(target).resolve().parent)
            runpy.run_path(target, run_name="__main__")
        else:
            sys.path[0] = cwd
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = _exit_status(stop.code)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            threading._shutdown()  # as the interpreter does at exit: join non-daemon threads, then atexit
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _exit_status(code) -> int:
    """What the interpreter makes of ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _text(path: Path) -> str:
    """The file as ``subprocess.run(text=True)`` decodes a pipe: UTF-8, universal newlines."""
    data = path.read_bytes() if path.exists() else b""
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
