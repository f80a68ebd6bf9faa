"""Hostile staleness, probe 70: an intermediate file of an earlier run read as current by a stage run alone
(``dvc repro -s <stage>``, or by hand).

- the score stage's table without its ``digest`` column (an earlier winnow's, or made by hand), read by threshold and
  dedup (:func:`winnow.quality.read_scores`): refused in one line naming the score stage, as every reader of the
  cleaners' tables and the contracts stage refuse such a table, not read unchecked.

Each case builds the state the stages before the one probed write, makes one file stale as an earlier run or winnow
would leave it, runs the real stage in this process and asserts its one line and that nothing was left behind.
"""

from __future__ import annotations

import pytest

from hostile_harness import (
    assert_nothing_left, edit_table, files_under, make_project, tiny_degraded, undamaged_params,
)
from test_hostile_threshold_64 import _stage_in_process

SCORES = "data/score/scores.parquet"


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["threshold", "dedup"])
def test_a_scores_table_without_digests_is_refused_naming_the_score_stage(tmp_path, monkeypatch, capsys, stage):
    # before: read_scores skipped the pixel check where the column was missing ("a table made by hand may leave it
    # out"), so scores of an earlier winnow (no digests) were read as current, exit 0, while contracts and the report
    # refused the same table
    params = undamaged_params()
    project = make_project(tmp_path / "p", params)
    tiny_degraded(project, score=params["score"])
    edit_table(project / SCORES, lambda table: table.drop(columns=["digest"]))
    before = files_under(project)
    done = _stage_in_process(project, stage, monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {SCORES}: has no digest column (the pixel digest of each image it judged): made by an earlier winnow "
        "or by hand; rerun the score stage (dvc repro score)"])
    assert_nothing_left(project, before)
