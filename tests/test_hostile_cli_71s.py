"""Review of stop 71's mends (d62801a2, 493c5123, 7a61c704, aa247b40, 5034d163, 290e3315, f16fea28, 3893310b): the
cases they left.

- a SIGTERM, SIGHUP or Ctrl-C between ``winnow``'s import window and the run of its subcommand (while it wraps its
  output streams, or re-runs itself in UTF-8 mode): the stops' handlers were set (d62801a2, 7a61c704) but these calls
  sat between the two tries, so the stop ended in a ``Terminated`` or ``KeyboardInterrupt`` traceback, status 1;
- ``--from-json exps.json`` naming an empty saved file (``dvc exp show --json > exps.json`` that failed), aa247b40's
  neighbour by another path: "is not JSON (Expecting value: line 1 column 1 (char 0))", where standard input that
  empty says it is empty.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from hostile_harness import _env, assert_nothing_left, files_under, make_project

# `winnow compare` as its console script runs it (cli.main() with sys.argv), its subcommand imported and parsed: the
# signal comes while it wraps its terminal's streams, the first call after the import window's try
_STOPPED_AFTER_THE_IMPORT = """
import os, signal, sys, time
from winnow import cli

def wrapping():
    os.kill(os.getpid(), signal.{signal})
    time.sleep(30)

cli.let_the_terminal_close = wrapping
sys.argv = ["winnow", "compare", "--num", "1"]
sys.exit(cli.main())
"""


@pytest.mark.hostile("params")
@pytest.mark.parametrize("name, status, said", [("SIGTERM", 143, "terminated (SIGTERM)"),
                                                ("SIGHUP", 129, "terminated (SIGHUP)"),
                                                ("SIGINT", 130, "interrupted")])
def test_a_stop_between_the_import_and_the_run_is_one_line(tmp_path, name, status, said):
    # before: a traceback ending in winnow.stops.Terminated (SIGTERM, SIGHUP) or KeyboardInterrupt (SIGINT), status 1
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, "-c", _STOPPED_AFTER_THE_IMPORT.format(signal=name)], cwd=project,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (status, "", (
        f"error: compare: {said}; outputs not yet complete were left unwritten: rerun it\n"))
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_from_json_of_an_empty_saved_file_says_it_is_empty(tmp_path, content):
    # before: "error: --from-json: <path> is not JSON (Expecting value: line 1 column 1 (char 0)); write it with ..."
    project = make_project(tmp_path / "project")
    saved = tmp_path / "exps.json"
    saved.write_text(content)
    before = files_under(project)
    done = subprocess.run([sys.executable, "-m", "winnow.cli", "compare", "--from-json", str(saved), "--variants",
                           "baseline", "pruned"], cwd=project, env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", (
        f"error: --from-json: {saved} is empty (did `dvc exp show --json` fail as it was written?); write it with "
        f"`dvc exp show --json > {saved}`\n"))
    assert_nothing_left(project, before)
