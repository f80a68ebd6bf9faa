"""Hostile intermediates, read by the stages after the cleaners: threshold's flags or dedup's groups with a
repeated or missing image, a label cleaner's decisions with a repeated id or an image the data lacks, the
budget's decisions naming an image the data lacks, scores with a repeated, missing or NaN row, as the
budget, the variants stage, the contracts (and balance, which checks balanced's contract) and `winnow review
export` read them (winnow.decision_files.read_cleaner_tables and read_decisions, winnow.variant_contract,
winnow.review).

Each case copies a tiny pipeline state (3 classes of random 8x8 images, every table the cleaners write,
the budget's decisions, the variants' rows; or the review project of review_project.py), damages one
file, runs the real stage or command and asserts the one line that names the file and the stage to
rerun, and that nothing was left behind. No case trains a model: each error comes first.
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import (
    ROOT, assert_error_line, assert_nothing_left, budget_stamped, edit_table, files_under, make_project,
    refused_line, repeat_first, run_stage, run_winnow, tiny_degraded, undamaged_params, write_judged,
)
from review_project import write_project
from winnow.budget import DECISION_COLUMNS as BUDGET_COLUMNS
from winnow.labels import ISSUE_COLUMNS
from winnow.neighbours import DECISION_COLUMNS as NEIGHBOUR_COLUMNS
from winnow.stage import write_table
from winnow.valuation import DECISION_COLUMNS as VALUATION_COLUMNS
from winnow.variants import baseline_rows, write_variant

# per label cleaner (pruned.cleaners): its decision file and the stage writing it
LABEL_FILES = {"confident_learn": ("data/confident-learn/label_issues.parquet", "confident-learn"),
               "embedding_clean": ("data/embedding-clean/decisions.parquet", "embedding-clean"),
               "data_valuation": ("data/data-valuation/decisions.parquet", "data-valuation")}


def _params() -> dict:
    params = undamaged_params("baseline", "pruned", "balanced")
    params["pruned"]["cleaners"] = ["threshold", "dedup"]
    return params


def _decisions(train: pd.DataFrame, columns) -> pd.DataFrame:
    """A label cleaner's decision table that keeps every train image (its scores left NaN)."""
    known = {"id": train["id"].to_numpy(), "given_label": train["label"].to_numpy(),
             "suggested_label": train["label"].to_numpy(), "decision": "keep", "reason": "", "is_issue": False}
    return pd.DataFrame({c: known.get(c, np.full(len(train), np.nan)) for c in columns})


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The pipeline state after the variants stage on clean data: nothing flagged, no duplicate, every label
    kept by every label cleaner."""
    root = make_project(tmp_path_factory.mktemp("template"), _params())
    manifest, images, scores = tiny_degraded(root, score=_params()["score"], clean_tables=True)
    train = manifest[manifest["split"] == "train"]
    for (path, _), columns in zip(LABEL_FILES.values(), (ISSUE_COLUMNS, NEIGHBOUR_COLUMNS, VALUATION_COLUMNS)):
        write_judged(root, path, _decisions(train, columns))
    write_table(root / "data/budget/decisions.parquet",  # what budget chooses when nothing was decided
                budget_stamped(root, pd.DataFrame({c: pd.Series(dtype=object) for c in BUDGET_COLUMNS})))
    for name in ("baseline", "pruned"):
        write_variant(name, baseline_rows(manifest), root=root / "data/variants")
    shutil.copytree(ROOT / "contracts", root / "contracts")
    return root


@pytest.fixture
def project(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "project"))


def _without(image: str):
    return lambda table: table[table["id"] != image]


def _with_unknown(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` plus a sure drop of train-9-9, an image data/degrade does not hold."""
    sure = {"label_quality": 0.1, "agreement": 0.9, "centroid_margin": 0.2, "harm": 0.9}  # the budget's confidences
    extra = table.iloc[:1].assign(id="train-9-9", decision="drop", reason="isolated", is_issue=True,
                                  **{column: value for column, value in sure.items() if column in table})
    return pd.concat([table, extra], ignore_index=True)


# what each refusing stage writes that the template holds, removed before it runs so that a write would show
OUTPUTS = {"budget": "data/budget", "variants": "data/variants"}


def _refused(project: Path, stage: str) -> str:
    """:func:`refused_line` after the stage's own outputs (those the template holds) are removed."""
    if stage in OUTPUTS:
        shutil.rmtree(project / OUTPUTS[stage])
    return refused_line(project, stage)


def _with_cleaners(project: Path, cleaners: list[str]) -> None:
    params = _params()
    params["pruned"]["cleaners"] = cleaners
    make_project(project, params)


def _rerun(path: str, problem: str, stage: str) -> str:
    return f"error: {path}: {problem}; rerun the {stage} stage (dvc repro {stage})"


