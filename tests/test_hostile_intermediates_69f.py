"""A checkout's cleaner tables read by the benchmarks, found in review of stop 69: benchmarks/foundation.py's
default-cleanings reads embedding-clean's decisions as the budget does, not with the pixel check alone."""

from __future__ import annotations

import pandas as pd
import pytest

from hostile_harness import make_project, tiny_degraded, undamaged_params, write_judged
from test_hostile_intermediates_69a import DECISIONS, _benchmark
from winnow.errors import WinnowError


@pytest.mark.hostile("intermediates")
def test_the_foundation_benchmark_refuses_a_relabel_without_a_class(tmp_path, monkeypatch):
    # found in review of 3287358f: embedding_decisions checked the ids and the pixels only, and run_default_cleanings
    # took a relabel whose suggested_label is null as class -1 (fillna(-1)) and trained its image so; the budget
    # refuses that table
    params = undamaged_params("baseline")
    root = make_project(tmp_path / "project", params)
    manifest, _, _ = tiny_degraded(root, score=params["score"])
    train = manifest[manifest["split"] == "train"]
    relabel = train["id"] == "train-1-2"
    write_judged(root, DECISIONS, pd.DataFrame({
        "id": train["id"], "decision": relabel.map({True: "relabel", False: "keep"}), "given_label": train["label"],
        "suggested_label": train["label"].astype("Int64").mask(relabel), "reason": ""}))
    monkeypatch.chdir(root)
    with pytest.raises(WinnowError) as refused:
        _benchmark("foundation").embedding_decisions(["embedding_clean"])
    row = train["id"].tolist().index("train-1-2")
    assert str(refused.value) == (f"{DECISIONS}: row {row} relabels to <NA>, not a class index in [0, 2]; rerun the "
                                  "embedding-clean stage (dvc repro embedding-clean)")


@pytest.mark.hostile("intermediates")
def test_the_foundation_benchmark_refuses_pruned_cleaners_without_embedding_clean(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WinnowError) as refused:
        _benchmark("foundation").embedding_decisions(["threshold", "dedup", "confident_learn"])
    assert str(refused.value) == ("pruned.cleaners ['threshold', 'dedup', 'confident_learn'] leaves embedding_clean "
                                  "out, whose decisions default-cleanings applies: add it")
