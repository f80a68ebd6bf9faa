"""End to end: the real dvc.yaml on a tiny config, in a throwaway copy of the project."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _sh(args, cwd, env):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


PER_CLASS = 250  # of MNIST-5k's 500 a digit: the cleaners' neighbour, outlier and probe searches grow with the images


def write_digits(dest: Path) -> None:
    """digits.npz: the first PER_CLASS MNIST-5k digits of each class (2,500 of 5,000), class names '0'..'9'.
    Half the images roughly halved the stages' compute (embedding-clean's neighbour and outlier searches,
    confident-learn's probes, data-valuation), which took most of this test's time after DVC and imports."""
    from winnow.sources import load_mnist5k

    loaded = load_mnist5k()
    keep = np.sort(np.concatenate([np.flatnonzero(loaded.labels == c)[:PER_CLASS] for c in range(10)]))
    np.savez(dest / "digits.npz", images=loaded.images[keep], labels=loaded.labels[keep],
             classes=np.array(loaded.classes))


def tiny_params(params: dict) -> dict:
    """The default params cut down so the whole DAG runs in a few minutes on 2 cores (265 s on the slowest
    machine measured with all of MNIST-5k, most of it DVC and imports: about 8 s a stage); half of MNIST-5k
    (:func:`write_digits`) through the npz source."""
    params["ingest"].update(source="npz", path="digits.npz")
    # one torch thread (params.yaml: 2): on a busy machine (CI's 2 cores under two test workers) two threads for
    # nets this small spin more than they compute; a training there took 8x the CPU seconds of one thread's
    params["train"].update(model="lenet5", epochs=2, threads=1)
    params["represent"].update(judge={"model": "lenet5", "epochs": 1})
    params["confident_learn"].update(folds=2, train={"model": "lenet5", "epochs": 1})
    # two rounds in the represent embedding: round 2 re-applies the neighbour rules to round 1's labels
    params["embedding_clean"].update(rounds=2, train={"model": "lenet5", "epochs": 1})
    params["variants"] = ["oracle", "baseline", "pruned", "augmented", "balanced"]  # the GAN's path too
    params["gan"]["train"].update(epochs=1, width=8)
    params["gan"]["per_class"] = 20
    return params


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    dest = tmp_path_factory.mktemp("project")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    inputs = {"plots/study/study.csv"}  # the report's input, committed header-only; the rest of plots/ is output
    for name in files:
        if (ROOT / name).is_file() and (name in inputs or not name.startswith(("metrics/", "plots/"))) \
                and name != "dvc.lock":
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    write_digits(dest)
    params = tiny_params(yaml.safe_load((dest / "params.yaml").read_text()))
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    _sh(["git", "init", "-q", "-b", "main"], dest, env)
    _sh(["git", "add", "-A"], dest, env)
    _sh(["git", "commit", "-qm", "tiny"], dest, env)
    return dest, env


def test_repro_then_experiment_shows_per_class_metrics(project):
    dest, env = project
    dvc = [sys.executable, "-m", "dvc"]
    _sh(dvc + ["repro"], dest, env)
    metrics = json.loads((dest / "metrics/evaluate/baseline.json").read_text())
    assert set(metrics["per_class"]) == {str(d) for d in range(10)}
    assert metrics["macro"]["f1"] == pytest.approx(np.mean([c["f1"] for c in metrics["per_class"].values()]))
    assert metrics["accuracy"] > 0.5  # five times chance on 10 classes: two epochs of lenet5 learned digits
    for variant in ("oracle", "baseline", "pruned", "augmented", "balanced"):
        assert (dest / f"models/{variant}.pt").is_file(), variant
    assert (dest / "reports/index.html").is_file() and (dest / "reports/compare.md").is_file()
    cleaned = json.loads((dest / "metrics/embedding_clean.json").read_text())
    assert [r["round"] for r in cleaned["rounds"]] == [1, 2] and "truth" in cleaned
    balanced = json.loads((dest / "metrics/balance.json").read_text())
    assert len({c["after"] for c in balanced["counts"].values()}) == 1  # every class at the same count
    contracts = json.loads((dest / "metrics/contracts.json").read_text())
    assert set(contracts["suites"]) == {"ingest", "scores"}
    checked = {path.stem for path in (dest / "metrics/contracts").glob("*.json")}
    assert checked == {"oracle", "baseline", "pruned", "augmented", "balanced"}  # every trained variant
    # nothing left to run but the source stage, which runs every time to see ingest.path change
    assert _sh(dvc + ["status"], dest, env) == "source:\n\talways changed\n"

    # an experiment on one variant's recipe: it retrains that variant alone (five stages and the report,
    # where train.epochs reran most of the pipeline), and exp show lists its per-class metrics beside the others'
    ran = _sh(dvc + ["exp", "run", "-S", "balance.edge_extra=1.0"], dest, env)
    assert "Running stage 'train@balanced'" in ran and "Running stage 'train@baseline'" not in ran
    shown = json.loads(_sh(dvc + ["exp", "show", "--json"], dest, env))
    experiments = [exp for rev in shown for exp in (rev.get("experiments") or [])]
    assert experiments, "dvc exp run left no experiment"
    data = experiments[0]["revs"][0]["data"]
    assert data["params"]["params.yaml"]["data"]["balance"]["edge_extra"] == 1.0
    evaluated = data["metrics"]["metrics/evaluate/balanced.json"]["data"]
    assert set(evaluated["per_class"]) == {str(d) for d in range(10)}
    assert "f1" in evaluated["per_class"]["7"]


@pytest.mark.parametrize("stage", sorted(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]))
def test_stage_commands_import_the_checkout_they_run_in(stage, tmp_path):
    """A queued experiment runs in a copy of the repository: its stages must import that copy's winnow,
    not the workspace's editable install, which may have changed since the experiment was queued."""
    cmd = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["cmd"]
    prefix = cmd.split("python stages/")[0]
    (tmp_path / "src/winnow").mkdir(parents=True)
    (tmp_path / "src/winnow/__init__.py").write_text("")
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages/probe.py").write_text("import winnow; print(winnow.__file__)")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run(f"{prefix}python stages/probe.py", shell=True, cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True).stdout
    assert Path(out.strip()).resolve() == (tmp_path / "src/winnow/__init__.py").resolve()
