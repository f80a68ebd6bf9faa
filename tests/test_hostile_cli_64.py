"""Hostile use of the ``winnow`` command (probe 64): run away from the project root, an unknown argument, a stop that
arrives inside a finalizer. Each case calls the command in-process (on a saved ``dvc exp show --json``), or runs the
stop in a child, and asserts where the outputs go or the line a user sees."""

import hashlib
import json
import os
import pty
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from hostile_harness import ROOT, _env
from test_hostile_faults_65 import _permissions_bind
from test_hostile_faults_more import shared_tmp  # noqa: F401 (fixture)
from winnow import cli, study


def _run(name: str, perturbations: list, accuracy: float) -> dict:
    """One experiment as `dvc exp show --json` writes it, scored on classes 0 and 1."""
    per_class = {c: {"f1": accuracy, "precision": accuracy} for c in ("0", "1")}
    metrics = {"accuracy": accuracy, "macro": {"f1": accuracy}, "per_class": per_class}
    return {"rev": hashlib.sha1(name.encode()).hexdigest(), "name": name, "error": None, "experiments": None,
            "data": {"params": {"params.yaml": {"data": {"seed": 0, "degrade": {"perturbations": perturbations}}}},
                     "metrics": {"metrics/evaluate/baseline.json": {"data": metrics}}}}


@pytest.mark.hostile("compare")
def test_study_collect_from_a_subfolder_writes_the_projects_plots_study(tmp_path, monkeypatch, capsys):
    # before: from src/ of the project it wrote src/plots/study/study.csv and its PNGs, beside no dvc.yaml, and its
    # last line named "plots/study/study.csv" as if it were the project's (the one dvc.yaml declares the PNGs in)
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    base = _run("main", [{"kind": "blur", "fraction": 0.04, "kernel": 5}, {"kind": "symmetric_noise", "fraction": 0.15}], 0.8)
    base["experiments"] = [{"revs": [run], "executor": None, "name": run["name"]} for run in
                           (_run("clean", [], 0.95), _run("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.85))]
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps([base]))
    monkeypatch.chdir(project / "src")
    assert cli.main(["study", "collect", "--from-json", str(saved)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "study: 2 of 3 experiments on 1 sweeps -> ../plots/study/study.csv, ../plots/study/accuracy.png, "
        "../plots/study/per_class_f1_label_noise.png")
    table = pd.read_csv(project / "plots/study/study.csv")
    assert table[["sweep", "level", "experiment", "accuracy"]].values.tolist() == [
        ["clean", 0.0, "clean", 0.95], ["label_noise", 0.0, "clean", 0.95], ["label_noise", 0.2, "noise20", 0.85]]
    assert not (project / "src/plots").exists()


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("args", "expected"), [
    (["study", "collect", "--metric-file", "m.json"],
     "error: winnow study collect: unrecognized arguments: --metric-file m.json (did you mean --metrics?) (see winnow "
     "study collect --help)"),  # the nearest option named since probe 79
    (["gate", "--base", "HEAD", "--nope"], "error: winnow gate: unrecognized arguments: --nope (see winnow gate --help)"),
    (["review", "export", "extra"],
     "error: winnow review export: unrecognized arguments: extra (see winnow review export --help)"),
    # winnow's own: before, refused as study's with its action ("--bogus collect", see winnow study --help)
    (["--bogus", "study", "collect"], "error: winnow: unrecognized arguments: --bogus (see winnow --help)"),
], ids=["study-collect", "gate", "review-export", "before-the-subcommand"])
def test_an_unknown_argument_points_to_the_help_of_the_command_it_was_given_to(capsys, args, expected):
    # before: "error: winnow: unrecognized arguments: ... (see winnow --help)", a help that lists the subcommands and
    # none of their options
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    assert (stopped.value.code, capsys.readouterr().err) == (2, expected + "\n")


def test_the_commands_help_says_what_it_is_in_plain_words(capsys):
    # before: "The ``winnow`` command: ...", the docstring's reST quotes printed as they are
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert stopped.value.code == 0
    assert "usage: winnow [-h] command ... The winnow command: tools that work across experiments (the stages " \
           "themselves run under dvc). positional arguments:" in said


# a SIGTERM (or SIGINT) that arrives while a weakref callback runs (as inside DVC's exp show, where `timeout` met it):
# Python prints the Terminated (KeyboardInterrupt) its handler raised there as "Exception ignored in ..." and goes on
SWALLOWED_STOP = """
import os, signal, sys, time, weakref
from winnow.stops import terminate_as_interrupt
terminate_as_interrupt()
class Held: pass
def callback(_ref):
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    for _ in range(1000): pass  # the handler runs here, inside the callback
held = Held()
ref = weakref.ref(held, callback)
try:
    del held
    time.sleep(30)  # the signal sent again comes from a timer thread: on a machine at load 30 it came after 5 s
    print("ran on")
except KeyboardInterrupt as stop:
    print(type(stop).__name__)
"""


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("number", "stop"), [("SIGTERM", "Terminated"), ("SIGINT", "KeyboardInterrupt")])
def test_a_stop_a_finalizer_swallowed_still_stops_the_process(number, stop):
    # before: stderr "Exception ignored in: <function callback ...>" and a traceback ending in winnow.stops.Terminated,
    # then "ran on": the command went on, and its watching parent killed it 30 s later as "stuck in native code"; a
    # SIGINT (kill -INT, which the parent passes on once; Ctrl-C) the same, and the command ran to its end
    done = subprocess.run([sys.executable, "-c", SWALLOWED_STOP, number], capture_output=True, text=True, env=_env(),
                          timeout=90)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{stop}\n", "")


@pytest.mark.hostile("interrupted")
def test_a_terminal_that_closes_while_study_collect_runs_leaves_it_to_write_its_table(tmp_path, monkeypatch, capsys):
    # the stages' closed terminal (a581fc9) on the command beside them: `winnow study collect &`, disowned, then the
    # ssh session ended (no SIGHUP for a disowned job). Before, its first print after the close failed with EIO and it
    # ended "error: study: Input/output error [EIO]; ...", status 1 (gate's and compare's print comes before their
    # --markdown and --out files, which went unwritten so)
    (tmp_path / "project").mkdir()
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "project/dvc.yaml")
    base = _run("main", [], 0.95)
    base["experiments"] = [{"revs": [_run("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.85)],
                            "executor": None, "name": "noise20"}]
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps([base]))
    monkeypatch.chdir(tmp_path / "project")
    master, slave = pty.openpty()
    terminal = open(slave, "w", buffering=1)  # a terminal's stdout, written line by line
    monkeypatch.setattr("sys.stdout", terminal)
    collect = study.run

    def closed_meanwhile(args):
        os.close(master)  # the terminal closes while the command runs, before it speaks
        return collect(args)

    monkeypatch.setattr(study, "run", closed_meanwhile)
    try:
        status = cli.main(["study", "collect", "--from-json", str(saved)])
    finally:
        nowhere = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nowhere, slave)  # what it may hold still goes nowhere, as at a closed terminal
        os.close(nowhere)
        terminal.close()
    assert (status, capsys.readouterr().err) == (0, "")
    table = pd.read_csv(tmp_path / "project/plots/study/study.csv")
    assert table[["sweep", "level", "experiment"]].values.tolist() == [
        ["clean", 0.0, "main"], ["label_noise", 0.0, "main"], ["label_noise", 0.2, "noise20"]]


