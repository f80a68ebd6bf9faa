"""Hostile intermediates, probe 69: a cleaner's table (threshold's flags, dedup's groups, a label cleaner's decisions)
without the ``digest`` column its stage writes (winnow.judged_rows.with_digests): made by hand or by an earlier winnow,
its judgements are of pixels nobody can tell, and every reader refuses it as one of other pixels.

Each case builds tiny_degraded's state (3 classes of random 8x8 images, threshold's flags and dedup's groups as their
stages write them), writes the table under test without its digests, runs the real stage and asserts its one line and
that nothing was left behind; no model is trained: the refusal comes first. Then the readers that did not check
pixels: embedding-clean's rounds.parquet, which the report checks, and the benchmarks that read the tables of a
checkout (benchmarks/convergence.py, benchmarks/foundation.py), called in-process."""

import importlib.util
from functools import partial

import numpy as np
import pandas as pd
import pytest

from hostile_harness import ROOT, make_project, refused_line, run_stage, tiny_degraded, undamaged_params, write_judged
from test_hostile_cleaners_more import _project
from winnow.errors import WinnowError
from winnow.labels import ISSUE_COLUMNS
from winnow.stage import write_table

FLAGS, GROUPS, ISSUES = ("data/threshold/flags.parquet", "data/dedup/groups.parquet",
                         "data/confident-learn/label_issues.parquet")
DECISIONS = "data/embedding-clean/decisions.parquet"


def _issues(manifest: pd.DataFrame) -> pd.DataFrame:
    """confident-learn's table keeping every train image of ``manifest``, without digests."""
    train = manifest[manifest["split"] == "train"]
    known = {"id": train["id"].to_numpy(), "given_label": train["label"].to_numpy(),
             "suggested_label": train["label"].to_numpy(), "decision": "keep", "reason": "", "is_issue": False,
             "label_quality": 0.9}
    return pd.DataFrame({c: known.get(c, np.full(len(train), np.nan)) for c in ISSUE_COLUMNS})


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("stage", "bare", "written_by"), [
    # before: exit 0; dedup preferred copies by flags of pixels nobody could tell
    ("dedup", FLAGS, "threshold"),
    # before: exit 0; the budget weighed confident-learn's decisions unchecked (the same stale table with its digest
    # column dropped passed where the table with it was refused)
    ("budget", ISSUES, "confident-learn"),
], ids=["dedup-reads-flags", "budget-reads-label-issues"])
def test_a_cleaner_table_without_digests_is_refused(tmp_path, stage, bare, written_by):
    params = undamaged_params("baseline", "pruned")
    params["pruned"]["cleaners"] = ["threshold", "dedup", "confident_learn"]
    root = make_project(tmp_path / "project", params)
    manifest, _, _ = tiny_degraded(root, score=params["score"], clean_tables=True)  # flags, groups with digests
    tables = {ISSUES: _issues(manifest), FLAGS: pd.read_parquet(root / FLAGS).drop(columns="digest")}
    write_table(root / bare, tables[bare])
    assert refused_line(root, stage) == (
        f"error: {bare}: has no digest column (the pixel digest of each image it judged): made by an earlier winnow "
        f"or by hand; rerun the {written_by} stage (dvc repro {written_by})")


@pytest.mark.hostile("intermediates")
def test_embedding_clean_records_the_pixels_each_round_judged(tmp_path):
    # found by probing: rounds.parquet, which the report reads and checks like the decisions (check_pixels), was
    # written without digests, so with a table without them refused the report stopped on every run's rounds.parquet
    project = _project(tmp_path / "p", [20, 20], val=10)
    done = run_stage(project, "embedding_clean")
    assert done.returncode == 0, done.stdout + done.stderr
    rounds = pd.read_parquet(project / "data/embedding-clean/rounds.parquet")
    digests = pd.read_parquet(project / "data/degrade/manifest.parquet").set_index("id")["digest"]
    assert len(rounds) == 40
    assert rounds["digest"].tolist() == rounds["id"].map(digests).tolist()


def _benchmark(name: str):
    """benchmarks/<name>.py as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.hostile("intermediates")
def test_the_convergence_benchmark_refuses_filter_tables_without_digests(tmp_path, monkeypatch):
    # found by probing: benchmarks/convergence.py read threshold's flags and dedup's groups with pd.read_parquet and
    # chose the images the judges are traced on from them unchecked (no row check, no pixel check)
    params = undamaged_params("baseline")
    root = make_project(tmp_path / "project", params)
    manifest, _, _ = tiny_degraded(root, score=params["score"], clean_tables=True)
    monkeypatch.chdir(root)
    judged_train = _benchmark("convergence").judged_train
    assert judged_train(manifest).sum() == 18  # 6 train images of each of 3 classes, none flagged or a copy
    write_table(root / FLAGS, pd.read_parquet(root / FLAGS).drop(columns="digest"))
    with pytest.raises(WinnowError) as refused:
        judged_train(manifest)
    assert str(refused.value) == (
        "data/threshold/flags.parquet: has no digest column (the pixel digest of each image it judged): made by an "
        "earlier winnow or by hand; rerun the threshold stage (dvc repro threshold)")


@pytest.mark.hostile("intermediates")
def test_the_foundation_benchmark_refuses_embedding_clean_decisions_of_other_pixels(tmp_path, monkeypatch):
    # found by probing: `benchmarks/foundation.py default-cleanings` applied embedding-clean's decisions to the
    # baseline by id, read unchecked, so decisions of pixels degrade had changed since were trained on as current
    params = undamaged_params("baseline")
    root = make_project(tmp_path / "project", params)
    manifest, _, _ = tiny_degraded(root, score=params["score"])
    train = manifest[manifest["split"] == "train"]
    table = write_judged(root, DECISIONS, pd.DataFrame({"id": train["id"], "decision": "keep", "reason": "",
                                                        "given_label": train["label"],
                                                        "suggested_label": train["label"]}))
    monkeypatch.chdir(root)
    embedding_decisions = partial(_benchmark("foundation").embedding_decisions, ["embedding_clean"])
    assert embedding_decisions()["id"].tolist() == train["id"].tolist()
    write_table(root / DECISIONS, table.assign(digest=table["digest"].mask(table["id"] == "train-1-2", "0" * 16)))
    with pytest.raises(WinnowError) as refused:
        embedding_decisions()
    now = manifest.set_index("id")["digest"]["train-1-2"]
    assert str(refused.value) == (
        "data/embedding-clean/decisions.parquet: judged other pixels than data/degrade's now for 1 image(s) (first: "
        f"id 'train-1-2', pixels '0000000000000000' then, {now!r} now): made before degrade changed the data; rerun "
        "the embedding-clean stage (dvc repro embedding-clean)")
