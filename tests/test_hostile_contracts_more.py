"""Hostile degrade settings, data contracts and variant verdicts (a probe's findings): ground truth that recorded
images a damage left as they were, label noise asked of a class that has no train images to move, a failed
contract whose line printed the observed value rounded onto its bound, and a passing verdict that outlived the
bounds or the rows it was checked on. Each case asserts the one line, or the exact data, a user gets."""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project, params_with, run_stage,
)
from test_contracts import BOUNDS, _params, _run_stage, project  # noqa: F401 - project: the contracts stage's fixture
from winnow.contract_verdict import refuse_failed, rows_fingerprint
from winnow.contracts import Batch, Suite, load_suite, validate
from winnow.errors import WinnowError
from winnow.gx_import import gx_broken
from winnow.imageset import write_imageset
from winnow.variants import write_variant

CLASSES = ["a", "b", "c"]


def degrade_project(tmp_path, perturbations, *, images=None):
    """data/ingest of 10 train, 2 val and 2 test 8x8 one-channel images per class (ids ``<split>-<class>-<i>``),
    random unless ``images`` is given, and the degrade settings; returns the project, its files and the images."""
    params = params_with("degrade", {"enabled": True, "disjoint": True, "perturbations": perturbations})
    project = make_project(tmp_path / "project", params)
    sizes = {"train": 10, "val": 2, "test": 2}
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in sizes.items() for c in range(3) for i in range(n)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L")
    if images is None:
        images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    write_imageset(project / "data/ingest", images, manifest, CLASSES)
    return project, files_under(project), images


@pytest.mark.hostile("params")
def test_a_damage_that_leaves_picked_images_as_they_were_records_only_the_changed_ones(tmp_path):
    # before: a light factor on black-and-white images changed 3 of the 30 it picked and all 30 were recorded as
    # "light": 27 images nothing had touched counted as damage every detector missed (metrics: brightness 30)
    rng = np.random.default_rng(0)
    images = np.where(rng.random((42, 8, 8, 1)) < 0.5, 0, 255).astype(np.uint8)  # x 3.5, clipped: the same
    images[:3] = 60  # train-0-0..2: grey, x 3.5 = 210
    project, _, _ = degrade_project(tmp_path, [{"kind": "brightness", "fraction": 1.0, "factor": 3.5}], images=images)
    done = run_stage(project, "degrade")
    assert done.returncode == 0, done.stderr
    assert ("degrade: perturbations[0] (brightness) left 27 of the 30 images it picked pixel for pixel as they "
            "were; they are not recorded as damaged") in done.stdout.splitlines()
    log = pd.read_parquet(project / "data/degrade/perturbations.parquet")
    assert sorted(log["id"]) == ["train-0-0", "train-0-1", "train-0-2"]
    # recomputed from the pixels: every logged image changed, every changed image is logged
    after = np.load(project / "data/degrade/images.npy")
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    changed = manifest.loc[(after != images).any(axis=(1, 2, 3)), "id"]
    assert sorted(changed) == sorted(log["id"])
    metrics = json.loads((project / "metrics/degrade.json").read_text())
    assert (metrics["kind"]["brightness"], metrics["perturbed_images"], metrics["carrying_images"]) == (3, 3, 3)


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("perturbations", "message"), [
    # before: exit 0, and the 50% asked of a removed class moved nothing, without a word
    ([{"kind": "class_removal", "classes": ["a"]}, {"kind": "symmetric_noise", "rates": {"a": 0.5}}],
     "error: degrade.perturbations[1] (symmetric_noise): rates['a'] names a class the removals leave without train "
     "images, so it has no label to move; leave 'a' out of rates"),
    # before: "needs 2 train images but only 0 are free ...; allowed range [0, 0.0000], or set degrade.disjoint: false"
    ([{"kind": "class_removal", "classes": ["a"]}, {"kind": "pair_flip", "mapping": {"a": "b"}, "fraction": 0.1}],
     "error: degrade.perturbations[1] (pair_flip): mapping['a'] names a class the removals leave without train "
     "images, so it has no label to move; leave 'a' out of mapping"),
    # before: "rates[2]: needs 5 train images but only 0 are free ..., or set degrade.disjoint: false"
    ([{"kind": "pair_flip", "mapping": {"a": "b"}, "rates": {"c": 0.5}}],
     "error: degrade.perturbations[0] (pair_flip): rates[c] must be given for a class the mapping moves ('a'), "
     "got 0.5"),
    # before: the same shortage with the same cure, when the mapping's one class was all there was to take; then
    # still "..., or set degrade.disjoint: false", and following it gave the same shortage again
    ([{"kind": "pair_flip", "mapping": {"a": "b"}, "fraction": 0.5}],
     "error: degrade.perturbations[0] (pair_flip) fraction: needs 15 train images but only 10 are free (after "
     "removals and the perturbations before it, of the classes its mapping moves); allowed range [0, 0.3333]"),
], ids=["rates-of-a-removed-class", "mapping-from-a-removed-class", "rates-outside-the-mapping",
        "fraction-beyond-the-mapping"])
