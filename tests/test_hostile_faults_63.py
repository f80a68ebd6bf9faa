"""Faults around the stages, probed again (stop 63): what another stage wrote that this one may not read, DVC's
lock file written by a second dvc as a stage starts, and a command killed as it writes outside the project.

Permissions are real: as root, whom they do not bind, the stage runs without the two capabilities that let it read
any file (``setpriv``), and the file is another user's."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import ROOT, _env, assert_nothing_left, files_under, imagefolder_project, make_project
from winnow.metrics import metrics_path

NOBODY = 65534
# a stage that reads, as the stages do, the intermediate WINNOW_READ names; each reader imports only its own module,
# as a stage does (torch, 2 s a run here, only for the three that load a torch file)
_READER = '''
import os
from winnow.stage import run


def table():
    from winnow.stage_reads import read_table
    return read_table("data/score/scores.parquet", written_by="score")


def json():
    from winnow.stage_reads import read_json
    return read_json("data/source.json", written_by="source")


def imageset():
    from winnow.imageset import read_imageset
    return read_imageset("data/ingest")


def model():
    from winnow import checkpoints
    return checkpoints.load("models/baseline.pt")


def representation():
    from winnow.represent import read_representation
    return read_representation("data/represent", ["a", "b"])


def gan():
    from winnow.gan import load_generator
    return load_generator("models/gan.pt")


def verdict():
    from winnow.contract_verdict import refuse_failed
    return refuse_failed("baseline", params={"contracts": {"mode": "enforce"}})


READERS = {"table": table, "json": json, "imageset": imageset, "model": model, "representation": representation,
           "gan": gan, "verdict": verdict}
run(READERS[os.environ["WINNOW_READ"]])
'''


def _unreadable(path: Path) -> None:
    """Take away every read of ``path``: no permission bits, and as root another user's."""
    path.chmod(0)
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)


def _bound_by_permissions(command: list[str]) -> list[str]:
    """``command``, run so that file permissions bind it: as root, without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH."""
    if os.geteuid() != 0:
        return command
    dropped = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={dropped}", f"--inh-caps={dropped}", *command]


@pytest.fixture
def project(tmp_path) -> Path:
    """Whole intermediates of each kind a stage reads: a table, a JSON file, an imageset, a model, the represent
    stage's embeddings, the GAN's checkpoint and the contracts' verdict."""
    import torch

    (tmp_path / "stages").mkdir()
    (tmp_path / "stages/reader.py").write_text(_READER)
    (tmp_path / "data/score").mkdir(parents=True)
    (tmp_path / "data/ingest").mkdir()
    (tmp_path / "models").mkdir()
    pd.DataFrame({"id": ["a", "b"], "dark": [0.1, 0.2]}).to_parquet(tmp_path / "data/score/scores.parquet")
    (tmp_path / "data/source.json").write_text('{"listing": "x"}\n')
    np.save(tmp_path / "data/ingest/images.npy", np.zeros((2, 8, 8, 1), np.uint8))
    pd.DataFrame({"id": ["a", "b"]}).to_parquet(tmp_path / "data/ingest/manifest.parquet")
    (tmp_path / "data/ingest/classes.json").write_text('["c0"]\n')
    torch.save({"state_dict": {}}, tmp_path / "models/baseline.pt")
    (tmp_path / "data/represent").mkdir()
    np.save(tmp_path / "data/represent/embeddings.npy", np.zeros((2, 4), np.float32))
    (tmp_path / "data/represent/ids.json").write_text('["a", "b"]\n')
    torch.save({"config": {}}, tmp_path / "models/gan.pt")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/contracts.json").write_text('{"mode": "enforce", "suites": {"ingest": {"failed": 0}}}\n')
    return tmp_path


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("reader, path", [
    ("table", "data/score/scores.parquet"),
    ("json", "data/source.json"),
    ("imageset", "data/ingest/images.npy"),
    ("imageset", "data/ingest/manifest.parquet"),
    ("model", "models/baseline.pt"),
    # found by a review: the embeddings dedup reads said "rerun the represent stage", and the GAN's checkpoint
    # "remove it to train the GAN afresh", of a file the stage may not read
    ("representation", "data/represent/embeddings.npy"),
    ("gan", "models/gan.pt"),
    # found by a review: train under contracts.mode enforce read the verdict as none, "run the contracts stage first
    # (dvc repro contracts)", which DVC skipped (nothing changed)
    ("verdict", "metrics/contracts.json"),
])
def test_an_intermediate_the_stage_may_not_read_is_a_permission_to_fix_not_a_stage_to_rerun(project, reader, path):
    # found by probing: data/score/scores.parquet another user's with mode 600 (their umask 077, or a run as root):
    # "error: data/score/scores.parquet: not a readable parquet file ([Errno 13] ... Permission denied); rerun the
    # score stage (dvc repro score)", and dvc repro score skipped it (nothing changed): the advice went round in a
    # circle. images.npy said "unreadable ([Errno 13] Permission denied: ...)" with no fix at all; a model, to rerun
    # train@baseline. classes.json, read without a reader's wording, already said this line
    _refused_unreadable(project, path, [sys.executable, "stages/reader.py"], who="stages/reader.py",
                        env={**_env(), "WINNOW_READ": reader})


