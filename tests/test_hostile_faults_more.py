"""More faults of the machine during a run: a read-only output folder, a full disk in the commit's journal, in
an image stream (pwrite) and in a file object's close. Each ends in one ``error:`` line that names the path and
the fix, leaves the last complete outputs, and leaves nothing behind.

Permissions are real: as root (which they do not bind) the stage runs as ``nobody`` through ``setpriv``."""

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import forked_run
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, files_under, imagefolder_project, make_project,
)
from winnow.stage import run, together, write_json, write_text

NOBODY = 65534


def _ingested(root: Path) -> Path:
    """A project whose ingest ran once on 3 classes of 12 8x8 PNGs, its params then changed (another seed) so
    that a new run would write other outputs."""
    project, params = imagefolder_project(root)
    done = forked_run.run("script", str(ROOT / "stages/ingest.py"), [], cwd=project, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    params["seed"] += 1
    make_project(project, params)
    return project


def _contents(project: Path, *paths: str) -> dict[str, bytes]:
    found = [p for path in paths for p in [project / path, *(project / path).rglob("*")] if p.is_file()]
    return {str(p.relative_to(project)): p.read_bytes() for p in found}


@pytest.fixture
def shared_tmp(request) -> Path:
    """A folder that another user may enter (pytest's own are its owner's alone), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="winnow-faults-"))
    root.chmod(0o755)
    request.addfinalizer(lambda: (subprocess.run(["chmod", "-R", "u+w", str(root)], check=True),
                                  shutil.rmtree(root)))
    return root


def _as_a_user(command: list[str], *, owning: Path) -> list[str]:
    """``command`` run by a user whom permissions bind: this one, or ``nobody`` (then owning ``owning``) as root."""
    if os.geteuid() != 0:
        return command
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(owning)], check=True)
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


@pytest.mark.hostile("interrupted")
def test_a_read_only_output_folder_stops_ingest_before_it_replaces_anything(shared_tmp):
    # before: ingest read and wrote everything, moved the new data/ingest in, then failed removing the old one:
    # "error: stages/ingest.py: manifest.parquet: Permission denied [EACCES]" with the new outputs in place, the old
    # copy hidden in data/.ingest.winnow-old-<pid>, and every later stage failing on the same line
    project = _ingested(shared_tmp)
    old = _contents(project, "data/ingest", "metrics/ingest.json")
    subprocess.run(["chmod", "-R", "a-w", str(project / "data/ingest")], check=True)
    before = files_under(project)
    command = _as_a_user([sys.executable, str(ROOT / "stages/ingest.py")], owning=shared_tmp)
    done = subprocess.run(command, cwd=project, env=_env(), capture_output=True, text=True, timeout=300)
    assert assert_error_line(done) == ("error: ingest: cannot replace data/ingest: data/ingest is read-only; make it "
                                       "writable (chmod -R u+w data/ingest), then rerun")
    assert _contents(project, "data/ingest", "metrics/ingest.json") == old
    assert_nothing_left(project, before)
    assert sorted(os.listdir(project)) == ["data", "metrics", "params.yaml"]  # no journal, no set-aside copy
    assert sorted(os.listdir(project / "data")) == ["ingest"]


_UNREMOVABLE_OLD = '''
from winnow.outputs import atomic_folder, together

with together():
    with atomic_folder("data/f") as tmp:
        (tmp / "x.txt").write_text("new x")
'''


@pytest.mark.hostile("interrupted")
def test_an_old_output_that_cannot_be_removed_is_named_by_its_whole_path(shared_tmp):
    # a folder made read-only between the stage's check and its commit: before, the error named "x.txt" alone,
    # nothing a user could find
    (shared_tmp / "data/f").mkdir(parents=True)
    (shared_tmp / "data/f/x.txt").write_text("old x")
    (shared_tmp / "commit.py").write_text(_UNREMOVABLE_OLD)
    (shared_tmp / "data/f").chmod(0o555)
    command = _as_a_user([sys.executable, "commit.py"], owning=shared_tmp)
    done = subprocess.run(command, cwd=shared_tmp, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    [old] = [name for name in os.listdir(shared_tmp / "data") if name.startswith(".f.winnow-old-")]
    assert done.stderr.splitlines()[-1] == f"PermissionError: [Errno 13] Permission denied: 'data/{old}/x.txt'"


@pytest.mark.hostile("interrupted")
def test_a_full_disk_at_the_commit_journal_leaves_no_part_file_and_names_it(tmp_path, monkeypatch, capsys):
    # before: the journal's .part stayed in the project, empty, and the line named no file:
    # "error: stages/threshold.py: No space left on device [ENOSPC]; ..."
    monkeypatch.chdir(tmp_path)
    write_text("a.txt", "old a")
    write_text("b.txt", "old b")
    write = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.endswith(".json.part"):
            self.touch()  # made, then the write (or its close) finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, *args, **kwargs)

    def main():
        monkeypatch.setattr(Path, "write_text", full)
        with together():
            write_text("a.txt", "new a")
            write_text("b.txt", "new b")

    monkeypatch.setattr("sys.argv", ["stages/threshold.py"])
    with pytest.raises(SystemExit) as ended:
        run(main)
    monkeypatch.undo()
    [line] = capsys.readouterr().err.splitlines()
    assert ended.value.code == 1
    assert line.startswith(f"error: stages/threshold.py: .winnow-commit-{os.getpid()}-")
    assert line.endswith(".json.part: No space left on device [ENOSPC]; free space, or fix the path or its "
                         "permissions, then rerun")
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.txt": "old a", "b.txt": "old b"}


@pytest.mark.hostile("interrupted")
def test_a_full_disk_in_a_file_objects_write_names_the_output(tmp_path, monkeypatch, capsys):
    # before: "error: stages/score.py: No space left on device [ENOSPC]; ...": a file object's write and close, and
    # np.save's and torch.save's, name no file
    monkeypatch.chdir(tmp_path)
    write = Path.write_text

    def full(self, *args, **kwargs):
        write(self, "")
        raise OSError(errno.ENOSPC, "No space left on device")

    def main():
        monkeypatch.setattr(Path, "write_text", full)
        write_json("metrics/score.json", {"images": 3})

    monkeypatch.setattr("sys.argv", ["stages/score.py"])
    with pytest.raises(SystemExit) as ended:
        run(main)
    monkeypatch.undo()
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        "error: stages/score.py: metrics/score.json: No space left on device [ENOSPC]; free space, or fix the path "
        "or its permissions, then rerun\n"))
    assert os.listdir(tmp_path) == []  # no metrics/ made for a write that failed


# Runs stages/ingest.py with every pwrite failing as a full disk does (ENOSPC, no file named).
_FULL_PWRITE = '''
import errno, os, runpy, sys


def full(*args):
    raise OSError(errno.ENOSPC, "No space left on device")


os.pwrite = full
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''


@pytest.mark.hostile("interrupted")
def test_a_full_disk_while_ingest_streams_its_images_names_the_file(tmp_path):
    # before: "error: stages/ingest.py: No space left on device [ENOSPC]; ...": no path, so no disk, named
    project = _ingested(tmp_path)
    old = _contents(project, "data/ingest", "metrics/ingest.json")
    before = files_under(project)
    launcher = tmp_path / "launcher.py"
    launcher.write_text(_FULL_PWRITE)
    done = forked_run.run("script", str(launcher), [str(ROOT / "stages/ingest.py")], cwd=project, env=_env(),
                          timeout=300)
    line = assert_error_line(done, "error: stages/ingest.py: data/.ingest.winnow-tmp-",
                             "/source.npy: No space left on device [ENOSPC]; free space, or fix the path or its "
                             "permissions, then rerun")
    assert line.index("/source.npy") < line.index(": No space")
    assert _contents(project, "data/ingest", "metrics/ingest.json") == old
    assert_nothing_left(project, before)