def test_label_noise_of_a_class_with_no_label_to_move_is_refused(tmp_path, perturbations, message):
    project, before, _ = degrade_project(tmp_path, perturbations)
    assert assert_error_line(run_stage(project, "degrade")) == message
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_a_failed_bound_never_prints_the_observed_value_rounded_onto_it():
    # before: "class balance ...: observed 0.2, bound >= 0.2" for 819 / 4096 = 0.19995, and "observed 0.01, bound
    # <= 0.01" for 41 duplicates among 4099 kept images: a failure that read as a pass
    suite = load_suite("contracts/variant.yaml", parameters=BOUNDS)
    rates = {"variant": "v", "duplicate_rate": 41 / 4099, "label_issue_rate": 0.0, "flagged_rate": 0.0,
             "class_balance": 819 / 4096, "completeness": 1.0}
    lines = [r.line() for r in validate([Batch(suite, "v", pd.DataFrame([rates]))]) if not r.success]
    assert lines == [
        "variant[v]: duplicate rate: observed 0.010002, bound <= 0.01 (expect_column_max_to_be_between(duplicate_rate))",
        "variant[v]: class balance (smallest / largest class): observed 0.19995, bound >= 0.2 "
        "(expect_column_min_to_be_between(class_balance))"]


STALE = "run the contracts stage first (dvc repro contracts)"


@pytest.mark.hostile("training")
def test_a_passing_verdict_of_other_bounds_other_data_or_other_rows_trains_nothing(
        project, tmp_path, monkeypatch):  # noqa: F811
    # before: an enforced baseline that passed under min_class_balance 0.2 trained by hand under 0.9 (it keeps
    # 2:3 of its classes), and after its rows were rewritten to keep a duplicate (duplicate rate 0 -> 0.33)
    root = shutil.copytree(project, tmp_path / "copy")
    _run_stage(root, monkeypatch, mode="enforce", enforce_variants=["baseline"])
    enforced = _params(mode="enforce", enforce_variants=["baseline"])
    refuse_failed("baseline", params=enforced)  # as checked: trains
    # and after threshold, rerun by hand, flagged every image (flagged rate 0 -> 1, the rows unchanged), or score
    # rewrote the scores (a quality score outside [0, 1]): before, both trained on the pass of the old files
    for written, verdict in [("data/threshold/flags.parquet", "metrics/contracts/baseline.json"),
                             ("data/score/scores.parquet", "metrics/contracts.json")]:
        kept = (root / written).read_bytes()
        table = pd.read_parquet(root / written)
        table[table.columns[1]] = 1.5 if written.endswith("scores.parquet") else True
        table.to_parquet(root / written)
        with pytest.raises(WinnowError) as refused:
            refuse_failed("baseline", params=enforced)
        assert str(refused.value) == (f"{verdict} holds a verdict computed from another {written} than the one there "
                                      f"now (written after the check): {STALE}")
        (root / written).write_bytes(kept)
    refuse_failed("baseline", params=enforced)  # the files as checked again: trains
    stricter = _params(mode="enforce", enforce_variants=["baseline"], bounds=BOUNDS | {"min_class_balance": 0.9})
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=stricter)
    assert str(refused.value) == ("metrics/contracts.json holds a verdict checked under other contracts.bounds than "
                                  f"params.yaml's: {STALE}")
    rows = pd.read_parquet(root / "data/variants/baseline/rows.parquet")
    write_variant("baseline", rows.assign(action="keep"), root=root / "data/variants")  # written after the check
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=enforced)
    assert str(refused.value) == ("metrics/contracts/baseline.json holds a verdict of other rows than "
                                  f"data/variants/baseline/rows.parquet holds now (written after the check): {STALE}")
    _run_stage(root, monkeypatch, mode="warn", enforce_variants=["baseline"])
    refuse_failed("baseline", params=_params(mode="warn"))  # nothing enforced: a hand-run training goes on


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("suite", "verdict"), [("variant", "metrics/contracts/baseline.json holds a verdict checked "
                                                            "against a suite file edited since"),
                                                ("ingest", "metrics/contracts.json holds a verdict checked against "
                                                           "suite files edited since")])
def test_a_passing_verdict_of_a_suite_file_edited_since_trains_nothing(
        project, tmp_path, monkeypatch, suite, verdict):  # noqa: F811
    # before: an enforced baseline passed; then a rule it breaks (at most 1 image) was added to the suite file and
    # train@baseline, run by hand outside dvc repro, trained on the old pass
    root = shutil.copytree(project, tmp_path / "copy")
    _run_stage(root, monkeypatch, mode="enforce", enforce_variants=["baseline"])
    enforced = _params(mode="enforce", enforce_variants=["baseline"])
    refuse_failed("baseline", params=enforced)  # as checked: trains
    path = root / "contracts" / f"{suite}.yaml"
    column = "completeness" if suite == "variant" else "label"
    path.write_text(path.read_text() + f"  - {{type: expect_column_max_to_be_between, kwargs: {{column: {column}, "
                                       "max_value: -1}}\n")
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=enforced)
    assert str(refused.value) == f"{verdict}: {STALE}"


