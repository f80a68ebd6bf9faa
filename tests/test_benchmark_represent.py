"""benchmarks/represent.py times the pipeline stage by stage: the stages it runs must be the ones
``dvc repro evaluate@baseline evaluate@pruned`` would run, wherever the benchmark is started from."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _benchmark():
    spec = importlib.util.spec_from_file_location("represent_benchmark", ROOT / "benchmarks/represent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_timed_stages_are_the_targets_and_their_dependencies_when_run_from_outside_the_project(
        tmp_path, monkeypatch):
    bench = _benchmark()
    project = bench.make_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # DVC names a stage by its path relative to the working directory: from elsewhere every address
    # carries "../project/dvc.yaml:", which once matched no target, so the benchmark ran no stage at all
    monkeypatch.chdir(elsewhere)
    stages = bench.stages_for(project, ["evaluate@baseline", "evaluate@pruned"])
    assert stages[:2] == ["source", "ingest"]
    assert set(stages[-2:]) <= {"evaluate@baseline", "evaluate@pruned", "train@pruned"}
    assert {"budget", "train@baseline", "train@pruned", "evaluate@baseline", "evaluate@pruned"} <= set(stages)
    assert not {"train@balanced", "gan-synthesize", "report"} & set(stages)
    assert stages.index("budget") < stages.index("variants") < stages.index("train@pruned")
