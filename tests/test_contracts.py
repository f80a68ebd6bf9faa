"""Data contracts: suite files, the tables they check, GX validation, and the contracts stage.

Great Expectations takes seconds to import, so every GX check of the suites runs in one module-scoped
validation and the stage runs on one tiny project (warn, enforce, and the training it stops).
"""

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import default_params, log_nothing_planted, write_judged
from winnow.contract_tables import ingest_table, measurements, variant_table, with_digests
from winnow.contract_verdict import refuse_failed
from winnow.contracts import SUITES, Batch, Suite, check_settings, load_suite, validate
from winnow.errors import WinnowError
from winnow.imageset import pixel_digest, write_imageset
from winnow.quality import SCORES
from winnow.stage import run, write_table
from winnow.variants import write_variant
from winnow.verdicts import apply_verdicts

ROOT = Path(__file__).resolve().parents[1]
BOUNDS = {"min_images_per_class": 3, "min_class_balance": 0.2, "max_duplicate_rate": 0.01,
          "max_label_issue_rate": 0.05, "max_flagged_rate": 0.05, "min_completeness": 0.99}
PARAMETERS = BOUNDS | {"max_label": 1, "image_size": 4}


def _suites(parameters=PARAMETERS):
    return {name: load_suite(ROOT / "contracts" / f"{name}.yaml", parameters=parameters) for name in SUITES}


def _manifest(n=8):
    return pd.DataFrame({"id": [f"i{k}" for k in range(n)], "split": ["train"] * (n - 2) + ["val", "test"],
                         "label": [k % 2 for k in range(n)], "source": "t", "orig_h": 4, "orig_w": 4,
                         "orig_mode": "L", "digest": [f"d{k}" for k in range(n)]})


def _variant_row(**rates):
    good = {"duplicate_rate": 0.0, "label_issue_rate": 0.01, "flagged_rate": 0.0, "class_balance": 0.9,
            "completeness": 1.0}
    return pd.DataFrame([{"variant": "v", **good, **rates}])


# -- one GX validation of passing and failing tables for every suite -------------------------------

def _batches() -> list[Batch]:
    """A passing and a failing table for every suite."""
    suites = _suites()
    bad_manifest = _manifest()
    bad_manifest.loc[1, "id"] = "i0"            # repeated id
    bad_manifest.loc[2, "split"] = "holdout"    # unknown split
    bad_manifest.loc[3, "label"] = 7            # outside classes.json
    bad_manifest.loc[4, "digest"] = None        # missing value
    good_scores = pd.DataFrame({"id": ["a", "b"], **{s: [0.0, 1.0] for s in SCORES}})
    bad_scores = good_scores.copy()
    bad_scores.loc[0, "dark"], bad_scores.loc[1, "blurry"] = np.nan, 1.5
    batches = [
        Batch(suites["ingest"], "good", ingest_table(_manifest(), image_shape=(8, 4, 4, 1), num_classes=2)),
        Batch(suites["ingest"], "bad", ingest_table(bad_manifest, image_shape=(8, 4, 5, 2), num_classes=2)),
        Batch(suites["scores"], "good", good_scores),
        Batch(suites["scores"], "bad", bad_scores),
        Batch(suites["variant"], "good", _variant_row()),
        Batch(suites["variant"], "bad", _variant_row(duplicate_rate=0.03, label_issue_rate=None, class_balance=0.1,
                                                     completeness=0.9)),
    ]
    return batches


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs") / "contracts"
    results = validate(_batches(), docs_dir=docs)
    return {(s, t): [r for r in results if r.suite == s and r.table == t] for s, t in
            {(r.suite, r.table) for r in results}}, docs


@pytest.mark.parametrize("suite", SUITES)
def test_passing_table_passes_every_expectation(checked, suite):
    results, _ = checked
    assert results[(suite, "good")] and all(r.success for r in results[(suite, "good")])


def test_failing_ingest_table_names_each_broken_rule(checked):
    failed = {r.description: r for r in checked[0][("ingest", "bad")] if not r.success}
    assert set(failed) == {"ids unique", "no missing digest", "labels index classes.json",
                           "split is train, val, test or trusted", "image width is ingest.size",
                           "one (grey) or three (RGB) channels", "enough train images in every class"}
    assert failed["ids unique"].observed == "2 of 8 rows, e.g. ['i0', 'i0']"
    assert failed["labels index classes.json"].bound == "in [0, 1]"
    assert failed["image width is ingest.size"].line() == (
        "ingest[bad]: image width is ingest.size: observed 8 of 8 rows, e.g. ['5', '5', '5'], bound = 4 "
        "(expect_column_values_to_be_between(width))")


def test_failing_scores_table_catches_nan_and_out_of_range(checked):
    failed = {(r.expectation, r.column) for r in checked[0][("scores", "bad")] if not r.success}
    assert failed == {("expect_column_values_to_not_be_null", "dark"),
                      ("expect_column_values_to_be_between", "blurry")}


def test_failing_variant_table_reports_observed_value_bound_and_not_measured(checked):
    lines = [r.line() for r in checked[0][("variant", "bad")] if not r.success]
    assert lines == [
        "variant[bad]: duplicate rate: observed 0.03, bound <= 0.01 (expect_column_max_to_be_between(duplicate_rate))",
        "variant[bad]: estimated label-issue rate: observed not measured, bound <= 0.05 "
        "(expect_column_max_to_be_between(label_issue_rate))",
        "variant[bad]: class balance (smallest / largest class): observed 0.1, bound >= 0.2 "
        "(expect_column_min_to_be_between(class_balance))",
        "variant[bad]: completeness: observed 0.9, bound >= 0.99 (expect_column_min_to_be_between(completeness))",
    ]