def test_the_rows_fingerprint_of_a_variant_in_memory_is_that_of_its_written_file(tmp_path):
    # balance and gan-synthesize check their variant before its rows.parquet is in place: the verdict's
    # fingerprint must be the one train@<variant> computes from the file
    rows = pd.DataFrame({"id": ["x", "y~dup3", "g0"], "origin": ["degrade", "degrade", "extra"],
                         "label": np.array([0, 2, 1], dtype=np.int64), "action": ["keep", "relabel", "add"],
                         "reason": ["", "embedding_clean", ""], "stage": ["", "embedding_clean", ""]})
    write_variant("v", rows, root=tmp_path)
    written = pd.read_parquet(tmp_path / "v/rows.parquet")
    assert rows_fingerprint(written) == rows_fingerprint(rows)
    assert rows_fingerprint(written.assign(label=[0, 2, 2])) != rows_fingerprint(rows)
    # a person's verdict on a row (its stage) changes its label-issue rate: a verdict of the rows before is no pass
    assert rows_fingerprint(written.assign(stage=["review", "embedding_clean", ""])) != rows_fingerprint(rows)


@pytest.mark.hostile("interrupted")
def test_data_docs_that_cannot_be_written_end_contracts_in_one_line_naming_them(project, tmp_path):
    # before (`ulimit -f 30`): Great Expectations logged each page it could not write with its traceback and went
    # on, then its copy of the static files failed with an error naming no file: two tracebacks, then
    # "error: stages/contracts.py: File too large [EFBIG]; ..."
    root = Path(shutil.copytree(project, tmp_path / "project"))
    (root / "params.yaml").write_text(yaml.safe_dump(_params(("baseline", "pruned"))))
    before = files_under(root)
    done = subprocess.run([sys.executable, str(ROOT / "stages/contracts.py")], cwd=root, env=_env(),
                          capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (30 << 10, 30 << 10)))
    assert assert_error_line(done) == ("error: stages/contracts.py: reports/contracts/inputs: File too large [EFBIG]; "
                                       "the file is larger than this process may write (`ulimit -f`) or than its "
                                       "file system holds (FAT32: 4 GiB); raise the limit, or write to another file "
                                       "system, then rerun")
    assert "data docs rendering" not in done.stderr
    assert_nothing_left(root, before)


@pytest.mark.hostile("params")
def test_an_enforced_contract_whose_bounds_leave_nothing_to_check_is_refused(project, tmp_path):
    # before: contracts without bounds, under enforce: every variant rule was left out, pruned "passed" 0 of 0 and
    # trained
    assert _contracts_refused(project, tmp_path, _params(("baseline", "pruned"), mode="enforce", bounds=None)) == (
        "error: contracts: pruned enforced, but every expectation of contracts/variant.yaml was left out "
        "(contracts.bounds null or missing), so the contract checks nothing; set contracts.bounds, or empty "
        "contracts.enforce_variants")


@pytest.mark.hostile("intermediates")
def test_a_variant_rule_that_would_pass_a_rate_not_measured_is_refused(project, tmp_path):
    # before: expect_column_values_to_be_between on duplicate_rate passed with dedup's groups missing ("0 of 1
    # rows": GX skips the null), where variant.yaml promises that a rate not measured fails
    variant = ("name: variant\nexpectations:\n  - {type: expect_column_values_to_be_between, description: few "
               "duplicates, kwargs: {column: duplicate_rate, max_value: 0.01}}\n")
    assert _contracts_refused(project, tmp_path, _params(("baseline", "pruned")), variant=variant) == (
        "error: contracts/variant.yaml: few duplicates (expect_column_values_to_be_between): a variant is one row "
        "whose rate not measured is null, which only a column max or min rule fails; use "
        "expect_column_max_to_be_between or expect_column_min_to_be_between")


def _contracts_of_no_quality_issue(project, tmp_path, params: dict):
    """The contracts stage's finished run (exit 0) in a copy of ``project`` under ``params`` with every quality
    issue left out (threshold.issues empty), and pruned's metrics/contracts file."""
    root = Path(shutil.copytree(project, tmp_path / "project"))
    params["threshold"]["issues"] = {}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage(root, "contracts")
    assert done.returncode == 0, done.stderr
    return done, json.loads((root / "metrics/contracts/pruned.json").read_text())


@pytest.mark.hostile("intermediates")
def test_a_flagged_rate_with_every_quality_issue_left_out_is_not_measured(project, tmp_path):
    # before: with threshold.issues empty no image is examined for quality, flags.parquet is all False, and pruned's
    # flagged-image rate passed at 0.0 (variant.yaml: a rate nobody measured fails)
    done, pruned = _contracts_of_no_quality_issue(project, tmp_path, _params(("baseline", "pruned")))
    assert ("contracts: threshold.issues lists no issue, so no image was examined for quality; the flagged-image "
            "rate counts as not measured and fails its rule (set contracts.bounds.max_flagged_rate null to leave "
            "that rule out)") in done.stdout.splitlines()
    assert pruned["flagged_rate"] is None
    assert ("variant[pruned]: flagged-image rate: observed not measured, bound <= 0.05 "
            "(expect_column_max_to_be_between(flagged_rate))") in pruned["failures"]


