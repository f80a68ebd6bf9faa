"""Hostile inputs around the cleaning budget, stop 72:

- the represent stage rerun after the budget chose (its params edited: other features in data/represent/embeddings.npy,
  or another judge in models/represent.pt where it stood in for none's training in the model check) and variants run
  alone: the decisions are refused, naming the file that changed and the budget stage (before, pruned applied the cut
  chosen on the old embedding, exit 0); decisions that read no embedding (budget off) are not;
- a decisions file written before the budget recorded its cleaner files, judge splits or represent files (an earlier
  winnow's): refused, naming the record it lacks and the budget stage (before, read unchecked: pruned applied decisions
  chosen among cleaner files rewritten since, exit 0); the judge splits not where the budget was off (it judged none);
- degrade rerun with other labels of train images no decision names (the probes learnt the old ones) and variants run
  alone: refused, naming the budget stage (before, only the images the decisions name were compared: exit 0, the cut
  chosen on the old labels applied); not where the budget was off;
- a cleaner file damaged after the budget chose (dedup's groups given a null group): named as damaged, with its own
  stage to rerun (before, blamed on the budget as "written anew", whose rerun then refused the groups).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_nothing_left, files_under, planted_log
from test_hostile_budget import budget_stage
from test_hostile_threshold_64 import _stage_in_process
from winnow.imageset import read_imageset, write_imageset
from winnow.training import TrainConfig

DECISIONS = "data/budget/decisions.parquet"


def _budgeted(tmp_path, monkeypatch, capsys, **budget):
    """A budget project (budget_project.write_state, val judging) after the budget stage ran with ``budget`` merged
    into its section."""
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False,
                          params={"budget": budget})
    assert _stage_in_process(project, "budget", monkeypatch, capsys).returncode == 0
    return project


def _refused(project, monkeypatch, capsys, problem: str) -> None:
    """variants, run alone, refuses the decisions in the one line of ``problem``, leaving nothing behind."""
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (
        1, [f"error: {DECISIONS}: {problem}; rerun the budget stage (dvc repro budget)"])
    assert_nothing_left(project, before)


def _represent_reran(project) -> None:
    """data/represent/embeddings.npy as represent rerun on other params writes it: other features of the same images
    (made_from.json, which records the images and labels, unchanged)."""
    features = np.load(project / "data/represent/embeddings.npy")
    np.save(project / "data/represent/embeddings.npy", (features * [1.0, 4.0]).astype(np.float32))


@pytest.mark.hostile("budget")
def test_decisions_chosen_on_an_embedding_represent_wrote_anew_are_refused_by_variants(tmp_path, monkeypatch, capsys):
    # the budget's probes chose a cut on the embedding; then represent reran with other params (other features, the
    # same images) and variants ran alone (dvc repro -s variants). Before: exit 0, pruned applied the old cut
    project = _budgeted(tmp_path, monkeypatch, capsys)
    _represent_reran(project)
    _refused(project, monkeypatch, capsys, "judged by its probes on data/represent/embeddings.npy as it was before the "
                                           "represent stage wrote it anew (its bytes differ now)")


@pytest.mark.hostile("budget")
def test_an_embedding_rewritten_is_no_stale_input_of_a_budget_that_was_off(tmp_path, monkeypatch, capsys):
    # budget.enabled false: every decision, unjudged, no embedding read; represent rerun changes none of them
    project = _budgeted(tmp_path, monkeypatch, capsys, enabled=False)
    _represent_reran(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("seed", "refused"), [(5, True), (6, False)], ids=["judge_stood_in", "judge_not_read"])
def test_decisions_a_represent_judge_stood_in_for_is_refused_once_represent_trains_it_anew(tmp_path, monkeypatch,
                                                                                          capsys, seed, refused):
    # the model check took the represent judge (trained alike: seed 5, as params.yaml says) as none's training; then
    # represent reran and wrote another judge (models/represent.pt, the embedding the same) and variants ran alone.
    # Before: exit 0, the cut its check shipped against the old judge applied. A judge of another seed never stood in
    # (the budget trained none), so a judge written anew changes no decision
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False,
                          params={"budget": {"check": True}, "seed": 5})
    (project / "models").mkdir()
    # a readable torch file, as represent writes (its content is the mocked load's): one no stage could write is
    # refused as damaged (test_hostile_budget_72r)
    torch.save({"weights": torch.zeros(4)}, project / "models/represent.pt")
    params = yaml.safe_load((project / "params.yaml").read_text())
    judge = SimpleNamespace(config=TrainConfig.from_params(params["train"]), seed=seed)
    budget_judged_by(project, judge, monkeypatch, capsys)
    torch.save({"weights": torch.ones(4)}, project / "models/represent.pt")  # another judge, trained anew
    if refused:
        _refused(project, monkeypatch, capsys, "judged by the model check's none on models/represent.pt as it was "
                                               "before the represent stage wrote it anew (its bytes differ now)")
    else:
        done = _stage_in_process(project, "variants", monkeypatch, capsys)
        assert (done.returncode, done.stderr) == (0, "")


def _unrecord(project, key: str) -> None:
    """The decisions file as an earlier winnow wrote it: without the record ``key`` in its attrs."""
    decisions = pd.read_parquet(project / DECISIONS)
    del decisions.attrs[key]
    decisions.to_parquet(project / DECISIONS, index=False)


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("key", "words"), [("cleaner_files", "cleaner files it chose among"),
                                            ("judge_splits", "judge splits it judged on"),
                                            ("represent_files", "represent files it judged by"),
                                            ("train_split", "train split it judged by")])
def test_decisions_of_an_earlier_winnow_lacking_a_record_are_refused_by_variants(tmp_path, monkeypatch, capsys, key,
                                                                                words):
    # a decisions file written before the budget recorded what it chose among and judged by. Before: read unchecked
    # (cleaner_files, judge_splits), exit 0, though the cleaners' files or the judge split could have changed since
    project = _budgeted(tmp_path, monkeypatch, capsys)
    _unrecord(project, key)
    _refused(project, monkeypatch, capsys, f"records no {words} (an earlier winnow's file)")


@pytest.mark.hostile("budget")
def test_a_stale_cleaner_file_is_refused_in_a_decisions_file_lacking_its_record(tmp_path, monkeypatch, capsys):
    # the earlier winnow's file, chosen among confident-learn's decisions as they were; confident-learn rewrote its
    # table since (one relabel fewer). Before: exit 0, pruned relabelled the image confident-learn keeps now
    project = _budgeted(tmp_path, monkeypatch, capsys)
    _unrecord(project, "cleaner_files")
    path = project / "data/confident-learn/label_issues.parquet"
    issues = pd.read_parquet(path)
    issues.loc[0, ["is_issue", "decision"]] = [False, "keep"]
    issues.to_parquet(path, index=False)
    _refused(project, monkeypatch, capsys, "records no cleaner files it chose among (an earlier winnow's file)")


@pytest.mark.hostile("budget")
def test_judge_splits_unrecorded_are_no_stale_input_of_a_budget_that_was_off(tmp_path, monkeypatch, capsys):
    # budget off judged nothing: a file lacking the judge splits lacks nothing its decisions depend on
    project = _budgeted(tmp_path, monkeypatch, capsys, enabled=False)
    _unrecord(project, "judge_splits")
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.hostile("budget")
def test_represent_files_recorded_as_no_section_are_refused_in_one_line(tmp_path, monkeypatch, capsys):
    # the record's metadata edited by another tool to a list: refused as the other records of the wrong kind are
    project = _budgeted(tmp_path, monkeypatch, capsys)
    decisions = pd.read_parquet(project / DECISIONS)
    decisions.attrs["represent_files"] = ["data/represent/embeddings.npy"]
    decisions.to_parquet(project / DECISIONS, index=False)
    _refused(project, monkeypatch, capsys, 'records represent files ["data/represent/embeddings.npy"], not a section '
                                           "of files")


def _undecided_relabelled(project) -> None:
    """data/degrade as degrade rerun with other label noise writes it: 50 train images no decision names relabelled."""
    decided = set(pd.read_parquet(project / DECISIONS)["id"])
    data = read_imageset(project / "data/degrade")
    manifest = data.manifest.drop(columns=["digest"])
    free = manifest.index[(manifest["split"] == "train") & ~manifest["id"].isin(decided)][:50]
    manifest.loc[free, "label"] = (manifest.loc[free, "label"] + 1) % 3
    write_imageset(project / "data/degrade", np.asarray(data.images), manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))


@pytest.mark.hostile("budget")
def test_decisions_judged_on_train_labels_degrade_changed_since_are_refused_by_variants(tmp_path, monkeypatch, capsys):
    # the probes chose the cut learning the train labels; degrade reran (other label noise) relabelling 50 train images
    # no decision names, and variants ran alone. Before: exit 0, only the decided images' labels and pixels compared
    project = _budgeted(tmp_path, monkeypatch, capsys)
    _undecided_relabelled(project)
    _refused(project, monkeypatch, capsys, "judged by other train images than data/degrade's now (their ids, labels or "
                                           "pixels changed): made before degrade changed the data")


@pytest.mark.hostile("budget")
def test_train_labels_changed_are_no_stale_input_of_a_budget_that_was_off(tmp_path, monkeypatch, capsys):
    # budget off: every decision, unjudged; the labels of images no decision names changed none of them
    project = _budgeted(tmp_path, monkeypatch, capsys, enabled=False)
    _undecided_relabelled(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.hostile("budget")
def test_a_cleaner_file_damaged_since_the_budget_chose_is_named_as_damaged_not_as_rewritten(tmp_path, monkeypatch,
                                                                                            capsys):
    # dedup's groups given a null group by another tool after the budget chose among them. Before: "chosen among the
    # decisions of data/dedup/groups.parquet as it was before the dedup stage wrote it anew (its bytes differ now);
    # rerun the budget stage", which then refused the groups naming dedup: a cause and a fix one step off
    project = _budgeted(tmp_path, monkeypatch, capsys)
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    groups["group"] = groups["group"].astype("float64")
    groups.loc[groups["id"] == "train-0003", "group"] = None
    groups.to_parquet(project / "data/dedup/groups.parquet", index=False)
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: data/dedup/groups.parquet: column 'group' is empty in 1 row(s), first id 'train-0003'; rerun the dedup "
        "stage (dvc repro dedup)"])
    assert_nothing_left(project, before)


def budget_judged_by(project, judge, monkeypatch, capsys) -> None:
    """Run the budget stage's main in ``project`` with its model check's trainings stood in for: ``judge`` (the loaded
    represent model's record) as none's, and every training naming the left class for every image (a tie, whatever it
    learnt); its output read away."""
    stage = budget_stage()
    monkeypatch.setattr(stage, "fit", lambda *_, **__: None)
    monkeypatch.setattr(stage, "load", lambda *_, **__: (judge, []))
    monkeypatch.setattr(stage, "predict_proba", lambda model, images: np.eye(3)[np.zeros(len(images), int)])
    monkeypatch.chdir(project)
    stage.main()
    capsys.readouterr()
