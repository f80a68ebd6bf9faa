"""Review 5 of probe 80's mends (rev5_80): faults found in the merged commits, each with the outcome a user relies on.

- the gate pooled a run whose params.yaml seed no stage takes (-1, missing) as a seed of its own, as compare and study
  collect did before b9b70319: it told seeds apart by their JSON text, without seed_of's rule.
"""

from __future__ import annotations

import pytest
from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_gate import _run_commit, gate, gate_project


@pytest.mark.hostile("gate")
def test_a_pooled_run_at_a_seed_no_stage_takes_is_refused_in_one_line(tmp_path):
    project = gate_project(tmp_path)
    _run_commit(project, "a", seed=-1)
    _run_commit(project, "b", seed=2)
    done, before = gate(project, "--target", "a", "b", base="HEAD~2")
    assert_error_line(done, "--target a: params.yaml seed -1 is outside [0, 4294967295], which every stage refuses; "
                      "pool only runs of winnow's stages")
    assert_nothing_left(project, before)