@pytest.mark.hostile("intermediates")
def test_every_quality_issue_left_out_passes_once_the_flagged_rate_rule_is_left_out(project, tmp_path):
    # before: the not-measured line named no way out, so under enforce a set whose quality issues were all left out
    # on purpose could not train pruned whatever was rerun; its fix, max_flagged_rate null, leaves the rule out
    # max_duplicate_rate left out too: the fixture's pruned keeps copies, a failure of its own
    params = _params(("baseline", "pruned"), mode="enforce",
                     bounds=BOUNDS | {"max_flagged_rate": None, "max_duplicate_rate": None})
    done, pruned = _contracts_of_no_quality_issue(project, tmp_path, params)
    assert [line for line in done.stdout.splitlines() if "flagged" in line] == [
        "contracts: variant: flagged-image rate left out (max_flagged_rate is null)"]
    assert (pruned["flagged_rate"], pruned["failures"]) == (None, [])


def _contracts_refused(project, tmp_path, params: dict, *, variant: str | None = None,
                       appended: dict[str, str] | None = None, env: dict | None = None) -> str:
    """The contracts stage's one error line in a copy of ``project`` under ``params`` (and ``variant`` as its
    contracts/variant.yaml, each line of ``appended`` added at the end of contracts/<name>.yaml; ``env`` for the
    stage's, _env() when None), nothing left behind."""
    root = Path(shutil.copytree(project, tmp_path / "project"))
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    if variant is not None:
        (root / "contracts").mkdir(exist_ok=True)
        (root / "contracts/variant.yaml").write_text(variant)
    for name, line in (appended or {}).items():
        path = root / "contracts" / f"{name}.yaml"
        path.write_text(path.read_text() + line)
    before = files_under(root)
    # forked from the worker's warm interpreter (Great Expectations and torch imported once), as run_stage runs every
    # other case here; an ``env`` of its own shadows a package on PYTHONPATH, which gets a fresh interpreter
    done = run_stage(root, "contracts", timeout=600) if env is None else subprocess.run(
        [sys.executable, str(ROOT / "stages/contracts.py")], cwd=root, env=env, capture_output=True, text=True,
        timeout=600)
    line = assert_error_line(done)
    assert_nothing_left(root, before)
    return line


# a great_expectations package that shadows the installed one: a broken install, and another GX version whose
# get_context exists but whose great_expectations.data_context does not
BROKEN_GX = {"broken-install": 'raise ImportError("simulated broken install")\n',
             "other-version": "get_context = ExpectationSuite = ValidationDefinition = object\n"}
BROKEN_GX_LINE = {
    "broken-install": "error: contracts: Great Expectations cannot be imported (ImportError: simulated broken install); "
                      "reinstall great_expectations as requirements.lock pins it",
    "other-version": "error: contracts: Great Expectations cannot be imported (ModuleNotFoundError: No module named "
                     "'great_expectations.data_context'); reinstall great_expectations as requirements.lock pins it"}


def broken_gx_env(tmp_path, kind: str) -> dict:
    """_env() with the ``kind`` of BROKEN_GX ahead of the installed great_expectations on PYTHONPATH."""
    package = tmp_path / "shadow" / "great_expectations"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(BROKEN_GX[kind])
    env = _env()
    env["PYTHONPATH"] = f"{package.parent}{os.pathsep}{env['PYTHONPATH']}"
    return env


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("kind", sorted(BROKEN_GX))
def test_a_great_expectations_that_cannot_be_imported_is_one_line(project, tmp_path, kind):  # noqa: F811
    # before: "ImportError: simulated broken install" (and "ModuleNotFoundError: No module named
    # 'great_expectations.data_context'") ended the contracts stage in a traceback from _ephemeral_context
    assert _contracts_refused(project, tmp_path, _params(("baseline", "pruned")),
                              env=broken_gx_env(tmp_path, kind)) == BROKEN_GX_LINE[kind]


@pytest.mark.hostile("intermediates")
def test_a_great_expectations_that_warns_under_warnings_as_errors_is_one_line_that_says_so():
    # before: under PYTHONWARNINGS=error GX's import raised "DeprecationWarning: module 'sre_constants' is deprecated",
    # and the line said to reinstall great_expectations, which changes nothing
    line = str(gx_broken("be imported", DeprecationWarning("module 'sre_constants' is deprecated")))
    assert line == ("contracts: Great Expectations cannot be imported: it warns (DeprecationWarning: module "
                    "'sre_constants' is deprecated), and this Python raises warnings as errors (PYTHONWARNINGS=error "
                    "or -W error); unset that, then rerun")


@pytest.mark.hostile("intermediates")
def test_a_great_expectations_whose_context_cannot_start_is_one_line(monkeypatch):
    # before: a GX whose get_context takes no mode (another version) ended validate in a TypeError traceback
    import great_expectations as gx

    def get_context(**kwargs):
        raise TypeError("get_context() got an unexpected keyword argument 'mode'")

    monkeypatch.setattr(gx, "get_context", get_context)
    suite = load_suite("contracts/variant.yaml", parameters=BOUNDS)
    with pytest.raises(WinnowError) as raised:
        validate([Batch(suite, "v", pd.DataFrame({"duplicate_rate": [0.0]}))])
    assert str(raised.value) == ("contracts: Great Expectations cannot start an ephemeral context (TypeError: "
                                 "get_context() got an unexpected keyword argument 'mode'); reinstall "
                                 "great_expectations as requirements.lock pins it")