@pytest.mark.hostile("compare")
def test_study_collect_run_from_a_folder_that_takes_no_new_file_is_refused_before_its_work(shared_tmp, monkeypatch,
                                                                                           capsys):
    # 960f7eb's check on the command beside the stages: `winnow study collect --out <a writable folder>` run from a
    # read-only one (a checkout mounted read-only). The table and its plots move in together, listed first in a
    # journal in the working folder: before, after reading every experiment and drawing every plot, it ended "error:
    # study: .winnow-commit-<pid>-<token>.json.part: Permission denied [EACCES]; free space, or fix the path ..."
    project, out = shared_tmp / "project", shared_tmp / "out"
    project.mkdir()
    out.mkdir()
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    base = _run("main", [], 0.95)
    base["experiments"] = [{"revs": [_run("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.85)],
                            "executor": None, "name": "noise20"}]
    saved = shared_tmp / "exps.json"
    saved.write_text(json.dumps([base]))
    monkeypatch.chdir(project)
    with _permissions_bind(shared_tmp):
        project.chmod(0o555)
        status = cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out / "study")])
    assert (status, capsys.readouterr()) == (1, ("", (
        f"error: study collect: cannot write in the working folder {project} (Permission denied), where the command "
        "lists its outputs' moves into place before it makes them; fix its permissions, or run it from a folder you "
        "can write in\n")))
    assert list(out.iterdir()) == []
