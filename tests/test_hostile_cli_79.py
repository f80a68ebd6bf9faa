"""Hostile use of the ``winnow`` command (probe 79).

- Ctrl-C a moment into ``winnow gate`` (``kill -INT`` 0.3 s after the start, as numpy loads): the interrupt landed
  inside numpy's C import of ``datetime``, whose ``PyCapsule_Import`` replaced it with an ImportError, and the command
  ended in numpy's traceback ("Importing the numpy C-extensions failed ... PyCapsule_Import could not import module
  "datetime"") and status 1, as if the installation were broken;
- an option given before the (sub)command it belongs to (``winnow study --repo . collect``, ``winnow --variants
  baseline compare``, ``winnow study --dry-run queue``): argparse read the option's value as the command ("invalid
  choice: '.'"), or sent the user to a help that does not list the option;
- ``winnow study queue`` stopped by Ctrl-C (or SIGTERM) between two experiments: its line said what it removed again,
  but it exited 1, a failure's status, where every other interrupted command exits 130 (143);
- ``MPLBACKEND`` naming no backend matplotlib knows (``Qt6Agg``): the report stage and ``review export`` ended in
  matplotlib's traceback at their imports, ``study collect`` after reading every experiment (balance and
  gan-synthesize draw their sample grids after their work);
- a misspelt command, option or choice (``winnow comapre``, ``compare --varients``, ``--metrics F1``): listed the
  choices, or "unrecognized arguments", with no nearest name, where params.yaml's misspelt keys get one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from hostile_harness import ROOT, _env, assert_nothing_left, files_under, make_project

from winnow import cli

# an import the interrupt cuts short, ending as numpy's C code ends it: the KeyboardInterrupt replaced by an ImportError
_CUT_IMPORT = textwrap.dedent('''
    import os, signal, time
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    except KeyboardInterrupt:
        pass
    raise ImportError('PyCapsule_Import could not import module "datetime"')
''')


@pytest.mark.hostile("compare")
def test_a_ctrl_c_an_extension_import_turned_into_an_import_error_is_one_line_and_status_130(tmp_path):
    (tmp_path / "cut_import.py").write_text(_CUT_IMPORT)
    # the winnow command itself (main() without argv), its compare module being the import the interrupt cuts short
    script = ("import sys; from winnow import cli; cli.SUBCOMMANDS['compare'] = ('cut_import', 'x'); "
              "sys.exit(cli.main())")
    env = _env()
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{tmp_path}"
    done = subprocess.run([sys.executable, "-c", script, "compare"], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (
        130, "", "error: compare: interrupted; outputs not yet complete were left unwritten: rerun it\n")


def test_an_import_error_with_no_stop_received_keeps_its_traceback(tmp_path):
    # a broken installation, no stop sent: its traceback is wanted, as for every other bug
    (tmp_path / "broken_import.py").write_text("raise ImportError('a real fault')\n")
    script = ("import sys; from winnow import cli; cli.SUBCOMMANDS['compare'] = ('broken_import', 'x'); "
              "sys.exit(cli.main())")
    env = _env()
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{tmp_path}"
    done = subprocess.run([sys.executable, "-c", script, "compare"], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "ImportError: a real fault"


def _refused_by_the_command_line(tmp_path, monkeypatch, capsys, args: list[str], line: str) -> None:
    """``winnow *args`` in a fresh project ends in status 2 with ``line`` alone on stderr, nothing written."""
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    assert (stopped.value.code, capsys.readouterr()) == (2, ("", line + "\n"))
    assert_nothing_left(project, before)



@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("args", "line"), [
    # before: "winnow study: argument action: invalid choice: '.' (choose from 'collect', 'queue')", the option's
    # value read as the action
    (["study", "--repo", ".", "collect"],
     "error: winnow study: --repo is an option of winnow study collect: give it after collect (see winnow study "
     "collect --help)"),
    # before: "winnow: argument command: invalid choice: 'baseline' (choose from 'study', 'compare', 'gate', 'review')"
    (["--variants", "baseline", "compare"],
     "error: winnow: --variants is an option of winnow compare: give it after compare (see winnow compare --help)"),
    # before: "winnow study: unrecognized arguments: --dry-run (see winnow study --help)", a help without --dry-run
    (["study", "--dry-run", "queue"],
     "error: winnow study: --dry-run is an option of winnow study queue: give it after queue (see winnow study queue "
     "--help)"),
    (["--repo", ".", "study", "collect"],
     "error: winnow: --repo is an option of winnow study collect: give it after collect (see winnow study collect "
     "--help)"),
    (["review", "--replace", "import", "verdicts.csv"],
     "error: winnow review: --replace is an option of winnow review import: give it after import (see winnow review "
     "import --help)"),
    # an option no (sub)command takes keeps argparse's refusal, by the parser that met it
    (["study", "--bogus", "collect"], "error: winnow study: unrecognized arguments: --bogus (see winnow study --help)"),
], ids=["study-repo", "compare-variants", "queue-dry-run", "repo-before-study", "review-replace", "unknown"])
def test_an_option_given_before_its_subcommand_is_named_with_where_it_goes(tmp_path, monkeypatch, capsys, args, line):
    _refused_by_the_command_line(tmp_path, monkeypatch, capsys, args, line)


@pytest.mark.hostile("study")
def test_a_study_queue_stopped_by_ctrl_c_exits_130_not_a_failures_1(tmp_path, monkeypatch, capsys):
    # before: status 1, a failure's, so a script could not tell the user's Ctrl-C from a dvc command that failed
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    bin_dir, log = tmp_path / "bin", tmp_path / "dvc.log"
    bin_dir.mkdir()
    # a stand-in dvc whose first `exp run --queue` is interrupted by Ctrl-C (sent to the winnow process, its parent)
    (bin_dir / "dvc").write_text(f"""#!/bin/sh