def test_data_docs_site_has_a_page_per_validation(checked):
    _, docs = checked
    pages = {p.name for p in (docs / "validations").rglob("*.html")}
    assert (docs / "index.html").is_file() and {"winnow-ingest-bad.html", "winnow-variant-good.html"} <= pages


def test_data_docs_are_the_same_bytes_when_the_same_tables_are_checked_again(checked, tmp_path):
    # the docs folders are DVC outputs: a rerun on the same data must not make them (and dvc status) differ
    _, docs = checked
    again = tmp_path / "again"
    validate(_batches(), docs_dir=again)
    pages = sorted(p.relative_to(docs) for p in docs.rglob("*") if p.is_file())
    assert pages == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert [p for p in pages if (docs / p).read_bytes() != (again / p).read_bytes()] == []
    page = (docs / "validations").rglob("winnow-ingest-good.html").__next__().read_text()
    assert "ge_load_time" in page and not re.search(r"20\d{6}T\d{6}", page)  # the load time is not kept


def test_missing_column_is_a_failure_with_gx_error_and_unknown_type_a_one_line_error():
    suite = Suite(name="t", path="t.yaml", left_out=[], expectations=[
        {"type": "expect_column_max_to_be_between", "kwargs": {"column": "gone", "max_value": 1}, "description": "d"}])
    [result] = validate([Batch(suite, "t", pd.DataFrame({"a": [1]}))])
    # observed carries Great Expectations' own message, which names the column
    assert not result.success and result.observed.startswith("error: ") and '"gone"' in result.observed
    unknown = Suite(name="u", path="u.yaml", left_out=[], expectations=[
        {"type": "expect_column_to_be_tidy", "kwargs": {"column": "a"}, "description": "tidy"}])
    with pytest.raises(WinnowError, match=r"u.yaml: expectation 1 \(expect_column_to_be_tidy: tidy\) is rejected"):
        validate([Batch(unknown, "u", pd.DataFrame({"a": [1]}))])


@pytest.mark.hostile("intermediates")
def test_a_rule_great_expectations_rejects_is_named_by_its_place_in_the_file(tmp_path):
    # found by probing: with two rules left out (null bounds) before it, the file's 17th rule was named
    # "expectation 15", another rule
    (tmp_path / "ingest.yaml").write_text(
        "name: ingest\nexpectations:\n"
        "  - {type: expect_column_max_to_be_between, kwargs: {column: a, max_value: {$PARAMETER: gone}}}\n"
        "  - {type: expect_column_to_be_tidy, description: my rule, kwargs: {column: a}}\n")
    suite = load_suite(tmp_path / "ingest.yaml", parameters={"gone": None})
    with pytest.raises(WinnowError, match=r"ingest.yaml: expectation 2 \(expect_column_to_be_tidy: my rule\) is "):
        validate([Batch(suite, "ingest", pd.DataFrame({"a": [1]}))])


@pytest.mark.hostile("intermediates")
def test_a_rule_great_expectations_fails_on_while_checking_is_one_line_naming_suite_and_table():
    # before: GX's results store raised a TypeError traceback on the quantile rule's numpy booleans; load_suite
    # refuses that rule, so a Suite built here reaches the fault as any other GX defect would
    suite = Suite(name="q", path="q.yaml", left_out=[], expectations=[
        {"type": "expect_column_quantile_values_to_be_between", "description": "median",
         "kwargs": {"column": "a", "quantile_ranges": {"quantiles": [0.5], "value_ranges": [[0, 9]]}}}])
    with pytest.raises(WinnowError) as raised:
        validate([Batch(suite, "train", pd.DataFrame({"a": [1, 2, 3]}))])
    assert str(raised.value) == ("q.yaml: Great Expectations failed checking table 'train': TypeError: Object of "
                                 "type bool is not JSON serializable")


def test_a_machine_fault_inside_great_expectations_keeps_its_own_line(monkeypatch):
    # found by a review: the catch of GX's own defects took MemoryError too, and its line lost the advice on memory
    import great_expectations as gx

    def out_of_memory(*_args, **_kwargs):
        raise MemoryError

    monkeypatch.setattr(gx.ValidationDefinition, "run", out_of_memory)
    suite = Suite(name="t", path="t.yaml", left_out=[], expectations=[
        {"type": "expect_column_max_to_be_between", "kwargs": {"column": "a", "max_value": 1}, "description": "d"}])
    with pytest.raises(MemoryError):
        validate([Batch(suite, "t", pd.DataFrame({"a": [1]}))])


def test_scores_suite_covers_every_quality_score():
    checked_columns = {e["kwargs"]["column"] for e in _suites()["scores"].expectations}
    assert checked_columns == set(SCORES)


# -- suite files and settings, no GX ---------------------------------------------------------------

def test_null_bound_leaves_its_expectation_out_and_says_so():
    suite = _suites(PARAMETERS | {"image_size": None})["ingest"]
    assert "height" not in {e["kwargs"].get("column") for e in suite.expectations}
    assert suite.left_out == ["ingest: image height is ingest.size left out (image_size is null)",
                              "ingest: image width is ingest.size left out (image_size is null)"]


