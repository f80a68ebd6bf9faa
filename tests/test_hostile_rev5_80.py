"""Review 5 of probe 80's mends (rev5_80): faults found in the merged commits, each with the outcome a user relies on.

- the gate pooled a run whose params.yaml seed no stage takes (-1, missing) as a seed of its own, as compare and study
  collect did before b9b70319: it told seeds apart by their JSON text, without seed_of's rule.
- an ``ingest.path`` missing beneath a real folder named ``C:`` or ``my\\data`` (a POSIX name) was called a Windows
  path (cd5ec7f6), naming a fix that could not work: "write my/data/raw", "not a folder of this machine".
"""

from __future__ import annotations

import pytest
from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_gate import _run_commit, gate, gate_project
from test_hostile_ingest import run_ingest


@pytest.mark.hostile("gate")
def test_a_pooled_run_at_a_seed_no_stage_takes_is_refused_in_one_line(tmp_path):
    project = gate_project(tmp_path)
    _run_commit(project, "a", seed=-1)
    _run_commit(project, "b", seed=2)
    done, before = gate(project, "--target", "a", "b", base="HEAD~2")
    assert_error_line(done, "--target a: params.yaml seed -1 is outside [0, 4294967295], which every stage refuses; "
                      "pool only runs of winnow's stages")
    assert_nothing_left(project, before)


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("folder, typed", [("C:", "C:/raw"), ("my\\data", "my\\data/raw")])
def test_a_path_missing_beneath_a_real_folder_named_like_windows_is_said_missing_not_windows(tmp_path, folder, typed):
    # before: "C:/raw is a Windows path (drive C:), not a folder of this machine" of a project holding a folder C:,
    # and "my\\data/raw does not exist; ... write my/data/raw" where my\\data is the folder on disk
    (tmp_path / "project" / folder).mkdir(parents=True)
    project, before, done = run_ingest(tmp_path, "imagefolder", typed)
    assert assert_error_line(done) == f"error: ingest.path: {typed} does not exist (expected root/<class>/<image files>)"
    assert_nothing_left(project, before)
