"""Leftovers of stop 75: the process-wide state a Ray session or an in-process stage run leaves its caller.

- :meth:`winnow.engine.Engine.session` on a local cluster, in a Python process that goes on after it (a notebook, a
  test runner, a benchmark): ``os.environ`` (Ray's PYTHONBREAKPOINT, RAY_AUTH_MODE, RAY_USAGE_STATS_ENABLED,
  RAY_CLIENT_MODE), :mod:`faulthandler`, the handlers of SIGTERM, SIGINT and SIGHUP and the signal mask are as before;
- the same where ray.init fails (the local cluster cannot start): its SIGTERM handler (``sys.exit(15)``) and its
  variables are gone, and the refusal is the one line it was; a temporary folder of too long a path for Ray's Unix
  sockets is named as such, not as a lack of memory or space;
- a stage run in-process (:func:`winnow.stage.run`), on success and on a refusal, and a ``winnow`` command run
  in-process (``cli.main(argv)``) give the caller its own ``sys.stdout`` and ``sys.stderr`` back, writing with the
  ``errors`` they had (not Python's escapes), and not behind the wrappers a stage put on them (importing DVC does);
- the GAN's sample grid (gan-synthesize, balance) draws a class named ``$\\foo$`` as a name without turning off
  matplotlib's ``text.parse_math`` for the whole process; the study's plots (``study collect``, ``study plot``) the
  same, nor switch the process's matplotlib backend;
- a stage's ``run(main)`` called from an interactive ``__main__`` (a notebook's cell, the REPL, ``python -c``) runs in
  process, as from any other caller, not forked as a stage script's, and leaves the handlers of the stops as they were.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import require
from hostile_harness import ROOT
from winnow import cli, stage
from winnow.engine import Engine
from winnow.errors import WinnowError

STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

# the state of a fresh interpreter before and after a session on a local cluster of one CPU
_SESSION_IN_A_PROCESS = """
import faulthandler, json, os, signal, sys
from winnow import cli, stage
from winnow.engine import Engine

def state():
    return {"environ": dict(os.environ), "faulthandler": faulthandler.is_enabled(),
            "handlers": [repr(signal.getsignal(number)) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)],
            "mask": sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))}

before = state()
with Engine("ray", num_cpus=1).session():
    import ray
    print("cpus", int(ray.cluster_resources()["CPU"]))
print(json.dumps({"before": before, "after": state()}))
"""


def _ray_free_environment() -> dict:
    """This process's environment without what a Ray session here (another test's) may have left in it."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith("RAY_") and name not in ("PYTHONBREAKPOINT", "KMP_DUPLICATE_LIB_OK")}


def _ray() -> None:
    import importlib.util

    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")


