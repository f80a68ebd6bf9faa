"""Hostile use of the command line and its environment (probe 71):

- a stage started with its stderr closed (``2>&-``, a launcher that closes it): Python sets ``sys.stderr`` to None, and
  the first progress bar ended ingest with status 1 and no word; ``winnow``'s error line went to stdout instead;
- ``train.device: cuda:01`` (an index with a leading zero): accepted by the params check, then torch.device's
  RuntimeError traceback on a machine with the GPUs it counts;
- a local Ray cluster that cannot start in the temporary folder TMPDIR names: told to free space under /tmp;
- ``winnow review import ''`` (an unset shell variable): read as the current folder, ".: a folder, not a file";
- Ctrl-C (or a memory limit) while ``winnow`` imports its subcommand's module, its first second or two: a traceback;
- ``train.device: cuda:1`` under torchrun: every rank took the GPU of its LOCAL_RANK, the one named by none, no word;
- ``winnow compare --from-json -`` typed with no pipe: the command waited on the terminal, without a word;
- ``compute.ray.address`` naming a cluster started under another Ray release (left running through an upgrade): "no
  Ray cluster at 'auto' (Version mismatch: The cluster was started with:); start one with `ray start --head`";
- ``GIT_DIR`` exported for another repository (a dotfiles setup): the gate resolved ``--base main`` and read its files
  there, while DVC read the project's own;
- a stage script run by hand (``python stages/ingest.py``, as the refusals advise) in a second checkout sharing the
  environment: Python found the editable install's winnow, the other checkout's code, and ran it on this one's data.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import require
from hostile_harness import (
    ROOT, _env, assert_nothing_left, files_under, imagefolder_project, make_project, params_with, refused_line,
)
from winnow import cli
from winnow.engine import Engine
from winnow.errors import WinnowError
from winnow.torch_runtime import ddp_device


def _ray() -> None:
    """Ray, or the test fails under CI=true (skips elsewhere): before, pytest.importorskip passed these cases quietly
    on a CI machine whose set-up lost Ray."""
    import importlib.util

    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")


@pytest.mark.hostile("params")
def test_a_stage_whose_stderr_is_closed_still_writes_its_outputs(tmp_path):
    # before: tqdm's progress bar wrote to a sys.stderr of None (AttributeError): exit status 1, no data/ingest, and
    # no line anywhere, as stderr was closed
    project, _ = imagefolder_project(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "stages/ingest.py")], cwd=project, env=_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=lambda: os.close(2),
                          timeout=300)
    assert done.returncode == 0
    assert done.stdout.startswith("ingest: 36 images from imagefolder (")  # 3 class folders of 12
    assert {"data/ingest/images.npy", "data/ingest/manifest.parquet", "metrics/ingest.json"} <= files_under(project)


@pytest.mark.hostile("params")
def test_a_refusal_with_stderr_closed_leaves_stdout_clean(tmp_path, monkeypatch, capsys):
    # before: print(..., file=sys.stderr) with sys.stderr None (closed at the start) printed the error line to stdout,
    # into the table a user redirected there (`winnow compare > table.md 2>&-`)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stderr", None)
    assert cli.main(["compare", "--num", "0"]) == 1
    assert capsys.readouterr().out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("params")
@pytest.mark.parametrize("device, meant", [("cuda:01", "cuda:1"), ("cuda:00", "cuda:0")])
def test_a_cuda_index_with_a_leading_zero_is_refused_by_the_params_check(tmp_path, device, meant):
    # before: accepted (isdecimal), and on a GPU host pick_device's torch.device(device) raised "Invalid device
    # string" as a traceback, after the stages before train had run
    project = make_project(tmp_path / "project", params_with("train.device", device))
    assert refused_line(project, "train", "baseline") == (
        f'error: params.yaml: train.device: "{device}" is not one of auto, cpu, cuda, cuda:<index>, mps (did you mean '
        f"{meant}? torch reads no index with a leading zero)")


@pytest.mark.hostile("params")
def test_a_local_ray_cluster_that_cannot_start_names_the_temporary_folder_it_used(tmp_path, monkeypatch):
    # before: "...did not start ([Errno 20] Not a directory: '<TMPDIR>'); free memory or space under /tmp, ...": Ray
    # makes its session under RAY_TMPDIR, else TMPDIR (Linux), and /tmp was never the folder at fault
    _ray()
    (tmp_path / "a-file").write_text("")
    folder = tmp_path / "a-file" / "tmp"
    monkeypatch.delenv("RAY_TMPDIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(folder))
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(WinnowError) as refused:
            with Engine("ray", None, 1).session():
                pass
    finally:  # ray.init sets a SIGTERM handler of its own first, and leaves it when it fails
        signal.signal(signal.SIGTERM, handler)
    assert str(refused.value) == (
        f"compute.ray: the local Ray cluster did not start ([Errno 20] Not a directory: '{folder}'); free memory or "
        f"space under {folder} (Ray's temporary folder: RAY_TMPDIR, else TMPDIR, else /tmp) or point RAY_TMPDIR at a "
        "writable folder with room, lower compute.ray.num_cpus, or set compute.engine: local")
    assert sorted(tmp_path.iterdir()) == [tmp_path / "a-file"]


@pytest.mark.hostile("params")
def test_review_import_of_an_empty_name_is_a_usage_mistake_not_the_current_folder(tmp_path, monkeypatch, capsys):
    # before: Path('') is Path('.'), and the import said "error: .: a folder, not a file; give the edited
    # reviews/queue.csv, ...", naming a path the user never typed (`winnow review import "$EDITED"`, EDITED unset)
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["review", "import", ""])
    assert (stopped.value.code, capsys.readouterr()) == (2, (
        "", "error: winnow review import: argument file: '' is no file to read; give the edited reviews/queue.csv, the "
            "review page's download or a Label Studio JSON export (an unset shell variable?) (see winnow review import "
            "--help)\n"))
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("fault, expected", [
    (KeyboardInterrupt, ("error: compare: interrupted; outputs not yet complete were left unwritten: rerun it", 130)),
    (MemoryError, ("error: compare: out of memory (MemoryError); free memory or lower the batch or data size, then "
                   "rerun", 1)),
], ids=["ctrl-c", "memory"])
def test_a_stop_while_the_command_imports_its_subcommand_is_one_line(tmp_path, monkeypatch, capsys, fault, expected):
    # before: the subcommand's module (compare: pandas, numpy, scipy; 1-2 s) was imported outside main's try, and a
    # Ctrl-C there (a user who changed their mind at once) ended `winnow compare` in a traceback through importlib
    def interrupted(name):
        raise fault()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.importlib, "import_module", interrupted)
    status = cli.main(["compare", "--num", "1"])
    assert (f"{capsys.readouterr().err}", status) == (f"{expected[0]}\n", expected[1])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("params")
@pytest.mark.parametrize("rank", [0, 1])
def test_a_cuda_index_under_torchrun_is_refused_on_every_rank(monkeypatch, rank):
    # before: ddp_device checked only that cuda:1 was a CUDA device, and each rank trained on cuda:<LOCAL_RANK>: the
    # GPU named was used by rank 1 alone, or by none under one process a machine, without a word (refused on every
    # rank alike: one rank refusing alone left the others waiting in the gradients' allreduce)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(WinnowError) as refused:
        ddp_device(rank, requested="cuda:1")
    assert str(refused.value) == ("train.device: cuda:1 under torchrun, whose ranks each take a GPU of their own (the one "
                                  "of their LOCAL_RANK), not the one it names; set cuda or auto, and choose the GPUs "
                                  "with CUDA_VISIBLE_DEVICES, or train in one process")
    assert ddp_device(rank, requested="cuda") == torch.device("cuda", rank)


class _Terminal(io.TextIOWrapper):
    """Standard input as a terminal gives it: nothing to read until the user types Ctrl-D."""

    def isatty(self) -> bool:
        return True


@pytest.mark.hostile("params")
@pytest.mark.parametrize("command", [["compare", "--variants", "baseline", "pruned"], ["study", "collect"]])
def test_from_json_of_standard_input_on_a_terminal_is_one_line_not_a_wait(tmp_path, monkeypatch, capsys, command):
    # before: `winnow compare --from-json -` typed without `dvc exp show --json |` in front waited on the terminal
    # without a word, until the user guessed Ctrl-D (then "standard input is empty ...")
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "stdin", _Terminal(io.BytesIO(b"")))
    before = files_under(project)
    assert cli.main([*command, "--from-json", "-"]) == 1
    assert capsys.readouterr().err == ("error: --from-json: standard input is the terminal, not a pipe; pipe `dvc exp "
                                       "show --json` into it, or give a saved file\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_a_ray_cluster_of_other_versions_is_named_as_such_not_as_no_cluster(monkeypatch):
    # before: "compute.ray.address: no Ray cluster at 'auto' (Version mismatch: The cluster was started with:); start
    # one with `ray start --head`, ...": the first line of Ray's refusal, the versions cut off, and a fix that fails
    # while the old cluster holds the port
    _ray()
    import platform

    import ray
    from ray._private.utils import check_version_info

    def init(**options):  # as ray.init refuses a cluster started under Ray 2.9.0 and Python 3.10.2 (Ray's own words)
        check_version_info({"ray_version": "2.9.0", "python_version": "3.10.2"}, "node 10.0.0.2")

    monkeypatch.setattr("winnow.engine._check_addresses", lambda address: None)  # the cluster answers
    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(WinnowError) as refused:
        with Engine("ray", "auto").session():
            pass
    assert str(refused.value) == (
        f"compute.ray.address: the Ray cluster at 'auto' runs Ray 2.9.0 on Python 3.10.2, this stage Ray "
        f"{ray.__version__} on Python {platform.python_version()}, and Ray joins only a cluster of its own versions: "
        "restart it from this environment (ray stop, then ray start --head), or set compute.ray.address: null for a "
        "local one")


@pytest.mark.hostile("params")
def test_a_git_dir_of_another_repository_does_not_redirect_the_gates_git(tmp_path, monkeypatch):
    # before: `git -C <project>` honours GIT_DIR, DVC does not: with GIT_DIR=~/.dotfiles exported, --base main was
    # the other repository's main, and its params.yaml the settings the gate read, without a word
    from gate_repo import git, init
    from winnow import revisions

    project, other = make_project(tmp_path / "project"), tmp_path / "other"
    other.mkdir()
    (other / "params.yaml").write_text("elsewhere: true\n")
    init(project), init(other)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    main = revisions.resolve(project, "main", option="--base")
    assert main == git(project, "rev-parse", "main").strip()  # gate_repo's git runs in an environment of its own
    assert revisions.read_text(project, main, "params.yaml") == (project / "params.yaml").read_text()


@pytest.mark.hostile("params")
def test_a_stage_script_importing_another_checkouts_winnow_is_refused_before_any_work(tmp_path):
    # before: without dvc.yaml's PYTHONPATH=src, the script's folder (stages/) and then the installed packages were
    # searched, and a second clone or git worktree sharing the virtual environment ran the editable install's code
    # (the first checkout's) on its own data, without a word. Here the winnow found is this suite's src/, and the
    # script lies in another checkout beside a src/winnow of its own
    checkout = tmp_path / "checkout"
    (checkout / "stages").mkdir(parents=True)
    (checkout / "src/winnow").mkdir(parents=True)
    shutil.copy(ROOT / "stages/ingest.py", checkout / "stages/ingest.py")
    project, _ = imagefolder_project(tmp_path)
    before = files_under(project)
    done = subprocess.run([sys.executable, str(checkout / "stages/ingest.py")], cwd=project, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", (
        f"error: stages/ingest.py: imports winnow from {ROOT / 'src/winnow'}, not from this checkout's "
        f"{checkout.resolve() / 'src/winnow'}; run it as dvc.yaml does: PYTHONPATH=src python stages/ingest.py\n"))
    assert_nothing_left(project, before)
