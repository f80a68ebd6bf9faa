"""Follow-ups of stop 80's probes: a late SIGINT's wording, duplicate study runs, complete neighbour ties, and
pip.conf's timeout and retries kept by the Makefile."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from hostile_harness import _env
from test_hostile_make_79 import BOUNDED, OUTER_MAKE, PIP_STEPS, STUB, _clone, _make
from test_study import _collected, degrade_counts

# A winnow command whose outputs are written when a SIGINT reaches it, while its process winds down (an exit
# handler of its own).
_INTERRUPTED_AFTER_WRITING = """
import atexit, os, signal, sys, time, types
from pathlib import Path
from winnow import cli

def run(args):
    Path("out.csv").write_text("a\\n1\\n")
    atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(5)))

late = types.ModuleType("late")
late.add_arguments = lambda parser: None
late.run = run
sys.modules["late"] = late
cli.SUBCOMMANDS["late"] = ("late", "writes, then is interrupted")
sys.argv = ["winnow", "late"]
sys.exit(cli.main())
"""


@pytest.mark.hostile("interrupted")
def test_a_sigint_after_the_outputs_are_written_says_they_were(tmp_path):
    # before: "error: late: ended by SIGINT; outputs not yet complete were left unwritten: rerun it", status 130,
    # though the output was whole (compare --out, study collect)
    done = subprocess.run([sys.executable, "-c", _INTERRUPTED_AFTER_WRITING], cwd=tmp_path, capture_output=True,
                          text=True, env=_env(), timeout=120)
    assert done.stderr.splitlines() == ["error: late: ended by SIGINT after its outputs were written"]
    assert done.returncode == 128 + signal.SIGINT
    assert (tmp_path / "out.csv").read_text() == "a\n1\n"


@pytest.mark.hostile("study")
def test_collect_draws_a_noise_run_at_fraction_0_as_the_clean_run_of_its_seed(tmp_path, capsys):
    # before: noise at fraction 0 beside the clean run of its seed was a second run at level 0 ("2 at 0"), one run
    # repeated: the same data, params and seed
    runs = {"noise0": ([{"kind": "symmetric_noise", "fraction": 0.0}], degrade_counts(), 0.95),
            "clean": ([], degrade_counts(), 0.95),
            "noise20": ([{"kind": "symmetric_noise", "fraction": 0.2}], degrade_counts(symmetric_noise=700), 0.85)}
    first_line, drawn = _collected(tmp_path, capsys, runs)
    assert first_line == ("study: left out 1 run(s) that perturb no image, each the clean run of its seed repeated "
                          "(one point each): noise0 (as clean)")
    assert drawn == ["clean", "noise20"]


def _copies_space(reference_labels: list[int], reference_features: list[list[float]]):
    """One query at (1, 0) judged against references at ``reference_features`` with ``reference_labels``."""
    from winnow.neighbours import Space

    return Space(np.array([0]), np.array([[1.0, 0.0]], np.float32), np.arange(1, len(reference_labels) + 1),
                 np.array(reference_features, np.float32), np.array(reference_labels))


@pytest.mark.hostile("neighbours")
@pytest.mark.parametrize("labels", [[0, 1], [1, 0]])
def test_a_complete_tie_of_classes_gives_no_vote(labels):
    # before: two copies of the query, of classes 0 and 1, voted 0 in either order (the lowest class index), so a
    # val image of class 0 among such copies was counted right (represent's kNN accuracy, the judge's accuracy)
    from winnow.neighbours import vote

    space = _copies_space(labels, [[1.0, 0.0], [1.0, 0.0]])
    assert vote(space, k=2, num_classes=2).tolist() == [-1]


@pytest.mark.hostile("neighbours")
@pytest.mark.parametrize("features, decision, suggested", [
    # copies of classes 1 and 2, as near: before, relabelled 1 (the lowest class index); now kept
    ([[1.0, 0.0], [1.0, 0.0]], "keep", 0),
    # class 2 nearer: the tie on votes still goes to it
    ([[0.8, 0.6], [1.0, 0.0]], "relabel", 2),
])
def test_a_complete_tie_of_other_classes_relabels_nothing(features, decision, suggested):
    from winnow.neighbours import cleanse, evidence

    found = evidence(_copies_space([1, 2], features), np.array([0]), k=2, num_classes=3)
    decided = cleanse(np.array(["q"], object), np.array([0]), found, agree=0.5, margin=None, isolation=None)
    assert decided[["decision", "suggested_label"]].values.tolist() == [[decision, suggested]]


# a stub venv whose pip answers `pip config` as pip does (pip's own, reading PIP_CONFIG_FILE) and logs its installs
_PIP_CONFIG_READ = STUB.replace('[ "$1" = config ] && exit 0', f'[ "$1" = config ] && exec {sys.executable} -m pip "$@"')


@pytest.fixture
def _first_make(monkeypatch):
    for name in OUTER_MAKE:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.hostile("interrupted")
def test_a_pip_conf_timeout_and_retries_are_kept_by_make_setup(tmp_path, _first_make):
    # before: every pip step passed --timeout 15 --retries 1, which pip ranks above its config: a pip.conf's 60 s for
    # a slow link was silently overridden
    (tmp_path / "pip.conf").write_text("[global]\ntimeout = 60\n\n[install]\nretries = 4\n")
    clone = _clone(tmp_path / "winnow")
    done = _make(clone, tmp_path, ".venv/.installed", stub=_PIP_CONFIG_READ,
                 extra={"PIP_CONFIG_FILE": str(tmp_path / "pip.conf")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "venv.log").read_text().splitlines() == [
        "-m venv --clear .venv", *(step.replace(BOUNDED, "install --quiet") for step in PIP_STEPS)]


@pytest.mark.hostile("interrupted")
def test_an_exported_empty_pip_timeout_is_no_timeout(tmp_path, _first_make):
    # before: `export PIP_TIMEOUT=` passed --timeout "" to every pip step, which pip refuses; pip reads an empty
    # variable as unset, and so does make setup: its own bounds
    clone = _clone(tmp_path / "winnow")
    done = _make(clone, tmp_path, ".venv/.installed", stub=_PIP_CONFIG_READ,
                 extra={"PIP_TIMEOUT": "", "PIP_RETRIES": "", "PIP_CONFIG_FILE": os.devnull})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "venv.log").read_text().splitlines() == ["-m venv --clear .venv", *PIP_STEPS]