# -- the budget: the cleaners' decision files (winnow.decision_files.read_cleaner_tables) ----------------

@pytest.mark.hostile("intermediates")
def test_budget_refuses_flags_with_repeated_ids(project):
    # before: exit 0 on three images with two rows each (two rows of one image may flag it differently)
    edit_table(project / "data/threshold/flags.parquet", repeat_first(3))
    assert _refused(project, "budget") == _rerun("data/threshold/flags.parquet",
                                                 "3 repeated id(s), first 'train-0-0'", "threshold")


@pytest.mark.hostile("intermediates")
def test_budget_refuses_flags_missing_an_image(project):
    # before: exit 0; the image without a flags row was never dropped, as if threshold had examined it
    edit_table(project / "data/threshold/flags.parquet", _without("train-2-5"))
    assert _refused(project, "budget") == _rerun(
        "data/threshold/flags.parquet", "no row for 1 image(s) of data/degrade, first 'train-2-5'", "threshold")


@pytest.mark.hostile("intermediates")
def test_budget_refuses_groups_missing_an_image(project):
    # before: exit 0; the image without a groups row was never dropped, as if dedup had compared it
    edit_table(project / "data/dedup/groups.parquet", _without("train-1-3"))
    assert _refused(project, "budget") == _rerun(
        "data/dedup/groups.parquet", "no row for 1 image(s) of data/degrade, first 'train-1-3'", "dedup")


@pytest.mark.hostile("intermediates")
def test_budget_refuses_groups_of_another_imageset(project):
    # before: exit 0; every group named an image data/degrade does not hold, so none of its images was compared
    edit_table(project / "data/dedup/groups.parquet", lambda table: table.assign(id="old-" + table["id"]))
    assert _refused(project, "budget") == _rerun(
        "data/dedup/groups.parquet", "30 id(s) not in data/degrade, first 'old-train-0-0', and no row for 30 "
                                     "image(s) of data/degrade, first 'train-0-0'", "dedup")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner", list(LABEL_FILES))
def test_budget_refuses_label_decisions_with_repeated_ids(project, cleaner):
    # before: exit 0, each repeated image's decision read twice (a drop and a relabel of one image would both rank)
    path, stage = LABEL_FILES[cleaner]
    _with_cleaners(project, [cleaner])
    edit_table(project / path, repeat_first(2))
    assert _refused(project, "budget") == _rerun(path, "2 repeated id(s), first 'train-0-0'", stage)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner", list(LABEL_FILES))
def test_budget_refuses_label_decisions_for_an_image_the_data_lacks(project, cleaner):
    # before: exit 0; the drop of train-9-9 (decisions of another data version) counted as the "all" candidate's
    # one label-decided image, and dropped nothing
    path, stage = LABEL_FILES[cleaner]
    _with_cleaners(project, [cleaner])
    edit_table(project / path, _with_unknown)
    assert _refused(project, "budget") == _rerun(path, "1 id(s) not in data/degrade, first 'train-9-9'", stage)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner", list(LABEL_FILES))
def test_budget_refuses_label_decisions_for_a_val_image(project, cleaner):
    # before: exit 0; the sure drop of val-1-1 (a file written before the splits were carved again) took the first
    # place of every cut, as a label-decided image, and pruned dropped nothing for it
    path, stage = LABEL_FILES[cleaner]
    _with_cleaners(project, [cleaner])
    edit_table(project / path, lambda table: _with_unknown(table).replace({"id": {"train-9-9": "val-1-1"}}).assign(
        given_label=lambda t: t["given_label"].mask(t["id"] == "val-1-1", 1)))
    assert _refused(project, "budget") == _rerun(
        path, "1 image(s) outside the train split (first 'val-1-1', a val image); a label cleaner judges train "
              "images only", stage)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner", list(LABEL_FILES))
@pytest.mark.parametrize("given, problem", [
    # before: exit 0; the budget ranked and shipped decisions whose cleaner saw train-2-3 labelled 0 where
    # data/degrade labels it 2 now, while `winnow review export` refused the same file
    (lambda table: table["given_label"].where(table["id"] != "train-2-3", 0),
     "given_label differs from data/degrade for 1 image(s) (first: id 'train-2-3', 0 there, 2 in data/degrade): it "
     "judged labels that changed since"),
    # before: a traceback (TypeError: boolean value of NA is ambiguous) where given_label is a nullable integer column
    # (pandas' Int64, which parquet keeps) with one null, as the budget compared it with data/degrade's labels
    (lambda table: table["given_label"].astype("Int64").mask(table.index == 4), "row 4 has no given_label"),
], ids=["changed_since", "null"])
def test_budget_refuses_label_decisions_with_a_given_label_not_data_degrades(project, cleaner, given, problem):
    path, stage = LABEL_FILES[cleaner]
    _with_cleaners(project, [cleaner])
    edit_table(project / path, lambda table: table.assign(given_label=given))
    assert _refused(project, "budget") == _rerun(path, problem, stage)


