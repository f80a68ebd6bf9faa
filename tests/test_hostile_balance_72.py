"""Hostile inputs of balance, twelfth pass:

- pruned's rows made of the decisions of other pruned.cleaners than params.yaml lists now (a cleaner taken out, then
  balance run alone): balanced was made of the old decisions without a word; now refused naming the variants stage;
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under
from test_augment import _stage
from test_hostile_balance_more import balance_project
from winnow.errors import WinnowError
from winnow.variants import read_rows, write_variant

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)


@pytest.mark.hostile("intermediates")
def test_pruned_of_other_cleaners_than_params_lists_is_refused(tmp_path, monkeypatch):
    # pruned written by the variants stage under pruned.cleaners [dedup]; params.yaml lists threshold, dedup and
    # embedding_clean now (the project's own). Before: balance made balanced of the dedup decisions alone, exit 0,
    # and train@balanced learnt them as if of the three cleaners params.yaml lists (the report refuses such pruned
    # rows, balance did not)
    labels = np.repeat([0, 1, 2], [5, 3, 2])
    project = balance_project(tmp_path / "project", _images(len(labels)), labels, policy={"ops": ["noise"], "n": 1})
    monkeypatch.chdir(project)
    write_variant("pruned", read_rows("pruned"), cleaners=["dedup"])
    assert yaml.safe_load(Path("params.yaml").read_text())["pruned"]["cleaners"] == [
        "threshold", "dedup", "embedding_clean"]
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("balance").main()
    assert str(refused.value) == (
        "data/variants/pruned/rows.parquet: made of the decisions of pruned.cleaners dedup, but params.yaml lists "
        "dedup, embedding_clean, threshold now; rerun the variants stage (dvc repro variants)")
    assert_nothing_left(project, before)
