"""Hostile cases of the figures evaluate's metrics become in ``winnow compare``, the compare stage and the report,
probe 77:

- two variants tied on a class in every run, one run's tie reached from other counts (F1 2/3 from precision 0.6 and
  recall 0.75 at one variant, from 1 and 0.5 at the other: floats 1e-16 apart): the paired t-test over seeds read
  "n/a (the same change in every pair)", t "-inf (no spread)" where that run came first, and p 1.0000 beside a
  change of "-0.0000", not called identical, where it came later; now "identical" whatever the order;
- a change over seeds (or across classes) below 0.00005: ``winnow compare`` wrote it "0.0000", its 95% CI "0.0000" to
  "0.0000", beside p 0.0048, and the compare stage's significance CSV wrote a change of 4e-07 as 0.0 within a CI of
  0.0 to 0.0 beside its p of 1e-19; each is now written to its first digit that is not 0;
- a report whose evaluated predictions are not of data/ingest's test split now (a project without dvc.lock,
  re-ingested, the report alone rerun): other test ids, another label of an image, other pixels, or a summary of
  another class order shipped a version on them, exit 0; now one line naming the file and what to rerun;
- ``winnow compare`` over a run whose metrics file (what DVC shows) gives a class's F1 other than its summary.json at
  the same commit (one edited by hand): showed the metrics file's F1, and beside it, under --metrics precision, the
  summary's, exit 0, where the gate refuses the pair; now one line naming both files;
- a rate in (0, 1) that three decimals round to 1 (a model wrong on 1 of 2,500 test images): the report read "test
  accuracy 1.000", as a model that erred nowhere; now to its first decimal that is not 9.

In-process: hand-made summaries from real predictions (:func:`winnow.metrics.summarise`), the compare and report
stages' ``main`` on projects holding only what they read (:mod:`test_report_versions`).
"""

import json
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from conftest import make_manifest
from gate_repo import git, init
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_compare_68 import _stage
from test_report import run_stages
from test_report_versions import BASELINE_ERRORS, CLASSES, IDS, LABELS, plain, wrong_on, write_project
from winnow import compare
from winnow.cli import main as winnow
from winnow.errors import WinnowError
from winnow.imageset import write_imageset
from winnow.metrics import PER_CLASS_METRICS, metrics_path, summarise, summary_path
from winnow.report import evaluation_section

# ten test images, four of class a; two models that score class a's F1 2/3 from other counts
TIE_LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
TIE_ONE = np.array([0, 0, 0, 1, 0, 0, 1, 1, 1, 1])  # a: 3 right of 5 named, 4 there: precision 0.6, recall 0.75
TIE_TWO = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])  # a: 2 right of 2 named, 4 there: precision 1, recall 0.5


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("tied_run", [0, 2])
def test_variants_tied_on_a_class_in_every_run_read_identical_whatever_the_order_of_the_runs(tied_run):
    # the tie is real: both models' F1 of class a is 2/3 (scikit-learn), in every run
    assert f1_score(TIE_LABELS, TIE_ONE, average=None)[0] == pytest.approx(2 / 3, abs=1e-12)
    assert f1_score(TIE_LABELS, TIE_TWO, average=None)[0] == pytest.approx(2 / 3, abs=1e-12)
    same = {"baseline": summarise(TIE_LABELS, TIE_ONE, classes=["a", "b"]),
            "pruned": summarise(TIE_LABELS, TIE_ONE, classes=["a", "b"])}
    runs = [same, same, same]
    runs[tied_run] = {"baseline": summarise(TIE_LABELS, TIE_ONE, classes=["a", "b"]),
                      "pruned": summarise(TIE_LABELS, TIE_TWO, classes=["a", "b"])}
    _, tests = compare.seed_summary(runs, metric="f1")
    text = compare.tests_markdown(tests, index="row", single="one run")
    # before, where the run of other counts came first: "| a | baseline | pruned | -0.0000 | -inf (no spread) | n/a
    # (the same change in every pair) | n/a (the same change in every pair) | n/a (the same change in every pair) | 3 |"
    assert "| a | baseline | pruned | 0.0000 | 0.0000 | 1.0000 (identical) | 0.0000 | 0.0000 | 3 |" in text


