"""Review of probe 71's mends of the command line (tests/test_hostile_cli_71.py), the cases they left:

- SIGTERM or SIGHUP while ``winnow`` imports its subcommand's module (the window whose Ctrl-C 7373e563 made one line):
  their default action ended the command there, status 143 or 129 and not a word;
- ``train.device: cuda:0`` under torchrun with one rank a machine (``LOCAL_WORLD_SIZE=1``, one GPU a node): each rank
  takes GPU 0, the one named, but 4286cdfe refused every ``cuda:<index>`` as "not the one it names";
- ``winnow compare --from-json -`` with standard input /dev/null (cron, a CI step, ``< /dev/null``) or an empty file
  (106d69be's neighbours, the terminal's): "standard input is empty (did `dvc exp show --json` before the pipe
  fail?)", where no pipe and no command came before it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from hostile_harness import _env, assert_nothing_left, files_under, make_project
from winnow.errors import WinnowError
from winnow.torch_runtime import ddp_device

# `winnow compare` as its console script runs it (cli.main() with sys.argv), its module's import standing in for the
# second or two of pandas and numpy: the signal comes while it runs
_STOPPED_IN_THE_IMPORT = """
import os, signal, sys, time
from winnow import cli

def importing(name):
    os.kill(os.getpid(), signal.{signal})
    time.sleep(30)

cli.importlib.import_module = importing
sys.argv = ["winnow", "compare", "--num", "1"]
sys.exit(cli.main())
"""


@pytest.mark.hostile("params")
@pytest.mark.parametrize("name, status", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_sigterm_while_the_command_imports_its_subcommand_is_one_line(tmp_path, name, status):
    # before: the command had no handler for either yet (terminate_as_interrupt ran only in the watched child, after
    # the import): the process died by the signal, status -15 or -1 here, with empty stdout and stderr
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, "-c", _STOPPED_IN_THE_IMPORT.format(signal=name)], cwd=project, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (status, "", (
        f"error: compare: terminated ({name}); outputs not yet complete were left unwritten: rerun it\n"))
    assert_nothing_left(project, before)


# as _STOPPED_IN_THE_IMPORT, the module imported after the signal: before, the command went on to its end
_INTERRUPTED_IN_THE_IMPORT = """
import importlib, os, signal, sys, time
from winnow import cli

imported = importlib.import_module

def importing(name, *package):
    if name == "winnow.compare":
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    return imported(name, *package)

cli.importlib.import_module = importing
sys.argv = ["winnow", "compare", "--num", "1"]
sys.exit(cli.main())
"""


@pytest.mark.hostile("params")
def test_a_kill_int_while_a_background_command_imports_its_subcommand_is_one_line(tmp_path):
    # before: SIGINT came ignored (a script's `winnow compare ... &`), the kill did nothing, and the command ran on: here
    # status 1 and "error: params.yaml: params file not found ...", in a real project compare's whole run, status 0
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, "-c", _INTERRUPTED_IN_THE_IMPORT], cwd=project, env=_env(),
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN), capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", (
        "error: compare: interrupted; outputs not yet complete were left unwritten: rerun it\n"))
    assert_nothing_left(project, before)


def _cuda_host(monkeypatch, *, local_world_size: str) -> None:
    """Two GPUs as torch sees them, torchrun's LOCAL_RANK 0 and ``local_world_size``."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", local_world_size)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("rank", [0, 1])
def test_cuda_0_under_torchrun_with_one_rank_a_machine_is_the_gpu_each_takes(monkeypatch, rank):
    # before: refused on every rank, "train.device: cuda:0 under torchrun, whose ranks each take a GPU of their own
    # (the one of their LOCAL_RANK), not the one it names; ...", where each rank (one a machine) took GPU 0, the one
    # named
    import torch

    _cuda_host(monkeypatch, local_world_size="1")
    assert ddp_device(rank, requested="cuda:0") == torch.device("cuda", 0)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("device", ["cuda:0", "cuda:1"])
def test_a_cuda_index_under_torchrun_with_two_ranks_a_machine_is_still_refused(monkeypatch, device):
    # the refusal 4286cdfe added stands where ranks share a machine: rank 1 there takes GPU 1, whatever is named
    _cuda_host(monkeypatch, local_world_size="2")
    with pytest.raises(WinnowError) as refused:
        ddp_device(0, requested=device)
    assert str(refused.value) == (
        f"train.device: {device} under torchrun, whose ranks each take a GPU of their own (the one of their "
        "LOCAL_RANK), not the one it names; set cuda or auto, and choose the GPUs with CUDA_VISIBLE_DEVICES, or train "
        "in one process")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("given, cause", [("devnull", "it reads /dev/null, no pipe"),
                                          ("empty file", "it reads an empty file, no pipe")])
def test_from_json_of_standard_input_that_is_no_pipe_says_so_when_empty(tmp_path, given, cause):
    # before: "standard input is empty (did `dvc exp show --json` before the pipe fail?)" for both, a pipe that was
    # never there (the empty pipe keeps that line: tests/test_hostile_compare_more.py)
    project = make_project(tmp_path / "project")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    before = files_under(project)
    with open(os.devnull if given == "devnull" else empty, "rb") as source:
        done = subprocess.run([sys.executable, "-m", "winnow.cli", "compare", "--from-json", "-", "--variants",
                               "baseline", "pruned"], cwd=project, env=_env(), stdin=source, capture_output=True,
                              text=True, timeout=300)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", (
        f"error: --from-json: standard input is empty ({cause}); pipe `dvc exp show --json` into it, or give a saved "
        "file\n"))
    assert_nothing_left(project, before)