RULE = "name: ingest\nexpectations:\n  - {type: %s, kwargs: {%s}}\n"
WHERE = "ingest.yaml: expectation 1 "
HUGE = "1" + "0" * 309  # past float64's largest, 1.8e308
NOT_FINITE = ", not a finite number (Great Expectations drops it or cannot store it, and an infinite one passes on " \
             "anything); give a finite number"
MOSTLY_TEXT = ", not a number; give the share in (0, 1] of the rows that must meet it"
NO_OPTION = ", so it passes on anything; give one, or {$PARAMETER: name} to set it in contracts.bounds"
EMPTY = ", so it checks nothing (it passes or fails on any data alike); list the values it is about"
# before: an empty column_set or column_list was told to list the values it is about
EMPTY_COLUMNS = ", so it checks nothing (it passes or fails on any data alike); list the columns it is about"


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    # before: GX's suite store made the NaN null, and a pydantic ValidationError traceback ended the stage
    ("expect_column_value_z_scores_to_be_less_than", "column: dark, threshold: .nan, double_sided: true",
     "(expect_column_value_z_scores_to_be_less_than): threshold is nan" + NOT_FINITE),
    ("expect_multicolumn_sum_to_equal", "column_list: [dark, light], sum_total: .nan",
     "(expect_multicolumn_sum_to_equal): sum_total is nan" + NOT_FINITE),
    ("expect_column_value_lengths_to_equal", "column: id, value: .nan",
     "(expect_column_value_lengths_to_equal): value is nan" + NOT_FINITE),
    # before: OverflowError traceback (math.isfinite on the integer)
    ("expect_column_max_to_be_between", f"column: dark, min_value: 0, max_value: {HUGE}",
     "(expect_column_max_to_be_between): max_value is a 310-digit number, beyond float64's range; give one of at "
     "most 1.798e+308"),
    # before, each passed on any data: GX read mostly '0' and false as 0, a regex left out as "(?s).*", a null
    # column_list as no list, an infinite threshold or multiplier as no limit, a NaN minimum as no minimum
    # ("<= 1"), and {$parameter: x} as the value set {'$parameter'}
    ("expect_column_values_to_be_unique", "column: id, mostly: '0'",
     "(expect_column_values_to_be_unique) has mostly '0'" + MOSTLY_TEXT),
    ("expect_column_values_to_be_unique", "column: id, mostly: false",
     "(expect_column_values_to_be_unique) has mostly False" + MOSTLY_TEXT),
    ("expect_column_values_to_be_unique", "column: id, mostly: 1.5",
     "(expect_column_values_to_be_unique) has mostly 1.5; give the share in (0, 1] of the rows that must meet it"),
    ("expect_column_values_to_match_regex", "column: id",
     "(expect_column_values_to_match_regex) has no regex" + NO_OPTION),
    ("expect_table_columns_to_match_ordered_list", "column_list: null",
     "(expect_table_columns_to_match_ordered_list) has no column_list" + NO_OPTION),
    ("expect_column_value_z_scores_to_be_less_than", "column: dark, threshold: .inf, double_sided: true",
     "(expect_column_value_z_scores_to_be_less_than): threshold is inf" + NOT_FINITE),
    ("expect_column_values_to_not_be_outliers", "column: dark, multiplier: .inf",
     "(expect_column_values_to_not_be_outliers): multiplier is inf" + NOT_FINITE),
    ("expect_column_min_to_be_between", "column: class_balance, min_value: .nan, max_value: 1",
     "(expect_column_min_to_be_between): min_value is nan" + NOT_FINITE),
    ("expect_column_values_to_not_be_in_set", "column: split, value_set: {$parameter: x}",
     "(expect_column_values_to_not_be_in_set): value_set.$parameter: '$parameter' is not a placeholder (that is "
     "spelt {$PARAMETER: name}), so it would be checked as a literal value"),
    # an infinity is kept only where it leaves a side of a range open: not inside a partition, nor a NaN at its end
    ("expect_column_kl_divergence_to_be_less_than", "column: label, partition_object: {bins: [0, .inf, 3], weights: "
     "[0.5, 0.5]}, threshold: 0.1",
     "(expect_column_kl_divergence_to_be_less_than): partition_object.bins[1] is inf" + NOT_FINITE),
    ("expect_column_kl_divergence_to_be_less_than", "column: label, partition_object: {bins: [-.inf, 1.5, .nan], "
     "weights: [0.5, 0.5]}, threshold: 0.1",
     "(expect_column_kl_divergence_to_be_less_than): partition_object.bins[2] is nan" + NOT_FINITE),
    ("expect_column_values_to_be_between", "column: label, min_value: 1, max_value: .nan",
     "(expect_column_values_to_be_between): max_value is nan" + NOT_FINITE),
    # one bin holding every value: a divergence of 0 on any data (found by a review)
    ("expect_column_kl_divergence_to_be_less_than", "column: label, partition_object: {bins: [-.inf, .inf], "
     "weights: [1.0]}, threshold: 0.1",
     "(expect_column_kl_divergence_to_be_less_than): partition_object.bins[0] is -inf" + NOT_FINITE),
    # before: each was accepted and passed on any table ("0 of 3 rows" in no set, a distinct set containing nothing,
    # columns that include none); an empty set every value must be in failed on every row
    ("expect_column_values_to_not_be_in_set", "column: label, value_set: []",
     "(expect_column_values_to_not_be_in_set) has an empty value_set" + EMPTY),
    ("expect_column_distinct_values_to_contain_set", "column: label, value_set: []",
     "(expect_column_distinct_values_to_contain_set) has an empty value_set" + EMPTY),
    ("expect_table_columns_to_match_set", "column_set: [], exact_match: false",
     "(expect_table_columns_to_match_set) has an empty column_set" + EMPTY_COLUMNS),
    ("expect_table_columns_to_match_ordered_list", "column_list: []",
     "(expect_table_columns_to_match_ordered_list) has an empty column_list" + EMPTY_COLUMNS),
    ("expect_column_values_to_be_in_set", "column: label, value_set: []",
     "(expect_column_values_to_be_in_set) has an empty value_set" + EMPTY),
], ids=["nan-threshold", "nan-sum", "nan-length", "huge-bound", "mostly-text", "mostly-false", "mostly-above-1",
        "no-regex", "null-column-list", "inf-threshold", "inf-multiplier", "nan-minimum", "lowercase-placeholder",
        "inf-inside-bins", "nan-bin-end", "nan-beside-finite", "one-open-bin", "empty-not-in-set",
        "empty-distinct-set", "empty-column-set", "empty-column-list", "empty-in-set"])
