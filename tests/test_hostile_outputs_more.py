"""More stages whose outputs are written as one (winnow.stage.together, check_outputs): a write that fails
part-way (a full disk, ``ulimit -f``) leaves every output of the last run byte for byte, never some new
beside the rest old, and no temporary behind.

Each case fills a stage's outputs with stand-ins ("the last run's"), runs the real stage on the tiny
pipeline state of test_hostile_intermediates (3 classes of random 8x8 images), and makes its last atomic
write fail with ENOSPC after the temporary was written."""

import json
import subprocess
from pathlib import Path

import pytest

import forked_run
from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project
from test_hostile_intermediates import _params, project, template  # noqa: F401 (fixtures)
from winnow.metrics import summary_path

# Runs a stage script, but the atomic write of WINNOW_FAIL_AT (its final path) fails with a full disk once its
# temporary is written, as `ulimit -f` or a full disk does at the last byte.
_LAUNCHER = '''
import errno, os, runpy, sys
from contextlib import contextmanager
from pathlib import Path

import winnow.stage as stage

target, atomic_path = os.environ["WINNOW_FAIL_AT"], stage.atomic_path


@contextmanager
def failing(path):
    with atomic_path(path) as tmp:
        yield tmp
        if Path(path) == Path(target):
            raise OSError(errno.ENOSPC, "No space left on device")


stage.atomic_path = failing
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''


def _fails_at_last_write(project: Path, script: str, outputs: list[str]) -> None:
    """Stand-ins at ``outputs``, then ``script`` with the write of the last one failing: one ENOSPC line,
    every stand-in as it was, nothing new and no temporary left."""
    for path in outputs:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(f"the last run's {path}\n")
    before = files_under(project)
    launcher = project.parent / "launcher.py"
    launcher.write_text(_LAUNCHER)
    done = forked_run.run("script", str(launcher), [str(ROOT / "stages" / script)], cwd=project,
                          env={**_env(), "WINNOW_FAIL_AT": outputs[-1]}, timeout=600)
    assert isinstance(done, subprocess.CompletedProcess)
    assert_error_line(done, "No space left on device [ENOSPC]")
    assert {path: (project / path).read_bytes() for path in outputs} == {
        path: f"the last run's {path}\n".encode() for path in outputs}
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_dedup_whose_metrics_write_fails_leaves_every_old_output(project):
    # before: data/dedup/groups.parquet new, metrics/dedup.json old
    _fails_at_last_write(project, "dedup.py", ["data/dedup/groups.parquet", "metrics/dedup.json"])


@pytest.mark.hostile("interrupted")
def test_confident_learn_whose_metrics_write_fails_leaves_every_old_output(project):
    # before: pred_probs.npy, pred_ids.json, label_issues.parquet and noise_matrix.csv new, the metrics old
    _fails_at_last_write(project, "confident_learn.py", [
        "data/confident-learn/pred_probs.npy", "data/confident-learn/pred_ids.json",
        "data/confident-learn/label_issues.parquet", "data/confident-learn/noise_matrix.csv",
        "metrics/confident_learn.json"])


@pytest.mark.hostile("interrupted")
def test_embedding_clean_whose_metrics_write_fails_leaves_every_old_output(project):
    # before: embeddings.npy, embedding_ids.json, decisions.parquet and rounds.parquet new, the metrics old
    _fails_at_last_write(project, "embedding_clean.py", [
        "data/embedding-clean/embeddings.npy", "data/embedding-clean/embedding_ids.json",
        "data/embedding-clean/decisions.parquet", "data/embedding-clean/rounds.parquet",
        "metrics/embedding_clean.json"])


@pytest.mark.hostile("interrupted")
def test_data_valuation_whose_metrics_write_fails_leaves_every_old_output(project):
    # before: data/data-valuation/decisions.parquet new, metrics/data_valuation.json old
    make_project(project, _params() | {"data_valuation": _params()["data_valuation"] | {"knn_k": 3}})
    _fails_at_last_write(project, "data_valuation.py", ["data/data-valuation/decisions.parquet",
                                                        "metrics/data_valuation.json"])


@pytest.mark.hostile("interrupted")
def test_budget_whose_metrics_write_fails_leaves_every_old_output(project):
    # before: data/budget/decisions.parquet new, metrics/budget.json old
    make_project(project, _params() | {"budget": _params()["budget"] | {"check": False}})
    _fails_at_last_write(project, "budget.py", ["data/budget/decisions.parquet", "metrics/budget.json"])


@pytest.mark.hostile("interrupted")
def test_compare_whose_report_write_fails_leaves_every_old_output(project):
    # before: the eight plots/compare/*.csv new, reports/compare.md old
    make_project(project, _params() | {"variants": ["baseline", "pruned"]})
    for variant, score in (("baseline", 0.2), ("pruned", 0.4)):
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(json.dumps({"per_class": {
            c: {m: score + i / 10 for m in ("precision", "recall", "f1", "accuracy")} | {"support": 10}
            for i, c in enumerate("abc")}}))
    metrics = ("precision", "recall", "f1", "accuracy")
    _fails_at_last_write(project, "compare.py", [*(f"plots/compare/{m}{kind}.csv" for m in metrics
                                                   for kind in ("", "_significance")), "reports/compare.md"])
