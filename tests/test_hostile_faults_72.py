"""Faults around a stage's writes, probed again (stop 72):

- a commit killed part-way whose folder output held a file staged inside it (an imageset's rejected.csv): the next
  stage names the killed run's outputs, not the temporaries inside the folder's (gone by then) as outputs of their own;
- a training interrupted in a fresh project: the folder made for its log goes with it.
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

from hostile_harness import ROOT, _env, assert_nothing_left, files_under, imagefolder_project
from winnow.outputs import together
from winnow.stage import check_outputs, run, tidy_killed_runs



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