def test_a_rule_that_passes_on_anything_or_holds_a_number_gx_cannot_store_is_refused(tmp_path, kind, kwargs, message):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == f"{tmp_path / WHERE}{message}"


@pytest.mark.hostile("params")
def test_an_infinity_that_leaves_one_side_of_a_range_open_is_checked(tmp_path):
    # before: both were refused "max_value is inf ... an infinite one passes on anything", though the first enforces
    # its finite minimum and the second is Great Expectations' documented tail-bin partition
    rules = ["expect_column_values_to_be_between, kwargs: {column: label, min_value: 1, max_value: .inf}",
             "expect_column_kl_divergence_to_be_less_than, kwargs: {column: label, partition_object: {bins: [-.inf, "
             "1.5, .inf], weights: [0.5, 0.5]}, threshold: 0.1}"]
    (tmp_path / "ingest.yaml").write_text("name: ingest\nexpectations:\n" + "".join(f"  - {{type: {r}}}\n" for r in rules))
    frame = pd.DataFrame({"label": [0, 1, 2, 3]})  # half at or below 1.5, half above: the partition's weights
    results = validate([Batch(load_suite(tmp_path / "ingest.yaml", parameters={}), "ingest", frame)])
    assert {r.expectation: (r.success, r.observed) for r in results} == {
        "expect_column_values_to_be_between": (False, "1 of 4 rows, e.g. ['0']"),
        "expect_column_kl_divergence_to_be_less_than": (True, 0.0)}


@pytest.mark.hostile("params")
def test_a_severity_great_expectations_does_not_have_is_refused(tmp_path):
    # before: "severity: blocker" was accepted and dropped without a word, as every severity was
    (tmp_path / "ingest.yaml").write_text("name: ingest\nexpectations:\n  - {type: expect_column_values_to_be_unique, "
                                          "kwargs: {column: id}, severity: blocker}\n")
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (f"{tmp_path / 'ingest.yaml'}: expectation 1: severity 'blocker' is not one of Great "
                                 "Expectations' (critical, warning, info); a failure of any severity fails the contract")


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("appended", "message"), [
    # before: a pydantic ValidationError traceback from GX's suite store
    ({"scores": "  - {type: expect_column_value_z_scores_to_be_less_than, kwargs: {column: dark, threshold: .nan, "
                "double_sided: true}}\n"},
     "error: contracts/scores.yaml: expectation 15 (expect_column_value_z_scores_to_be_less_than): threshold is nan"
     + NOT_FINITE),
    # before: "ingest 17/17 passed" under enforce, and training was allowed
    ({"ingest": "  - {type: expect_column_values_to_be_in_set, kwargs: {column: split, value_set: [train], "
                "mostly: \"0\"}}\n"},
     "error: contracts/ingest.yaml: expectation 17 (expect_column_values_to_be_in_set) has mostly '0'" + MOSTLY_TEXT),
], ids=["nan-in-scores", "mostly-text-in-ingest"])
def test_the_contracts_stage_refuses_such_a_rule_in_one_line(project, tmp_path, appended, message):  # noqa: F811
    assert _contracts_refused(project, tmp_path, _params(("baseline", "pruned"), mode="enforce"),
                              appended=appended) == message


@pytest.mark.hostile("intermediates")
def test_great_expectations_failing_to_store_a_suite_is_one_line_naming_it():
    # before: a pydantic ValidationError traceback from context.suites.add (here a NaN load_suite would refuse)
    suite = Suite(name="z", path="z.yaml", left_out=[], expectations=[
        {"type": "expect_column_value_z_scores_to_be_less_than", "description": "z",
         "kwargs": {"column": "a", "threshold": float("nan"), "double_sided": True}}])
    with pytest.raises(WinnowError) as raised:
        validate([Batch(suite, "z", pd.DataFrame({"a": [1.0, 2.0]}))])
    assert str(raised.value) == ("z.yaml: Great Expectations failed storing the suite: ValidationError: 1 validation "
                                 "error for ExpectColumnValueZScoresToBeLessThan threshold none is not an allowed "
                                 "value (type=type_error.none.not_allowed)")