def _refused_unreadable(project: Path, path: str, command: list[str], *, who: str, env: dict[str, str] | None = None,
                        timeout: int = 120) -> subprocess.CompletedProcess:
    """``path`` of ``project`` made unreadable, ``command`` (bound by permissions) stops in ``who``'s one line naming
    it and its permissions, with status 1 and nothing left; returns the run."""
    _unreadable(project / path)
    before = files_under(project)
    done = subprocess.run(_bound_by_permissions(command), cwd=project, capture_output=True, text=True,
                          env=_env() if env is None else env, timeout=timeout)
    assert done.stderr.splitlines() == [
        f"error: {who}: {path}: Permission denied [EACCES]; free space, or fix the path or its permissions, then rerun"]
    assert done.returncode == 1
    assert_nothing_left(project, before)
    return done


@pytest.mark.hostile("intermediates")
def test_degrade_whose_imageset_it_may_not_read_names_the_file_and_its_permissions(tmp_path):
    project, _ = imagefolder_project(tmp_path)
    ingest = subprocess.run([sys.executable, str(ROOT / "stages/ingest.py")], cwd=project, capture_output=True,
                            text=True, env=_env(), timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    _refused_unreadable(project, "data/ingest/images.npy", [sys.executable, str(ROOT / "stages/degrade.py")],
                        who="stages/degrade.py", timeout=300)


@pytest.mark.hostile("intermediates")
def test_study_queue_whose_class_names_it_may_not_read_names_the_file_and_its_permissions(tmp_path):
    # found by a review: the command beside the stages read ingest's classes.json unreadable as "not a JSON list of
    # class names ([Errno 13] Permission denied: ...); run `dvc repro ingest`", which DVC skipped (nothing changed)
    project = make_project(tmp_path / "project")
    (project / "data/ingest").mkdir(parents=True)
    (project / "data/ingest/classes.json").write_text('["c0", "c1"]\n')
    queue = [sys.executable, "-m", "winnow.cli", "study", "queue", "--sweeps", "class_deletion", "--dry-run"]
    done = _refused_unreadable(project, "data/ingest/classes.json", queue, who="study")
    assert done.stdout == ""  # nothing queued, nothing printed to queue


def _dvc_config(root: Path, hardlink: bool) -> None:
    """A DVC project's .dvc/tmp, and its config with ``core.hardlink_lock`` (DVC's guard of its lock file a hard
    link, for file systems without flock) as ``hardlink`` says."""
    (root / ".dvc/tmp").mkdir(parents=True)
    (root / ".dvc/config").write_text(f"[core]\n    hardlink_lock = {str(hardlink).lower()}\n")


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("hardlink", [False, True])
def test_a_stage_starting_while_another_dvc_writes_its_lock_file_leaves_that_file(tmp_path, monkeypatch, capsys,
                                                                                    hardlink):
    # found by probing two dvc repro at once: DVC lets go of its repository lock while a stage's command runs, so the
    # second one edits .dvc/tmp/rwlock (truncated, then written, under its guard rwlock.lock) as the first one's next
    # stage starts. That stage read it empty, took it for one a stopped run left, and removed it: the locks of the
    # stages running went with it, and DVC's release of them failed (AssertionError) after the stage had finished
    from dvc import lock as dvc_lock, rwlock
    from dvc.fs import LocalFileSystem

    from winnow.stops import drop_broken_dvc_lock

    # found by a review: under core.hardlink_lock: true the guard is no flock, and the stage removed the file all
    # the same
    _dvc_config(tmp_path, hardlink)
    dump = rwlock.json.dump

    def dump_as_a_stage_starts(value, handle) -> None:
        drop_broken_dvc_lock(tmp_path)  # the file is truncated, its new text not yet written
        dump(value, handle)

    monkeypatch.setattr(rwlock.json, "dump", dump_as_a_stage_starts)
    # the guard's holder is this very write, which waits on the check: DVC's wait for the guard (3 s, each case) can
    # only run out here, whatever its length, so it runs out sooner; what it proves is that the file is left
    monkeypatch.setattr(dvc_lock, "DEFAULT_TIMEOUT", 0.3)
    held = {"pid": os.getpid(), "cmd": "dvc repro train@baseline"}
    with rwlock.rwlock(str(tmp_path / ".dvc/tmp"), LocalFileSystem(), held["cmd"], ["data/ingest"],
                       ["models/baseline.pt"], hardlink):
        locks = json.loads((tmp_path / ".dvc/tmp/rwlock").read_text())
    assert locks == {"read": {"data/ingest": [held]}, "write": {"models/baseline.pt": held}}
    assert json.loads((tmp_path / ".dvc/tmp/rwlock").read_text()) == {}  # released, without an AssertionError
    assert capsys.readouterr().out == ""


@pytest.mark.hostile("interrupted")
def test_a_lock_file_a_stopped_run_left_broken_under_hardlink_locks_is_removed_and_dvc_takes_its_guard(tmp_path,
                                                                                                       capsys):
    # found by a review: the check took DVC's guard as a flock of .dvc/tmp/rwlock.lock, a file it created; under
    # core.hardlink_lock: true that file is DVC's lock itself (held while it exists), so the next dvc, as the stage
    # ended, failed: "Unable to acquire lock. Most likely another DVC process is running ..."
    from dvc import rwlock
    from dvc.fs import LocalFileSystem

    from winnow.stops import drop_broken_dvc_lock

    _dvc_config(tmp_path, True)
    (tmp_path / ".dvc/tmp/rwlock").write_text('{"read": {"data/ingest": [{"pid"')  # a stopped run's half write
    drop_broken_dvc_lock(tmp_path)
    assert capsys.readouterr().out == (
        f"removed DVC's lock file {tmp_path}/.dvc/tmp/rwlock, left half written by a stopped run\n")
    assert sorted(os.listdir(tmp_path / ".dvc/tmp")) == []
    with rwlock.rwlock(str(tmp_path / ".dvc/tmp"), LocalFileSystem(), "dvc repro train@baseline", ["data/ingest"],
                       ["models/baseline.pt"], True):
        pass
    assert json.loads((tmp_path / ".dvc/tmp/rwlock").read_text()) == {}


# winnow compare killed outright (the out-of-memory killer, kill -9) once it has written the temporary of --out
_KILLED_COMPARE = """
import os, pathlib, signal, sys
from winnow import cli

write_text = pathlib.Path.write_text


def killed_at_the_temporary(self, *args, **kwargs):
    written = write_text(self, *args, **kwargs)
    if ".winnow-tmp-" in self.name:
        os.kill(os.getpid(), signal.SIGKILL)
    return written


pathlib.Path.write_text = killed_at_the_temporary
sys.argv = ["winnow", "compare", "--from-json", "exp.json", "--variants", "baseline", "pruned", "--out", sys.argv[1]]
sys.exit(cli.main())
"""


@pytest.mark.hostile("interrupted")
def test_a_command_killed_as_it_writes_outside_the_project_leaves_no_temporary_there(tmp_path):
    # found by probing: winnow compare --out <a folder outside the project>/seeds.md killed outright as it wrote: the
    # watching parent said so, but swept only the project's data/, models/, metrics/, plots/, reports/ and reviews/,
    # and .seeds.winnow-tmp-<pid>.md stayed where --out pointed, which no later run swept either
    project, elsewhere = make_project(tmp_path / "project"), tmp_path / "elsewhere"
    elsewhere.mkdir()
    runs = {metrics_path(v): {"data": {"accuracy": 0.9, "macro": {"f1": f}, "per_class": {"a": {"f1": f}}}}
            for v, f in (("baseline", 0.5), ("pruned", 0.6))}
    (project / "exp.json").write_text(json.dumps([{"rev": "c" * 40, "name": "c0ffee", "data": {
        "params": {"params.yaml": {"data": {"seed": 0}}}, "metrics": runs}}]))
    done = subprocess.run([sys.executable, "-c", _KILLED_COMPARE, str(elsewhere / "seeds.md")], cwd=project,
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert done.stderr.splitlines() == [
        "error: compare: killed (SIGKILL): the kernel's out-of-memory killer ends a process so when memory runs out "
        "(dmesg says), or kill -9 did; outputs not yet complete were left unwritten: free memory or lower the batch or "
        "data size, then rerun"]
    assert done.returncode == 128 + 9
    assert done.stdout.splitlines()[-1].startswith(
        f"removed 1 temporary file(s) left by killed runs: {elsewhere}/.seeds.winnow-tmp-")
    assert list(elsewhere.iterdir()) == []