def test_unknown_parameter_and_bad_settings_are_one_line_errors(tmp_path):
    with pytest.raises(WinnowError, match=r"variant.yaml: expectation 1: unknown parameter 'max_duplicate_rate'"):
        load_suite(ROOT / "contracts" / "variant.yaml", parameters={})
    (tmp_path / "s.yaml").write_text("name: s\nexpectations: [{type: column_max, kwargs: {}}]\n")
    with pytest.raises(WinnowError, match="expectation 1 needs `type: expect_...`"):
        load_suite(tmp_path / "s.yaml", parameters={})
    with pytest.raises(WinnowError, match="contracts.mode: must be one of enforce, warn"):
        check_settings({"mode": "strict"})
    with pytest.raises(WinnowError, match="contracts.bounds.max_flagged_rate: must be a number or null"):
        check_settings({"bounds": {"max_flagged_rate": "5%"}})



def test_bounds_left_out_or_a_null_section_are_no_bounds():
    # before: params.yaml allowed contracts.bounds: null, every stage ran, and the contracts stage then refused
    # "unknown parameter 'min_images_per_class'"
    nothing = dict.fromkeys(["min_images_per_class", "min_class_balance", "max_duplicate_rate", "max_label_issue_rate",
                             "max_flagged_rate", "min_completeness"])
    assert check_settings({"bounds": None})["bounds"] == nothing == check_settings({})["bounds"]
    assert check_settings({"bounds": {"max_flagged_rate": 0.1}})["bounds"] == nothing | {"max_flagged_rate": 0.1}
    suite = load_suite(ROOT / "contracts" / "variant.yaml", parameters=nothing)
    assert suite.expectations == [] and len(suite.left_out) == 5
    assert "variant: duplicate rate left out (max_duplicate_rate is null)" in suite.left_out


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("text", "message"), [
    # before: stored under scores, so the file's own expectations never ran and an enforced contract passed
    ("name: scores\nexpectations: [{type: expect_column_values_to_be_unique, kwargs: {column: id}}]\n",
     "ingest.yaml: name 'scores' must be 'ingest', the file's own name"),
    # before: TypeError (unhashable list) and Great Expectations' SuiteParameterError tracebacks
    ("name: ingest\nexpectations: [{type: expect_column_min_to_be_between, kwargs: {column: a, min_value: "
     "{$PARAMETER: [image_size]}}}]\n", "ingest.yaml: expectation 1: {$PARAMETER: ...} takes one bound name and "
                                         "nothing beside it"),
    ("name: ingest\nexpectations: [{type: expect_column_min_to_be_between, kwargs: {column: a, min_value: "
     "{$PARAMETER: image_size, x: 1}}}]\n", "ingest.yaml: expectation 1: {$PARAMETER: ...} takes one bound name"),
    # before: no bound, a null or a NaN one passed on anything, and an enforced contract trained
    ("name: ingest\nexpectations: [{type: expect_column_max_to_be_between, kwargs: {column: a, max_value: .nan}}]\n",
     "ingest.yaml: expectation 1 (expect_column_max_to_be_between) has no finite min_value or max_value, so it "
     "passes on anything"),
    ("name: ingest\nexpectations: [{type: expect_column_max_to_be_between, kwargs: {column: a, max_value: null}}]\n",
     "ingest.yaml: expectation 1 (expect_column_max_to_be_between) has no finite min_value or max_value"),
    # before: the second expectations list replaced the first, and only its one rule was checked
    ("name: ingest\nexpectations: [{type: expect_column_values_to_be_unique, kwargs: {column: id}}]\n"
     "expectations: [{type: expect_column_values_to_not_be_null, kwargs: {column: id}}]\n",
     'ingest.yaml: not valid YAML at line 3: found duplicate key "expectations"'),
    # before: a misspelt key (the rules it held never ran), a row_condition beside kwargs (dropped), mostly 0 (passes
    # on anything): each read as a passing contract
    ("name: ingest\nexpectations: [{type: expect_column_values_to_be_unique, kwargs: {column: id}}]\n"
     "expectation: [{type: expect_column_max_to_be_between, kwargs: {column: label, max_value: 1}}]\n",
     "ingest.yaml: unknown key 'expectation' (a suite holds expectations, id, meta, name, notes)"),
    ("name: ingest\nexpectations: [{type: expect_column_values_to_be_unique, kwargs: {column: id}, "
     "row_condition: 'split==\"train\"'}]\n",
     "ingest.yaml: expectation 1: unknown key 'row_condition' (an expectation holds description, id, kwargs, meta, "
     "notes, rendered_content, severity, type; its options go in kwargs)"),
    ("name: ingest\nexpectations: [{type: expect_column_values_to_be_unique, kwargs: {column: label, mostly: 0}}]\n",
     "ingest.yaml: expectation 1 (expect_column_values_to_be_unique) has mostly 0, so it passes on anything"),
    # before: a placeholder inside a list was never bound: "in {0, 1, {'$PARAMETER': 'max_label'}}"
    ("name: ingest\nexpectations: [{type: expect_column_values_to_be_in_set, kwargs: {column: a, value_set: [0, 1, "
     "{$PARAMETER: max_label}]}}]\n", "ingest.yaml: expectation 1: {$PARAMETER: ...} stands for a whole option's "
                                        "value, not a part of one"),
    # before: a null type_list, partition_object or threshold checked nothing and passed on any data
    ("name: ingest\nexpectations: [{type: expect_column_values_to_be_in_type_list, kwargs: {column: a, "
     "type_list: null}}]\n", "ingest.yaml: expectation 1 (expect_column_values_to_be_in_type_list) has no type_list, "
                              "so it passes on anything"),
    ("name: ingest\nexpectations: [{type: expect_column_kl_divergence_to_be_less_than, kwargs: {column: a, "
     "threshold: 0.1}}]\n", "ingest.yaml: expectation 1 (expect_column_kl_divergence_to_be_less_than) has no "
                             "partition_object, so it passes on anything"),
    ("name: ingest\nexpectations: [{type: expect_column_kl_divergence_to_be_less_than, kwargs: {column: a, "
     "partition_object: {values: [1, 2], weights: [0.5, 0.5]}, threshold: null}}]\n",
     "ingest.yaml: expectation 1 (expect_column_kl_divergence_to_be_less_than) has no threshold"),
    # before: refused as having no bound although its ranges were bounded; with them, GX's results store raised a
    # TypeError traceback (numpy booleans in the result)
    ("name: ingest\nexpectations: [{type: expect_column_quantile_values_to_be_between, kwargs: {column: a, "
     "quantile_ranges: {quantiles: [0.5], value_ranges: [[0, 1]]}}}]\n",
     "ingest.yaml: expectation 1 (expect_column_quantile_values_to_be_between): Great Expectations 1.x fails to store "
     "this rule's result (a defect of its own); use expect_column_median_to_be_between"),
    # before: a description over two lines made a two-line error
    ("name: ingest\nexpectations: [{type: expect_column_max_to_be_between, description: \"label max\\nsee wiki\", "
     "kwargs: {column: a}}]\n", "ingest.yaml: expectation 1 (label max see wiki) has no finite min_value"),
])
def test_a_suite_file_edited_into_nonsense_is_one_line(tmp_path, text, message):
    (tmp_path / "ingest.yaml").write_text(text)
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters=PARAMETERS)
    assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.hostile("intermediates")