def _decided(row: int, **values):
    """A ``change`` for :func:`edit_table`: row ``row`` of a label cleaner's decisions set to ``values``."""
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table = table.astype({column: object for column in values})
        for column, value in values.items():
            table.at[row, column] = value
        return table
    return change


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner", list(LABEL_FILES))
@pytest.mark.parametrize("values, problem", [
    ({"decision": "Relabel"}, "row 4 has decision 'Relabel', not keep, drop or relabel"),
    ({"decision": None}, "row 4 has no decision (one of keep, drop or relabel)"),
    ({"decision": "relabel", "suggested_label": 3}, "row 4 relabels to 3, not a class index in [0, 2]"),
    ({"decision": "relabel", "suggested_label": -1}, "row 4 relabels to -1, not a class index in [0, 2]"),
    ({"decision": "relabel", "suggested_label": 1.5}, "row 4 relabels to 1.5, not a class index in [0, 2]"),
])
def test_budget_refuses_a_label_decision_it_cannot_apply(project, cleaner, values, problem):
    # before: 'Relabel' or a null decision was read as keep (all 287 relabels gone, exit 0); a relabel to 12 of 10
    # classes crashed in numpy ("operands could not be broadcast"), to -1 in np.bincount, or (hidden by another
    # cleaner's drop) reached variants, which told the user to rerun the budget, which wrote it again
    path, stage = LABEL_FILES[cleaner]
    _with_cleaners(project, [cleaner])
    edit_table(project / path, _decided(4, **values))
    assert _refused(project, "budget") == _rerun(path, problem, stage)


@pytest.mark.hostile("intermediates")
def test_review_export_refuses_a_relabel_to_an_unknown_class(review):
    # before: "IndexError: list index out of range" traceback, naming the suggested class (review_decisions.review_queue)
    path = "data/embedding-clean/decisions.parquet"
    edit_table(review / path, _decided(3, suggested_label=12))  # train-06, which embedding-clean relabels
    assert _export_refused(review) == _rerun(path, "row 3 relabels to 12, not a class index in [0, 2]",
                                             "embedding-clean")


# -- the variants stage: the budget's decisions (winnow.decision_files.read_decisions) -------------------

@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("column, values, problem", [
    ("reason", ["dark", None], "row 1 has no reason"),
    ("stage", ["threshold", None], "row 1 has no stage"),
    ("reason", [3, 5], "row 0 has reason 3, not text"),
])
def test_variants_refuses_decisions_without_a_reason_or_stage(project, column, values, problem):
    # before: "TypeError: sequence item 0: expected str instance, NoneType found" traceback (apply_decisions)
    write_table(project / "data/budget/decisions.parquet", budget_stamped(project, pd.DataFrame(
        {"id": ["train-0-1", "train-1-1"], "action": "drop", "label": -1, "reason": "dark", "stage": "threshold",
         "confidence": np.nan})).assign(**{column: values}))
    assert _refused(project, "variants") == _rerun("data/budget/decisions.parquet", problem, "budget")


@pytest.mark.hostile("intermediates")
def test_variants_refuses_decisions_for_an_image_the_data_lacks(project):
    # before: exit 0, the drop of train-9-9 silently ignored (apply_decisions skips ids outside the train rows)
    write_table(project / "data/budget/decisions.parquet", budget_stamped(project, pd.DataFrame(
        {"id": ["train-0-1", "train-9-9"], "action": "drop", "label": -1, "reason": "dark", "stage": "threshold",
         "confidence": np.nan})))
    assert _refused(project, "variants") == _rerun("data/budget/decisions.parquet",
                                                   "1 id(s) not in data/degrade, first 'train-9-9'", "budget")


# -- the contracts (and balance, which checks balanced's): scores, flags, groups, label issues ------------

@pytest.mark.hostile("intermediates")
def test_contracts_refuse_scores_with_repeated_ids(project):
    # before: exit 0, the scores contract checked 32 rows for 30 images and passed
    edit_table(project / "data/score/scores.parquet", repeat_first(2))
    assert _refused(project, "contracts") == _rerun("data/score/scores.parquet",
                                                    "2 repeated id(s), first 'train-0-0'", "score")


@pytest.mark.hostile("intermediates")
def test_contracts_refuse_scores_missing_an_image(project):
    # before: exit 0, the scores contract passed on 29 rows: the image without one was never checked
    edit_table(project / "data/score/scores.parquet", _without("val-2-1"))
    assert _refused(project, "contracts") == _rerun(
        "data/score/scores.parquet", "no row for 1 image(s) of data/degrade, first 'val-2-1'", "score")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["contracts", "balance"])
