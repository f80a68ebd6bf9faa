"""The hostile cases read a stage's exit status, stdout and stderr from a run forked off a warm interpreter
(tests/forked_run.py); a fresh ``python`` must give the same, or those cases test something else."""

import subprocess
import sys
from pathlib import Path

import pytest

import forked_run
from hostile_harness import ROOT, _env, make_project, params_with

SCRIPT = """
import atexit, os, sys
atexit.register(lambda: print("atexit ran"))
print("argv", sys.argv[1:], "cwd", os.path.basename(os.getcwd()), "path0", os.path.basename(sys.path[0]))
print("env", os.environ.get("FORKED_RUN_PROBE"), file=sys.stderr)
case = sys.argv[1]
if case == "exit":
    sys.exit(3)
if case == "message":
    sys.exit("stopped: a message")
if case == "raise":
    raise ValueError("boom")
if case == "kill":
    os.kill(os.getpid(), 9)
if case == "sleep":
    import time; time.sleep(30)
"""


def both(kind, target, args, cwd, env, monkeypatch, timeout=60):
    """(forked, fresh) results of the same run."""
    forked = forked_run.run(kind, target, args, cwd=cwd, env=env, timeout=timeout)
    monkeypatch.setenv("WINNOW_TEST_FRESH_PROCESS", "1")
    fresh = forked_run.run(kind, target, args, cwd=cwd, env=env, timeout=timeout)
    monkeypatch.delenv("WINNOW_TEST_FRESH_PROCESS")
    return forked, fresh


@pytest.mark.parametrize("case, status", [("exit", 3), ("message", 1), ("raise", 1), ("kill", -9), ("ok", 0)])
def test_a_forked_run_ends_as_a_fresh_process_does(tmp_path, monkeypatch, case, status):
    script = tmp_path / "scripts/probe.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)
    (tmp_path / "work").mkdir()
    env = {**_env(), "FORKED_RUN_PROBE": case}
    forked, fresh = both("script", str(script), [case], tmp_path / "work", env, monkeypatch)
    assert forked.returncode == fresh.returncode == status
    assert forked.stdout == fresh.stdout
    assert f"argv ['{case}'] cwd work path0 scripts" in forked.stdout
    assert ("atexit ran" in forked.stdout) == (status >= 0)  # a killed process runs no exit handlers
    if case == "raise":
        # the same error, though the forked traceback also passes through runpy's frames
        assert forked.stderr.startswith(f"env {case}\nTraceback (most recent call last):\n")
        assert forked.stderr.endswith("ValueError: boom\n") and fresh.stderr.endswith("ValueError: boom\n")
    else:
        assert forked.stderr == fresh.stderr == f"env {case}\n" + ("stopped: a message\n" if case == "message" else "")


def test_a_stage_refusing_a_parameter_writes_the_same_bytes_either_way(tmp_path, monkeypatch):
    project = make_project(tmp_path, params_with("ingest.size", -3))
    forked, fresh = both("script", str(ROOT / "stages/ingest.py"), [], project, _env(), monkeypatch)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert forked.returncode == 1 and forked.stderr.startswith("error: params.yaml: ingest.size")


def test_a_run_past_its_timeout_is_killed_and_raises_as_subprocess_run_does(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    with pytest.raises(subprocess.TimeoutExpired) as raised:
        forked_run.run("script", str(script), ["sleep"], cwd=tmp_path, env=_env(), timeout=1)
    assert raised.value.cmd == [sys.executable, str(script), "sleep"]