def test_a_per_row_rule_that_examines_no_row_fails_and_distinct_values_name_what_is_unexpected(tmp_path):
    # before: a row_condition that selected no row ('split=="Train"') passed "0 of 0 rows"; a distinct-values rule
    # failed with "observed not measured", hiding the value that failed it
    (tmp_path / "ingest.yaml").write_text(
        "name: ingest\nexpectations:\n"
        "  - {type: expect_column_values_to_be_in_set, kwargs: {column: label, value_set: [0, 1], "
        "row_condition: 'split==\"Train\"', condition_parser: pandas}}\n"
        "  - {type: expect_column_distinct_values_to_be_in_set, kwargs: {column: label, value_set: [0, 5]}}\n")
    suite = load_suite(tmp_path / "ingest.yaml", parameters=PARAMETERS)
    frame = pd.DataFrame({"label": [0, 5, 9], "split": ["train", "val", "test"]})
    none, distinct = validate([Batch(suite, "ingest", frame)])
    assert (none.success, none.observed) == (False, "no row examined (its row_condition selects none)")
    assert (distinct.success, distinct.observed) == (False, "1 unexpected value(s), e.g. ['9']")


def test_a_suite_exported_by_great_expectations_keeps_its_own_keys(tmp_path):
    # found by review: GX 1.x's export adds id and notes to the suite, id and severity to each rule; refused as typos
    (tmp_path / "ingest.yaml").write_text(
        "name: ingest\nid: 1b2c\nnotes: null\nexpectations:\n  - {type: expect_column_values_to_not_be_null, "
        "kwargs: {column: id}, id: 9f, severity: critical, notes: null, meta: {}}\n")
    assert [e["type"] for e in load_suite(tmp_path / "ingest.yaml", parameters={}).expectations] == [
        "expect_column_values_to_not_be_null"]


@pytest.mark.hostile("intermediates")
def test_a_suite_file_that_is_not_utf8_is_one_line(tmp_path):
    # before: UnicodeDecodeError traceback; then only the byte (`invalid start byte at byte 28`), which no editor
    # shows, where params.yaml's line names the line, and UTF-16 (PowerShell 5's > and Out-File) by name
    path = tmp_path / "ingest.yaml"
    path.write_bytes(b"name: ingest\nexpectations: [\xff]\n")  # 13 + 15 bytes before it, on line 2
    with pytest.raises(WinnowError) as refused:
        load_suite(path, parameters=PARAMETERS)
    assert str(refused.value) == f"{path}: not UTF-8 text (invalid start byte at line 2, byte 28); save it as UTF-8"
    path.write_text("name: ingest\nexpectations: []\n", encoding="utf-16")
    with pytest.raises(WinnowError) as refused:
        load_suite(path, parameters=PARAMETERS)
    assert str(refused.value) == (f"{path}: not UTF-8 text (it is UTF-16, as PowerShell's > and Out-File write it); "
                                  "save it as UTF-8")


