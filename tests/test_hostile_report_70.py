"""Hostile inputs to the report, stop 70: numbers and figures that must say what the metrics files say.

- two versions whose per-class F1 reads the same once rounded (0.9604 and 0.9601: both "0.960") are both bold as
  best, and a class without test images (its 0s not measured) is bold in no column;
- a class whose F1 is exactly 0 is marked on the per-class F1 figure, and a class without test images is named so
  there, rather than both drawn as nothing;
- the study figure and its note name the metrics file the curves score (``study collect --metrics``) and the axis
  they run along (``--axis``), read from plots/study/study.csv as the report reads it;
- the report refuses a variant whose earlier stages (the variants stage: pruned.cleaners) ran under other params
  than params.yaml's, or read what an earlier run made (the budget, confident-learn's old decisions), as it refused
  one whose train stage did;
- the review page shows a saved drop of a relabel item, and a saved class of a quality drop, chosen (the queue and
  Label Studio offer both words; the page offered neither);
- a Label Studio export whose tasks lack data.digest is refused with advice that works (it advised importing a Label
  Studio export, the very file refused).

The expected cells and marks are worked out here from the inputs (what three decimals show, where a bar of a group
of two stands), never read back from winnow's own output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from hostile_harness import default_params, make_project
from test_hostile_cli import _locked, _write_summaries
from test_hostile_report_more import plain, report_stage
from test_hostile_review_66 import exported, fill_in, project  # noqa: F401  (fixtures)
from test_study import record, show
from winnow import cli, review
from winnow.report import evaluation_section, study_section
from winnow.report_figures import per_class_f1_panels, study_panels
from winnow.same_run import check_same_run
from winnow.compare import class_rows, class_table
from winnow.errors import WinnowError
from winnow.metrics import summary_path


def _summary(f1: dict[str, float], *, untested: str = "") -> dict:
    """An evaluate summary of one variant: ``f1`` per class (every per-class metric alike), ``untested`` with no test
    image (support 0, metrics 0)."""
    per_class = {c: {"precision": v, "recall": v, "f1": v, "accuracy": v, "support": 0 if c == untested else 10}
                 for c, v in f1.items()}
    return {"accuracy": 0.9, "macro": {"precision": 0.9, "recall": 0.9, "f1": 0.9}, "per_class_std": {"f1": 0.0},
            "per_class": per_class}


METRICS = {"baseline": _summary({"a": 0.9604, "b": 0.5, "c": 0.0}, untested="c"),
           "pruned": _summary({"a": 0.9601, "b": 0.0, "c": 0.0}, untested="c")}


@pytest.mark.hostile("report")
def test_versions_whose_f1_reads_the_same_are_both_bold_and_an_untested_class_in_neither():
    # before: class a read "0.960" in both columns, baseline's bold and pruned's not, as if the page had measured a
    # difference; and class c, which has no test image, had both its unmeasured 0.000s bold as best
    page = evaluation_section(metrics=METRICS, confusions={})
    table = re.search(r"f1 per class \(best version in bold\).*?<tbody>(.*?)</tbody>", page, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)
    assert rows[:3] == ['<td class="text">a</td><td><b>0.960</b></td><td><b>0.960</b></td>',
                        '<td class="text">b</td><td><b>0.500</b></td><td>0.000</td>',
                        '<td class="text">c</td><td>0.000</td><td>0.000</td>']


@pytest.mark.hostile("report")
def test_a_class_at_f1_zero_is_marked_on_the_per_class_figure_and_an_untested_class_named():
    # before: pruned's bar of class b (F1 exactly 0) was drawn as nothing, like a version never evaluated, and class c
    # (no test image) read the same as two versions that scored 0 on it
    f1 = class_rows(class_table(METRICS, metric="f1"))
    ax = per_class_f1_panels(f1, untested=["c"]).axes[0]
    # two bars a group, 0.4 wide, centred on the class: pruned's bar of class b (position 1) stands at 1.2
    assert [(text.get_text(), round(text.get_position()[0], 6)) for text in ax.texts] == [("0", 1.2)]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["a", "b", "c (no test image)"]
    assert sorted(round(bar.get_height(), 4) for bar in ax.patches) == [0.0, 0.5, 0.9601, 0.9604]


@pytest.mark.hostile("report")
def test_the_study_figure_names_its_metrics_file_and_axis(tmp_path, capsys):
    # `winnow study collect --metrics metrics/evaluate/oracle.json --axis train.weight_decay`: before, study.csv kept
    # neither, so the report's figure read "level" on its x axis and nothing said the curves were the oracle's, not
    # the baseline's that the rest of the page shows
    runs = []
    for decay, accuracy in ((1e-5, 0.9), (1e-4, 0.7)):
        runs.append(record(f"wd{decay:g}", [], accuracy))
        runs[-1]["data"]["params"]["params.yaml"]["data"]["train"] = {"weight_decay": decay}
        held = runs[-1]["data"]["metrics"]
        held["metrics/evaluate/oracle.json"] = held.pop("metrics/evaluate/baseline.json")
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*runs)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out),
                     "--metrics", "metrics/evaluate/oracle.json", "--axis", "train.weight_decay"]) == 0
    study = report_stage().study_of(str(out / "study.csv"))  # as the report reads it
    fig = study_panels(study)
    assert (fig.get_suptitle(), fig.axes[0].get_xlabel()) == ("metrics/evaluate/oracle.json", "train.weight_decay")
    assert "Scores of metrics/evaluate/oracle.json. Solid: test accuracy; dashed: macro F1;" in plain(
        study_section(study=study))


def _radios(page: str, image: str) -> list[tuple[str, bool, str]]:
    """The radio controls of ``image``'s item on the review page: (value, checked, text)."""
    item = re.search(r'<figure[^>]*data-id="%s".*?</figure>' % re.escape(image), page, re.S).group(0)
    return [(value, bool(checked), text) for value, checked, text in
            re.findall(r'<input type="radio" name="v\d+" value="([^"]*)"( checked)?> ([^<]*)</label>', item)]


