"""Folds of the stop-80 reread (fold 81), behaviour kept: an optional extra's import said in one place
(:func:`winnow.stops.import_optional`, each caller's fallback or refusal given to it), and the gate asking git which
workspace files it ignores once a run, not once a file it reads. The gate runs in-process (:func:`winnow.cli.main`)
with a counting ``git`` first on PATH; its lines are asserted whole."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections import Counter

import pytest
from gate_repo import commit, gated, git
from hostile_harness import default_params
from test_hostile_gate_73 import committed, refused
from winnow import stops
from winnow.errors import WinnowError


def _counting_git(tmp_path, monkeypatch):
    """A ``git`` first on PATH that notes each subcommand it runs (``git -C repo <subcommand> ...``) in a log file,
    then runs git; returns a function that counts the log's subcommands."""
    real = shutil.which("git")
    assert real, "git is needed on PATH"
    folder, log = tmp_path / "bin", tmp_path / "git.log"
    folder.mkdir()
    (folder / "git").write_text(f'#!/bin/sh\necho "$3" >> "{log}"\nexec "{real}" "$@"\n')
    (folder / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return lambda: Counter(log.read_text().split()) if log.exists() else Counter()


@pytest.mark.hostile("gate")
def test_a_gate_of_fifty_workspace_files_runs_no_git_check_ignore_per_file(tmp_path, monkeypatch, capsys):
    # before: `git check-ignore` ran once per workspace file read, 54 of the run's 121 git processes here
    params = default_params()
    params["gate"]["files"] = ["metrics/extra/*.json"]
    project = committed(tmp_path, params)
    (project / "metrics/extra").mkdir(parents=True)
    for i in range(50):
        (project / f"metrics/extra/m{i}.json").write_text(json.dumps({"x": 1.0}))
    commit(project, "extra metrics")
    (project / "metrics/extra/m7.json").write_text(json.dumps({"x": 2.0}))  # the workspace differs from HEAD
    counted = _counting_git(tmp_path, monkeypatch)
    code, out = gated(project, capsys)
    assert code == 0 and out.splitlines()[-1].startswith("gate: PASS — 2 variant(s)")
    assert counted()["check-ignore"] == 0
    assert counted()["ls-files"] == 3  # the gated patterns' listing, once a side, and the ignore check's, once a run


@pytest.mark.hostile("gate")
def test_an_ignored_workspace_predictions_file_is_still_refused_after_one_check_ignore(tmp_path, monkeypatch, capsys):
    project = committed(tmp_path)
    (project / ".gitignore").write_text("/metrics/evaluate/pruned/\n")
    git(project, "rm", "-rq", "--cached", "metrics/evaluate/pruned")
    counted = _counting_git(tmp_path, monkeypatch)
    assert refused(project, capsys) == [
        "error: metrics/evaluate/pruned/predictions.csv at workspace: ignored by git "
        "(.gitignore:1:/metrics/evaluate/pruned/) and not tracked, so no commit of the workspace holds it and the gate "
        "would judge a file it cannot merge; track it (git add -f metrics/evaluate/pruned/predictions.csv; a DVC "
        "output: `cache: false` in dvc.yaml, as evaluate's), then gate"]
    assert counted()["check-ignore"] == 1  # for the ignored file alone, which names its rule


def test_import_optional_gives_the_module_or_the_callers_fallback(monkeypatch):
    assert stops.import_optional("json") is json
    monkeypatch.setitem(sys.modules, "winnow_absent_extra", None)  # importing it fails, as when not installed
    assert stops.import_optional("winnow_absent_extra") is None


def test_import_optional_raises_the_callers_refusal_from_the_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "winnow_absent_extra", None)
    with pytest.raises(WinnowError) as raised:
        stops.import_optional("winnow_absent_extra", refusal=lambda err: WinnowError(f"extra: missing ({err.name})"))
    assert str(raised.value) == "extra: missing (winnow_absent_extra)"
    assert isinstance(raised.value.__cause__, ImportError)


@pytest.mark.parametrize("refusal", [None, lambda err: WinnowError("extra: missing")], ids=["fallback", "refusal"])
def test_import_optional_after_a_ctrl_c_raises_the_interrupt_not_the_fallback(monkeypatch, refusal):
    # a Ctrl-C that cut the import short (noted by winnow.stops): neither "not installed" nor a quiet fallback
    monkeypatch.setitem(sys.modules, "winnow_absent_extra", None)
    monkeypatch.setattr(stops, "_INTERRUPTS", [signal.SIGINT])
    with pytest.raises(KeyboardInterrupt) as raised:
        stops.import_optional("winnow_absent_extra", refusal=refusal)
    assert type(raised.value) is KeyboardInterrupt and isinstance(raised.value.__cause__, ImportError)