TYPO = "row_condition: 'split==\"Train\"', condition_parser: pandas"  # no split is "Train": it selects no row
NONE_SELECTED = "no row examined (its row_condition selects none)"


@pytest.mark.hostile("intermediates")
def test_a_rule_that_measures_no_row_or_no_value_fails_whatever_its_type(tmp_path):
    # before: each passed on the frame below: distinct values "0 unexpected value(s)", a unique-value count and the
    # proportions 0 (within their max), and a per-row rule on an all-NaN column "0 of 4 rows"
    rules = [f"expect_column_distinct_values_to_be_in_set, kwargs: {{column: label, value_set: [0], {TYPO}}}",
             f"expect_column_unique_value_count_to_be_between, kwargs: {{column: label, max_value: 1, {TYPO}}}",
             f"expect_column_proportion_of_non_null_values_to_be_between, kwargs: {{column: label, max_value: 1, {TYPO}}}",
             f"expect_column_proportion_of_unique_values_to_be_between, kwargs: {{column: label, max_value: 1, {TYPO}}}",
             "expect_column_values_to_be_between, kwargs: {column: dark, max_value: 1}",
             "expect_column_values_to_be_between, kwargs: {column: label, max_value: 1, row_condition: "
             "'split==\"train\"', condition_parser: pandas}",
             "expect_column_values_to_be_null, kwargs: {column: dark}"]
    (tmp_path / "ingest.yaml").write_text("name: ingest\nexpectations:\n" + "".join(f"  - {{type: {r}}}\n" for r in rules))
    frame = pd.DataFrame({"split": ["train", "train", "val", "test"], "label": [0, 1, 2, 99],
                          "dark": [np.nan] * 4})
    results = validate([Batch(load_suite(tmp_path / "ingest.yaml", parameters={}), "ingest", frame)])
    # GX returns results grouped by what they measure, not in file order
    assert {(r.expectation, r.column): (r.success, r.observed) for r in results} == {
        ("expect_column_distinct_values_to_be_in_set", "label"): (False, NONE_SELECTED),
        ("expect_column_unique_value_count_to_be_between", "label"): (False, NONE_SELECTED),
        ("expect_column_proportion_of_non_null_values_to_be_between", "label"): (False, NONE_SELECTED),
        ("expect_column_proportion_of_unique_values_to_be_between", "label"): (False, NONE_SELECTED),
        ("expect_column_values_to_be_between", "dark"): (False, "no value examined (4 of 4 rows null)"),
        # the two train rows hold labels 0 and 1: measured, and within the bound
        ("expect_column_values_to_be_between", "label"): (True, "0 of 2 rows"),
        ("expect_column_values_to_be_null", "dark"): (True, "0 of 4 rows")}  # every value null is what it asks


@pytest.mark.hostile("intermediates")
def test_a_sum_or_the_distinct_values_of_a_column_without_a_value_fail(tmp_path):
    # before: each passed on the all-NaN column and on the empty table (a sum of 0, no unexpected distinct value, 0
    # unique values), where the same rule whose row_condition selected no row failed; what a column without values
    # still has (its nulls, its type) is measured, and passes
    rules = ["expect_column_sum_to_be_between, kwargs: {column: dark, max_value: 1}",
             "expect_column_distinct_values_to_be_in_set, kwargs: {column: dark, value_set: [0]}",
             "expect_column_unique_value_count_to_be_between, kwargs: {column: dark, max_value: 1}",
             "expect_column_proportion_of_non_null_values_to_be_between, kwargs: {column: dark, max_value: 0}",
             "expect_column_values_to_be_in_type_list, kwargs: {column: dark, type_list: [float64]}"]
    (tmp_path / "scores.yaml").write_text("name: scores\nexpectations:\n" + "".join(f"  - {{type: {r}}}\n" for r in rules))
    suite = load_suite(tmp_path / "scores.yaml", parameters={})
    frame = pd.DataFrame({"dark": [np.nan] * 3})
    results = validate([Batch(suite, "nan", frame), Batch(suite, "empty", frame.iloc[:0])])
    nothing = {"nan": "no value examined (3 of 3 rows null)", "empty": "no row"}
    assert {(r.table, r.expectation): (r.success, r.observed) for r in results} == {
        **{(table, rule): (False, observed) for table, observed in nothing.items()
           for rule in ("expect_column_sum_to_be_between", "expect_column_distinct_values_to_be_in_set",
                        "expect_column_unique_value_count_to_be_between")},
        **{(table, "expect_column_proportion_of_non_null_values_to_be_between"): (True, 0) for table in nothing},
        **{(table, "expect_column_values_to_be_in_type_list"): (True, "float64") for table in nothing}}


