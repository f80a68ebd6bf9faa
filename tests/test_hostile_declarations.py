"""What dvc.yaml declares against what the stages do, and stages ended part-way.

A file a stage reads that is not among its deps leaves its outputs stale while ``dvc status`` says all is well;
a stage that writes its outputs one by one, or dies on SIGTERM without its clean-up, leaves some new beside
the rest old, or temporaries behind. (The params each stage reads were traced key by key over two tiny full
runs, and were all declared; tests/test_stage_deps.py holds the modules.)"""

import ast
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import forked_run
from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project, params_with
from test_hostile_intermediates import project, template  # noqa: F401 (fixtures)
from test_hostile_outputs_more import _LAUNCHER

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PROJECT_ROOTS = ("data/", "metrics/", "models/", "plots/", "reports/", "reviews/", "contracts/")
# what a stage script names without reading it as an input: the report links the Data Docs pages the contracts,
# balance and gan-synthesize stages wrote, whose presence follows the verdicts in metrics/contracts (a dep)
NOT_READ = {"report": {"reports/contracts"}}


def _declared(stage: dict) -> list[str]:
    """A stage's deps, outs, metrics and plots, ``${item.variant}`` as ``{}``."""
    return [str(next(iter(entry)) if isinstance(entry, dict) else entry).replace("${item.variant}", "{}")
            for key in ("deps", "outs", "metrics", "plots") for entry in stage.get(key) or []]


def _named_paths(script: Path) -> set[str]:
    """Project paths a stage script spells out: string constants under the project's data folders, and the
    fixed start of an f-string (``metrics/contracts/{}``)."""
    found = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PROJECT_ROOTS) \
                and " " not in node.value:
            found.add(node.value)
        elif isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant) \
                and str(node.values[0].value).startswith(PROJECT_ROOTS):
            found.add(f"{node.values[0].value}{{}}")
    return found


def _covered(path: str, declared: list[str]) -> bool:
    """Whether ``path`` is a declared path or lies under one (``{}``: any variant)."""
    for entry in declared:
        if path == entry or path.startswith(entry.rstrip("/") + "/"):
            return True
        if "{}" in path + entry and path.split("{}")[0].startswith(entry.split("{}")[0]):
            return True
    return False


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_project_file_a_stage_script_names_is_its_dep_or_output(name):
    # before: the report read metrics/ingest.json, degrade.json, threshold.json and dedup.json without depending
    # on them, so a threshold method or a dedup setting that moved no flag or group reran threshold or dedup but
    # not the report, which went on showing the last run's cuts and settings while dvc status said up to date
    stage = STAGES[name]
    script = ROOT / re.search(r"(stages/[\w\-]+\.py)", stage["cmd"]).group(1)
    missing = sorted(p for p in _named_paths(script) - NOT_READ.get(name, set()) if not _covered(p, _declared(stage)))
    assert missing == [], f"{name}: {script.name} names files dvc.yaml does not list among its deps or outputs"


# params a stage reads through the library, which the script's own params["..."] does not show: augment-search
# scores balance.policy as the incumbent (winnow.augment.policy_for)
READ_THROUGH = {"augment-search": {"balance.policy"}}
# params a stage reads without its outputs following them: source is always changed; train and evaluate check that
# their argument is a listed variant; evaluate checks that the model was trained with today's train settings, seed
# and policy (the model, its dep, follows them: a changed one is refused, not scored); balance and gan-synthesize read
# train for where and how fast they run the baseline model (winnow.training.run_as: eval_batch_size, threads, stream),
# and balance checks that the searched policy's trainings took today's train settings and seed (data/augment-search,
# its dep, follows them: augment-search declares them);
# variants checks that the budget's model check trained with today's train settings, seed and policy (data/budget, its
# dep, follows them: the budget declares them); ingest reads variants for a warning alone (source images the augmented
# variant's GAN cannot make, which gan-synthesize refuses), and a changed variants list must not rerun every stage;
# report checks that the scores it captions were made at today's score settings (data/score, its dep, follows them)
NOT_OUTPUT = {"source": {"ingest", "represent"}, "train": {"variants"}, "evaluate": {"variants", "seed", "train"},
              "balance": {"train"}, "gan-synthesize": {"train"}, "variants": {"seed", "train", "balance"},
              "ingest": {"variants"}, "report": {"score"}}


