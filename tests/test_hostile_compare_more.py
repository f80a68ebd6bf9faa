"""Hostile inputs of a user comparing data set versions: `winnow compare` fed by `dvc exp show --json` on standard
input, runs whose params spell one number two ways, experiments dvc's queue is still running, an --out whose JSON
would land on a stage's output, and `winnow study queue` without dvc or with its reader gone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_winnow,
)

import forked_run
from winnow.metrics import metrics_path

TWO_CLASSES = {"baseline": {"a": 0.5, "b": 0.7}, "pruned": {"a": 0.6, "b": 0.8}}


def record(rev: str, name: str, seed: int, per_class: dict, **params) -> dict:
    """One commit or experiment as `dvc exp show --json` writes it: params.yaml's ``seed`` and ``params``,
    variant -> class -> F1."""
    metrics = {metrics_path(v): {"data": {"accuracy": 0.9, "macro": {"f1": 0.8},
                                          "per_class": {c: {"f1": f} for c, f in f1.items()}}}
               for v, f1 in per_class.items()}
    return {"rev": rev * 40, "name": name, "error": None,
            "data": {"params": {"params.yaml": {"data": {"seed": seed, **params}}}, "metrics": metrics}}


def _study_run(rev: str, name: str | None, perturbations: list, accuracy: float) -> dict:
    """One experiment of a study as `dvc exp show --json` writes it: degrade's perturbations and the baseline's
    accuracy (and that F1 for classes 0 and 1)."""
    run = record(rev, name, 0, {"baseline": {"0": accuracy, "1": accuracy}}, degrade={
        "enabled": True, "perturbations": perturbations})
    run["data"]["metrics"][metrics_path("baseline")]["data"]["accuracy"] = accuracy
    return run


def shifted(per_class: dict, by: float) -> dict:
    return {v: {c: round(f + by, 4) for c, f in f1.items()} for v, f1 in per_class.items()}


def fresh(project, *args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """The winnow command as a new process reading ``stdin`` (the forked runs read /dev/null)."""
    return subprocess.run([sys.executable, "-m", "winnow.cli", *args], cwd=project, input=stdin, capture_output=True,
                          text=True, env={**_env(), **(env or {})}, timeout=300)


def saved_compare(project, records: list, *args: str) -> subprocess.CompletedProcess:
    """``winnow compare --from-json <file> *args`` where the file, beside ``project``, holds ``records`` as `dvc exp
    show --json` writes them: the warm forked run, for the cases whose subject is what compare makes of the records
    (reading them from a pipe: the cases of :func:`fresh`)."""
    saved = project.parent / "exp-show.json"
    saved.write_text(json.dumps(records))
    return run_winnow(project, "compare", "--from-json", str(saved), *args)


def _fake_dvc(tmp_path: Path, body: str) -> tuple[dict, Path]:
    """An environment whose ``dvc`` is a shell script that logs its arguments to the returned log file, then runs
    ``body`` (``{log}`` in it names that file); the real one stays on PATH behind it."""
    bin_dir, log = tmp_path / "bin", tmp_path / "dvc.log"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text(f'#!/bin/sh\necho "$@" >> {log}\n' + body.format(log=log))
    (bin_dir / "dvc").chmod(0o755)
    return {**_env(), "PATH": f"{bin_dir}{os.pathsep}{_env()['PATH']}"}, log


@pytest.mark.hostile("compare")
def test_compare_fed_an_empty_pipe_says_the_command_before_it_wrote_nothing(tmp_path):
    # `dvc exp show --json | winnow compare --from-json -` where dvc failed (its own error above): before, "- is not
    # JSON (Expecting value: line 1 column 1 (char 0)); write it with `dvc exp show --json > -`", a file named "-"
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = fresh(project, "compare", "--from-json", "-", "--variants", "baseline", "pruned", "--out", "seeds.md")
    assert assert_error_line(done) == (
        "error: --from-json: standard input is empty (did `dvc exp show --json` before the pipe fail?); pipe "
        "`dvc exp show --json` into it, or give a saved file")
    assert done.stdout == ""
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_fed_a_truncated_pipe_names_standard_input_and_the_pipe(tmp_path):
    # before: "--from-json: - is not JSON (...); write it with `dvc exp show --json > -`"
    project = make_project(tmp_path / "project")
    before = files_under(project)
    text = json.dumps([record("c", "c0ffee", 0, TWO_CLASSES)])
    done = fresh(project, "compare", "--from-json", "-", "--variants", "baseline", "pruned", "--out", "seeds.md",
                 stdin=text[:len(text) // 2])
    line = assert_error_line(done, "error: --from-json: standard input is not JSON (",
                             "); pipe `dvc exp show --json` into it")
    assert "> -" not in line
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_pools_seeds_whose_params_spell_one_number_two_ways(tmp_path):
    # params.yaml's `weight_decay: 0.0` and `dvc exp run -S train.weight_decay=0 -S seed=N`: one setting. Before,
    # the commit was left out as "other settings (the classes evaluated)", a reason that was not so, and the
    # table averaged 2 seeds instead of 3
    runs = [record("a", "c0ffee", 0, TWO_CLASSES, train={"weight_decay": 0.0, "lr": 0.001}),
            record("b", "exp-1", 1, shifted(TWO_CLASSES, 0.02), train={"lr": 0.001, "weight_decay": 0}),
            record("c", "exp-2", 2, shifted(TWO_CLASSES, -0.02), train={"weight_decay": 0, "lr": 0.001})]
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps(runs))
    done = run_winnow(make_project(tmp_path / "project"), "compare", "--from-json", str(saved),
                      "--variants", "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# Variants over 3 run(s) (seeds 0, 1, 2)"
    # no run left out: the one note is the tests' (class rows not corrected for the 2 classes)
    assert [line.split(" (")[0] for line in lines if line.startswith("_")] == [
        "_Each class row is its own test, its p not corrected for the 2 classes tested"]
    # the three seeds' F1 of class a for baseline are 0.50, 0.52 and 0.48: mean 0.50, sample std 0.02
    assert "| a | 0.5000 ± 0.0200 | 0.6000 ± 0.0200 |" in lines


@pytest.mark.hostile("compare")
def test_compare_leaves_out_an_experiment_dvc_is_still_running(tmp_path):
    # `dvc queue start` returns at once; exp show lists a running experiment with its new params (here seed 2) beside
    # what its folder holds so far: the baseline's metrics. Before, they counted as seed 2's results: a third "seed"
    # identical to the commit, exit 0 without a word
    commit = record("a", None, 0, TWO_CLASSES)
    done_exp = record("b", "exp-1", 1, shifted(TWO_CLASSES, 0.1))
    running = {**record("c", "exp-2", 2, TWO_CLASSES), "name": "exp-2"}
    commit["experiments"] = [
        {"revs": [done_exp], "name": "exp-1", "executor": None},
        {"revs": [running], "name": "exp-2", "executor": {"state": "running", "name": "dvc-task", "local": None}},
    ]
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = saved_compare(project, [commit], "--variants", "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# Variants over 2 run(s) (seeds 0, 1)"
    assert lines[2] == ("_left out 1 experiment(s) still running or queued (exp-2); run this again when `dvc queue "
                        "status` shows them done (queued ones run once `dvc exp run --run-all` starts them)_")
    # baseline's class a over the two finished seeds: 0.5 and 0.6
    assert "| a | 0.5500 ± 0.0707 | 0.6500 ± 0.0707 |" in lines
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("how", ["executor", "record"])
def test_compare_names_an_experiment_whose_run_failed(tmp_path, how):
    # dvc exp show lists a failed run with its executor's state "failed", its record holding an "error"; before,
    # its seed dropped out of the table without a word, exit 0 ("over 2 run(s) (seeds 0, 1)")
    commit = record("a", None, 0, TWO_CLASSES)
    failed = {**record("c", "exp-2", 2, TWO_CLASSES), "name": "exp-2",
              "error": {"type": "", "msg": "Experiment run failed"}}
    commit["experiments"] = [
        {"revs": [record("b", "exp-1", 1, shifted(TWO_CLASSES, 0.1))], "name": "exp-1", "executor": None},
        {"revs": [failed], "name": "exp-2",
         "executor": {"state": "failed", "name": "dvc-task", "local": None} if how == "executor" else None},
    ]
    project = make_project(tmp_path / "project")
    done = saved_compare(project, [commit], "--variants", "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# Variants over 2 run(s) (seeds 0, 1)"
    assert lines[2] == "_left out 1 experiment(s) whose run failed (exp-2); `dvc queue logs exp-2` says why_"


@pytest.mark.hostile("compare")
def test_compare_says_when_dvc_cannot_read_the_workspace(tmp_path):
    # before (conflict markers in dvc.lock): exit 0 and "_left out 1 experiment(s) whose run failed (workspa);
    # `dvc queue logs workspa` says why_", a run that never was
    commit = record("a", None, 0, TWO_CLASSES)
    workspace = {"rev": "workspace", "name": None, "data": None,
                 "error": {"type": "YAMLFileCorruptedError", "msg": "unable to read: 'dvc.lock', YAML file structure "
                                                                   "is corrupted"}}
    project = make_project(tmp_path / "project")
    done = saved_compare(project, [workspace, commit], "--variants", "baseline", "pruned")
    assert assert_error_line(done) == (
        "error: dvc exp show cannot read the workspace (unable to read: 'dvc.lock', YAML file structure is corrupted); "
        "fix its dvc.lock or params.yaml (`git diff` shows what changed: a merge's conflict markers?), then again")


@pytest.mark.hostile("compare")
def test_study_collect_leaves_out_an_experiment_dvc_is_still_running(tmp_path):
    # before: the running noise-0.6 experiment became the 0.6 point of the label-noise curve with the clean run's
    # accuracy (the metrics its folder held before evaluate ran)
    commit = _study_run("a", None, [], 0.95)
    commit["experiments"] = [
        {"revs": [_study_run("b", "noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8)], "name": "noise20",
         "executor": None},
        {"revs": [_study_run("c", "noise60", [{"kind": "symmetric_noise", "fraction": 0.6}], 0.95)], "name": "noise60",
         "executor": {"state": "running", "name": "dvc-task", "local": None}},
    ]
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([commit]))
    project = make_project(tmp_path / "project")
    done = run_winnow(project, "study", "collect", "--from-json", str(saved), "--out", "study")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == ("study: left out 1 experiment(s) still running or queued (noise60); run "
                                           "this again when `dvc queue status` shows them done (queued ones run "
                                           "once `dvc exp run --run-all` starts them)")
    table = (project / "study/study.csv").read_text()
    assert "noise60" not in table and "noise20" in table


@pytest.mark.hostile("study")
def test_study_collect_names_what_it_leaves_out_unread_or_unplaced(tmp_path):
    # found by probing: an experiment whose metrics file DVC could not read (exp show's per-file error), and one of a
    # legal damage study collect reads no level of (symmetric_noise by rates), dropped out of the curves unnamed
    commit = _study_run("a", None, [], 0.95)
    damaged = _study_run("c", "noise40", [{"kind": "symmetric_noise", "fraction": 0.4}], 0.2)
    damaged["data"]["metrics"][metrics_path("baseline")] = {"error": {"type": "JSONFileCorruptedError",
                                                                      "msg": "unable to read"}}
    commit["experiments"] = [{"revs": [run], "name": run["name"], "executor": None} for run in (
        _study_run("b", "noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8), damaged,
        _study_run("d", "rates60", [{"kind": "symmetric_noise", "rates": {"1": 0.6}}], 0.5))]
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([commit]))
    project = make_project(tmp_path / "project")
    done = run_winnow(project, "study", "collect", "--from-json", str(saved), "--out", "study")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (f"study: left out 1 experiment(s) whose metrics DVC could not read (noise40: {metrics_path('baseline')}, "
            "unable to read); check those files at their commits") in lines
    assert ("study: left out 1 experiment(s) that are not one damage at a level study collect reads (rates60 "
            "(symmetric_noise)); name the level with --axis <params path> to draw them") in lines
    table = (project / "study/study.csv").read_text()
    assert "noise20" in table and "noise40" not in table and "rates60" not in table


@pytest.mark.hostile("compare")
def test_an_error_in_a_metrics_file_compare_does_not_read_keeps_the_run(tmp_path):
    # found by a review: exp show's error for metrics/gan.json (a variant not compared) dropped a seed from the
    # comparison, three seeds becoming two
    runs = [record(rev, name, seed, TWO_CLASSES) for rev, name, seed in (("a", None, 0), ("b", "s1", 1), ("c", "s2", 2))]
    runs[2]["data"]["metrics"]["metrics/gan.json"] = {"error": {"type": "FileNotFoundError", "msg": "no file"}}
    runs[0]["experiments"] = [{"revs": [run], "name": run["name"], "executor": None} for run in runs[1:]]
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps(runs[:1]))
    done = run_winnow(make_project(tmp_path / "project"), "compare", "--from-json", str(saved), "--variants",
                      "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Variants over 3 run(s) (seeds 0, 1, 2)")


@pytest.mark.hostile("compare")
def test_compare_out_whose_json_would_replace_a_stage_output_is_refused(tmp_path):
    # before: --out metrics/budget.md wrote the markdown, then replaced the budget stage's metrics/budget.json with
    # the runs' JSON, exit 0: the next `dvc status` showed budget changed, its metrics gone
    project = make_project(tmp_path / "project")
    (project / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    (project / "metrics").mkdir()
    (project / "metrics/budget.json").write_text('{"kept": 10}')
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("c", "c0ffee", 0, TWO_CLASSES)]))
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                      "--out", "metrics/budget.md")
    budget_stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["budget"]
    assert "metrics/budget.json" in [next(iter(m)) if isinstance(m, dict) else m for m in budget_stage["metrics"]]
    assert assert_error_line(done) == (
        "error: --out metrics/budget.md: metrics/budget.json, the JSON written beside it, is an output of the budget "
        "stage (metrics/budget.json), which this would overwrite; give another path, e.g. --out "
        "reports/compare-seeds.md")
    assert (project / "metrics/budget.json").read_text() == '{"kept": 10}'
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_study_queue_without_dvc_on_the_path_says_so(tmp_path):
    # before: "error: study: dvc: No such file or directory [ENOENT]; free space, or fix the path or its permissions"
    project = make_project(tmp_path / "project")
    before = files_under(project)
    env = {**_env(), "PATH": "/usr/bin:/bin"}  # the environment's bin, which holds dvc, left out
    done = forked_run.run("module", "winnow.cli", ["study", "queue", "--sweeps", "clean"], cwd=project, env=env,
                          timeout=120)
    assert assert_error_line(done) == ("error: study queue: the dvc command is not on PATH; install DVC (pip install "
                                       "dvc) or activate the environment that has it, then rerun")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_study_queue_whose_reader_closes_the_pipe_still_queues_every_experiment(tmp_path):
    # `winnow study queue --sweeps label_noise | head -2`: before, the third line met the closed pipe and the command
    # ended with exit 0 after queueing 1 of the 6 experiments, a part of the study without a word
    project = make_project(tmp_path / "project", default_params())
    env, log = _fake_dvc(tmp_path, """n=$(grep -c "exp run" {log})
