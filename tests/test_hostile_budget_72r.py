"""Review of stop 72's budget records (01de00e5): cases next to the ones it handled.

- the previous winnow's decisions file of a budget that was off (budget.enabled false: every decision, unjudged, no
  represent file read), lacking the represent files record (and the train split's) that winnow did not write yet: read,
  as the judge splits' absence already was there (before, refused: "records no represent files it judged by (an
  earlier winnow's file)", though the budget had read none); one of a budget that was on stays refused
  (test_hostile_budget_72);
- a represent file the decisions record damaged or removed since the budget chose (data/represent/embeddings.npy or
  ids.json gone, ids.json no list, models/represent.pt missing or a bit flipped where the represent judge stood in
  for none): refused naming the file's damage and the represent stage, as a damaged cleaner file already names its own
  stage (before, "as it was before the represent stage wrote it anew (its bytes differ now); rerun the budget stage",
  whose rerun then refused the file naming represent: a cause and a fix one step off).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import yaml

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_nothing_left, files_under, flip_a_bit
from test_hostile_budget_72 import _budgeted, _unrecord, budget_judged_by
from test_hostile_threshold_64 import _stage_in_process
from winnow.training import TrainConfig

JUDGE = "models/represent.pt"


def _refused(project, monkeypatch, capsys, line: str) -> None:
    """variants, run alone, refuses in the one ``line``, leaving nothing behind."""
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [line])
    assert_nothing_left(project, before)


@pytest.mark.hostile("budget")
@pytest.mark.parametrize("lacking", [["represent_files"], ["represent_files", "train_split"]],
                         ids=["represent_files", "represent_files_and_train_split"])
def test_the_previous_winnows_decisions_of_a_budget_that_was_off_are_read(tmp_path, monkeypatch, capsys, lacking):
    # budget.enabled false read no embedding and no judge (its decisions record none: {}), so a file without that
    # record lacks nothing they depend on. Before: refused, "records no represent files it judged by (an earlier
    # winnow's file); rerun the budget stage", a rerun that writes the same decisions
    project = _budgeted(tmp_path, monkeypatch, capsys, enabled=False)
    for key in lacking:
        _unrecord(project, key)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    assert (project / "data/variants/pruned/rows.parquet").is_file()


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("damage", "line"), [
    ("embeddings_removed", "error: data/represent/embeddings.npy: missing; rerun the represent stage "
                           "(dvc repro represent)"),
    ("ids_removed", "error: data/represent/ids.json: missing; rerun the represent stage (dvc repro represent)"),
    ("ids_no_list", "error: data/represent/ids.json: not a list of image ids; rerun the represent stage "
                    "(dvc repro represent)"),
])
def test_an_embedding_damaged_since_the_budget_chose_is_named_as_damaged_with_its_stage(tmp_path, monkeypatch, capsys,
                                                                                       damage, line):
    # the probes chose on data/represent as it was; then a file of it was removed or overwritten by another tool.
    # Before: "judged by its probes on data/represent/... as it was before the represent stage wrote it anew (its
    # bytes differ now); rerun the budget stage", whose rerun refused the embedding naming represent
    project = _budgeted(tmp_path, monkeypatch, capsys)
    if damage == "embeddings_removed":
        (project / "data/represent/embeddings.npy").unlink()
    elif damage == "ids_removed":
        (project / "data/represent/ids.json").unlink()
    else:
        (project / "data/represent/ids.json").write_text('{"ids": []}')
    _refused(project, monkeypatch, capsys, line)


def _judge_stood_in(tmp_path, monkeypatch, capsys):
    """A budget project whose model check took the represent judge (models/represent.pt, a torch file; trained as
    params.yaml says: seed 5) as none's training, as test_hostile_budget_72's judge case: its decisions record the
    judge's bytes."""
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False,
                          params={"budget": {"check": True}, "seed": 5})
    (project / "models").mkdir()
    torch.save({"weights": torch.arange(4096, dtype=torch.float32)}, project / JUDGE)
    params = yaml.safe_load((project / "params.yaml").read_text())
    judge = SimpleNamespace(config=TrainConfig.from_params(params["train"]), seed=5)
    budget_judged_by(project, judge, monkeypatch, capsys)
    return project


@pytest.mark.hostile("budget")
def test_a_represent_judge_removed_since_it_stood_in_for_none_is_named_missing_with_its_stage(tmp_path, monkeypatch,
                                                                                             capsys):
    # Before: "judged by the model check's none on models/represent.pt as it was before the represent stage wrote it
    # anew (its bytes differ now); rerun the budget stage": no stage had written it anew
    project = _judge_stood_in(tmp_path, monkeypatch, capsys)
    (project / JUDGE).unlink()
    _refused(project, monkeypatch, capsys, "error: models/represent.pt: model file not found; rerun the represent stage "
                                           "(dvc repro represent)")


@pytest.mark.hostile("budget")
def test_a_represent_judge_with_a_bit_flipped_since_it_stood_in_is_named_corrupt_with_its_stage(tmp_path, monkeypatch,
                                                                                               capsys):
    # a bad disk or copy changed one bit of the judge after the budget chose. Before: blamed on a represent rerun
    # ("wrote it anew"), the budget stage to rerun, which then refused the judge as corrupt naming represent
    project = _judge_stood_in(tmp_path, monkeypatch, capsys)
    member = flip_a_bit(project / JUDGE)
    _refused(project, monkeypatch, capsys, f"error: models/represent.pt: corrupt: its member {member} fails its CRC-32 "
                                           "check (a bit changed on disk or in a copy); rerun the represent stage "
                                           "(dvc repro represent)")
