"""Hostile inputs around the outlier scores, probe 81:

- drop_outliers true on 200 images in two clusters: the small-tail warning told the user to "judge about 200 images or
  more" of the 200 images judged. LOF's normality is clipped at 1 for every image denser than its neighbours (48 of
  the 200 here), and those pinned scores are left out of the tail the isolated rule tests, so 200 images gave it 16
  scores where it needs 20; the count it advises now scales by the share left to the tail, and the count advised is
  enough for the rule to test;
- drop_outliers true over several rounds of embedding_clean: each round's cut is capped by max_outlier_fraction on
  the images the rounds before kept, so each round cut the new edge of what was left: 4 rounds (ght) on two clean
  clusters of 40 dropped 13 of the 80 (16.2%) under a fraction of 0.1, and nothing said so; a warning says so now.

The first cases call :func:`winnow.outliers.find_outliers` on generated embeddings in this process; the last runs the
stage's ``main`` in this process on the clusters' project of tests/test_hostile_cleaners_more.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from test_hostile_cleaners_more import _project
from test_hostile_leftovers_76b import _clusters, _self_space
from test_hostile_threshold_64 import _stage_in_process
from winnow.outliers import find_outliers


@pytest.mark.hostile("outliers")
def test_the_small_tail_advice_counts_the_scores_pinned_at_the_top_out(capsys):
    # 2 clusters of 100: before, "... where the 200 images judged give 16: ...; judge about 200 images or more"
    features = _clusters(np.random.default_rng(0), 2, 100)[1]
    table, _ = find_outliers([_self_space(features)], k=10, bins=256, drop=True)
    assert int((table["lof"] == 1).sum()) == 48  # the pinned scores the tail cannot draw on
    assert capsys.readouterr().out.splitlines() == [
        "warning: embedding-clean: drop_outliers is on, but the outlier cut of lof flagged none, and auto's isolated "
        "rule, which sets a few odd images apart, needs 20 scores below their 0.1 quantile, where the 200 images "
        "judged give 16: no outlier can be dropped unless the scores have a second mode; judge about 270 images or "
        "more, or give embedding_clean.outlier_threshold another method (such as kittler)"]


@pytest.mark.hostile("outliers")
def test_the_count_the_small_tail_advice_gives_lets_the_isolated_rule_test(capsys):
    # the same draw at the 270 images advised above: the tail holds its 20 scores, and no warning is said
    features = _clusters(np.random.default_rng(0), 2, 135)[1]
    find_outliers([_self_space(features)], k=10, bins=256, drop=True)
    assert capsys.readouterr().out == ""


def _peeling(root, *, rounds: int):
    """Two clean clusters of 40 train images, embedding_clean among pruned.cleaners dropping its outliers (ght) over
    ``rounds`` rounds of the represent embedding."""
    project = _project(root, [40, 40])
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"] = ["threshold", "dedup", "embedding_clean"]
    params["embedding_clean"] |= {"drop_outliers": True, "outlier_threshold": "ght", "rounds": rounds, "bins": 32}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    return project


@pytest.mark.hostile("outliers")
def test_outlier_drops_over_rounds_beyond_the_fraction_are_warned_of(tmp_path, monkeypatch, capsys):
    # before: keep 67, drop 13 (16.2% of clean images, as outliers) under max_outlier_fraction 0.1, and no word of it
    done = _stage_in_process(_peeling(tmp_path / "p", rounds=4), "embedding_clean", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "warning: embedding-clean: over the 4 rounds 13 of the 80 train images judged were dropped as outliers "
        "(16.2%), more than embedding_clean.max_outlier_fraction (0.1), which caps each round's cut alone: each round "
        "cuts the edge of what the rounds before kept; set embedding_clean.rounds: 1, or set "
        "embedding_clean.drop_outliers: false, unless that many are outliers")
    decisions = pd.read_parquet(tmp_path / "p/data/embedding-clean/decisions.parquet")
    assert int(decisions["reason"].str.startswith("outlier:").sum()) == 13  # the drops the line counts


@pytest.mark.hostile("outliers")
def test_one_round_of_outlier_drops_within_the_fraction_is_not_warned_of(tmp_path, monkeypatch, capsys):
    done = _stage_in_process(_peeling(tmp_path / "p", rounds=1), "embedding_clean", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert "were dropped as outliers" not in done.stdout
