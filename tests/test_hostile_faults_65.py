"""Faults of the machine met mid-run, second pass: each ends in one ``error:`` line that names the path and the fix,
and leaves the last complete outputs and nothing else."""

import importlib.util
import json
import os
import pty
import resource
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forked_run
from hostile_harness import ROOT, _env, assert_nothing_left, files_under, make_project
from test_hostile_faults_more import NOBODY, shared_tmp  # noqa: F401 (fixture)
from winnow.imageset import write_imageset
from winnow.stage import atomic_folder, check_outputs, run, together, write_json, write_text


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.hostile("interrupted")
def test_a_file_size_limit_at_an_imagesets_manifest_names_the_imageset_and_keeps_the_last_one(tmp_path, monkeypatch,
                                                                                              capsys):
    # before: "error: stages/ingest.py: Error writing bytes to file. Detail: [errno 27] File too large [EFBIG]; ...":
    # pyarrow's parquet writer fails at its close naming no file, so the line said nothing of where (`ulimit -f 4`
    # on an ingest of 36 8x8 images; its images.npy fits, its manifest.parquet does not)
    monkeypatch.chdir(tmp_path)
    manifest = pd.DataFrame({"id": [f"i{i}" for i in range(6)], "split": ["train"] * 4 + ["val", "test"],
                             "label": [0, 1] * 3, "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    images = np.arange(6 * 64, dtype=np.uint8).reshape(6, 8, 8, 1)
    write_imageset("data/ingest", images, manifest, ["a", "b"])
    last = _files(tmp_path / "data")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def main():
        # 2 KiB: the new images.npy (512 bytes) is written whole, the manifest (some 4.8 KB) is not; Python ignores
        # SIGXFSZ, so the write fails with EFBIG as under `ulimit -f 2`
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))
        try:
            write_imageset("data/ingest", images[::-1].copy(), manifest, ["a", "b"])
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    monkeypatch.setattr("sys.argv", ["stages/ingest.py"])
    with pytest.raises(SystemExit) as ended:
        run(main)
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        "error: stages/ingest.py: data/ingest: Error writing bytes to file. Detail: [errno 27] File too large "
        "[EFBIG]; the file is larger than this process may write (`ulimit -f`) or than its file system holds (FAT32: "
        "4 GiB); raise the limit, or write to another file system, then rerun\n"))
    assert _files(tmp_path / "data") == last



@contextmanager
def _permissions_bind(owning: Path) -> Iterator[None]:
    """The block run by a user whom permissions bind, owning ``owning``: this one, or as root ``nobody`` (its
    effective ids: root's come back after)."""
    if os.geteuid() != 0:
        yield
        return
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(owning)], check=True)
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.mark.hostile("interrupted")
def test_a_project_folder_that_takes_no_new_file_stops_a_stage_before_its_work(shared_tmp, monkeypatch, capsys):
    # the project folder read-only, its output folders writable (mounted so into a container): before, the stage did
    # all its work, then failed at the journal of its moves, "error: stages/threshold.py: .winnow-commit-<pid>-<token>
    # .json.part: Permission denied [EACCES]; ...", a file the user never heard of
    (shared_tmp / "metrics").mkdir()
    (shared_tmp / "plots").mkdir()
    (shared_tmp / "metrics/threshold.json").write_text("old")
    monkeypatch.chdir(shared_tmp)

    def main():
        check_outputs(stage="threshold", files=["metrics/threshold.json"], folders=["plots/threshold"])
        print("worked")  # the work the check must come before
        with together():
            write_json("metrics/threshold.json", {"new": 1})
            with atomic_folder("plots/threshold") as plots:
                (plots / "scores.svg").write_text("<svg/>")

    monkeypatch.setattr("sys.argv", ["stages/threshold.py"])
    with _permissions_bind(shared_tmp), pytest.raises(SystemExit) as ended:
        shared_tmp.chmod(0o555)
        run(main)
    assert (ended.value.code, capsys.readouterr()) == (1, (
        "", f"error: threshold: cannot write in the project folder {shared_tmp} (Permission denied), where the stage "
            "lists its outputs' moves into place before it makes them; fix its permissions, then rerun\n"))
    assert sorted(p.name for p in shared_tmp.rglob("*")) == ["metrics", "plots", "threshold.json"]
    assert (shared_tmp / "metrics/threshold.json").read_text() == "old"


