"""Hostile inputs to compare found at probe 70:

- a class's ``support`` in evaluate's summary that is text ("0"), negative or a boolean: the compare stage counted
  the class as tested and averaged its unmeasured 0s in (the report refuses the same summary);
- a class's ``support`` that differs between two variants (a stale summary beside a fresh one): compared as if both
  were measured on one test set;
- ``winnow compare`` over runs whose summary.json at the run's commit holds a text support: dropped unread, the class
  averaged in as tested;
- ``winnow compare`` over runs of which one has a summary naming a class without test images and another has none (F1
  as DVC shows it): the second run's average row took the class's 0 in, while the note said it was left out;
- ``winnow compare --num 3`` (and ``study collect --num -1``) in a shallow clone (CI): the runs of commits the clone
  lacks were left out without a word.

The stage runs in-process (its ``main``) but for one case run as dvc runs it, to pin the whole ``error:`` line.
"""

import hashlib
import importlib.util
import json

import pytest
import yaml
from gate_repo import commit, git, init
from hostile_harness import ROOT, assert_nothing_left, default_params, files_under, make_project, refused_line

from winnow import compare
from winnow.cli import main as winnow
from winnow.compare_runs import run_metrics
from winnow.errors import WinnowError
from winnow.metrics import PER_CLASS_METRICS, metrics_path, summary_path


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_stage", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summaries(project, supports: dict[str, dict[str, object]]) -> None:
    """evaluate's summary of each variant: every metric 0.8 on a class with test images, 0 on one without (as
    winnow.metrics.summarise writes it), each class's support as given (variant -> class -> support)."""
    for variant, support in supports.items():
        per_class = {c: {**{m: 0.0 if s in (0, "0", -3) else 0.8 for m in PER_CLASS_METRICS}, "support": s}
                     for c, s in support.items()}
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(json.dumps({"per_class": per_class}))


def _project(tmp_path, supports):
    project = make_project(tmp_path / "project", default_params() | {"variants": list(supports)})
    _summaries(project, supports)
    return project


@pytest.mark.hostile("compare")
def test_the_compare_stage_refuses_a_support_written_as_text(tmp_path):
    # class z's support is "0" (a hand edit, or a summary rewritten by a tool that quotes numbers): the report refuses
    # it ("not a count of test images"). Before, the stage exited 0, counted z as tested ("0" is not 0) and averaged its
    # two unmeasured 0s into the average row and the paired test (n 3)
    project = _project(tmp_path, {"baseline": {"a": 5, "b": 5, "z": "0"}, "pruned": {"a": 5, "b": 5, "z": "0"}})
    assert refused_line(project, "compare") == (
        'error: baseline: per_class.z.support is "0", not a count of test images; rerun evaluate@baseline')


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("support", "shown"), [(-3, "-3"), (False, "false"), (0.0, "0.0")])
def test_the_compare_stage_refuses_a_support_that_is_no_count(tmp_path, monkeypatch, support, shown):
    # before: -3 and 0.0 counted z as tested (its 0s averaged in); false passed as 0, a value evaluate never writes
    project = _project(tmp_path, {"baseline": {"a": 5, "z": support}, "pruned": {"a": 5, "z": support}})
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("compare").main()
    assert str(refused.value) == (f"baseline: per_class.z.support is {shown}, not a count of test images; rerun "
                                  "evaluate@baseline")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_the_compare_stage_refuses_variants_whose_support_differs(tmp_path, monkeypatch):
    # baseline's summary says z has no test image, pruned's says 4: the two were not measured on one test set (one is
    # stale). Before, the stage exited 0 and paired baseline's unmeasured 0 for z against pruned's measured 0.8
    project = _project(tmp_path, {"baseline": {"a": 5, "b": 5, "z": 0}, "pruned": {"a": 5, "b": 5, "z": 4}})
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("compare").main()
    assert str(refused.value) == ("pruned: per_class.z.support is 4, but baseline's is 0; variants are compared on one "
                                  "test set: rerun evaluate@pruned")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_over_runs_refuses_a_text_support_in_a_runs_summary(tmp_path):
    # `winnow compare` reads each class's support from summary.json at the run's commit, beside the F1 DVC shows. There
    # z's support is "0". Before, the value was dropped unread, and z (F1 0 at both variants) was averaged in as tested
    project = _project(tmp_path, {"baseline": {"a": 5, "z": "0"}, "pruned": {"a": 5, "z": "0"}})
    init(project)
    shown = {v: {"per_class": {"a": {"f1": f1}, "z": {"f1": 0.0}}} for v, f1 in (("baseline", 0.5), ("pruned", 0.6))}
    run = {"experiment": "exp-1", "rev": "HEAD", "variants": shown}
    measured = run_metrics(run, metric="f1", repo=str(project))
    with pytest.raises(WinnowError) as refused:
        compare.seed_summary([measured], metric="f1", names=["exp-1"])
    assert str(refused.value) == ('experiment exp-1: baseline: per_class.z.support is "0", not a count of test images; '
                                  "rerun evaluate@baseline")