echo "$@" >> {log}
if [ "$2" = "run" ]; then
  kill -INT $PPID
  echo "Queued experiment 'exp-1' for future execution."
fi
""")
    (bin_dir / "dvc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    status = cli.main(["study", "queue", "--sweeps", "clean"])  # one experiment
    assert (status, capsys.readouterr().err) == (
        130, "error: study queue: interrupted (SIGINT) after 1 of 1 experiments; the 1 queued were removed\n")
    assert log.read_text().splitlines()[-1] == "queue remove exp-1"


_NO_BACKEND = ("environment variable MPLBACKEND='Qt6Agg' names no backend matplotlib knows (it draws the figures, as "
               "files that need none); unset it, or set it to agg, then rerun")


@pytest.mark.hostile("study")
@pytest.mark.parametrize(("command", "speaker"), [
    (["-m", "winnow", "study", "collect", "--from-json", "runs.json", "--out", "study"], "study"),
    (["-m", "winnow", "review", "export"], "review"),
    ([str(ROOT / "stages/report.py")], "stages/report.py"),
], ids=["study-collect", "review-export", "report-stage"])
def test_a_plot_backend_matplotlib_does_not_know_is_one_line_before_any_work(tmp_path, command, speaker):
    # before: matplotlib's traceback, "ValueError: Key backend: 'qt6agg' is not a valid value for backend; ...", at the
    # report stage's and review export's imports, and after study collect had read every experiment. A fresh process:
    # the tests' fork server may hold matplotlib imported already
    project = make_project(tmp_path / "project")
    (project / "runs.json").write_text("[]")
    before = files_under(project)
    done = subprocess.run([sys.executable, *command], cwd=project, capture_output=True, text=True,
                          env={**_env(), "MPLBACKEND": "Qt6Agg"}, timeout=300)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: {speaker}: {_NO_BACKEND}\n")
    assert_nothing_left(project, before)


def test_a_plot_backend_matplotlib_knows_is_taken(tmp_path):
    # agg (any case), or empty (matplotlib's own choice): study collect goes on to its own refusal of the empty list
    project = make_project(tmp_path / "project")
    (project / "runs.json").write_text("[]")
    for backend in ("AGG", ""):
        done = subprocess.run([sys.executable, "-m", "winnow", "study", "collect", "--from-json", "runs.json"],
                              cwd=project, capture_output=True, text=True, env={**_env(), "MPLBACKEND": backend},
                              timeout=300)
        assert done.stderr.startswith("error: --from-json: runs.json lists no revisions"), done.stderr


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("args", "line"), [
    (["comapre"], "error: winnow: argument command: invalid choice: 'comapre' (choose from 'study', 'compare', 'gate', "
                  "'review') (did you mean compare?) (see winnow --help)"),
    (["compare", "--varients", "baseline"],
     "error: winnow compare: unrecognized arguments: --varients baseline (did you mean --variants?) (see winnow compare "
     "--help)"),
    (["gate", "--base", "HEAD", "--markdwon=gate.md"],
     "error: winnow gate: unrecognized arguments: --markdwon=gate.md (did you mean --markdown?) (see winnow gate "
     "--help)"),
    (["compare", "--metrics", "F1"],
     "error: winnow compare: argument --metrics: invalid choice: 'F1' (choose from 'precision', 'recall', 'f1', "
     "'accuracy') (did you mean f1?) (see winnow compare --help)"),
    (["study", "colect"], "error: winnow study: argument action: invalid choice: 'colect' (choose from 'collect', "
                          "'queue') (did you mean collect?) (see winnow study --help)"),
    # nothing near: the refusal as it was
    (["compare", "--zzz"], "error: winnow compare: unrecognized arguments: --zzz (see winnow compare --help)"),
], ids=["command", "option", "option-equals", "choice-case", "action", "nothing-near"])
def test_a_misspelt_command_option_or_choice_names_the_nearest(tmp_path, monkeypatch, capsys, args, line):
    # before: the choices listed alone, or "unrecognized arguments" with no hint, where params.yaml's misspelt keys are
    # told the nearest name
    _refused_by_the_command_line(tmp_path, monkeypatch, capsys, args, line)
