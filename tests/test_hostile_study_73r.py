"""Review of probe 73's study mends (test_hostile_study_73.py): the same faults arriving by paths next to the ones
mended.

- `study collect --metrics` with the project's metrics file given as an absolute path, as ``../metrics/...`` from a
  subfolder of the project, or through a link to the project: refused as a file no run holds, naming the very file
  given as the one they hold (d19e51ad mended ``./metrics/...`` alone); a path that leads out of the project is still
  refused, not read as the project's file;
- `study queue` (``--dry-run`` or not) when every experiment of the sweeps is queued, running or done already: the dry
  run said "...; the commands of the rest" above no command, and the queue "queued 0 experiments";
- a noise's ``rates`` (or a mapping) with keys of two types, as DVC's Python API gives YAML's ``{1: 0.2, a: 0.1}``:
  `study collect` (comparing runs' damages, as 33bda894 compares a mapping in any key order) and `study queue`
  (comparing the experiments shown with the ones it plans) ended in a TypeError traceback.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under
from test_study import ingested_project, record, show  # noqa: F401 (a fixture)
from winnow import cli, experiments, study_sweeps

ERROR_OUTSIDE = ("error: study: no experiment holds {given} (files they hold: metrics/evaluate/baseline.json); give "
                 "--metrics the evaluate metrics file of a variant they ran\n")


def _project(tmp_path):
    """``tmp_path/proj`` (a DVC project with a reports/ folder), ``tmp_path/link`` (a link to it) and a saved `dvc exp
    show --json` of a clean run and a noise run, both holding metrics/evaluate/baseline.json."""
    project = tmp_path / "proj"
    (project / "reports").mkdir(parents=True)
    (project / "metrics/evaluate").mkdir(parents=True)
    (project / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "link").symlink_to(project)
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(record("clean", [], 0.95),
                                     record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8))))
    return project, saved


@pytest.mark.hostile("study")
@pytest.mark.parametrize("here, given", [
    ("proj", "{tmp}/proj/metrics/evaluate/baseline.json"),  # absolute, from the project's root
    ("proj/reports", "../metrics/evaluate/baseline.json"),  # a shell's completion from a subfolder
    ("link/reports", "{tmp}/link/metrics/evaluate/baseline.json"),  # the project reached by a link
    ("proj/reports", "../../link/metrics/evaluate/baseline.json"),  # up out of it and back in through the link
])
def test_metrics_given_from_the_current_folder_in_any_spelling_is_the_file_dvc_names(tmp_path, monkeypatch, capsys,
                                                                                      here, given):
    # before: "error: study: no experiment holds /tmp/.../proj/metrics/evaluate/baseline.json (files they hold:
    # metrics/evaluate/baseline.json); give --metrics the evaluate metrics file of a variant they ran", the very file
    # given (d19e51ad read ./metrics/evaluate/baseline.json as the file, and these spellings not)
    _, saved = _project(tmp_path)
    monkeypatch.chdir(tmp_path / here)
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out), "--metrics",
                     given.format(tmp=tmp_path)]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: 2 of 3 experiments on 1 sweeps"]
    table = pd.read_csv(out / "study.csv")
    assert table[["experiment", "accuracy", "metrics"]].drop_duplicates().values.tolist() == [
        ["clean", 0.95, "metrics/evaluate/baseline.json"], ["noise20", 0.8, "metrics/evaluate/baseline.json"]]


@pytest.mark.hostile("study")
@pytest.mark.parametrize("given", [
    "../metrics/evaluate/baseline.json",  # from the project's root: a file beside the project, not in it
    "{tmp}/metrics/evaluate/baseline.json",  # the same, absolute
])
def test_metrics_outside_the_project_is_not_read_as_the_projects_file(tmp_path, monkeypatch, capsys, given):
    # a file of the same name outside the project is no file of its runs: refused as before the mend above (a false
    # match here would draw the runs' metrics under the name of a file they never wrote)
    project, saved = _project(tmp_path)
    (tmp_path / "metrics/evaluate").mkdir(parents=True)
    (tmp_path / "metrics/evaluate/baseline.json").write_text("{}")
    monkeypatch.chdir(project)
    before = files_under(tmp_path)
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study"), "--metrics",
                     given.format(tmp=tmp_path)]) == 1
    assert capsys.readouterr() == ("", ERROR_OUTSIDE.format(given=given.format(tmp=tmp_path)))
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("study")
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_queue_whose_experiments_are_all_done_says_nothing_is_left(ingested_project,  # noqa: F811
                                                                     monkeypatch, capsys, dry_run):
    # the clean run has run to the end, and `study queue --sweeps clean` is given again. Before: --dry-run printed
    # "1 of the 1 experiments are queued, running or done already (`dvc exp show`); the commands of the rest" above no
    # command, and the queue "...; queueing the rest" then "queued 0 experiments; run them with ..."
    import yaml

    params = yaml.safe_load((ingested_project / "params.yaml").read_text())
    run = {**params, "degrade": {**params["degrade"], "enabled": True, "perturbations": []}}
    shown = {"rev": "c" * 40, "name": "clean", "error": None,
             "data": {"params": {"params.yaml": {"data": run}}, "metrics": {}}}
    baseline = {"rev": "b" * 40, "name": "main", "error": None, "data": {"params": {}, "metrics": {}},
                "experiments": [{"revs": [shown], "executor": None, "name": "clean"}]}
    monkeypatch.setattr(study_sweeps, "shown_experiments", lambda **_: [baseline])
    commands = []
    monkeypatch.setattr(study_sweeps.subprocess, "run", lambda command, **_: commands.append(command))
    before = files_under(ingested_project)
    assert cli.main(["study", "queue", "--sweeps", "clean", *(["--dry-run"] if dry_run else [])]) == 0
    assert capsys.readouterr() == (
        "the 1 experiment(s) are all queued, running or done already (`dvc exp show`); nothing is left to queue: run "
        "those queued with `dvc exp run --run-all`, then `winnow study collect`\n", "")
    assert commands == []
    assert_nothing_left(ingested_project, before)


@pytest.mark.hostile("study")
def test_rates_keyed_by_an_index_and_a_name_are_compared_without_a_traceback(tmp_path, monkeypatch, capsys):
    # two runs along rates.1, as DVC's Python API gives them from params.yaml (YAML's key 1 an int beside the name a;
    # dvc exp show --json would write "1"). Before: "TypeError: '<' not supported between instances of 'str' and
    # 'int'" from study_runs._damage, which sorted the keys as read
    runs = show(record("n1", [{"kind": "symmetric_noise", "rates": {1: 0.2, "a": 0.1}}], 0.8),
                record("n2", [{"kind": "symmetric_noise", "rates": {"a": 0.1, 1: 0.4}}], 0.7))
    monkeypatch.setattr(experiments, "shown_experiments", lambda **_: runs)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--out", str(out), "--axis", "degrade.perturbations.0.rates.1"]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: left out 1 experiment(s) with no finite number at degrade.perturbations.0.rates.1 (main (nothing))",
        "study: 2 of 3 experiments on 1 sweeps"]
    table = pd.read_csv(out / "study.csv")
    assert table[["damage", "level", "experiment"]].drop_duplicates().values.tolist() == [
        ["symmetric_noise rates={'a': 0.1}", 0.2, "n1"], ["symmetric_noise rates={'a': 0.1}", 0.4, "n2"]]


@pytest.mark.hostile("study")
def test_a_queue_beside_a_run_of_rates_keyed_by_an_index_and_a_name(ingested_project, monkeypatch,  # noqa: F811
                                                                    capsys):
    # a run of rates {1: 0.2, a: 0.1} done earlier, as DVC's Python API shows it. Before: `study queue` ended in
    # "TypeError: '<' not supported between instances of 'str' and 'int'" comparing it with the experiments it plans
    import yaml

    params = yaml.safe_load((ingested_project / "params.yaml").read_text())
    run = {**params, "degrade": {**params["degrade"], "enabled": True,
                                 "perturbations": [{"kind": "symmetric_noise", "rates": {1: 0.2, "a": 0.1}}]}}
    shown = {"rev": "d" * 40, "name": "rates", "error": None,
             "data": {"params": {"params.yaml": {"data": run}}, "metrics": {}}}
    baseline = {"rev": "b" * 40, "name": "main", "error": None, "data": {"params": {}, "metrics": {}},
                "experiments": [{"revs": [shown], "executor": None, "name": "rates"}]}
    monkeypatch.setattr(study_sweeps, "shown_experiments", lambda **_: [baseline])
    before = files_under(ingested_project)
    assert cli.main(["study", "queue", "--sweeps", "clean", "--dry-run"]) == 0
    assert capsys.readouterr() == ("dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[]'\n", "")
    assert_nothing_left(ingested_project, before)