@pytest.mark.hostile("intermediates")
def test_a_row_count_whose_row_condition_selects_no_row_measures_0(tmp_path):
    # before: each failed "no row examined (its row_condition selects none)", so "no image may be labelled 99"
    # stopped training on clean data; a count of 0 is what the rule measures, judged against its bound
    rules = ["expect_table_row_count_to_equal, kwargs: {value: 0, row_condition: 'label==99', condition_parser: "
             "pandas}",
             "expect_table_row_count_to_be_between, kwargs: {max_value: 0, row_condition: 'label==99', "
             "condition_parser: pandas}",
             f"expect_table_row_count_to_be_between, kwargs: {{min_value: 1, {TYPO}}}",
             # a count allowing some whose condition matches nothing is more likely a typo (found by a review)
             f"expect_table_row_count_to_be_between, kwargs: {{max_value: 1, {TYPO}}}"]
    (tmp_path / "ingest.yaml").write_text("name: ingest\nexpectations:\n" + "".join(f"  - {{type: {r}}}\n" for r in rules))
    frame = pd.DataFrame({"split": ["train", "val", "test"], "label": [0, 1, 2]})
    results = validate([Batch(load_suite(tmp_path / "ingest.yaml", parameters={}), "ingest", frame)])
    assert [(r.expectation, r.success, r.observed, r.bound) for r in results] == [
        ("expect_table_row_count_to_equal", True, 0, "= 0"), ("expect_table_row_count_to_be_between", True, 0, "<= 0"),
        ("expect_table_row_count_to_be_between", False, "no row examined (its row_condition selects none)", ">= 1"),
        ("expect_table_row_count_to_be_between", False, "no row examined (its row_condition selects none)", "<= 1")]


@pytest.mark.hostile("params")
def test_an_enforced_ingest_rule_whose_row_condition_selects_no_row_stops_training(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # before: "contracts: ingest 17/17 passed" under enforce, and every training was allowed
    root = Path(shutil.copytree(project, tmp_path / "project"))
    path = root / "contracts/ingest.yaml"
    path.write_text(path.read_text() + "  - {type: expect_column_distinct_values_to_be_in_set, description: train "
                                       f"labels known, kwargs: {{column: label, value_set: [0, 1], {TYPO}}}}}\n")
    with pytest.raises(SystemExit):
        _run_stage(root, monkeypatch, mode="enforce", enforce_variants=[])
    err = capsys.readouterr().err.splitlines()
    assert err == [f"contract failed: ingest: train labels known: observed {NONE_SELECTED}, bound in {{0, 1}} "
                   "(expect_column_distinct_values_to_be_in_set(label))",
                   "error: contracts: 1 contract failure(s) in enforce mode (lines above; Data Docs in "
                   "reports/contracts/inputs/index.html)"]
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=_params(mode="enforce", enforce_variants=[]))
    assert str(refused.value) == ("the ingest and scores contracts failed under contracts.mode enforce (1 failure(s), "
                                  "listed in metrics/contracts.json; Data Docs in reports/contracts/inputs/index.html): "
                                  "not trained")


@pytest.mark.hostile("params")
def test_a_suite_file_no_stage_checks_is_named_and_a_table_checked_against_nothing_says_so(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # before: contracts/labels.yaml and contracts/ingest.yml were never run and nothing said so; with contracts.bounds
    # null every variant rule was left out and the stage printed bare "contracts: " lines
    root = Path(shutil.copytree(project, tmp_path / "project"))
    for name in ("labels.yaml", "ingest.yml"):
        (root / "contracts" / name).write_text("name: labels\nexpectations: []\n")
    _run_stage(root, monkeypatch, mode="warn", bounds=None, variants=("baseline", "pruned"))
    out = capsys.readouterr().out.splitlines()
    only = "only contracts/ingest.yaml, contracts/scores.yaml, contracts/variant.yaml are run; move its expectations " \
           "into one of them"
    assert [line for line in out if line.startswith("warning: contracts: ")] == [
        f"warning: contracts: contracts/ingest.yml is not checked: {only}",
        f"warning: contracts: contracts/labels.yaml is not checked: {only}"]
    assert [line for line in out if line.startswith(("contracts: baseline", "contracts: pruned"))] == [
        "contracts: baseline: no expectation checked", "contracts: pruned: no expectation checked"]


@pytest.mark.hostile("intermediates")
def test_the_data_docs_show_a_rule_that_checked_no_row_as_failed(tmp_path):
    # before: the verdict failed the rule (its row_condition selects no row; enforce stopped, pointing at the Data
    # Docs), while Great Expectations, which passed it, drew the page and the index with a green "Succeeded"
    (tmp_path / "ingest.yaml").write_text(
        "name: ingest\nexpectations:\n"
        f"  - {{type: expect_column_values_to_be_between, kwargs: {{column: label, max_value: 1, {TYPO}}}}}\n")
    frame = pd.DataFrame({"split": ["train", "val"], "label": [0, 1]})
    docs = tmp_path / "docs"
    results = validate([Batch(load_suite(tmp_path / "ingest.yaml", parameters={}), "ingest", frame)], docs_dir=docs)
    assert [(r.success, r.observed) for r in results] == [(False, NONE_SELECTED)]
    (page,) = (docs / "validations").rglob("*.html")
    status = re.search(r'Status:</span>\s*<i class="([^"]*)"[^>]*></i>\s*(\w+)', page.read_text())
    assert status.groups() == ("fas fa-times text-danger", "Failed")
    assert "fa-check-circle" not in page.read_text() and "fa-check-circle" not in (docs / "index.html").read_text()