def test_importing_the_contract_modules_leaves_great_expectations_unimported():
    code = ("import sys, winnow.contracts, winnow.contract_tables; "
            "sys.exit('great_expectations' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


# -- the variant rates -------------------------------------------------------------------------------

def test_variant_rates_count_only_what_the_cleaners_measured():
    degraded = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "digest": ["A", "B2", "C", "D", "E"]})
    flags = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "any": [False, True, False, False, False]})
    groups = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "split": "train", "group": [0, 0, 1, 2, 2]})
    issues = pd.DataFrame({"id": ["c", "d"], "given_label": [1, 0], "is_issue": [True, True]})
    measured = measurements(degraded, flags=flags, groups=groups, label_issues=issues)
    # the oracle's "b" holds other pixels than degrade's "b" (B, not B2): neither its flag nor its group apply;
    # its "d" carries label 1, not the 0 confident-learn doubted
    rows = pd.DataFrame({"id": ["a", "b", "c", "d", "e", "f"], "origin": "ingest", "label": [0, 1, 1, 1, 0, 5],
                         "action": ["keep"] * 5 + ["drop"], "stage": ""})
    rows = with_digests(rows, manifests={"ingest": pd.DataFrame({"id": list("abcde"), "digest": list("ABCDE")})})
    row = variant_table("oracle", rows, measured=measured, num_classes=2).iloc[0]
    assert row["duplicate_rate"] == pytest.approx(2 / 4)    # d and e share group 2
    assert row["flagged_rate"] == 0.0 and row["label_issue_rate"] == pytest.approx(1 / 2)
    assert row["class_balance"] == pytest.approx(2 / 3) and row["completeness"] == 1.0
    assert row["measured_share"] == pytest.approx(4 / 5)
    # before: labels written as text ("1") matched no given label, so the rate read 0.0 and the check passed
    as_text = variant_table("oracle", rows.assign(label=rows["label"].astype(str)), measured=measured, num_classes=2)
    assert as_text.iloc[0]["label_issue_rate"] == pytest.approx(1 / 2)
    nothing = measurements(degraded, flags=None, groups=None, label_issues=None)
    unmeasured = variant_table("v", rows, measured=nothing, num_classes=2).iloc[0]
    assert unmeasured[["duplicate_rate", "label_issue_rate", "flagged_rate"]].isna().all()


# -- the stage ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A tiny pipeline state: 8 ingested images, a clean baseline and a pruned variant holding a duplicate."""
    root = tmp_path_factory.mktemp("project")
    images = np.arange(8, dtype=np.uint8)[:, None, None, None].repeat(8, 1).repeat(8, 2)
    manifest = _manifest().drop(columns="digest")
    manifest["digest"] = pixel_digest(images)
    for name in ("ingest", "degrade"):
        write_imageset(root / "data" / name, images, manifest, ["zero", "one"])
    log_nothing_planted(root)  # degrade's log, as degrade off writes it: threshold (run on a copy) refuses none
    # the score stage writes each image's pixel digest beside its scores: the contracts stage refuses scores without it
    write_judged(root, "data/score/scores.parquet", pd.DataFrame({"id": manifest["id"], **{s: 0.5 for s in SCORES}}))
    tables = {"threshold/flags.parquet": pd.DataFrame({"id": manifest["id"], "any": False}),
              "dedup/groups.parquet": pd.DataFrame({"id": manifest["id"], "split": manifest["split"],
                                                    "group": [0, 0, 1, 2, 3, 4, 5, 6]}),
              "confident-learn/label_issues.parquet": pd.DataFrame(
                  {"id": manifest["id"], "given_label": manifest["label"], "is_issue": False})}
    for path, table in tables.items():
        write_judged(root, f"data/{path}", table)
    train = manifest[manifest["split"] == "train"]
    rows = pd.DataFrame({"id": train["id"], "origin": "degrade", "label": train["label"], "action": "keep",
                         "reason": "", "stage": ""})
    write_variant("pruned", rows, root=root / "data/variants")
    write_variant("baseline", rows.assign(action=["drop"] + ["keep"] * 5), root=root / "data/variants")
    shutil.copytree(ROOT / "contracts", root / "contracts")
    return root