@pytest.mark.hostile("interrupted")
def test_a_project_folder_that_takes_no_new_file_still_runs_a_stage_of_one_output_file(shared_tmp, monkeypatch,
                                                                                        capsys):
    # report (and score) write one file, replaced in one rename with no journal of moves in the project folder: a
    # read-only checkout with a writable reports/ ran it, until the check above refused it ("cannot write in the
    # project folder ...") for a journal it never writes
    (shared_tmp / "reports").mkdir()
    (shared_tmp / "reports/index.html").write_text("old")
    monkeypatch.chdir(shared_tmp)

    def main():
        check_outputs(stage="report", files=["reports/index.html"])
        write_text("reports/index.html", "new")

    monkeypatch.setattr("sys.argv", ["stages/report.py"])
    with _permissions_bind(shared_tmp):
        shared_tmp.chmod(0o555)
        run(main)
    assert capsys.readouterr() == ("", "")
    assert sorted(p.name for p in shared_tmp.rglob("*")) == ["index.html", "reports"]
    assert (shared_tmp / "reports/index.html").read_text() == "new"



# A stage as the scripts in stages/ are (one_line_from_the_start first, then run(main)) whose terminal closes while its
# child writes: SIGHUP reaches the whole process group, the watching parent and the child
_HUNG_UP_STAGE = '''
from winnow.stops import one_line_from_the_start

one_line_from_the_start()

import os
import signal
import time

from winnow.stage import atomic_path, run


def main():
    with atomic_path("data/score/scores.txt") as tmp:
        tmp.write_text("half written")
        os.kill(os.getppid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(60)


run(main)
'''


@pytest.mark.hostile("interrupted")
def test_a_hangup_of_the_stages_terminal_ends_it_in_one_line_and_leaves_nothing(tmp_path):
    # the terminal closed (an ssh connection lost, the stage in its background: `python stages/score.py > log 2>&1 &`)
    # sends SIGHUP to the stage's process group: before, its default action ended the watching parent and the child
    # at once (status 129), the log ended without a line and data/score/.scores.winnow-tmp-<pid>.txt stayed
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages/score.py").write_text(_HUNG_UP_STAGE)
    (tmp_path / "data/score").mkdir(parents=True)
    before = files_under(tmp_path)
    done = forked_run.run("script", str(tmp_path / "stages/score.py"), [], cwd=tmp_path, env=_env(), timeout=60)
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (128 + signal.SIGHUP, "", [
        "error: stages/score.py: terminated (SIGHUP); outputs not yet complete were left unwritten: rerun it"])
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("closed_before_run", [False, True], ids=["while_it_runs", "before_run"])
def test_a_terminal_that_closes_leaves_the_stage_to_write_its_outputs(tmp_path, monkeypatch, capsys, closed_before_run):
    # `python stages/ingest.py &`, disowned, then the ssh session ended (no SIGHUP for a disowned job): before, the
    # stage's first print after the close failed with EIO, and ingest stopped with "error: stages/ingest.py:
    # Input/output error [EIO]; free space, or fix the path or its permissions, then rerun", its outputs unwritten.
    # Closed a moment earlier, during the stage's imports (seconds; torch's up to 16 s), before run() wraps its output,
    # a hung-up terminal is no tty to isatty(), so it went unwrapped and the first print still ended the stage
    monkeypatch.chdir(tmp_path)
    master, slave = pty.openpty()
    terminal = open(slave, "w", buffering=1)  # a terminal's stdout, written line by line
    monkeypatch.setattr("sys.stdout", terminal)
    if closed_before_run:
        os.close(master)

    def main():
        if not closed_before_run:
            os.close(master)  # the terminal closes while the stage works
        print("score: 3 images scored")
        write_json("metrics/score.json", {"images": 3})

    monkeypatch.setattr("sys.argv", ["stages/score.py"])
    try:
        run(main)
    finally:
        terminal.close()
    assert capsys.readouterr().err == ""
    assert json.loads((tmp_path / "metrics/score.json").read_text()) == {"images": 3}


@pytest.mark.hostile("interrupted")
def test_contracts_in_a_project_folder_that_takes_no_new_file_stops_before_its_suites_run(shared_tmp, monkeypatch,
                                                                                          capsys):
    # contracts, the one stage that calls no check_outputs, writes its records with together(): in a read-only
    # checkout with writable output folders it ran every suite, then ended "error: stages/contracts.py:
    # .winnow-commit-<pid>-<token>.json.part: Permission denied [EACCES]; ...", as threshold did before 960f7eb
    spec = importlib.util.spec_from_file_location("contracts_stage", ROOT / "stages/contracts.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    project = make_project(shared_tmp / "project")
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["stages/contracts.py"])
    with _permissions_bind(shared_tmp), pytest.raises(SystemExit) as ended:
        project.chmod(0o555)
        run(stage.main)
    assert (ended.value.code, capsys.readouterr()) == (1, ("", (
        f"error: contracts: cannot write in the project folder {project} (Permission denied), where the stage lists "
        "its outputs' moves into place before it makes them; fix its permissions, then rerun\n")))
    assert sorted(p.name for p in project.iterdir()) == ["params.yaml"]