@pytest.mark.hostile("compare")
def test_compare_over_runs_averages_the_same_classes_in_every_run():
    # two seeds, both 0.5 (baseline) and 0.6 (pruned) on class a, the one class tested; z has no test image. The first
    # run's summary says so (support 0); the second run's is not there (a saved exp show of a commit this clone lacks:
    # F1 as DVC shows it, no support). The note says z is left out of the average and std rows. Before, the second run
    # averaged z's 0 in (0.25 and 0.30), and the average row read 0.3750 ± 0.1768 and 0.4500 ± 0.2121
    def run(f1: dict[str, float], support: bool) -> dict:
        return {v: {"per_class": {"a": {"f1": x, **({"support": 5} if support else {})},
                                  "z": {"f1": 0.0, **({"support": 0} if support else {})}}} for v, x in f1.items()}
    runs = [run({"baseline": 0.5, "pruned": 0.6}, support=True), run({"baseline": 0.5, "pruned": 0.6}, support=False)]
    cells, tests = compare.seed_summary(runs, metric="f1")
    assert cells.loc["average"].tolist() == ["0.5000 ± 0.0000", "0.6000 ± 0.0000"]
    assert cells.loc["std"].tolist() == ["0.0000 ± 0.0000", "0.0000 ± 0.0000"]
    assert tests.set_index("row").loc["average", "mean_diff"] == pytest.approx(0.1)
    assert compare.untested_rows_note(runs) == (
        "Left out of the average and std rows and of the tests: z (no test image: its 0s are not measured), as "
        "evaluate's macro figures leave it out.")


def _shallow_clone(tmp_path):
    """A clone of depth 1 (CI's actions/checkout) of a DVC project of three commits, each holding the run of one seed
    (0, 1, 2) of baseline: its metrics file and the dvc.lock of the run that wrote it."""
    origin = make_project(tmp_path / "origin", default_params() | {"variants": ["baseline"]})
    (origin / ".dvc").mkdir()
    (origin / ".dvc" / "config").write_text("")
    (origin / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"evaluate": {"foreach": ["baseline"], "do": {
        "cmd": "echo ${item}", "metrics": [{"metrics/evaluate/${item}.json": {"cache": False}}]}}}}))
    init(origin)
    for seed in range(3):
        params = yaml.safe_load((origin / "params.yaml").read_text())
        (origin / "params.yaml").write_text(yaml.safe_dump(params | {"seed": seed}))
        (origin / metrics_path("baseline")).parent.mkdir(parents=True, exist_ok=True)
        written = json.dumps({"accuracy": 0.9, "macro": {"f1": 0.55 + seed / 20},
                              "per_class": {"a": {"f1": 0.5 + seed / 10}, "b": {"f1": 0.6}}}).encode()
        (origin / metrics_path("baseline")).write_bytes(written)
        (origin / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"evaluate@baseline": {
            "cmd": "echo baseline", "outs": [{"path": metrics_path("baseline"), "hash": "md5",
                                              "md5": hashlib.md5(written).hexdigest(), "size": len(written)}]}}}))
        commit(origin, f"seed {seed}")
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", "clone")
    return tmp_path / "clone"


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("command", "said"), [(["compare", "--variants", "baseline", "--num", "3"], "compare --num 3"),
                                               (["study", "collect", "--num", "-1"], "study collect --num -1")])
def test_runs_of_commits_a_shallow_clone_lacks_are_refused_not_left_out(tmp_path, capsys, command, said):
    # CI checks out one commit (actions/checkout's default fetch-depth 1). Before, `winnow compare --num 3` there read
    # dvc exp show's runs of HEAD alone, as if the two commits before it held none: "Variants over 1 run(s) (seeds 2)",
    # exit 0 (study collect --num -1, every commit, alike)
    clone = _shallow_clone(tmp_path)
    before = files_under(clone)
    assert winnow([*command, "--repo", str(clone)]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"error: {said}: this clone is shallow, its history cut off 1 commit(s) back "
                              "from HEAD, so the runs of the commits before cannot be read; fetch the whole history "
                              "(git fetch --unshallow; in CI, actions/checkout with fetch-depth: 0), or give --num 1\n")
    assert_nothing_left(clone, before)


@pytest.mark.hostile("compare")
def test_compare_in_a_shallow_clone_does_what_its_refusal_advises_once_the_history_is_fetched(tmp_path, capsys):
    # the refusal's fix, `git fetch --unshallow`, brings the two commits before HEAD, and their seeds are compared
    clone = _shallow_clone(tmp_path)
    git(clone, "fetch", "-q", "--unshallow")
    assert winnow(["compare", "--variants", "baseline", "--num", "3", "--repo", str(clone)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# Variants over 3 run(s) (seeds 2, 1, 0)\n")
    assert "| a | 0.6000 ± 0.1000 |" in out