def _stage_module(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_stage", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _params(variants=("baseline", "pruned", "augmented"), **contracts) -> dict:
    params = default_params()
    return params | {"ingest": params["ingest"] | {"size": 8}, "variants": list(variants),
                     "contracts": {"mode": "warn", "enforce_variants": ["pruned"], "bounds": BOUNDS} | contracts}


def _run_stage(root, monkeypatch, *, variants=("baseline", "pruned", "augmented"), **contracts):
    (root / "params.yaml").write_text(yaml.safe_dump(_params(variants, **contracts)))
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", ["contracts.py"])
    run(_stage_module("contracts").main)  # as the stage calls it


# the project breaks one expectation: pruned keeps i0 and i1, which share dedup group 0, among its 6 train
# images (2 / 6 = 0.3333 against max_duplicate_rate 0.01); the baseline drops i0, so i1 has no kept copy
DUPLICATE_LINE = ("variant[pruned]: duplicate rate: observed 0.3333, bound <= 0.01 "
                  "(expect_column_max_to_be_between(duplicate_rate))")
REFUSED = ("error: pruned's contract failed under contracts.mode enforce (1 failure(s), listed in "
           "metrics/contracts/pruned.json; Data Docs in reports/contracts/pruned/index.html): not trained")


def test_one_run_checks_ingest_scores_and_each_variant_the_variants_stage_wrote(project, monkeypatch, capsys):
    _run_stage(project, monkeypatch, mode="warn")
    sizes = {name: len(suite.expectations) for name, suite in _suites().items()}  # each checked once
    out = capsys.readouterr().out.splitlines()
    assert (f"contracts: ingest {sizes['ingest']}/{sizes['ingest']} passed, "
            f"scores {sizes['scores']}/{sizes['scores']} passed") in out
    assert [line for line in out if line.startswith("contracts: baseline") or line.startswith("contracts: pruned")] \
        == [f"contracts: baseline {sizes['variant']}/{sizes['variant']} passed",
            f"contracts: pruned {sizes['variant'] - 1}/{sizes['variant']} passed"]
    assert f"warning: {DUPLICATE_LINE}" in out
    metrics = json.loads((project / "metrics/contracts.json").read_text())
    assert metrics["suites"] == {"ingest": {"passed": sizes["ingest"], "failed": 0, "failures": []},
                                 "scores": {"passed": sizes["scores"], "failed": 0, "failures": []}}
    pruned = json.loads((project / "metrics/contracts/pruned.json").read_text())
    assert (pruned["passed"], pruned["failed"], pruned["failures"], pruned["enforced"]) == (4, 1, [DUPLICATE_LINE], False)
    assert json.loads((project / "metrics/contracts/baseline.json").read_text())["duplicate_rate"] == 0.0  # i0 dropped
    for site in ("inputs", "baseline", "pruned"):
        assert (project / "reports/contracts" / site / "index.html").is_file()
    # oracle is not trained: a stand-in, not a check (augmented is gan-synthesize's to check)
    assert json.loads((project / "metrics/contracts/oracle.json").read_text()) == {
        "skipped": "oracle is not in params.yaml variants"}
    assert [p.name for p in (project / "reports/contracts/oracle").iterdir()] == ["skipped.txt"]
    assert not (project / "metrics/contracts/augmented.json").exists()


def test_enforce_mode_stops_only_the_enforced_variants_training(project, monkeypatch, capsys):
    _run_stage(project, monkeypatch, mode="enforce", enforce_variants=["pruned"])  # the stage itself goes on
    assert capsys.readouterr().err.splitlines() == [
        f"contract failed: {DUPLICATE_LINE}",
        "contracts: pruned's contract failed under enforce: train@pruned will refuse to train it"]
    train = _stage_module("train")
    monkeypatch.setattr(sys, "argv", ["train.py", "pruned"])
    with pytest.raises(SystemExit) as stopped:
        run(train.main, reads_arguments=True)
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [REFUSED]
    assert not (project / "models").exists()
    params = _params(mode="enforce", enforce_variants=["pruned"])
    refuse_failed("baseline", params=params)  # passed its contract: trains
    # the same failure in warn mode stops nothing
    _run_stage(project, monkeypatch, mode="warn", enforce_variants=["pruned"])
    refuse_failed("pruned", params=_params(mode="warn"))


# the suite file the passes below were checked against, as the test writes it in its folder
SUITE_FILE = {"contracts/ingest.yaml": hashlib.sha256(b"name: ingest\n").hexdigest()}
# (and its data files, missing here as they were then)
PASSED_INPUTS = {"mode": "enforce", "bounds": BOUNDS, "settings": {"ingest.size": 8}, "suite_files": SUITE_FILE,
                 "data_files": {"data/score/scores.parquet": None},
                 "suites": {"ingest": {"passed": 14, "failed": 0}, "scores": {"passed": 14, "failed": 0}}}
NO_VERDICT = ("metrics/contracts/balanced.json holds no verdict of balanced's contract checked under contracts.mode "
              "enforce: run the balance stage first (dvc repro balance)")


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("inputs", "verdict", "expected"), [
    (None, None, "metrics/contracts.json holds no verdict of the ingest and scores contracts checked under "
                 "contracts.mode enforce: run the contracts stage first (dvc repro contracts)"),
    (PASSED_INPUTS | {"mode": "warn"}, None, "metrics/contracts.json holds no verdict of the ingest and scores "
     "contracts checked under contracts.mode enforce: run the contracts stage first (dvc repro contracts)"),
    ({"mode": "enforce", "suites": {"ingest": {"failed": 2}, "scores": {"failed": 0}}}, None,
     "the ingest and scores contracts failed under contracts.mode enforce (2 failure(s), listed in "
     "metrics/contracts.json; Data Docs in reports/contracts/inputs/index.html): not trained"),
    (PASSED_INPUTS, None, NO_VERDICT),
    (PASSED_INPUTS, {"variant": "balanced", "enforced": False, "failed": 3}, NO_VERDICT),  # checked under warn
    (PASSED_INPUTS, {"variant": "baseline", "enforced": True, "failed": 0}, NO_VERDICT),  # another variant's
    (PASSED_INPUTS, {"variant": "balanced", "enforced": True, "failed": True}, NO_VERDICT),
    (PASSED_INPUTS, {"variant": "balanced", "enforced": True}, NO_VERDICT),
    (PASSED_INPUTS, ["balanced", 0], NO_VERDICT),
    # a hand-edited verdict of no suite, or of the ingest suite alone: before, no failure counted, and it passed
    (PASSED_INPUTS | {"suites": {}}, None, "metrics/contracts.json holds no verdict of the ingest and scores "
     "contracts checked under contracts.mode enforce: run the contracts stage first (dvc repro contracts)"),
    (PASSED_INPUTS | {"suites": {"ingest": {"passed": 14, "failed": 0}}}, None, "metrics/contracts.json holds no "
     "verdict of the ingest and scores contracts checked under contracts.mode enforce: run the contracts stage first "
     "(dvc repro contracts)"),
    # a verdict of a run before the data files were recorded
    ({k: v for k, v in PASSED_INPUTS.items() if k != "data_files"}, None, "metrics/contracts.json holds a verdict "
     "that does not record the data files it was computed from: run the contracts stage first (dvc repro contracts)"),
], ids=["no-inputs", "inputs-under-warn", "inputs-failed", "no-verdict", "stale-warn-verdict", "foreign-verdict",
        "bool-failed", "no-failed", "a-list", "no-suite", "no-scores-suite", "no-data-files"])