echo "Queued experiment 'exp-$n' for future execution."
""")
    queue = subprocess.Popen([sys.executable, "-m", "winnow.cli", "study", "queue", "--sweeps", "label_noise"],
                             cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    queue.stdout.close()  # the reader has gone before the first line
    errors = queue.stderr.read().decode()
    assert queue.wait(timeout=300) == 0 and errors == ""
    queued = [line for line in log.read_text().splitlines() if line.startswith("exp run --queue")]
    fractions = [json.loads(line.split("fraction: ")[1].split("}")[0]) for line in queued]
    assert fractions == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]  # 003's label-noise levels, each queued once


@pytest.mark.hostile("compare")
def test_study_collect_draws_one_curve_per_damage_however_its_override_was_spelled(tmp_path):
    # the sweep queues {kind: blur, fraction: F, method: gaussian, kernel: 5} and brightness factor 2.0; a point
    # queued by hand as {kind: blur, kernel: 5, method: gaussian, fraction: F} or factor 2 is the same damage. Before,
    # each spelling was a curve of its own: two one-point "curves" per damage in study.csv and accuracy.png
    runs = [_study_run("a", "clean", [], 0.95),
            _study_run("b", "blur25", [{"kind": "blur", "fraction": 0.25, "method": "gaussian", "kernel": 5}], 0.9),
            _study_run("c", "blur50", [{"kind": "blur", "kernel": 5, "method": "gaussian", "fraction": 0.5}], 0.8),
            _study_run("d", "bright25", [{"kind": "brightness", "fraction": 0.25, "factor": 2.0}], 0.85),
            _study_run("e", "bright50", [{"kind": "brightness", "factor": 2, "fraction": 0.5}], 0.7)]
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps(runs))
    project = make_project(tmp_path / "project")
    done = run_winnow(project, "study", "collect", "--from-json", str(saved), "--out", "study")
    assert done.returncode == 0, done.stderr
    import pandas as pd

    table = pd.read_csv(project / "study/study.csv")
    proportion = table[table["sweep"] == "proportion"]
    curves = proportion.groupby("damage")["experiment"].apply(sorted).tolist()
    assert sorted(curves) == [["blur25", "blur50", "clean"], ["bright25", "bright50", "clean"]]


@pytest.mark.hostile("compare")
def test_compare_a_metric_given_twice_is_one_line(tmp_path):
    # before: exit 0 with the f1 tables printed and written to --out twice, as if they were two comparisons
    project = make_project(tmp_path / "project")
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("c", "c0ffee", 0, TWO_CLASSES)]))
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                      "--metrics", "f1", "accuracy", "f1", "--out", "seeds.md")
    assert assert_error_line(done) == "error: compare --metrics: f1 given twice; name each metric once"
    assert done.stdout == ""
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_study_queue_that_cannot_remove_its_partial_queue_names_what_to_remove(tmp_path):
    # dvc busy (another dvc command holds the lock): the third `dvc exp run --queue` fails and so does the removal.
    # Before, the advice was `dvc queue remove --queued`, which removes every queued experiment, the seeds the user
    # had queued before too; it names the two this command queued
    project = make_project(tmp_path / "project", default_params())
    env, log = _fake_dvc(tmp_path, """if [ "$1" = "queue" ]; then echo "ERROR: Unable to acquire lock" >&2; exit 1; fi
