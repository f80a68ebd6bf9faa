import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from hostile_harness import default_params
from winnow.cli import main as winnow
from winnow.compare import class_table, experiment_runs, paired_test, seed_summary

GATE = {"files": ["metrics/evaluate/*.json"],
        "tolerances": {"accuracy": 0.005, "macro.f1": 0.005, "per_class.*.f1": 0.02}}


def _metrics(f1s, accuracy=0.9):
    return {"accuracy": accuracy, "macro": {"f1": float(np.mean(f1s))},
            "per_class": {name: {"f1": f} for name, f in zip("ab", f1s)}}


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - metrics/evaluate\n")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params() | {"gate": GATE}))
    (tmp_path / "metrics/evaluate").mkdir(parents=True)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "no metrics yet")
    return tmp_path


def _commit_metrics(repo, data):
    (repo / "metrics/evaluate/baseline.json").write_text(json.dumps(data))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "metrics")


def _gate(repo, capsys, base="HEAD"):
    code = winnow(["gate", "--base", base, "--repo", str(repo)])
    return code, capsys.readouterr().out


def test_gate_passes_within_tolerance(repo, capsys):
    _commit_metrics(repo, _metrics([0.90, 0.80]))
    (repo / "metrics/evaluate/baseline.json").write_text(json.dumps(_metrics([0.89, 0.805], accuracy=0.898)))
    code, out = _gate(repo, capsys)
    assert code == 0 and "PASS" in out and "per_class.a.f1" in out


def test_gate_fails_beyond_tolerance(repo, capsys):
    _commit_metrics(repo, _metrics([0.90, 0.80]))
    (repo / "metrics/evaluate/baseline.json").write_text(json.dumps(_metrics([0.95, 0.77])))
    code, out = _gate(repo, capsys)
    assert code == 1 and "regressed" in out and "per_class.b.f1" in out
    regressed = [line.split("|")[2].strip() for line in out.splitlines() if line.startswith("|") and "regressed" in line]
    assert regressed == ["per_class.b.f1"]  # macro F1 and class a rose; only class b fell, by 0.03


def test_gate_fails_when_base_has_no_metrics(repo, capsys):
    (repo / "metrics/evaluate/baseline.json").write_text(json.dumps(_metrics([0.9, 0.8])))
    code, out = _gate(repo, capsys)
    assert code == 1 and "missing" in out


def test_gate_fails_on_added_or_removed_keys(repo, capsys):
    _commit_metrics(repo, _metrics([0.90, 0.80]))
    data = _metrics([0.90, 0.80])
    data["per_class"]["c"] = {"f1": 0.99}
    del data["per_class"]["a"]
    (repo / "metrics/evaluate/baseline.json").write_text(json.dumps(data))
    code, out = _gate(repo, capsys)
    assert code == 1 and "added" in out and "removed" in out


def test_paired_test_equals_scipy():
    rng = np.random.default_rng(1)
    a = rng.random(7)
    b = a + rng.normal(0.02, 0.01, 7)
    got = paired_test(a, b)
    want = stats.ttest_rel(b, a)
    assert got["t"] == pytest.approx(want.statistic) and got["p"] == pytest.approx(want.pvalue)
    diff = b - a
    assert got["mean_diff"] == pytest.approx(diff.mean())
    # the CI is a 95% percentile bootstrap from 10,000 resamples; the exact one takes every one of the
    # 7 ** 7 equally likely resamples. They agree within a few Monte Carlo standard errors of a quantile,
    # sd * sqrt(p (1 - p) / 10,000) / phi(z_p) for the near-normal distribution of resampled means
    means = sum(diff.reshape([-1 if axis == k else 1 for axis in range(7)]) for k in range(7)).ravel() / 7
    error = means.std() * np.sqrt(0.025 * 0.975 / 10_000) / stats.norm.pdf(stats.norm.ppf(0.025))
    exact_low, exact_high = np.quantile(means, [0.025, 0.975])
    assert got["ci_low"] == pytest.approx(exact_low, abs=4 * error)
    assert got["ci_high"] == pytest.approx(exact_high, abs=4 * error)


def test_tables_and_seed_summary():
    runs = [{"base": _metrics([0.8, 0.6]), "pruned": _metrics([0.9, 0.7])},
            {"base": _metrics([0.7, 0.6]), "pruned": _metrics([0.8, 0.8])}]
    table = class_table(runs[0], metric="f1")
    assert list(table.index) == ["a", "b", "average", "std"]
    assert table.loc["average", "pruned"] == pytest.approx(0.8) and table.loc["std", "base"] == pytest.approx(0.1)
    cells, tests = seed_summary(runs, metric="f1")
    assert cells.loc["a", "base"] == f"{0.75:.4f} ± {np.std([0.8, 0.7], ddof=1):.4f}"
    macro = tests[tests["row"] == "average"].iloc[0]
    want = stats.ttest_rel([0.8, 0.8], [0.7, 0.65])
    assert macro["p"] == pytest.approx(want.pvalue) and macro["from"] == "base"


def test_experiment_rows_are_parsed_and_incomplete_runs_skipped():
    rows = [{"rev": "r1", "metrics/evaluate/base.json:per_class.a.f1": 0.5, "metrics/evaluate/base.json:accuracy": 0.6,
             "metrics/evaluate/pruned.json:per_class.a.f1": 0.7},
            {"rev": "r2", "metrics/evaluate/base.json:per_class.a.f1": 0.4}]
    runs = experiment_runs(rows, variants=["base", "pruned"])
    assert len(runs) == 1 and runs[0]["pruned"]["per_class"]["a"]["f1"] == 0.7 and runs[0]["base"]["accuracy"] == 0.6


def test_an_unchanged_workspace_is_not_counted_as_a_second_run():
    run = {"metrics/evaluate/base.json:per_class.a.f1": 0.5, "metrics/evaluate/pruned.json:per_class.a.f1": 0.7}
    other = {"metrics/evaluate/base.json:per_class.a.f1": 0.4, "metrics/evaluate/pruned.json:per_class.a.f1": 0.7}
    rows = [{"rev": "workspace", **run}, {"rev": "main", **run}, {"rev": "exp-1", **other}]
    runs = experiment_runs(rows, variants=["base", "pruned"])
    assert [r["base"]["per_class"]["a"]["f1"] for r in runs] == [0.5, 0.4]
