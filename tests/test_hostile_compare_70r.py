"""A review of the mends of probe 70 to compare (support checks, runs averaged over the same classes, --num past a
shallow clone's history):

- the compare stage given evaluate's summaries without a ``support`` (a summary evaluate never writes, which the
  report refuses): every class counted as tested, a class without test images averaged in;
- ``winnow compare`` over one run whose summary of one variant says a class has no test image (support 0) and whose
  summary of the other was not read (F1 as DVC shows it): the class's 0s averaged in, where the runs' mend leaves
  it out when the two summaries are of two runs;
- ``winnow compare`` over runs whose summaries give a class 0 test images in one run and 4 in another: the class was
  left out of every run's average and tests, its row an unmeasured 0 averaged with a measured score;
- ``winnow compare --num 5`` in a clone whose HEAD history is whole but which another branch's shallow fetch made
  shallow: refused as cut off, a false alarm;
- ``winnow compare --num 5`` in a clone of depth 4 of a history of 4 commits (git marks its root shallow): refused as
  cut off, though nothing is before the root;
- ``winnow study collect --rev BRANCH --num 3`` where that branch was fetched shallow and HEAD's history is whole:
  HEAD's history was counted, and the branch's cut-off history passed.
"""

import json

import pytest
from gate_repo import commit, git, init
from hostile_harness import assert_nothing_left, default_params, files_under, make_project, refused_line
from test_hostile_compare_70 import _shallow_clone

from winnow import compare
from winnow.cli import main as winnow
from winnow.compare_runs import run_metrics
from winnow.errors import WinnowError
from winnow.metrics import PER_CLASS_METRICS, summary_path


def _write(project, variant: str, per_class: dict) -> None:
    (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
    (project / summary_path(variant)).write_text(json.dumps({"per_class": per_class}))


@pytest.mark.hostile("compare")
def test_the_compare_stage_refuses_a_summary_without_support(tmp_path):
    # class z has no test image (every metric 0), but the summaries give no support, as evaluate always writes. Before,
    # the stage exited 0, counted z as tested and averaged its unmeasured 0s in (macro F1 0.4000 and 0.4500 where
    # evaluate's macro figures say 0.8000 and 0.9000); the report refuses the same summaries
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    for variant, score in (("baseline", 0.8), ("pruned", 0.9)):
        _write(project, variant, {"a": dict.fromkeys(PER_CLASS_METRICS, score),
                                  "z": dict.fromkeys(PER_CLASS_METRICS, 0.0)})
    assert refused_line(project, "compare") == (
        "error: metrics/evaluate/baseline/summary.json: per_class.a.support is missing, not a count of test images; "
        "rerun `dvc repro -f evaluate@baseline`")


@pytest.mark.hostile("compare")
def test_compare_over_runs_leaves_out_a_class_one_variants_summary_says_is_untested(tmp_path):
    # one run; baseline's summary.json says z has no test image (support 0), pruned's at the run's commit is broken, so
    # compare reads pruned's F1 as DVC shows it, without support. Before, z was averaged in at both variants (0.2500,
    # 0.3000) and paired as a class (a tie), with no note: the class left out only when every variant's summary said so
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    _write(project, "baseline", {"a": {**dict.fromkeys(PER_CLASS_METRICS, 0.5), "support": 5},
                                 "z": {**dict.fromkeys(PER_CLASS_METRICS, 0.0), "support": 0}})
    (project / summary_path("pruned")).parent.mkdir(parents=True)
    (project / summary_path("pruned")).write_text('{"per_class": ')
    init(project)
    shown = {v: {"per_class": {"a": {"f1": f1}, "z": {"f1": 0.0}}} for v, f1 in (("baseline", 0.5), ("pruned", 0.6))}
    measured = run_metrics({"experiment": "exp-1", "rev": "HEAD", "variants": shown}, metric="f1", repo=str(project))
    cells, tests = compare.seed_summary([measured], metric="f1", names=["exp-1"])
    assert cells.to_dict("index") == {"a": {"baseline": "0.5000", "pruned": "0.6000"},
                                      "z": {"baseline": "0.0000", "pruned": "0.0000"},
                                      "average": {"baseline": "0.5000", "pruned": "0.6000"},
                                      "std": {"baseline": "0.0000", "pruned": "0.0000"}}
    assert tests["row"].tolist() == ["a", "average"]
    assert compare.untested_rows_note([measured]) == (
        "Left out of the average and std rows and of the tests: z (no test image: its 0s are not measured), as "
        "evaluate's macro figures leave it out.")


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("names", "said"), [(["s0", "s1"], ("experiment s1", "experiment s0")),
                                             (None, ("run 2", "run 1"))])