@pytest.mark.hostile("compare")
def test_a_change_over_seeds_below_four_decimals_is_written_to_its_first_digit():
    # pruned 0.00003, 0.00004 and 0.00005 above baseline on class a in three runs, 0.00001 to 0.00003 on class b
    def run(a: float, b: float) -> dict:
        return {"baseline": _summary({"a": 0.5, "b": 0.7}),
                "pruned": _summary({"a": 0.5 + a, "b": 0.7 + b})}

    gains = {"a": np.array([3e-5, 4e-5, 5e-5]), "b": np.array([1e-5, 2e-5, 3e-5])}
    runs = [run(a, b) for a, b in zip(gains["a"], gains["b"])]
    _, tests = compare.seed_summary(runs, metric="f1")
    text = compare.tests_markdown(tests, index="row", single="one run")
    for name, gain in gains.items():
        half = stats.t.ppf(0.975, 2) * gain.std(ddof=1) / math.sqrt(3)
        p = stats.ttest_1samp(gain, 0).pvalue
        # before: "| a | baseline | pruned | 0.0000 | 6.9282 | 0.0202 | 0.0000 | 0.0001 | 3 |": the change read as none
        cells = [first_digit(gain.mean()), f"{gain.mean() / (gain.std(ddof=1) / math.sqrt(3)):.4f}", f"{p:.4f}",
                 first_digit(gain.mean() - half), first_digit(gain.mean() + half)]
        assert f"| {name} | baseline | pruned | {' | '.join(cells)} | 3 |" in text


def first_digit(x: float) -> str:
    """``x`` to four decimals, or to its first decimal that is not 0 where four would read 0."""
    return f"{x:.4f}" if abs(x) >= 0.00005 else f"{x:.{-math.floor(math.log10(abs(x)))}f}"


def _summary(f1: dict[str, float]) -> dict:
    return {"per_class": {c: {**{m: v for m in PER_CLASS_METRICS}, "support": 50} for c, v in f1.items()}}


@pytest.mark.hostile("compare")
def test_the_compare_stages_csv_writes_a_change_below_six_decimals_as_it_is(tmp_path, monkeypatch):
    # pruned 4e-7 (and a little more) above baseline on each of ten classes: a change far below one image, p 1e-19.
    # Before, the CSV rounded it to 6 decimals, "mean_diff 0.0, ci_low 0.0, ci_high 0.0" beside that p
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    base = [0.5 + 0.03 * c for c in range(10)]
    head = [b + 4e-7 + 1e-9 * (c % 3) for c, b in enumerate(base)]
    for variant, scores in (("baseline", base), ("pruned", head)):
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(pd.Series(
            {"per_class": _summary({str(c): s for c, s in enumerate(scores)})["per_class"]}).to_json())
    monkeypatch.chdir(project)
    _stage("compare").main()
    row = pd.read_csv(project / "plots/compare/f1_significance.csv").iloc[0]
    diff = np.array(head) - np.array(base)
    half = stats.t.ppf(0.975, 9) * diff.std(ddof=1) / math.sqrt(10)
    assert row["mean_diff"] == pytest.approx(diff.mean(), rel=1e-5)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((diff.mean() - half, diff.mean() + half), rel=1e-5)


def _reingest(root, *, ids=IDS, labels=LABELS, classes=CLASSES) -> None:
    """data/ingest written anew: 6 train, 3 val and the test images ``ids`` of ``labels`` under ``classes``."""
    splits = ["train"] * 6 + ["val"] * 3 + ["test"] * len(ids)
    manifest = make_manifest(len(splits), labels=np.concatenate([np.arange(9) % 3, labels])).assign(
        split=splits, id=[f"t{i}" for i in range(6)] + [f"v{i}" for i in range(3)] + list(ids))
    images = np.random.default_rng(0).integers(0, 256, (len(splits), 8, 8, 1), dtype=np.uint8)
    shutil.rmtree(root / "data/ingest")
    write_imageset(root / "data/ingest", images, manifest, classes)


def _refused(root, line: str) -> None:
    before = files_under(root)
    with pytest.raises(WinnowError) as refused:
        run_stages(root, ["report"])
    assert str(refused.value) == line
    assert_nothing_left(root, before)


@pytest.mark.hostile("report")
def test_a_report_refuses_predictions_of_test_images_data_ingest_no_longer_holds(tmp_path):
    # every version evaluated on 120 test images x000...; data/ingest re-ingested with 30 others (n000...), the report
    # alone rerun. Before: "Ship pruned: macro F1 0.958, +0.208 over baseline (p < 0.001 ...)" of the old images, exit 0
    root = write_project(tmp_path, {"baseline": wrong_on(BASELINE_ERRORS), "pruned": wrong_on(BASELINE_ERRORS[:5])})
    _reingest(root, ids=[f"n{i:03d}" for i in range(30)], labels=np.arange(30) % 3)
    _refused(root, "metrics/evaluate/baseline/predictions.csv: its 120 test images are not data/ingest's test split "
                   "of 30 (120 ids here only, 30 there only, e.g. 'x000'): evaluated before data/ingest was written "
                   "anew; rerun the evaluate@baseline stage (dvc repro evaluate@baseline)")


