"""Hostile intermediates, probe 70: files a later stage reads, damaged as a hand edit, another tool or another run
would leave them.

- degrade's log (data/degrade/perturbations.parquet) with two label changes for one image, or a label change whose
  ``original_label`` is no class index: each label cleaner refuses it in one line before judging
  (:func:`winnow.groundtruth.check_flips`, read by :func:`winnow.judged_rows.read_judged`);
- dedup's groups (data/dedup/groups.parquet) with a null ``group``: refused by every reader of the groups
  (:func:`winnow.stage_reads.read_table` ``complete``), not read as one picture of every image lacking it;
- a label cleaner's ``is_issue`` or embedding-clean's ``<method>_outlier`` flags as text or with nulls, read by
  `winnow review export` (and the budget): refused (:func:`winnow.stage_reads.check_flags`), not read as true;
- threshold's ``any`` with nulls, read by the variant contracts: refused as the other readers of the flags refuse it,
  not counted as an image nobody measured.

Each case builds tiny_degraded's state (3 classes of random 8x8 images, threshold's flags, dedup's groups, a random
embedding), damages one file, runs the real stage and asserts its one line and that nothing was left behind; the
refusal comes before anything is judged or trained.
"""

import shutil

import pandas as pd
import pytest

from hostile_harness import (
    ROOT, assert_error_line, assert_nothing_left, budget_stamped, edit_table, files_under, make_project, refused_line,
    run_winnow, tiny_degraded, undamaged_params,
)
from review_project import write_project
from winnow.budget import DECISION_COLUMNS as BUDGET_COLUMNS
from winnow.stage import write_table
from winnow.variants import baseline_rows, write_variant

TRUTH, GROUPS, FLAGS = ("data/degrade/perturbations.parquet", "data/dedup/groups.parquet",
                        "data/threshold/flags.parquet")


def _project(root, *, cleaners=("threshold", "dedup", "embedding_clean", "data_valuation")):
    params = undamaged_params("baseline", "pruned")
    params["pruned"]["cleaners"] = list(cleaners)
    params["embedding_clean"]["k"] = params["data_valuation"]["knn_k"] = 3  # 6 train images a class
    project = make_project(root, params)
    tiny_degraded(project, score=params["score"], clean_tables=True)
    return project


def _log(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "kind", "params", "source_id", "original_label"])


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("stage", "log", "why"), [
    # before: a pandas ValueError traceback ("cannot reindex on an axis with duplicate labels") once every train image
    # had been judged; degrade refuses two relabellings that may meet (degrade_picks.check_overlaps)
    ("data-valuation", _log(("train-1-0", "symmetric_noise", "{}", None, 0), ("train-1-0", "pair_flip", "{}", None, 2)),
     "image 'train-1-0' has 2 label changes (symmetric_noise, pair_flip); degrade writes one an image"),
    # before: exit 0, the flip counted in the metrics' flips_planted and as a false negative of every cleaner, though
    # no judged image could be found as one back to class -1
    ("embedding-clean", _log(("train-1-0", "symmetric_noise", "{}", None, -1)),
     "image 'train-1-0': symmetric_noise original_label -1 is no class index in [0, 2]"),
    # before: exit 0, flips_planted 1 beside true_noise_rate 0 and fn 0: a flip nothing could be scored against
    ("confident-learn", _log(("train-2-0", "pair_flip", "{}", None, None)),
     "image 'train-2-0': pair_flip original_label None is no class index in [0, 2]"),
], ids=["two-changes-of-one-image", "original-label-minus-one", "original-label-null"])
def test_a_label_cleaner_refuses_label_changes_degrade_never_writes(tmp_path, stage, log, why):
    project = _project(tmp_path / "project")
    log.to_parquet(project / TRUTH, index=False)
    assert refused_line(project, stage) == (
        f"error: {TRUTH}: {why}; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("stage", "cleaners"), [("data-valuation", ["threshold", "dedup", "data_valuation"]),
                                                 ("budget", ["threshold", "dedup"])])  # no label cleaner's table
def test_dedup_groups_with_a_null_group_are_refused(tmp_path, stage, cleaners):
    # before: exit 0 (budget: "the val split holds 6 images of 1 distinct pictures", no cleaning judged) or, in
    # data-valuation, "5 repeat a picture counted once ... raise ingest.val_fraction": every image without a group was
    # read as a copy of one picture (pandas counts nulls as equal in duplicated())
    project = _project(tmp_path / "project", cleaners=cleaners)
    groups = pd.read_parquet(project / GROUPS)
    groups["group"] = groups["group"].astype("float64").where(groups["split"] != "val")
    groups.to_parquet(project / GROUPS, index=False)
    assert refused_line(project, stage) == (
        f"error: {GROUPS}: column 'group' is empty in 6 row(s), first id 'val-0-0'; rerun the dedup stage "
        "(dvc repro dedup)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("path", "column", "change", "stage", "kind"), [
    # before: exit 0 and a queue of 12 images, not 7: every image embedding-clean kept was offered as an lof outlier to
    # drop ("False" is true to astype(bool)), and confident-learn's two relabels became drops beside it
    ("data/embedding-clean/decisions.parquet", "lof_outlier", lambda t: t.astype({"lof_outlier": str}),
     "embedding-clean", "str"),
    # before: exit 0; a null is true to astype(bool), so a kept image of no issue would be queued as one
    ("data/confident-learn/label_issues.parquet", "is_issue",
     lambda t: t.astype({"is_issue": object}).assign(is_issue=lambda u: u["is_issue"].where(u.index != 0)),
     "confident-learn", "object"),
], ids=["outlier-flags-as-text", "is-issue-with-a-null"])
def test_review_export_refuses_cleaner_flags_that_are_not_true_or_false(tmp_path, path, column, change, stage, kind):
    project = write_project(tmp_path / "project")
    edit_table(project / path, change)
    before = files_under(project)
    line = assert_error_line(run_winnow(project, "review", "export"))
    assert line == (f"error: {path}: column {column!r} holds {kind} values, not true or false flags; rerun the {stage} "
                    f"stage (dvc repro {stage})")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_variant_contracts_refuse_threshold_flags_with_nulls(tmp_path):
    # before: exit 0 and baseline 4/5 passed: the six train images whose flag was emptied counted as not measured, so
    # the flagged-image rate read 0 where their flags set true read 0.333 and failed (every other reader of the flags
    # refuses nulls)
    project = _project(tmp_path / "project", cleaners=["threshold", "dedup"])
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    for name in ("baseline", "pruned"):
        write_variant(name, baseline_rows(manifest), root=project / "data/variants")
    write_table(project / "data/budget/decisions.parquet",
                budget_stamped(project, pd.DataFrame({c: pd.Series(dtype=object) for c in BUDGET_COLUMNS})))
    shutil.copytree(ROOT / "contracts", project / "contracts")
    edit_table(project / FLAGS, lambda t: t.astype({"any": object}).assign(
        any=lambda u: u["any"].where(~u["id"].str.startswith("train-0"))))
    assert refused_line(project, "contracts") == (
        f"error: {FLAGS}: column 'any' holds object values, not true or false flags; rerun the threshold stage "
        "(dvc repro threshold)")