def test_an_enforced_training_needs_a_current_passing_verdict(tmp_path, monkeypatch, inputs, verdict, expected):
    # before: train@v trusted the verdict's own enforced flag: a verdict from a warn run (or without the flag)
    # let a hand-run training of an enforced variant whose contract failed go on
    monkeypatch.chdir(tmp_path)
    (tmp_path / "metrics/contracts").mkdir(parents=True)
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/ingest.yaml").write_text("name: ingest\n")
    if inputs is not None:
        (tmp_path / "metrics/contracts.json").write_text(json.dumps(inputs))
    if verdict is not None:
        (tmp_path / "metrics/contracts/balanced.json").write_text(json.dumps(verdict))
    with pytest.raises(WinnowError) as refused:
        refuse_failed("balanced", params=_params(mode="enforce", enforce_variants=["balanced"]))
    assert str(refused.value) == expected
    refuse_failed("balanced", params=_params(mode="warn"))  # nothing enforced: a hand-run training goes on


def test_a_listed_variant_without_rows_is_a_one_line_error(project, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        _run_stage(project, monkeypatch, variants=("oracle", "baseline"), mode="warn", enforce_variants=[])
    assert capsys.readouterr().err.splitlines() == [
        "error: data/variants/oracle/rows.parquet: not found; rerun the variants stage (dvc repro variants)"]


def test_enforced_variant_must_be_trained(project, monkeypatch, capsys):
    with pytest.raises(SystemExit) as stopped:
        _run_stage(project, monkeypatch, mode="enforce", enforce_variants=["balanced"])
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        'error: params.yaml: contracts.enforce_variants[0]: balanced is not in variants '
        '["baseline", "pruned", "augmented"], so it has no contract to enforce; add it to variants, or leave it out '
        'of contracts.enforce_variants']


# -- duplicates across splits (issue 16) ---------------------------------------------------------------

def test_train_copies_of_val_and_test_images_count_as_duplicates():
    degraded = pd.DataFrame({"id": ["a", "b", "c", "v", "t"], "digest": list("abcvt")})
    groups = pd.DataFrame({"id": ["a", "b", "c", "v", "t"], "split": ["train"] * 3 + ["val", "test"],
                           "group": [0, 1, 2, 0, 1]})  # a copies val image v, b copies test image t
    measured = measurements(degraded, flags=None, groups=groups, label_issues=None)
    rows = pd.DataFrame({"id": ["a", "b", "c"], "origin": "degrade", "label": [0, 1, 0], "action": "keep", "stage": ""})
    rows = with_digests(rows, manifests={"degrade": degraded})
    assert variant_table("baseline", rows, measured=measured, num_classes=2).iloc[0]["duplicate_rate"] == \
        pytest.approx(2 / 3)
    cleaned = rows.assign(action=["drop", "drop", "keep"])
    assert variant_table("pruned", cleaned, measured=measured, num_classes=2).iloc[0]["duplicate_rate"] == 0.0


def test_balance_copies_are_measured_as_the_images_they_were_made_from():
    # before: a copy's id is not degrade's, so no copy was measured and balanced's rates were pruned's (1/3 each),
    # though balance copies its flagged and doubted images too
    degraded = pd.DataFrame({"id": ["a", "b", "c", "v"], "digest": list("abcv")})
    measured = measurements(
        degraded, flags=pd.DataFrame({"id": list("abcv"), "any": [False, True, False, False]}),
        groups=pd.DataFrame({"id": list("abcv"), "split": ["train"] * 3 + ["val"], "group": [0, 1, 2, 0]}),
        label_issues=pd.DataFrame({"id": list("abc"), "given_label": [0, 0, 1], "is_issue": [False, False, True]}))
    made_from = {"bal-b-0": "b", "bal-b-1": "b", "bal-c-0": "c", "bal-a-0": "a"}
    extra = pd.DataFrame({"id": list(made_from), "digest": ["x0", "x1", "x2", "x3"],
                          "source_id": list(made_from.values())})
    rows = pd.DataFrame({"id": ["a", "b", "c", *made_from], "origin": ["degrade"] * 3 + ["extra"] * 4,
                         "label": [0, 0, 1, 0, 0, 1, 0], "action": ["keep"] * 3 + ["add"] * 4, "stage": ""})
    row = variant_table("balanced", with_digests(rows, manifests={"degrade": degraded, "extra": extra}),
                        measured=measured, num_classes=2).iloc[0]
    assert row["flagged_rate"] == pytest.approx(3 / 7)      # b and its two copies
    assert row["label_issue_rate"] == pytest.approx(2 / 7)  # c and its copy, under the label doubted
    # a and its copy copy the val image v; b's copies are no duplicates of b, which they are made to be
    assert row["duplicate_rate"] == pytest.approx(2 / 7)
    assert row["measured_share"] == 1.0


