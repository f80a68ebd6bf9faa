"""Faults around a stage's writes, probed again (stop 72):

- a commit killed part-way whose folder output held a file staged inside it (an imageset's rejected.csv): the next
  stage names the killed run's outputs, not the temporaries inside the folder's (gone by then) as outputs of their own;
- an output that is a mount point (a disk, or a folder or file bind-mounted into a container), which no rename
  replaces: refused before any work, for a stage and for a command's ``--out``; a folder written into (not replaced)
  that is one is filled, study collect's ``--out`` too;
- a folder the outputs are written in on a file system mounted read-only: told to mount it writable, not to fix its
  permissions, which chmod cannot;
- a training interrupted in a fresh project: the folder made for its log goes with it;
- an output folder that cannot be listed or entered (its search bit taken by ``chmod -R 644``): told the chmod that
  lets the stage replace it, not ``u+w``, after which it was refused again.

A mount point needs root to make; here this process's mount table (:data:`winnow.output_paths.MOUNTINFO`) is a file
that lists one, as Linux lists a bind mount. A read-only mount is the error the system gives there (EROFS).
"""

from __future__ import annotations

import errno
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, files_under, imagefolder_project
from test_hostile_faults_more import _as_a_user, shared_tmp  # noqa: F401 (fixture)
from winnow.outputs import together
from winnow.stage import check_outputs, run, tidy_killed_runs, write_json, write_text


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ingest's commit as the stage makes it: rejected.csv written (atomic_path) into the imageset's staged folder, the
# folder and metrics/ingest.json moved into place together; the process ends as kill -9 ends it (no clean-up) at the
# 5th rename, after rejected.csv into the folder, data/ingest set aside, the new one in place, metrics/ingest.json set aside
_KILLED_INGEST_COMMIT = """
import os
from pathlib import Path

from winnow.outputs import atomic_folder, together
from winnow.stage import write_json, write_text

renames = []
real = Path.rename

def rename(self, target):
    renames.append(target)
    if len(renames) == 5:
        os._exit(9)
    return real(self, target)

Path.rename = rename
with together():
    with atomic_folder("data/ingest") as tmp:
        (tmp / "images.npy").write_text("new images")
        write_text(tmp / "rejected.csv", "new rejected")
    write_json("metrics/ingest.json", {"images": 2})
"""


