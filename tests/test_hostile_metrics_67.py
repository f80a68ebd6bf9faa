"""Hostile metrics cases of stop 67: a class evaluate knows that the test split holds no image of. Its metrics are 0 by
convention, not measured, so every macro figure (evaluate's, compare's average row, the report's and gate's paired
change) leaves it out rather than averaging its 0 in. In-process on hand-made predictions: no training."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from gate_repo import commit, init
from hostile_harness import make_project

from winnow.cli import main as winnow
from winnow.compare import class_table
from winnow.errors import WinnowError
from winnow.evaluated import check_headline, read_headline
from winnow.metrics import headline, metrics_path, summarise, summary_path
from winnow.paired import macro_f1_change

CLASSES = ["a", "b", "c"]  # a: no test image
LABELS = np.array([1, 1, 2, 2])
BASE = np.array([1, 2, 2, 2])  # one b named c: F1 b = 2*1/(2+1) = 2/3, c = 2*2/(2+3) = 4/5
HEAD = LABELS.copy()  # every image right: F1 b = c = 1


@pytest.mark.hostile("compare")
def test_a_class_without_test_images_is_left_out_of_every_macro_figure():
    base, head = (summarise(LABELS, predicted, classes=CLASSES) for predicted in (BASE, HEAD))
    # before: 0.4889 and 0.6667, a's unmeasured 0 a third of each
    assert base["macro"]["f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert head["macro"]["f1"] == 1.0 and head["per_class_std"]["f1"] == 0.0
    assert base["per_class"]["a"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0, "support": 0}
    # the report's and gate's paired change is the same difference (before: +0.1778, the gain spread over 3 classes)
    change = macro_f1_change(LABELS, BASE, HEAD, num_classes=3, resamples=10)["change"]
    assert change == pytest.approx(1 - (2 / 3 + 4 / 5) / 2)
    # compare's average and std rows too (before: 0.4889 and 0.6667, std 0.35 and 0.47); a's row stays, 0
    table = class_table({"baseline": base, "pruned": head}, metric="f1")
    assert table.loc["average"].tolist() == pytest.approx([(2 / 3 + 4 / 5) / 2, 1.0])
    assert table.loc["std"].tolist() == pytest.approx([(4 / 5 - 2 / 3) / 2, 0.0])
    assert table.loc["a"].tolist() == [0.0, 0.0]


def _frame(predicted) -> pd.DataFrame:
    names = np.array(CLASSES, dtype=object)
    return pd.DataFrame({"id": [f"t{i}" for i in range(len(LABELS))], "label": names[LABELS],
                         "predicted": names[predicted]})


@pytest.mark.hostile("gate")
def test_the_gate_reads_a_metrics_file_of_either_macro_rule_and_no_other():
    frame = _frame(BASE)
    written = read_headline(json.dumps(headline(summarise(LABELS, BASE, classes=CLASSES))), where="now.json")
    check_headline(written, frame, where="now.json")
    # a commit evaluated before: a's 0 averaged in, (0 + 2/3 + 4/5) / 3; a gate's base is often such a commit
    check_headline({**written, "macro.f1": (2 / 3 + 4 / 5) / 3}, frame, where="old.json")
    with pytest.raises(WinnowError) as refused:
        check_headline({**written, "macro.f1": 0.5}, frame, where="edited.json")
    assert str(refused.value) == ("edited.json: macro.f1 is 0.5 but its predictions give 0.733333; rerun evaluate and "
                                  "commit both files")


@pytest.mark.hostile("compare")
def test_compare_over_runs_leaves_a_class_without_test_images_out_of_f1s_average_as_of_the_others(tmp_path, capsys):
    # found by review: DVC shows F1 without each class's support, so `winnow compare` averaged a's 0 into the F1 rows
    # (baseline 0.4889) while its precision rows, read from summary.json, left it out (0.7333)
    repo = init(make_project(tmp_path / "p"))
    records = []
    for seed in (0, 1):
        for variant, predicted in (("baseline", BASE), ("pruned", HEAD)):
            summary = summarise(LABELS, predicted, classes=CLASSES)
            (repo / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
            (repo / summary_path(variant)).write_text(json.dumps(summary))
        commit(repo, f"seed {seed}")
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
        shown = {metrics_path(v): {"data": headline(summarise(LABELS, p, classes=CLASSES))}
                 for v, p in (("baseline", BASE), ("pruned", HEAD))}
        records.append({"rev": rev, "name": f"exp-{seed}", "error": None,
                        "data": {"params": {"params.yaml": {"data": {"seed": seed}}}, "metrics": shown}})
    (tmp_path / "exp.json").write_text(json.dumps(records))
    assert winnow(["compare", "--from-json", str(tmp_path / "exp.json"), "--variants", "baseline", "pruned",
                   "--metrics", "f1", "precision", "--repo", str(repo)]) == 0
    text = capsys.readouterr().out
    for metric, baseline in (("f1", (2 / 3 + 4 / 5) / 2), ("precision", (1 + 2 / 3) / 2)):
        section = text.split(f"## {metric} (mean ± std over runs)\n")[1].split("\n## ")[0]
        assert f"| average | {baseline:.4f} ± 0.0000 | 1.0000 ± 0.0000 |" in section
        assert ("_Left out of the average and std rows and of the tests: a (no test image: its 0s are not measured), "
                "as evaluate's macro figures leave it out._") in section
