"""Hostile edits between the score stage and the contracts stage (probe 69): scores of pixels degrade has since
replaced under the same ids, refused as every other reader of a table of other pixels refuses it, in its words."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under
from test_contracts import _run_stage, project  # noqa: F401 - project: the contracts stage's fixture
from winnow.imageset import read_imageset
from winnow.stage import write_table


@pytest.mark.hostile("intermediates")
def test_scores_of_pixels_degrade_has_since_replaced_stop_the_contracts_stage(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # before: exit 0, the scores suite passed on scores made from the old pixels of i3 (degrade rerun with other
    # damage keeps every id; dvc repro -s contracts), where threshold and dedup refuse them. In process, as the
    # contracts stage's other tests run it (a subprocess cost 19 s, Great Expectations imported again)
    root = Path(shutil.copytree(project, tmp_path / "project"))
    manifest = read_imageset(root / "data/degrade").manifest
    scores = pd.read_parquet(root / "data/score/scores.parquet")
    write_table(root / "data/score/scores.parquet",
                scores.assign(digest=manifest["digest"].where(manifest["id"] != "i3", "old pixels").to_numpy()))
    before = files_under(root)
    with pytest.raises(SystemExit) as stopped:
        _run_stage(root, monkeypatch, variants=("baseline", "pruned"))
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: data/score/scores.parquet: judged other pixels than data/degrade's now for 1 image(s) "
        f"(first: id 'i3', pixels 'old pixels' then, {manifest['digest'].iloc[3]!r} now): made before "
        "degrade changed the data; rerun the score stage (dvc repro score)"]
    assert_nothing_left(root, before, allowed={"params.yaml"})  # the one _run_stage writes