def test_compare_over_runs_refuses_runs_whose_test_images_of_a_class_differ(names, said):
    # two seeds of one setting: the first run's summaries say z has no test image, the second's 4 (F1 0.8). Seeds of
    # one setting are tested on one split (ingest.split_seed, not seed, carves it). Before: z was left out of both runs'
    # average and of the tests, and its row read 0.4000 ± 0.5657, an unmeasured 0 averaged with a measured 0.8, under a
    # note that z had no test image
    def run(z: float, support: int) -> dict:
        return {v: {"per_class": {"a": {"f1": x, "support": 5}, "z": {"f1": z, "support": support}}}
                for v, x in (("baseline", 0.5), ("pruned", 0.6))}
    with pytest.raises(WinnowError) as refused:
        compare.seed_summary([run(0.0, 0), run(0.8, 4)], metric="f1", names=names)
    assert str(refused.value) == (f"{said[0]}: baseline: per_class.z.support is 4, but {said[1]}'s is 0; the runs "
                                  "compared are seeds of one setting, tested on one test split: rerun "
                                  "evaluate@baseline there, or leave the run out")


def _whole_clone_with_a_shallow_branch(tmp_path):
    """A whole clone of :func:`_shallow_clone`'s origin (4 commits: the project, then seeds 0, 1, 2), into which a
    branch ``other`` of two more commits was fetched at depth 1: the clone is shallow, HEAD's history whole."""
    _shallow_clone(tmp_path)
    origin = tmp_path / "origin"
    git(tmp_path, "clone", "-q", f"file://{origin}", "whole")
    git(origin, "checkout", "-q", "-b", "other")
    for n in range(2):
        (origin / "other.txt").write_text(str(n))
        commit(origin, f"other {n}")
    git(origin, "checkout", "-q", "main")
    whole = tmp_path / "whole"
    git(whole, "fetch", "-q", "--depth", "1", "origin", "other:other")
    assert git(whole, "rev-parse", "--is-shallow-repository") == "true\n"
    return whole


@pytest.mark.hostile("compare")
def test_compare_in_a_clone_made_shallow_by_another_branch_reads_heads_whole_history(tmp_path, capsys):
    # before: refused, "this clone is shallow, its history cut off 4 commit(s) back from HEAD ... or give --num 4",
    # though HEAD's 4 commits are the whole of its history (a false alarm; study collect --num -1 alike)
    whole = _whole_clone_with_a_shallow_branch(tmp_path)
    assert winnow(["compare", "--variants", "baseline", "--num", "5", "--repo", str(whole)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# Variants over 3 run(s) (seeds 2, 1, 0)\n")


@pytest.mark.hostile("compare")
def test_study_collect_rev_of_a_branch_fetched_shallow_is_refused(tmp_path, capsys):
    # --rev other --num 3: dvc exp show reads other, other~1 and other~2, and the clone holds other alone. Before, the
    # check counted HEAD's whole history and passed, and dvc read other alone: "error: study: no experiment is a study
    # run ...; queue some with `winnow study queue`", never a word of the commits the clone lacks
    whole = _whole_clone_with_a_shallow_branch(tmp_path)
    before = files_under(whole)
    assert winnow(["study", "collect", "--rev", "other", "--num", "3", "--repo", str(whole)]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: study collect --num 3: this clone is shallow, its history cut off 1 commit(s) "
                              "back from other, so the runs of the commits before cannot be read; fetch the whole "
                              "history (git fetch --unshallow; in CI, actions/checkout with fetch-depth: 0), or give "
                              "--num 1\n")
    assert_nothing_left(whole, before)


@pytest.mark.hostile("compare")
def test_compare_in_a_clone_as_deep_as_the_whole_history_is_not_refused(tmp_path, capsys):
    # a clone of depth 4 of a history of 4 commits (CI's fetch-depth past a young repository's commits; depth 1 of a
    # repository of one commit alike): git marks the root commit shallow, though it has no parent to lack. Before:
    # refused, "its history cut off 4 commit(s) back from HEAD ... or give --num 4"
    _shallow_clone(tmp_path)
    git(tmp_path, "clone", "-q", "--depth", "4", f"file://{tmp_path / 'origin'}", "deep")
    assert git(tmp_path / "deep", "rev-parse", "--is-shallow-repository") == "true\n"
    assert winnow(["compare", "--variants", "baseline", "--num", "5", "--repo", str(tmp_path / "deep")]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# Variants over 3 run(s) (seeds 2, 1, 0)\n")
