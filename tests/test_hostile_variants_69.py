"""Hostile variants cases of stop 69: the budget's decisions applied after params.yaml pruned.cleaners changed under
them (the variants stage run alone, `dvc repro -s variants` or by hand, before the budget reran). On the project of
review_project.py (every cleaner in pruned.cleaners), made once for the module; each case on a copy."""

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hostile_harness import budget_stamped, files_under
from review_project import write_project
from winnow.decision_files import read_decisions, stamped
from winnow.decision_inputs import cleaner_files
from winnow.errors import WinnowError
from winnow.stage import write_table


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return write_project(tmp_path_factory.mktemp("variants69") / "project")


@pytest.fixture
def project(made, tmp_path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "project"))


def _cleaners(root: Path, cleaners: list[str]) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["pruned"]["cleaners"] = cleaners
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.mark.hostile("intermediates")
def test_decisions_of_a_cleaner_pruned_cleaners_no_longer_lists_are_refused_not_applied(project, monkeypatch):
    # the budget chose threshold's drop of train-00, dedup's of train-02 and the relabels of confident-learn (train-04)
    # and embedding-clean (train-06). Before: with pruned.cleaners cut to [threshold], pruned still dropped train-02
    # and relabelled train-04 and train-06 ("pruned 10 train images"), exit 0
    _cleaners(project, ["threshold"])
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("variants", None)
    from variants import main  # the stage's main, in-process (the stage script prints the line after "error: ")

    before = files_under(project)
    with pytest.raises(WinnowError) as raised:
        main()
    assert str(raised.value) == (
        "data/budget/decisions.parquet: 3 decision(s) of a cleaner params.yaml pruned.cleaners does not list "
        "(threshold) (first: id 'train-02', by dedup): made before pruned.cleaners changed; rerun the budget stage "
        "(dvc repro budget)")
    assert files_under(project) == before  # no variant, no metrics/variants.json


@pytest.mark.hostile("intermediates")
def test_dedup_s_leak_drops_are_read_whatever_pruned_cleaners_lists(project, monkeypatch):
    # the budget adds dedup's leak drops (a train copy of a val or test image) to every winner, dedup among the
    # cleaners or not: train-03's leak drop beside threshold's drop of train-00, under pruned.cleaners [threshold]
    decisions = pd.DataFrame({"id": ["train-00", "train-03"], "action": "drop", "label": -1,
                              "reason": ["dark", "leak"], "stage": ["threshold", "dedup"]})
    write_table(project / "data/budget/decisions.parquet", budget_stamped(project, decisions))
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    monkeypatch.chdir(project)  # as the variants stage runs: the cleaner files recorded are hashed there
    read = read_decisions(project / "data/budget/decisions.parquet", written_by="budget", num_classes=3,
                          manifest=manifest, cleaners=["threshold"])
    assert read[["id", "stage", "reason"]].values.tolist() == [["train-00", "threshold", "dark"],
                                                               ["train-03", "dedup", "leak"]]


@pytest.mark.hostile("intermediates")
def test_decisions_chosen_before_pruned_cleaners_gained_a_cleaner_are_refused_not_applied_without_it(project,
                                                                                                  monkeypatch):
    # the budget, run under pruned.cleaners [threshold, dedup], chose their drops of train-00 and train-02; then
    # confident_learn was added. Before: pruned went without confident-learn's relabel of train-04, exit 0
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    decisions = pd.DataFrame({"id": ["train-00", "train-02"], "action": "drop", "label": -1,
                              "reason": ["dark", "near_duplicate"], "stage": ["threshold", "dedup"]})
    monkeypatch.chdir(project)  # as the variants stage runs: the cleaner files recorded are hashed there
    write_table(project / "data/budget/decisions.parquet",
                stamped(decisions, manifest=manifest, cleaners=["threshold", "dedup"],
                        read_from=cleaner_files(["threshold", "dedup"]), represented={}))
    path = project / "data/budget/decisions.parquet"
    with pytest.raises(WinnowError) as raised:
        read_decisions(path, written_by="budget", num_classes=3, manifest=manifest,
                       cleaners=["threshold", "dedup", "confident_learn"])
    assert str(raised.value) == (
        f"{path}: chosen among the decisions of pruned.cleaners dedup, threshold, but params.yaml lists threshold, "
        "dedup, confident_learn now; rerun the budget stage (dvc repro budget)")
    # the same cleaners in another order are the same choice
    assert read_decisions(path, written_by="budget", num_classes=3, manifest=manifest,
                          cleaners=["dedup", "threshold"])["id"].tolist() == ["train-00", "train-02"]