@pytest.mark.hostile("report")
def test_a_report_refuses_predictions_of_a_test_image_data_ingest_now_labels_otherwise(tmp_path):
    # the same 120 test ids, the first of them now a dog (its file moved to another class folder, say)
    root = write_project(tmp_path, {"baseline": wrong_on(BASELINE_ERRORS), "pruned": wrong_on(BASELINE_ERRORS[:5])})
    relabelled = LABELS.copy()
    relabelled[0] = 1
    _reingest(root, labels=relabelled)
    _refused(root, "metrics/evaluate/baseline/predictions.csv: 1 test image(s) have another label in data/ingest now, "
                   "e.g. 'x000': 'cat' here, 'dog' there: evaluated before data/ingest was written anew; rerun the "
                   "evaluate@baseline stage (dvc repro evaluate@baseline)")


@pytest.mark.hostile("report")
def test_a_report_refuses_predictions_of_other_pixels_than_data_ingest_holds_now(tmp_path):
    root = write_project(tmp_path, {"baseline": wrong_on(BASELINE_ERRORS), "pruned": wrong_on(BASELINE_ERRORS[:5])})
    from winnow.imageset import read_imageset

    digests = read_imageset(root / "data/ingest").manifest.set_index("id")["digest"]
    for version in ("baseline", "pruned"):  # as evaluate writes them: each test image's digest, one of them old
        path = root / "metrics/evaluate" / version / "predictions.csv"
        table = pd.read_csv(path, dtype=str)
        table["digest"] = table["id"].map(digests)
        table.loc[3, "digest"] = "0" * 16
        table.to_csv(path, index=False)
    _refused(root, "metrics/evaluate/baseline/predictions.csv: 1 test image(s) have other pixels in data/ingest now, "
                   f"e.g. 'x003': '{'0' * 16}' here, {digests['x003']!r} there: evaluated before data/ingest was "
                   "written anew; rerun the evaluate@baseline stage (dvc repro evaluate@baseline)")


@pytest.mark.hostile("report")
def test_a_report_refuses_a_summary_of_another_class_order_than_data_ingest(tmp_path):
    # re-ingested with its classes in another order: a model's index 0 is another class now
    root = write_project(tmp_path, {"baseline": wrong_on(BASELINE_ERRORS), "pruned": wrong_on(BASELINE_ERRORS[:5])})
    order = ["bird", "cat", "dog"]
    _reingest(root, labels=np.array([order.index(CLASSES[label]) for label in LABELS]), classes=order)
    _refused(root, "metrics/evaluate/baseline/summary.json: scores classes ('cat', 'dog', 'bird'), data/ingest holds "
                   "('bird', 'cat', 'dog'): evaluated on another data set; rerun the evaluate@baseline stage (dvc "
                   "repro evaluate@baseline)")


@pytest.mark.hostile("report")
def test_an_accuracy_short_of_one_never_reads_as_one():
    # 2,500 test images of two classes, the model wrong on one: accuracy 0.9996. Before: "1.000", as if it erred
    # nowhere, beside a perfect model's 1.000
    labels = np.repeat([0, 1], 1250)
    wrong = labels.copy()
    wrong[0] = 1
    metrics = {"oracle": summarise(labels, labels, classes=["a", "b"]),
               "baseline": summarise(labels, wrong, classes=["a", "b"])}
    page = plain(re.sub(r"</t[dh]>", "|", evaluation_section(metrics=metrics, confusions={})))
    figures = [accuracy_score(labels, wrong), *(score(labels, wrong, average="macro")
                                                for score in (precision_score, recall_score, f1_score))]
    assert [f"{x:.3f}" for x in figures] == ["1.000"] * 4 and [f"{x:.4f}" for x in figures] == ["0.9996"] * 4
    assert "oracle|1.000|1.000|1.000|1.000|0.000|" in page
    assert "baseline|0.9996|0.9996|0.9996|0.9996|" in page


@pytest.mark.hostile("compare")
def test_winnow_compare_refuses_a_run_whose_metrics_file_and_summary_disagree_on_a_class(tmp_path, capsys):
    # pruned's summary.json at the commit says class a's F1 is 0.8; its metrics file, which DVC shows, was edited to
    # 0.95. Before: the F1 table read pruned a 0.9500 (and --metrics precision its summary's 0.8000), exit 0
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    f1 = {"baseline": 0.7, "pruned": 0.8}
    for variant, value in f1.items():
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(json.dumps(_summary({"a": value, "b": 0.9})))
    init(project)
    shown = {**f1, "pruned": 0.95}
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([{"rev": git(project, "rev-parse", "HEAD").strip(), "name": "main", "error": None,
                                  "data": {"params": {"params.yaml": {"data": {"seed": 0}}}, "metrics": {
                                      metrics_path(v): {"data": {"per_class": {"a": {"f1": x}, "b": {"f1": 0.9}}}}
                                      for v, x in shown.items()}}}]))
    before = files_under(project)
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 1
    assert capsys.readouterr().err == (
        "error: experiment main: metrics/evaluate/pruned.json shows per_class.a.f1 0.95, its "
        "metrics/evaluate/pruned/summary.json 0.8: evaluate writes both, so one was edited or is another run's; rerun "
        "evaluate@pruned there, or leave the run out\n")
    assert_nothing_left(project, before)