@pytest.mark.hostile("report")
def test_the_review_page_shows_a_saved_drop_of_a_relabel_and_a_saved_class_of_a_drop_chosen(project):
    # train-04 (dog, suggested owl) dropped and train-00 (cat, dark: drop) relabelled owl in the queue, imported, then
    # exported again: before, the page offered neither word for those items, so beside "saved: drop" and "saved: owl"
    # no control showed chosen, and a person could not choose drop for a label issue there at all
    review.import_verdicts(fill_in({"train-04": "drop", "train-00": "owl"}, name="mine.csv"))
    review.export()
    page = Path("reviews/index.html").read_text()
    assert _radios(page, "train-04") == [("accept", False, "accept: relabel → owl"),
                                         ("reject", False, "reject: keep as dog"), ("drop", True, "drop")]
    assert _radios(page, "train-00") == [("accept", False, "accept: drop"), ("reject", False, "reject: keep as cat"),
                                         ("owl", True, "relabel → owl")]


@pytest.mark.hostile("report")
@pytest.mark.parametrize("frozen", [False, True])
def test_the_report_refuses_a_pruned_the_variants_stage_made_under_other_cleaners(tmp_path, frozen):
    # pruned.cleaners edited (dedup added) and `dvc repro -s report`: train@pruned's params are unchanged and its lock
    # entry reads what the variants stage last wrote, so before, the page showed the pruned of the old cleaners (and
    # its duplicate section said dedup was among them, from params.yaml), exit 0. A frozen variants stage, which
    # `dvc repro report` would skip, is named so, as the gate names one
    params = default_params() | {"variants": ["baseline", "pruned"]}
    params["contracts"]["enforce_variants"] = ["baseline"]
    params["pruned"]["cleaners"] = ["threshold", "dedup"]
    project = make_project(tmp_path / "project", params)
    _write_summaries(project, {"baseline": {"a": 0.5, "b": 0.6}, "pruned": {"a": 0.6, "b": 0.7}})
    _locked(project, ["baseline", "pruned"], train=params["train"])
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    lock["stages"]["variants"] = {
        "cmd": "x", "params": {"params.yaml": {"variants": ["baseline", "pruned"], "pruned.cleaners": ["threshold"]}},
        "outs": [{"path": "data/variants/pruned", "md5": "p.dir"}]}
    lock["stages"]["train@pruned"]["deps"] = [{"path": "data/variants/pruned", "md5": "p.dir"}]
    (project / "dvc.lock").write_text(yaml.safe_dump(lock))
    if frozen:  # dvc.yaml as `dvc freeze variants` leaves it (the rest of the pipeline is no matter here)
        (project / "dvc.yaml").write_text("stages:\n  variants:\n    cmd: python stages/variants.py\n    frozen: true\n")
    # what stages/report.py checks before it reads anything (in-process: the forked stage took 20 s to say it)
    with pytest.raises(WinnowError) as refused:
        check_same_run(["baseline", "pruned"], params, repo=project, stage="report")
    assert str(refused.value) == (
        f"{summary_path('pruned')}: variants ran under pruned.cleaners.1 = absent, params.yaml now says "
        '"dedup": not from this run; run `dvc repro report`, which brings every variant up to date'
        + ("; dvc.yaml freezes it, so dvc status and dvc repro skip it: take its frozen: true out (dvc unfreeze) first"
           if frozen else ""))


