"""Hostile cases of evaluate's figures and the significance read from them (probe 78):

- McNemar's exact test of many discordant images (a test set of 50,000 and two versions 20% apart: 10,000 discordant)
  summed math.comb anew for every count, seconds a test at 10,000 and minutes at 40,000 (twice for the report's
  two-sided test, once per class and overall in the gate), so a gate or report of a large test set hung there; each
  term now comes from the one before, exactly;
- the compare stage beside a variant whose model never learnt (baseline naming one class for every test image): it
  wrote "p 0.0088" for pruned's gain in F1 across classes without a word, where evaluate warns and the report gives no
  verdict; compare.md and its output now say that model did not learn and what to rerun.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score

from hostile_harness import default_params, make_project
from test_hostile_compare_68 import _stage
from winnow.metrics import summarise, summary_path
from winnow.paired import PairedCounts, change_p_value, drop_p_value


@pytest.mark.hostile("evaluate")
@pytest.mark.parametrize(("lost", "gained"), [(10_040, 9_961), (3, 20_000), (20_001, 0)])
def test_mcnemars_exact_test_of_twenty_thousand_discordant_images_is_scipys_binomial_test(lost, gained):
    # before: 20,001 discordant images took about a minute a test (math.comb anew for each of 10,000 terms)
    counts = PairedCounts(both=30_000, lost=lost, gained=gained, neither=0)
    n = lost + gained
    assert drop_p_value(counts) == pytest.approx(stats.binomtest(lost, n, 0.5, alternative="greater").pvalue,
                                                 rel=1e-12, abs=1e-300)
    assert change_p_value(counts) == pytest.approx(stats.binomtest(lost, n, 0.5).pvalue, rel=1e-12, abs=1e-300)


LABELS = np.repeat(np.arange(4), 10)  # 4 classes, 10 test images each
ONE_CLASS = np.zeros(40, int)  # names class a for every image
LEARNT = np.where(np.arange(40) % 10 == 0, (LABELS + 1) % 4, LABELS)  # right on 9 of each class's 10


def _compare(tmp_path, monkeypatch, predictions: dict) -> Path:
    project = make_project(tmp_path / "project", default_params() | {"variants": list(predictions)})
    for variant, predicted in predictions.items():
        path = project / summary_path(variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summarise(LABELS, predicted, classes=list("abcd"))))
    monkeypatch.chdir(project)
    return project


@pytest.mark.hostile("compare")
def test_the_compare_stage_says_a_variants_model_never_learnt_beside_its_tests(tmp_path, monkeypatch, capsys):
    project = _compare(tmp_path, monkeypatch, {"baseline": ONE_CLASS, "pruned": LEARNT})
    _stage("compare").main()
    said = ("The model of `baseline` did not learn (its recalls of the test classes add up to no more than naming one "
            "class for every image scores), so no difference beside it says anything of the data, however small its p; "
            "check train.lr, train.weight_decay and train.epochs, then rerun `dvc repro train@baseline` and compare.")
    assert f"warning: compare: {said}" in capsys.readouterr().out.splitlines()
    text = (project / "reports/compare.md").read_text()
    assert f"_{said}_" in text.splitlines()
    # the test it stands beside, as scikit-learn and scipy give it: the paired t-test of the per-class F1s
    before, after = (f1_score(LABELS, p, average=None) for p in (ONE_CLASS, LEARNT))
    test = stats.ttest_rel(after, before)
    assert test.pvalue < 0.05  # what the note warns against reading as a gain
    row = f"| baseline | pruned | {np.mean(after - before):.4f} | {test.statistic:.4f} | {test.pvalue:.4f} |"
    assert row in text.split("## f1")[1]


@pytest.mark.hostile("compare")
def test_the_compare_stage_of_models_that_learnt_says_nothing_of_learning(tmp_path, monkeypatch, capsys):
    project = _compare(tmp_path, monkeypatch, {"baseline": LEARNT, "pruned": LABELS})
    _stage("compare").main()
    assert "did not learn" not in capsys.readouterr().out
    assert "did not learn" not in (project / "reports/compare.md").read_text()