def _params_read(script: Path) -> set[str]:
    """The sections a stage script reads as ``params["x"]`` or ``params.get("x")``."""
    read = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "params" \
                and isinstance(node.slice, ast.Constant):
            read.add(node.slice.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "params" and node.args \
                and isinstance(node.args[0], ast.Constant):
            read.add(node.args[0].value)
    return read


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_params_section_a_stage_reads_is_declared(name):
    # before: augment-search scored balance.policy without declaring it, so a changed policy was never scored and
    # balance went on applying the old one while dvc status said up to date; data-valuation read pruned.cleaners
    stage = STAGES[name]
    script = ROOT / re.search(r"(stages/[\w\-]+\.py)", stage["cmd"]).group(1)
    declared = [next(iter(entry)) if isinstance(entry, dict) else entry for entry in stage.get("params") or []]
    read = (_params_read(script) | READ_THROUGH.get(name, set())) - NOT_OUTPUT.get(name, set())
    missing = sorted(key for key in read if not any(d == key or d.startswith(key + ".") or key.startswith(d + ".")
                                                   for d in declared))
    assert missing == [], f"{name}: {script.name} reads params dvc.yaml does not declare"


def _old_outputs(project: Path, paths: list[str]) -> dict[str, bytes]:
    """Stand-ins for the last real run's outputs at ``paths`` (files, some inside output folders)."""
    for path in paths:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(f"the last run's {path}\n")
    return {path: (project / path).read_bytes() for path in paths}


def _failing_last_write(project: Path, script: str, fail_at: str) -> subprocess.CompletedProcess:
    """``stages/<script>`` with the atomic write of ``fail_at`` failing with a full disk once its temporary is
    written (test_hostile_outputs_more's launcher)."""
    launcher = project.parent / "launcher.py"
    launcher.write_text(_LAUNCHER)
    return forked_run.run("script", str(launcher), [str(ROOT / "stages" / script)], cwd=project,
                          env={**_env(), "WINNOW_FAIL_AT": fail_at}, timeout=300)


@pytest.mark.hostile("interrupted")
def test_a_skipped_gan_stage_with_a_folder_at_its_model_path_changes_nothing(tmp_path):
    # before: data/gan, data/variants/augmented and plots/gan became stand-ins one by one before the write of
    # models/gan.pt failed (EISDIR), beside the last real run's metrics/gan.json and verdict
    project = make_project(tmp_path / "project")  # the default variants: no augmented, the stage is skipped
    old = _old_outputs(project, ["data/gan/images.npy", "data/variants/augmented/rows.parquet", "metrics/gan.json",
                                 "metrics/contracts/augmented.json"])
    (project / "models/gan.pt").mkdir(parents=True)
    before = files_under(project)
    assert_error_line(forked_run.run("script", str(ROOT / "stages/gan_synthesize.py"), [], cwd=project, env=_env(),
                                     timeout=300),
                      "gan-synthesize: models/gan.pt is a folder, where the stage writes a file; move it away, then rerun")
    assert {path: (project / path).read_bytes() for path in old} == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_skipped_balance_whose_last_write_fails_leaves_every_old_output(tmp_path):
    # before: data/variants/balanced and plots/balance were stand-ins and metrics/balance.json said skipped,
    # while the verdict (metrics/contracts/balanced.json) was still the last real run's
    project = make_project(tmp_path / "project", params_with("variants", ["oracle", "baseline", "pruned"]))
    old = _old_outputs(project, ["data/variants/balanced/rows.parquet", "plots/balance/examples.png",
                                 "metrics/balance.json", "reports/contracts/balanced/index.html",
                                 "metrics/contracts/balanced.json"])
    before = files_under(project)
    assert_error_line(_failing_last_write(project, "balance.py", "metrics/contracts/balanced.json"),
                      "No space left on device [ENOSPC]")
    assert {path: (project / path).read_bytes() for path in old} == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_skipped_augment_search_whose_metrics_write_fails_leaves_the_last_searched_policy(tmp_path):
    # before: data/augment-search was a stand-in beside the last search's score table
    project = make_project(tmp_path / "project")  # augment_search.enabled: false by default
    old = _old_outputs(project, ["data/augment-search/policy.json", "metrics/augment_search.json"])
    before = files_under(project)
    assert_error_line(_failing_last_write(project, "augment_search.py", "metrics/augment_search.json"),
                      "No space left on device [ENOSPC]")
    assert {path: (project / path).read_bytes() for path in old} == old
    assert_nothing_left(project, before)


# Runs a stage script, but the atomic write of WINNOW_SLOW_AT waits, once its temporary is written, for the test's
# SIGTERM (WINNOW_READY says it is waiting).
_WAITING_LAUNCHER = '''
import os, runpy, sys, time
from contextlib import contextmanager
from pathlib import Path

import winnow.stage as stage

target, atomic_path = os.environ["WINNOW_SLOW_AT"], stage.atomic_path


@contextmanager
def waiting(path):
    with atomic_path(path) as tmp:
        yield tmp
        if Path(path) == Path(target):
            Path(os.environ["WINNOW_READY"]).write_text("writing")
            time.sleep(120)


stage.atomic_path = waiting
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''


@pytest.mark.hostile("interrupted")
def test_sigterm_while_a_stage_writes_ends_in_one_line_and_leaves_the_last_outputs(project):
    # before: SIGTERM (timeout, kill, a cancelled CI job) ended the process on the spot: no line, and the
    # temporaries of the writes under way stayed in data/ and metrics/ until a later stage swept them
    old = _old_outputs(project, ["data/threshold/flags.parquet", "metrics/threshold.json"])
    before = files_under(project)
    launcher, ready = project.parent / "waiting.py", project.parent / "ready"
    launcher.write_text(_WAITING_LAUNCHER)
    env = {**_env(), "WINNOW_SLOW_AT": "data/threshold/flags.parquet", "WINNOW_READY": str(ready)}
    with subprocess.Popen([sys.executable, str(launcher), str(ROOT / "stages/threshold.py")], cwd=project, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        deadline = time.monotonic() + 120
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), f"the stage never reached its write: {process.communicate()}"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stdout + stderr, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [
        "error: stages/threshold.py: terminated (SIGTERM); outputs not yet complete were left unwritten: rerun it"]
    assert process.returncode == 128 + signal.SIGTERM  # the shell's status for a process SIGTERM ended
    assert {path: (project / path).read_bytes() for path in old} == old
    assert_nothing_left(project, before)
    assert not any(name.startswith(".winnow-commit-") for name in os.listdir(project))