n=$(grep -c "exp run" {log})
if [ "$n" -ge 3 ]; then echo "ERROR: Unable to acquire lock" >&2; exit 255; fi
echo "Queued experiment 'study-$n' for future execution."
""")
    done = forked_run.run("module", "winnow.cli", ["study", "queue", "--sweeps", "label_noise"], cwd=project, env=env,
                          timeout=120)
    line = assert_error_line(done, "error: study queue: `dvc exp run --queue ")
    assert line.endswith("failed with status 255; the 2 queued before it are still queued: "
                         "`dvc queue remove study-1 study-2`")
    assert log.read_text().splitlines()[-1] == "queue remove study-1 study-2"


@pytest.mark.hostile("compare")
def test_study_collect_with_an_axis_no_run_holds_says_so(tmp_path):
    # runs of two perturbations, the blur's fraction varied; `--axis degrade.perturbations.1.fractoin` (a typo).
    # Before: "no experiment is a study run (...); queue some with `winnow study queue`, or name the x axis with
    # --axis", to a user who had named it
    def _study_run(rev, name, fraction):
        run = record(rev, name, 0, {"baseline": {"0": 0.9, "1": 0.8}}, degrade={"enabled": True, "perturbations": [
            {"kind": "symmetric_noise", "fraction": 0.1}, {"kind": "blur", "fraction": fraction, "kernel": 5}]})
        return run

    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([_study_run("b", "blur20", 0.2), _study_run("c", "blur40", 0.4)]))
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = run_winnow(project, "study", "collect", "--from-json", str(saved), "--out", "study",
                      "--axis", "degrade.perturbations.1.fractoin")
    assert assert_error_line(done) == (
        "error: study collect --axis degrade.perturbations.1.fractoin: no experiment holds a number there (a mistyped "
        "key, or a list index past the end); give the dotted params path of the value the runs vary, e.g. "
        "degrade.perturbations.0.fraction")
    assert_nothing_left(project, before)
    right = run_winnow(project, "study", "collect", "--from-json", str(saved), "--out", "study",
                       "--axis", "degrade.perturbations.1.fraction")
    assert right.returncode == 0, right.stderr


@pytest.mark.hostile("study")
def test_a_queued_experiment_is_named_as_not_yet_run(tmp_path):
    # found by probing: experiments were listed with hide_queued, so a study whose runs waited in the queue got "no
    # experiment is a study run ... queue some", and following that advice queued them twice
    from winnow.experiments import load_experiments

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "params.yaml").write_text("seed: 0\n")
    (repo / "dvc.yaml").write_text("stages:\n  s:\n    cmd: echo hi > out.txt\n    params: [seed]\n    outs: [out.txt]\n")
    for command in (["git", "init", "-q"], ["git", "config", "user.email", "t@t"], ["git", "config", "user.name", "t"],
                    ["dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"],
                    ["dvc", "exp", "run", "--queue", "-S", "seed=1", "-n", "queued1"]):
        done = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=_env(), timeout=120)
        assert done.returncode == 0, done.stderr
    unfinished: list[str] = []
    records = load_experiments(repo=str(repo), revs=None, num=1, from_json=None, unfinished=unfinished, failed=[])
    assert unfinished == ["queued1"] and "queued1" not in [r["experiment"] for r in records]


@pytest.mark.hostile("study")
def test_study_queue_run_twice_queues_each_experiment_once(tmp_path):
    # found by probing: a second `study queue` (after an interruption, or to add a sweep) queued every experiment
    # again, each a full dvc repro, and collect then read the twins as two runs of one point
    project = make_project(tmp_path / "project", default_params())
    (project / "dvc.yaml").write_text("stages:\n  s:\n    cmd: echo hi > out.txt\n    params: [degrade]\n"
                                      "    outs: [out.txt]\n")
    for command in (["git", "init", "-q"], ["git", "config", "user.email", "t@t"], ["git", "config", "user.name", "t"],
                    ["dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, env=_env(), timeout=120)
        assert done.returncode == 0, done.stderr
    first = run_winnow(project, "study", "queue", "--sweeps", "clean")
    assert first.returncode == 0, first.stderr
    second = run_winnow(project, "study", "queue", "--sweeps", "clean", "label_noise")
    assert second.returncode == 0, second.stderr
    assert ("1 of the 7 experiments are queued, running or done already (`dvc exp show`); queueing the "
            "rest" in second.stdout)
    assert second.stdout.count("Queued experiment") == 6
    status = subprocess.run(["dvc", "queue", "status"], cwd=project, capture_output=True, text=True, env=_env(),
                            timeout=120)
    assert status.stdout.count("Queued") == 7, status.stdout


@pytest.mark.hostile("compare")
def test_compare_out_writes_the_runs_and_variants_beside_the_markdown_as_the_readme_says(tmp_path):
    # before: the README's `winnow compare ... --out reports/compare_seeds.md` named that file alone, and the
    # reports/compare_seeds.json written beside it was unexplained; the README now says it holds these two lists
    project = make_project(tmp_path / "project")
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("a", "c0ffee", 0, TWO_CLASSES),
                                 record("b", "exp-1", 1, shifted(TWO_CLASSES, 0.02))]))
    (project / "reports").mkdir()
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                      "--out", "reports/compare_seeds.md")
    assert done.returncode == 0, done.stderr
    assert json.loads((project / "reports/compare_seeds.json").read_text()) == {
        "runs": ["c0ffee", "exp-1"], "variants": ["baseline", "pruned"]}
    assert '`{"runs": [...], "variants": [...]}`' in (ROOT / "README.md").read_text()


@pytest.mark.hostile("compare")
def test_compare_leaves_out_a_run_saved_over_another_runs_outputs(tmp_path):
    # `dvc exp apply noise30`, its fraction edited to 0.6, `dvc exp save`: its params say 0.6, its metrics/degrade.json
    # and every metric are the 0.3 run's. Before, it was listed first and compared as the 0.6 setting, the real 0.6
    # run left out as "repeating a seed", exit 0
    def run(rev, name, seed, fraction, rows, per_class):
        made = record(rev, name, seed, per_class, degrade={
            "enabled": True, "perturbations": [{"kind": "symmetric_noise", "fraction": fraction}]})
        made["data"]["metrics"]["metrics/degrade.json"] = {"data": {
            "train": {"before": 3500, "after": 3500}, "kind": {"symmetric_noise": rows}}}
        return made

    saved = run("b", "saved60", 0, 0.6, 1050, TWO_CLASSES)
    real = run("c", "noise60", 0, 0.6, 2100, shifted(TWO_CLASSES, -0.2))
    commit = {**run("a", None, 1, 0.6, 2100, shifted(TWO_CLASSES, -0.1)), "experiments": [
        {"revs": [exp], "name": exp["name"], "executor": None} for exp in (saved, real)]}
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = saved_compare(project, [commit], "--variants", "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# Variants over 2 run(s) (seeds 1, 0)"
    assert lines[2] == ("_left out 1 run(s) whose metrics/degrade.json is not what their degrade.perturbations make "
                        "(saved with `dvc exp save` or `dvc commit` over another run's outputs; run them with `dvc exp "
                        "run`): saved60 (1050 rows of symmetric_noise, where its params take 2100)_")
    # baseline's class a over the commit's 0.4 and noise60's own 0.3
    assert "| a | 0.3500 ± 0.0707 | 0.4500 ± 0.0707 |" in lines
    assert_nothing_left(project, before)