def test_an_image_a_person_kept_at_its_doubted_label_counts_as_checked_not_as_a_label_issue():
    # confident-learn doubts c's label 1 (and relabels it to 0) and d's label 0; a person rejects c's relabel, keeping
    # it at 1; nobody reviewed d. b (no issue), c and its balance copy are judged and no issue, d is one: 1 of 4.
    # Before: 3 of 4, so under enforce a variant whose doubted images a person kept could never pass
    degraded = pd.DataFrame({"id": list("abcd"), "digest": list("abcd")})
    measured = measurements(degraded, flags=None, groups=None, label_issues=pd.DataFrame(
        {"id": list("bcd"), "given_label": [0, 1, 0], "is_issue": [False, True, True]}))
    baseline = pd.DataFrame({"id": list("abcd"), "origin": "degrade", "label": [0, 0, 1, 0], "action": "keep",
                             "reason": "", "stage": ""})
    automatic = baseline.assign(label=[0, 0, 0, 0], action=["drop", "keep", "relabel", "keep"],
                                reason=["dark", "", "1->0: doubted", ""], stage=["threshold", "", "confident-learn", ""])
    pruned, _ = apply_verdicts(automatic, pd.DataFrame({"id": ["c"], "verdict": ["reject"], "label": [1]}),
                               baseline=baseline)
    copy = pd.DataFrame({"id": ["bal-c-0"], "origin": "extra", "label": [1], "action": "add", "reason": "balance",
                         "stage": "balance"})
    extra = pd.DataFrame({"id": ["bal-c-0"], "digest": ["x0"], "source_id": ["c"]})
    rows = with_digests(pd.concat([pruned, copy], ignore_index=True), manifests={"degrade": degraded, "extra": extra})
    pruned_row = variant_table("pruned", rows.iloc[:4], measured=measured, num_classes=2).iloc[0]
    assert pruned_row["label_issue_rate"] == pytest.approx(1 / 3)  # d, of b, c and d
    balanced_row = variant_table("balanced", rows, measured=measured, num_classes=2).iloc[0]
    assert balanced_row["label_issue_rate"] == pytest.approx(1 / 4)  # d, of b, c, d and c's copy


def test_a_balance_copy_of_an_image_another_kept_image_duplicates_is_a_duplicate_too():
    # b and d are one dedup group, both kept: b's copy is as much a copy of d as b is. Before, a copy counted only a
    # val/test image in its group, so b's copy was no duplicate (3/9: a, b, d). A copy is no duplicate of the image it
    # was made from (c's two), nor of an image balance left out (f, in e's group)
    ids = ["a", "b", "d", "c", "e", "f", "v"]
    degraded = pd.DataFrame({"id": ids, "digest": ids})
    measured = measurements(degraded, flags=None, label_issues=None, groups=pd.DataFrame(
        {"id": ids, "split": ["train"] * 6 + ["val"], "group": [0, 1, 1, 2, 3, 3, 0]}))
    made_from = {"bal-b-0": "b", "bal-c-0": "c", "bal-c-1": "c", "bal-e-0": "e"}
    extra = pd.DataFrame({"id": list(made_from), "digest": ["x0", "x1", "x2", "x3"],
                          "source_id": list(made_from.values())})
    rows = pd.DataFrame({"id": [*ids[:6], *made_from], "origin": ["degrade"] * 6 + ["extra"] * 4, "label": 0,
                         "action": ["keep"] * 5 + ["drop"] + ["add"] * 4, "stage": ""})
    row = variant_table("balanced", with_digests(rows, manifests={"degrade": degraded, "extra": extra}),
                        measured=measured, num_classes=1).iloc[0]
    assert row["duplicate_rate"] == pytest.approx(4 / 9)  # a (of v), b and d, b's copy


def test_a_data_docs_page_that_fails_to_render_stops_the_build_and_writes_no_docs(tmp_path, monkeypatch, capsys):
    # before: Great Expectations caught the page's exception, logged it with its traceback and went on, so the docs
    # folder lacked that page and the stage ended without a word about it
    from great_expectations.render.view import DefaultJinjaPageView

    def broken(self, document, *args, **kwargs):  # every page fails as a template bug or a full disk would
        raise RuntimeError("template missing")

    monkeypatch.setattr(DefaultJinjaPageView, "render", broken)
    docs = tmp_path / "contracts"
    with pytest.raises(WinnowError) as refused:
        validate(_batches(), docs_dir=docs)
    assert str(refused.value).startswith("contracts: Great Expectations could not render ")
    assert str(refused.value).endswith(f" Data Docs page(s) of {docs} (first: RuntimeError: \"template missing\"); "
                                       "none of them is written: fix that, then rerun")
    assert "data docs rendering" not in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_part_of_a_page_gx_could_not_render_is_told_apart_from_a_page(capsys):
    # found in review: GX logs a content block it could not render at ERROR too, and still writes the page with a
    # placeholder; counted as a page, it failed the stage with "none of them is written"
    import logging

    from winnow.contract_docs import render_errors

    message = ('An unexpected Exception occurred during data docs rendering.  Detailed information follows:\n'
               '                ValueError: "bad cell".  Traceback: "Traceback (most recent call last): ...".')
    with render_errors() as (pages, parts):
        logging.getLogger("great_expectations.render.renderer.content_block.content_block").error(message)
        logging.getLogger("great_expectations.render.renderer.site_builder").error(message.replace("cell", "page"))
    assert (pages, parts) == (['ValueError: "bad page"'], ['ValueError: "bad cell"'])
    assert capsys.readouterr().err == ""