@pytest.mark.hostile("report")
def test_a_label_studio_export_whose_tasks_lack_the_digest_is_not_advised_to_import_a_label_studio_export(project):
    # tasks an earlier winnow exported (no data.digest), labelled in Label Studio: before, the refusal advised to
    # "import the review page's download or a Label Studio export, which carry them", the very file refused
    tasks = json.loads(Path("reviews/label_studio_tasks.json").read_text())
    for task in tasks:
        del task["data"]["digest"]
    task = next(t for t in tasks if t["data"]["winnow_id"] == "train-04")
    task["annotations"] = [{"result": [{"from_name": "verdict", "to_name": "image", "type": "choices",
                                        "value": {"choices": ["drop"]}}], "was_cancelled": False}]
    Path("export.json").write_text(json.dumps(tasks))
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("export.json")
    assert str(refused.value) == (
        f"export.json: task {tasks.index(task) + 1} (id 'train-04'): no data.digest, so which label, pixels or "
        "suggestion were judged cannot be told (tasks an earlier winnow exported, or made by hand); fill in the "
        "verdict column of the exported reviews/queue.csv, or label the tasks of reviews/label_studio_tasks.json in "
        "Label Studio, which carry them, and import that export")
    assert not Path("reviews/verdicts.csv").exists()  # nothing written


@pytest.mark.hostile("report")
def test_the_report_refuses_a_pruned_the_budget_made_of_a_cleaners_earlier_decisions(tmp_path):
    # `dvc repro -s confident-learn`, then `dvc repro -s report`: train@pruned's lock entry reads what the variants
    # stage wrote, which read what the budget wrote, but the budget read confident-learn's earlier decisions. Before,
    # only train@<v>'s and evaluate@<v>'s own inputs were checked, and the page showed the new label issues beside the
    # pruned made of the old ones, exit 0
    params = default_params() | {"variants": ["baseline", "pruned"]}
    project = make_project(tmp_path / "project", params)
    _write_summaries(project, {"baseline": {"a": 0.5, "b": 0.6}, "pruned": {"a": 0.6, "b": 0.7}})
    _locked(project, ["baseline", "pruned"], train=params["train"])
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    lock["stages"] |= {
        "confident-learn": {"cmd": "x", "outs": [{"path": "data/confident-learn", "md5": "new.dir"}]},
        "budget": {"cmd": "x", "deps": [{"path": "data/confident-learn", "md5": "old.dir"}],
                   "outs": [{"path": "data/budget", "md5": "b.dir"}]},
        "variants": {"cmd": "x", "deps": [{"path": "data/budget", "md5": "b.dir"}],
                     "outs": [{"path": "data/variants/pruned", "md5": "p.dir"}]}}
    lock["stages"]["train@pruned"]["deps"] = [{"path": "data/variants/pruned", "md5": "p.dir"}]
    (project / "dvc.lock").write_text(yaml.safe_dump(lock))
    with pytest.raises(WinnowError) as refused:
        check_same_run(["baseline", "pruned"], params, repo=project, stage="report")
    assert str(refused.value) == (
        f"{summary_path('pruned')}: budget read what the stages before it no longer record (dvc.lock: "
        "data/confident-learn not what the stage writing them made): not from this run; run `dvc repro report`, "
        "which brings every variant up to date")