def test_variant_contracts_refuse_flags_with_repeated_ids(project, stage):
    # before: "ValueError: cannot reindex on an axis with duplicate labels" traceback (contract_tables._lookup)
    edit_table(project / "data/threshold/flags.parquet", repeat_first(2))
    assert _refused(project, stage) == _rerun("data/threshold/flags.parquet", "2 repeated id(s), first 'train-0-0'",
                                              "threshold")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["contracts", "balance"])
def test_variant_contracts_refuse_groups_missing_an_image(project, stage):
    # before: contracts exit 0 (the image without a groups row counted as not measured, and the contract passed);
    # balance went on past the check
    edit_table(project / "data/dedup/groups.parquet", _without("train-1-3"))
    assert _refused(project, stage) == _rerun(
        "data/dedup/groups.parquet", "no row for 1 image(s) of data/degrade, first 'train-1-3'", "dedup")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["contracts", "balance"])
def test_variant_contracts_refuse_label_issues_with_repeated_ids(project, stage):
    # before: "ValueError: cannot reindex on an axis with duplicate labels" traceback (contract_tables._lookup)
    edit_table(project / "data/confident-learn/label_issues.parquet", repeat_first(1))
    assert _refused(project, stage) == _rerun("data/confident-learn/label_issues.parquet",
                                              "1 repeated id(s), first 'train-0-0'", "confident-learn")


# -- winnow review export: scores, the cleaners' tables and the budget's decisions -------------------------

@pytest.fixture
def review(tmp_path) -> Path:
    """review_project's project (every cleaner in pruned.cleaners), not yet exported."""
    return write_project(tmp_path / "review")


def _export_refused(project: Path) -> str:
    """`winnow review export` ends in one error line (returned) and writes nothing."""
    before = files_under(project)
    line = assert_error_line(run_winnow(project, "review", "export"))
    assert_nothing_left(project, before)
    return line


@pytest.mark.hostile("intermediates")
def test_review_export_refuses_scores_with_repeated_ids(review):
    # before: "ValueError: operands could not be broadcast together" traceback (review_decisions.decision_evidence)
    edit_table(review / "data/score/scores.parquet", repeat_first(2))
    assert _export_refused(review) == _rerun("data/score/scores.parquet", "2 repeated id(s), first 'train-00'",
                                             "score")


@pytest.mark.hostile("intermediates")
def test_review_export_refuses_a_nan_score(review):
    # before: exit 0, train-00's quality drop listed without a score, last instead of first
    edit_table(review / "data/score/scores.parquet", lambda table: table.assign(dark=table["dark"].where(
        table["id"] != "train-00")))
    assert _export_refused(review) == _rerun("data/score/scores.parquet", "no score (NaN) for 1 images in dark",
                                             "score")


@pytest.mark.hostile("intermediates")
def test_review_export_refuses_groups_missing_an_image(review):
    # before: exit 0, a queue built on a groups table that had never seen val-1
    edit_table(review / "data/dedup/groups.parquet", _without("val-1"))
    assert _export_refused(review) == _rerun(
        "data/dedup/groups.parquet", "no row for 1 image(s) of data/degrade, first 'val-1'", "dedup")


@pytest.mark.hostile("intermediates")
def test_review_export_refuses_budget_decisions_for_an_image_the_data_lacks(review):
    # before: exit 0, the drop of train-99 silently left out of the queue
    edit_table(review / "data/budget/decisions.parquet", lambda table: pd.concat(
        [table, table.iloc[:1].assign(id="train-99")], ignore_index=True))
    assert _export_refused(review) == _rerun("data/budget/decisions.parquet",
                                             "1 id(s) not in data/degrade, first 'train-99'", "budget")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner", ["confident_learn", "embedding_clean"])  # review_project's label cleaners
def test_review_export_names_a_label_cleaners_missing_given_label_once(review, cleaner):
    # before: "lacks column(s) given_label, given_label": the queue's own columns listed it beside the readers'
    path, stage = LABEL_FILES[cleaner]
    edit_table(review / path, lambda table: table.drop(columns="given_label"))
    assert _export_refused(review) == _rerun(path, "lacks column(s) given_label", stage)


def test_the_template_passes_the_stages_the_cases_refuse(project, review):
    """The same projects, intact: budget, variants and contracts finish, and so does the review export (each
    case above fails for its damage alone)."""
    _with_cleaners(project, ["threshold", "dedup", *LABEL_FILES])
    for stage in ("budget", "variants", "contracts"):
        done = run_stage(project, stage)
        assert done.returncode == 0, done.stderr[-2000:]
    assert pd.read_parquet(project / "data/variants/pruned/rows.parquet")["action"].eq("keep").all()
    done = run_winnow(review, "review", "export")
    assert done.returncode == 0, done.stderr[-2000:]