@pytest.mark.hostile("interrupted")
def test_a_killed_commit_is_finished_naming_its_outputs_not_the_files_inside_a_folders_temporary(tmp_path, monkeypatch,
                                                                                                 capsys):
    # before: "finished moving 3 output(s) of a killed run into place: data/.ingest.winnow-tmp-<pid>/rejected.csv,
    # data/ingest, metrics/ingest.json": ingest has two outputs, and the first path named was gone
    (tmp_path / "data/ingest").mkdir(parents=True)
    (tmp_path / "data/ingest/images.npy").write_text("old images")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/ingest.json").write_text("old metrics")
    (tmp_path / "commit.py").write_text(_KILLED_INGEST_COMMIT)
    done = subprocess.run([sys.executable, "commit.py"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 9, done.stderr
    assert not (tmp_path / "metrics/ingest.json").exists()  # set aside, the new one not yet in place
    monkeypatch.chdir(tmp_path)
    tidy_killed_runs()
    assert capsys.readouterr().out == ("finished moving 2 output(s) of a killed run into place: data/ingest, "
                                       "metrics/ingest.json\n")
    assert _files(tmp_path) == {"commit.py": _KILLED_INGEST_COMMIT.encode(), "data/ingest/images.npy": b"new images",
                                "data/ingest/rejected.csv": b"new rejected",
                                "metrics/ingest.json": b'{\n  "images": 2\n}\n'}
    assert sorted(os.listdir(tmp_path)) == ["commit.py", "data", "metrics"]  # no journal, nothing set aside
    assert sorted(os.listdir(tmp_path / "data")) == ["ingest"]


def _mounted(monkeypatch, tmp_path: Path, *paths: Path) -> None:
    """This process's mount table, with ``paths`` bind-mounted as Linux lists them (a space written as \\040)."""
    table = tmp_path / "mountinfo"
    table.write_text("22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" + "".join(
        f"{45 + i} 22 254:0 /srv/big{i} {os.path.realpath(path).replace(' ', chr(92) + '040')} rw,relatime - ext4 "
        "/dev/vda rw\n" for i, path in enumerate(paths)))
    monkeypatch.setattr("winnow.output_paths.MOUNTINFO", str(table))


def _ingest_stage():
    spec = importlib.util.spec_from_file_location("ingest_stage_72", ROOT / "stages" / "ingest.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    return stage


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("mounted, line", [
    # replaced as its write begins, before a single image is decoded into it
    ("data/ingest", "error: data/ingest: is a mount point, which the new folder written beside it cannot be renamed "
                    "over; mount the folder it lies in (data) instead, then rerun"),
    # a file output: refused by the check of the outputs
    ("metrics/ingest.json", "error: ingest: metrics/ingest.json is a mount point, which the stage cannot replace (it "
                            "writes the new file beside it and renames it into place); mount the folder it lies in "
                            "(metrics) instead, then rerun"),
])
def test_an_output_that_is_a_mount_point_stops_ingest_before_its_work(tmp_path, monkeypatch, capsys, mounted, line):
    # before (data/ingest a bind mount): ingest decoded and wrote every image, then said "error: stages/ingest.py:
    # data/ingest -> data/.ingest.winnow-old-<pid>: Device or resource busy [EBUSY]; free space, or fix the path or
    # its permissions, then rerun", neither of which lets a rename replace a mount point
    project, _ = imagefolder_project(tmp_path)
    monkeypatch.chdir(project)
    stage = _ingest_stage()
    monkeypatch.setattr("sys.argv", ["stages/ingest.py"])
    run(stage.main)
    last, before = _files(project), files_under(project)
    capsys.readouterr()
    _mounted(monkeypatch, tmp_path, project / mounted)
    loads = []
    monkeypatch.setattr(stage, "load_source", lambda *args, **kwargs: loads.append(args))
    with pytest.raises(SystemExit) as ended:
        run(stage.main)
    assert (ended.value.code, capsys.readouterr()) == (1, ("", line + "\n"))
    assert loads == []  # refused before the source was read
    assert _files(project) == last
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_folder_written_into_that_is_a_mount_point_is_filled_not_refused(tmp_path, monkeypatch, capsys):
    # balance writes its example grid into plots/balance (never replacing the folder), as the variants are written
    # into data/variants/<name>: the mount points a replaced output may not be are no obstacle there
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plots/balance").mkdir(parents=True)
    _mounted(monkeypatch, tmp_path, tmp_path / "plots/balance")

    def main():
        check_outputs(stage="balance", folders=["plots/balance"], files=["metrics/balance.json"],
                      into=["plots/balance"])
        with together():
            write_text("plots/balance/examples.txt", "new")
            write_json("metrics/balance.json", {"added": 1})

    monkeypatch.setattr("sys.argv", ["stages/balance.py"])
    run(main)
    assert capsys.readouterr() == ("", "")
    assert _files(tmp_path / "plots") == {"balance/examples.txt": b"new"}


@pytest.mark.hostile("interrupted")
def test_a_commands_out_file_that_is_a_mount_point_is_refused_before_its_work(tmp_path, monkeypatch, capsys):
    # a file bind-mounted into a container (its name holding a space, which the mount table writes as \040): before,
    # winnow compare --out read every run, then failed at the rename with EBUSY
    from winnow.compare import check_arguments

    out = tmp_path / "seeds table.md"
    out.write_text("mounted")
    _mounted(monkeypatch, tmp_path, out)
    with pytest.raises(Exception) as refused:
        check_arguments(num=2, out=out)
    assert str(refused.value) == (
        f"--out {out}: is a mount point, which the write cannot replace (it writes the new file beside it and renames "
        "it into place); give another file path, e.g. --out reports/compare-seeds.md")
    assert sorted(os.listdir(tmp_path)) == ["mountinfo", "seeds table.md"]


def _read_only(monkeypatch, folder: Path) -> None:
    """``folder`` on a file system mounted read-only: a new file there fails as the system fails it."""
    real = tempfile.TemporaryFile

    def temporary(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.path.join(dir, "tmpx"))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr("winnow.output_paths.tempfile.TemporaryFile", temporary)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("read_only, line", [
    # before: "...; fix its permissions, then rerun", which chmod cannot on a read-only mount ("chmod: changing
    # permissions of 'metrics': Read-only file system")
    ("metrics", "error: threshold: cannot write metrics/threshold.json in metrics (Read-only file system); mount its "
                "file system writable, then rerun"),
    # a checkout mounted read-only into a container beside writable output folders
    (".", "error: threshold: cannot write in the project folder {cwd} (Read-only file system), where the stage lists "
          "its outputs' moves into place before it makes them; mount its file system writable, then rerun"),
])
def test_a_folder_on_a_read_only_mount_is_told_to_be_mounted_writable(tmp_path, monkeypatch, capsys, read_only, line):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "plots").mkdir()
    (tmp_path / "metrics/threshold.json").write_text("old")
    monkeypatch.chdir(tmp_path)
    _read_only(monkeypatch, tmp_path / read_only)
    worked = []

    def main():
        check_outputs(stage="threshold", files=["metrics/threshold.json"], folders=["plots/threshold"])
        worked.append(True)

    monkeypatch.setattr("sys.argv", ["stages/threshold.py"])
    with pytest.raises(SystemExit) as ended:
        run(main)
    assert (ended.value.code, capsys.readouterr(), worked) == (1, ("", line.format(cwd=tmp_path) + "\n"), [])
    assert _files(tmp_path) == {"metrics/threshold.json": b"old"}


@pytest.mark.hostile("interrupted")
def test_an_interrupted_training_leaves_no_folder_made_for_its_log(tmp_path, monkeypatch, capsys):
    # before: Ctrl-C in the first epoch of train@baseline in a fresh project left metrics/train/ (and metrics/) behind,
    # empty: dvclive had made them for the staged log, and nothing removed them
    monkeypatch.chdir(tmp_path)

    def main():
        with together() as outputs:
            log = outputs.folder("metrics/train/baseline")
            log.mkdir(parents=True)  # as dvclive's Live makes its folder
            (log / "metrics.json").write_text("{}")
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr("sys.argv", ["stages/train.py", "baseline"])
    with pytest.raises(SystemExit) as ended:
        run(main, reads_arguments=True)
    assert (ended.value.code, capsys.readouterr().err) == (130, (
        "error: stages/train.py: interrupted; outputs not yet complete were left unwritten: rerun it\n"))
    assert os.listdir(tmp_path) == []


# ingest's check of its outputs, before any work, as the stage makes it (stages/ingest.py: check_outputs first)
_INGEST_CHECK = """
import sys
from winnow.stage import check_outputs, run

sys.argv = ["stages/ingest.py"]
run(lambda: check_outputs(stage="ingest", folders=["data/ingest"], files=["metrics/ingest.json"]))
"""


@pytest.mark.hostile("interrupted")
def test_an_output_folder_without_its_search_bit_is_told_the_chmod_that_lets_ingest_replace_it(shared_tmp):
    # `chmod -R 644 data/ingest` (meant for the files) takes the folder's search bit: before, "data/ingest is
    # read-only; make it writable (chmod -R u+w data/ingest)", and after that chmod the stage refused it again
    (shared_tmp / "data/ingest").mkdir(parents=True)
    (shared_tmp / "data/ingest/manifest.parquet").write_text("last run's")
    (shared_tmp / "check.py").write_text(_INGEST_CHECK)
    subprocess.run(["chmod", "-R", "644", str(shared_tmp / "data/ingest")], check=True)
    before = files_under(shared_tmp)
    command = _as_a_user([sys.executable, "check.py"], owning=shared_tmp)
    done = subprocess.run(command, cwd=shared_tmp, env=_env(), capture_output=True, text=True, timeout=120)
    assert assert_error_line(done) == (
        "error: ingest: cannot replace data/ingest: data/ingest cannot be listed or entered; make it readable, "
        "searchable and writable (chmod -R u+rwX data/ingest), then rerun")
    assert_nothing_left(shared_tmp, before)
    # the chmod it names lets the stage go on
    subprocess.run(_as_a_user(["chmod", "-R", "u+rwX", "data/ingest"], owning=shared_tmp), cwd=shared_tmp, check=True)
    done = subprocess.run(command, cwd=shared_tmp, env=_env(), capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.hostile("interrupted")
def test_a_study_out_folder_that_is_a_mount_point_is_written_into_not_refused(tmp_path, monkeypatch, capsys):
    # study collect writes its table and plots into --out one by one (never the folder itself), so a results folder
    # mounted from elsewhere must pass the check of the mount points that a replaced output gets; the empty --axis is
    # the refusal that comes after that check
    from winnow.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    _mounted(monkeypatch, tmp_path, tmp_path / "results")
    assert main(["study", "collect", "--out", "results", "--axis", " "]) == 1
    assert capsys.readouterr().err == ("error: study collect --axis: empty; give the dotted params path of the level, "
                                       "e.g. degrade.perturbations.0.fraction\n")
    assert sorted(os.listdir(tmp_path)) == ["mountinfo", "results"]
