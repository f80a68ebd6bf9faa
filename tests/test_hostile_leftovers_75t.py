"""Hostile leftovers of stop 75's mends, found by their review (the digest of a user's file; stage.run's ``python -uc``
case is a parameter of test_hostile_cli's ``test_sigterm_before_a_stage_lets_it_through_is_one_line``).

- represent.file (a pretrained model's file) was hashed whole at every check of the embedding: data valuation read a
  user's file three times, the budget once more at each record of the embedding (a 10 GB file read 10 GB at each);
  now once per version in a process, and a file rewritten since is still refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_leftovers_75a import REWRITTEN, _rewritten
from test_hostile_represent_74 import _project
from test_hostile_threshold_64 import _stage_in_process
from winnow import file_ops


@pytest.mark.hostile("represent")
def test_a_user_file_is_hashed_once_by_a_reader_and_still_refused_once_rewritten(tmp_path, monkeypatch, capsys):
    # before: every check of the embedding hashed represent.file whole, three times in one data valuation run (its
    # train and val features, and the record of the embedding): a 10 GB file read 30 GB, without a word
    project = _project(tmp_path)
    assert _stage_in_process(project, "represent", monkeypatch, capsys).returncode == 0
    hashed = []

    def counted(path):
        hashed.append(path)
        return real(path)

    real = file_ops.file_sha256
    monkeypatch.setattr(file_ops, "file_sha256", counted)
    monkeypatch.setattr(file_ops, "RACY_NS", 0)  # mine.npy was written before the stage began: its hash is kept
    assert _stage_in_process(project, "data_valuation", monkeypatch, capsys).returncode == 0
    assert [Path(path).name for path in hashed].count("mine.npy") == 1
    # the same path, the same size, other vectors, its modification time kept (as cp -p, rsync -t or a tar extract
    # keep it; np.save writes the same inode): only the change time tells the kept digest is not this file's
    times = (project / "mine.npy").stat()
    then, now = _rewritten(project)
    os.utime(project / "mine.npy", ns=(times.st_atime_ns, times.st_mtime_ns))
    kept = (project / "mine.npy").stat()
    assert (kept.st_ino, kept.st_size, kept.st_mtime_ns) == (times.st_ino, times.st_size, times.st_mtime_ns)
    before = files_under(project)
    line = assert_error_line(_stage_in_process(project, "data_valuation", monkeypatch, capsys))
    assert line == REWRITTEN.format("represent.file mine.npy", then, now)
    assert_nothing_left(project, before)