@pytest.mark.hostile("scale")
def test_a_ray_session_leaves_the_process_environment_and_fault_handler_as_they_were(tmp_path):
    # before: after the session os.environ held PYTHONBREAKPOINT=ray.util.rpdb._driver_set_trace (the caller's
    # breakpoint() and every process it started later went to Ray's debugger), RAY_AUTH_MODE=token,
    # RAY_USAGE_STATS_ENABLED=0 and RAY_CLIENT_MODE=0, and faulthandler was on
    _ray()
    env = _ray_free_environment() | {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", _SESSION_IN_A_PROCESS], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    *_, cpus, last = done.stdout.splitlines()
    assert cpus == "cpus 1"  # the session did start a cluster
    states = json.loads(last)
    assert states["after"] == states["before"]
    assert not states["before"]["faulthandler"]


@pytest.mark.hostile("scale")
def test_a_ray_session_whose_cluster_cannot_start_leaves_the_handlers_and_environment_as_they_were(tmp_path,
                                                                                                  monkeypatch):
    # before: the refusal left Ray's SIGTERM handler (sys.exit(15)) in place of the caller's, and RAY_AUTH_MODE=token
    # and RAY_USAGE_STATS_ENABLED=0 in os.environ
    _ray()
    for name in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED", "PYTHONBREAKPOINT", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("RAY_TMPDIR", str(blocker / "ray"))  # no folder can be made under a file
    environment = dict(os.environ)
    handlers = [signal.getsignal(number) for number in STOPS]
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with pytest.raises(WinnowError) as refused:
        with Engine("ray", num_cpus=1).session():
            pass
    assert str(refused.value) == (
        f"compute.ray: the local Ray cluster did not start ([Errno 20] Not a directory: '{blocker}/ray'); free memory "
        f"or space under {blocker}/ray (Ray's temporary folder: RAY_TMPDIR, else TMPDIR, else /tmp) or point "
        "RAY_TMPDIR at a writable folder with room, lower compute.ray.num_cpus, or set compute.engine: local")
    assert [signal.getsignal(number) for number in STOPS] == handlers
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
    assert dict(os.environ) == environment


def _ascii_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")


def _written(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode("ascii")


def _refused() -> None:
    raise WinnowError("somewhere: refused here; do something else")


def _wraps_stdout() -> None:
    # what importing DVC does (dvc/__init__.py: colorama.init(), reached from train's log through dvclive): both streams
    # put behind wrappers of its own
    sys.stdout, sys.stderr = _Wrapper(sys.stdout), _Wrapper(sys.stderr)


class _Wrapper:
    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("main", "said"), [(lambda: None, None), (_wraps_stdout, None),
                                            (_refused, "error: somewhere: refused here; do something else\n")])
def test_a_stage_run_in_process_leaves_the_callers_stdout_and_stderr_as_they_were(tmp_path, monkeypatch, main, said):
    # before: the caller's stdout and stderr were left writing a character their encoding lacks as an escape
    # (errors="backslashreplace", where the caller's raised), and a stage that wrapped them (train, importing DVC)
    # left its wrappers in place, holding whatever streams the caller had at the time
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["stages/some.py"])
    out, err = _ascii_stream(), _ascii_stream()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    if said is None:
        stage.run(main)
    else:
        with pytest.raises(SystemExit) as ended:
            stage.run(main)
        assert ended.value.code == 1
    assert sys.stdout is out and sys.stderr is err
    assert (out.errors, err.errors) == ("strict", "strict")
    assert _written(err) == (said or "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("interrupted")
def test_a_winnow_command_run_in_process_leaves_the_callers_stdout_and_stderr_as_they_were(tmp_path, monkeypatch):
    # before: cli.main(argv) left both writing with errors="backslashreplace"
    monkeypatch.chdir(tmp_path)
    out, err = _ascii_stream(), _ascii_stream()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["compare", "--num", "0"]) == 1
    assert sys.stdout is out and sys.stderr is err
    assert (out.errors, err.errors) == ("strict", "strict")
    assert _written(err) == ("error: compare --num 0: must be at least 1 (commits back from HEAD whose experiments "
                             "count); give e.g. --num 1\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("interrupted")
def test_the_gan_sample_grid_draws_a_class_named_as_a_formula_and_leaves_matplotlibs_settings_alone(tmp_path):
    # before: sample_grid (gan-synthesize's and balance's grid) set matplotlib.rcParams["text.parse_math"] = False for
    # the whole process: an in-process caller's own "$x^2$" labels were drawn as typed from then on
    import matplotlib
    from PIL import Image

    from winnow.gan_eval import sample_grid

    images = np.zeros((2, 8, 8, 1), np.uint8)
    with matplotlib.rc_context({"text.parse_math": True}):
        sample_grid({"$\\foo$": images, "plain": images}, tmp_path / "grid.png", columns=2)
        assert matplotlib.rcParams["text.parse_math"] is True
    assert Image.open(tmp_path / "grid.png").format == "PNG"  # "$\foo$" drawn as a name: as a formula it raised
    assert sorted(path.name for path in tmp_path.iterdir()) == ["grid.png"]


@pytest.mark.hostile("interrupted")
def test_a_stage_run_from_an_interactive_main_runs_in_process_and_leaves_the_callers_state(tmp_path, monkeypatch):
    # before: run(main) from a __main__ without a file (a notebook's cell, the REPL) took itself for a stage
    # script: it forked the caller (its own process left waiting to exit with the child's status), re-ran it in UTF-8
    # mode under another locale, and left SIGTERM, SIGINT and SIGHUP ignored after the stage's end
    def forked(**_options) -> None:
        raise AssertionError("forked the caller")

    monkeypatch.setattr(stage, "watched_by_a_parent", forked)
    monkeypatch.setattr(stage, "in_utf8_mode", lambda: forked())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py"])
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)  # the REPL's, as an interactive session has it
    handlers = [signal.getsignal(number) for number in STOPS]
    ran = []
    exec("run(main)", {"__name__": "__main__", "run": stage.run, "main": lambda: ran.append(True)})  # a notebook's cell
    assert ran == [True]
    assert [signal.getsignal(number) for number in STOPS] == handlers
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("interrupted")
def test_the_study_plots_draw_a_class_named_as_a_formula_and_leave_matplotlibs_backend_and_settings(tmp_path):
    # before: study_plots.plot (`winnow study collect` and `study plot`, run in-process by cli.main) called
    # matplotlib.use("Agg") and set rcParams["text.parse_math"] = False for the whole process: a notebook lost its
    # inline figures and drew its own "$x^2$" as typed from then on
    import matplotlib
    from PIL import Image

    from winnow import study_plots

    table = pd.DataFrame([{"sweep": "label_noise", "damage": "symmetric", "level": level, "accuracy": 0.5,
                           "macro_f1": 0.5, "f1_$\\foo$": 0.5, "f1_plain": 0.4} for level in (0.1, 0.2)])
    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # the caller's own (a notebook's inline one)
    try:
        with matplotlib.rc_context({"text.parse_math": True}):
            written = study_plots.plot(table, out_dir=tmp_path)
            assert matplotlib.rcParams["text.parse_math"] is True
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(backend)
    assert [path.name for path in written] == ["accuracy.png", "per_class_f1_label_noise.png"]
    assert {Image.open(path).format for path in written} == {"PNG"}  # "$\foo$" drawn as a name: as a formula it raised
    assert sorted(path.name for path in tmp_path.iterdir()) == ["accuracy.png", "per_class_f1_label_noise.png"]


@pytest.mark.hostile("scale")
def test_a_ray_temporary_folder_of_too_long_a_path_is_named_as_such(tmp_path, monkeypatch):
    # before: "compute.ray: the local Ray cluster did not start (validate_socket_filename failed: AF_UNIX path length
    # cannot exceed 107 bytes: ...); free memory or space under ... or point RAY_TMPDIR at a writable folder with room,
    # lower compute.ray.num_cpus, ...": no amount of memory, space or CPUs shortens a path (met with a pytest tmp_path)
    _ray()
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    folder = tmp_path / ("t" * 50)
    folder.mkdir()
    monkeypatch.setenv("RAY_TMPDIR", str(folder))
    handlers = [signal.getsignal(number) for number in STOPS]
    with pytest.raises(WinnowError) as refused:
        with Engine("ray", num_cpus=1).session():
            pass
    assert str(refused.value) == (
        f"compute.ray: the local Ray cluster did not start: the path of Ray's temporary folder {folder} (RAY_TMPDIR, "
        "else TMPDIR, else /tmp) is too long for the Unix sockets Ray makes under it (at most 107 bytes each); point "
        "RAY_TMPDIR at a folder of a shorter path (such as /tmp), or set compute.engine: local")
    assert [signal.getsignal(number) for number in STOPS] == handlers
