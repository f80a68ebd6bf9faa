"""Hostile edits between the score stage and the contracts stage (probe 69): scores of pixels degrade has since
replaced under the same ids, refused as every other reader of a table of other pixels refuses it, in its words."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hostile_harness import assert_error_line, assert_nothing_left, files_under, run_stage
from test_contracts import _params, project  # noqa: F401 - project: the contracts stage's fixture
from winnow.imageset import read_imageset
from winnow.stage import write_table


@pytest.mark.hostile("intermediates")
def test_scores_of_pixels_degrade_has_since_replaced_stop_the_contracts_stage(project, tmp_path):  # noqa: F811
    # before: exit 0, the scores suite passed on scores made from the old pixels of i3 (degrade rerun with other
    # damage keeps every id; dvc repro -s contracts), where threshold and dedup refuse them
    root = Path(shutil.copytree(project, tmp_path / "project"))
    (root / "params.yaml").write_text(yaml.safe_dump(_params(("baseline", "pruned"))))
    manifest = read_imageset(root / "data/degrade").manifest
    scores = pd.read_parquet(root / "data/score/scores.parquet")
    write_table(root / "data/score/scores.parquet",
                scores.assign(digest=manifest["digest"].where(manifest["id"] != "i3", "old pixels").to_numpy()))
    before = files_under(root)
    line = assert_error_line(run_stage(root, "contracts", timeout=600))
    assert line == ("error: data/score/scores.parquet: judged other pixels than data/degrade's now for 1 image(s) "
                    f"(first: id 'i3', pixels 'old pixels' then, {manifest['digest'].iloc[3]!r} now): made before "
                    "degrade changed the data; rerun the score stage (dvc repro score)")
    assert_nothing_left(root, before)
