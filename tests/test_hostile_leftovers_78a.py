"""Hostile leftovers of the review of probe 78's merges (dedup orientations and keep, balance's few_sources and the
train@balanced guard):

- train@balanced held balanced to balance's settings, the seed, the policy and data/ingest, but not to what chose
  its edge cases: the features of models/baseline.pt, trained with the train section and train.augment's policy
  balance held it to then. train.epochs edited and train@balanced run alone (dvc repro -s train@balanced: its
  train params changed, balance and train@baseline skipped) trained the balanced variant whose edge cases the old
  baseline chose, exit 0; a full dvc repro re-makes it. Now refused in one line naming balance to rerun;
- train@augmented, the same guard's sibling, held augmented to pruned's rows and pixels alone: gan.train.epochs
  edited (or the seed, data/ingest, the baseline's training) and train@augmented run alone trained the old GAN's
  samples, exit 0. gan-synthesize records what it made them of; train refuses another in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from test_augment import _stage
from test_gan import gan_project
from test_hostile_balance_more import balance_project
from winnow.built_on import check_made_of
from winnow.errors import WinnowError
from winnow.stage import load_params, run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _balanced_with_edges(tmp_path, monkeypatch, **balance) -> Path:
    """A project (the cwd) whose balance stage has just written balanced with edge cases chosen (edge_fraction 0.5):
    a of 4 images, b of 2, c of 1; models/baseline.pt's features are given (each image's place on a line)."""
    labels = np.repeat([0, 1, 2], [4, 2, 1])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    project = balance_project(tmp_path / "project", images, labels, policy={"ops": ["noise"], "n": 1})
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["balance"] |= {"edge_fraction": 0.5, "edge_extra": 2.0, **balance}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["stages/balance.py"])
    stage = _stage("balance")
    monkeypatch.setattr(stage, "load", lambda *a, **k: (None, None))  # no models/baseline.pt: its features are given
    monkeypatch.setattr(stage, "run_as", lambda trained, config: trained)
    monkeypatch.setattr(stage, "embed", lambda classifier, images: np.arange(len(images), dtype=float)[:, None])
    monkeypatch.setattr(stage, "_examples", lambda *a, **k: None)  # the plot and the contract: not these tests'
    monkeypatch.setattr(stage.VariantContract, "check", lambda *a, **k: None)
    run(stage.main)
    return project


def _edit(project: Path, section: str, key: str, value) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[section][key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.mark.hostile("intermediates")
def test_train_balanced_refuses_balanced_whose_edge_cases_a_baseline_of_other_train_settings_chose(
        tmp_path, monkeypatch):
    project = _balanced_with_edges(tmp_path, monkeypatch)
    check_made_of("balanced", load_params())  # as made: passes
    epochs = load_params()["train"]["epochs"]
    _edit(project, "train", "epochs", epochs + 1)
    with pytest.raises(WinnowError) as refused:
        check_made_of("balanced", load_params())
    assert str(refused.value) == (
        f"data/variants/balanced/rows.parquet: its edge cases were chosen by models/baseline.pt trained with "
        f"train.epochs {epochs}, which is {epochs + 1} now; rerun the balance stage (dvc repro balance)")


@pytest.mark.hostile("intermediates")
def test_train_balanced_takes_a_train_edit_that_changes_no_weight_or_where_no_edge_case_was_chosen(
        tmp_path, monkeypatch):
    # train.eval_batch_size changes no weight of baseline (winnow.checkpoints.load compares none such): not refused
    project = _balanced_with_edges(tmp_path, monkeypatch)
    _edit(project, "train", "eval_batch_size", 7)
    check_made_of("balanced", load_params())
    # without edge cases (edge_fraction 0) the baseline chose nothing: a train edit leaves balanced as made
    other = _balanced_with_edges(tmp_path / "none", monkeypatch, edge_fraction=0)
    _edit(other, "train", "epochs", load_params()["train"]["epochs"] + 1)
    check_made_of("balanced", load_params())


@pytest.mark.hostile("intermediates")
def test_train_augmented_refuses_samples_of_another_gan_setting_and_takes_its_own(tmp_path, monkeypatch):
    project = gan_project(tmp_path / "project", weak_k=2)
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["stages/gan_synthesize.py"])
    run(_stage("gan_synthesize").main)
    check_made_of("augmented", load_params())  # as made: passes
    _edit(project, "gan", "per_class", 5)  # a device or the eval batch changes no sample: not recorded
    monkeypatch.setattr("sys.argv", ["stages/train.py", "augmented"])
    with pytest.raises(WinnowError) as refused:
        _stage("train").main()
    assert str(refused.value) == ("data/variants/augmented/rows.parquet: made with gan.per_class 4, which is 5 now; "
                                  "rerun the gan-synthesize stage (dvc repro gan-synthesize)")
    assert not Path("models/augmented.pt").exists()
