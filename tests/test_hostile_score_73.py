"""Hostile cases of the score and threshold stages (probe 73):

- an option of a threshold method that another option of it leaves idle, moved from its default: auto's
  isolated_max beside tail_share null (which turns the isolated rule off), ght's omega beside kappa 0 (no prior to
  share) and ght's tau beside nu 0 (its prior weighed by nothing): accepted, and the cut was the same as without it;
- a degrade log whose quality damage names an image data/degrade does not hold, or a val image: the threshold stage
  counted it planted nowhere and scored its flags against it (no recall, and a precision of 0 where it flagged any);
- degrade's odd_size at a size above the stored one (the pixels kept, the manifest's sizes changed) after the score
  stage ran: threshold read the scores of the old sizes as current (odd_size flagged none of the 6, with a warning
  blaming the damage's strength), and once the scores were made again dedup read threshold's flags of the old sizes.

Stage cases run the real script in this process on a throwaway project of a few small images; the others call the
library the stages call."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import make_project, params_with, undamaged_params
from test_hostile_quality_70 import _refused
from test_hostile_threshold_64 import _stage_in_process
from winnow.degrade import perturbation_table
from winnow.imageset import write_imageset
from winnow.params import validate
from winnow.quality import score_table
from winnow.stage import write_table
from winnow.thresholds import threshold_rule

IDLE = "params.yaml: threshold.issues.dark."


@pytest.mark.hostile("score")
@pytest.mark.parametrize(("setting", "line"), [
    ({"method": "auto", "tail_share": None, "isolated_max": 20},
     "isolated_max: 20, but tail_share null turns the isolated rule off, so isolated_max would change nothing; drop "
     "isolated_max, or give tail_share a share such as 0.1"),
    ({"method": "ght", "omega": 0.9},
     "omega: 0.9, but kappa 0 (left out) leaves no prior for omega to share, so omega would change nothing; drop "
     "omega, or give kappa above 0"),
    ({"method": "ght", "nu": 0, "tau": 0.1},
     "tau: 0.1, but nu 0 gives tau's prior no weight, so tau would change nothing; drop tau, or give nu above 0, or "
     "null (1% of the images)"),
], ids=["isolated_max", "omega", "tau"])
def test_an_option_another_leaves_idle_is_refused_before_any_stage(tmp_path, monkeypatch, capsys, setting, line):
    # before: accepted, and the threshold stage cut exactly as without the option (tail_share null returns before the
    # isolated rule; ght's criterion weighs omega by kappa and tau by nu), exit 0: the edit was silently not applied
    make_project(tmp_path, params_with("threshold.issues.dark", setting))
    assert _refused(tmp_path, "threshold", monkeypatch, capsys) == f"error: {IDLE}{line}"


@pytest.mark.hostile("score")
def test_the_idle_options_cut_as_if_left_out():
    # the reason for the refusal above, measured: a group of 15 low scores among 285 clean ones
    rng = np.random.default_rng(1)
    scores = np.r_[np.clip(rng.normal(0.8, 0.05, 285), 0, 1), rng.uniform(0.05, 0.45, 15)]
    assert threshold_rule(scores, method="ght", omega=0.9) == threshold_rule(scores, method="ght")
    assert threshold_rule(scores, method="ght", nu=0, tau=0.1) == threshold_rule(scores, method="ght", nu=0, tau=1000)
    assert threshold_rule(scores, method="auto", tail_share=None, isolated_max=1) == threshold_rule(
        scores, method="auto", tail_share=None, isolated_max=1000)
    # where the option moves the cut, nothing is refused
    assert threshold_rule(scores, method="ght", kappa=1e3, omega=0.9) != threshold_rule(scores, method="ght",
                                                                                       kappa=1e3, omega=0.1)


@pytest.mark.hostile("score")
@pytest.mark.parametrize("setting", [
    {"method": "auto", "tail_share": None, "isolated_max": 10},  # at its default: as left out
    {"method": "auto", "tail_share": None, "isolated_max": None},  # null: the isolated rule off either way
    {"method": "ght", "kappa": 0.0, "omega": 0.5},
    {"method": "ght", "kappa": 2, "omega": 0.9},
    {"method": "ght", "tau": 0.1},  # nu left out: 1% of the images weigh tau
    {"method": "ght", "nu": 0, "tau": None},
])
def test_an_option_that_moves_the_cut_or_sits_at_its_default_is_accepted(setting):
    validate(params_with("threshold.issues.dark", setting))


def _project_with_log(root: Path, rows: list[dict]) -> Path:
    """data/degrade of 40 random 8x8 images (30 train, 10 val), their scores, and degrade's log of ``rows``."""
    images = np.random.default_rng(0).integers(60, 256, (40, 8, 8, 3), dtype=np.uint8)
    manifest = pd.DataFrame({"id": [f"i{k:03d}" for k in range(40)], "split": ["train"] * 30 + ["val"] * 10,
                             "label": np.arange(40) % 2, "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "RGB"})
    params = undamaged_params()
    make_project(root, params)
    write_imageset(root / "data/degrade", images, manifest, ["a", "b"])
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table(rows))
    written = pd.read_parquet(root / "data/degrade/manifest.parquet")
    write_table(root / "data/score/scores.parquet", score_table(images, written, **params["score"]))
    return root


@pytest.mark.hostile("score")
@pytest.mark.parametrize(("image", "problem"), [
    ("cifar-00017", "image 'cifar-00017': brightness names an image data/degrade does not hold (a log of another data "
                    "set?); degrade damages its own train images"),
    ("i035", "image 'i035': brightness of a val image; degrade damages train images only"),
])
def test_a_degrade_log_of_images_degrade_never_damages_is_refused(tmp_path, monkeypatch, capsys, image, problem):
    # before: exit 0, dark "planted" (precision, recall and F1 entries in metrics/threshold.json) though none of the
    # images it scores was planted: a flag would have counted as a false positive, and the real log's damage as none
    row = {"id": image, "kind": "brightness", "params": '{"factor": 0.05}', "source_id": None, "original_label": -1}
    project = _project_with_log(tmp_path, [row])
    assert _refused(project, "threshold", monkeypatch, capsys) == (
        f"error: data/degrade/perturbations.parquet: {problem}; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("score")
def test_a_degrade_log_of_its_own_train_images_is_scored(tmp_path, monkeypatch, capsys):
    # the other side: the same row naming a train image of data/degrade is read, and dark scored against it
    row = {"id": "i003", "kind": "brightness", "params": '{"factor": 0.05}', "source_id": None, "original_label": -1}
    project = _project_with_log(tmp_path, [row])
    assert _stage_in_process(project, "threshold", monkeypatch, capsys).returncode == 0
    dark = json.loads((project / "metrics/threshold.json").read_text())["dark"]
    assert dark["tp"] + dark["fn"] == 1  # the one planted train image, found or missed


def _odd_sizes_planted(root: Path, *, before=None) -> tuple[pd.DataFrame, list[str]]:
    """data/degrade of 60 random 16x16 images and their scores (then ``before()``, given), then degrade's odd_size at
    60x60 on 6 of them in place (their pixels as they were: only the manifest's sizes change) without the stages after
    it rerun. Returns the manifest now and the ids planted."""
    from winnow.degrade import degrade
    from winnow.imageset import read_imageset

    images = np.random.default_rng(0).integers(0, 256, (60, 16, 16, 3), dtype=np.uint8)
    manifest = pd.DataFrame({"id": [f"i{k:03d}" for k in range(60)], "split": "train", "label": np.arange(60) % 2,
                             "source": "t", "orig_h": 16, "orig_w": 16, "orig_mode": "RGB"})
    params = undamaged_params()
    make_project(root, params)
    write_imageset(root / "data/degrade", images, manifest, ["a", "b"])
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    data = read_imageset(root / "data/degrade")
    write_table(root / "data/score/scores.parquet", score_table(images, data.manifest, **params["score"]))
    if before is not None:
        before()
    out, log = degrade(data, perturbations=[{"kind": "odd_size", "fraction": 0.1, "size": 60}], seed=0)
    assert np.array_equal(np.asarray(out.images), images)  # the case: the digests cannot tell
    write_imageset(root / "data/degrade", np.asarray(out.images), out.manifest.drop(columns=["digest"]), data.classes)
    write_table(root / "data/degrade/perturbations.parquet", log)
    return read_imageset(root / "data/degrade").manifest, sorted(log["id"])


@pytest.mark.hostile("score")
def test_scores_of_original_sizes_degrade_has_since_changed_are_refused(tmp_path, monkeypatch, capsys):
    # before: exit 0, odd_size 0 flagged and "warning: threshold: odd_size found none of the 6 train images degrade
    # planted with it: at that strength the damage does not set them apart" (recall 0): the scores were of the sizes
    # before degrade, which the pixel digests do not hold; rescored, all 6 are flagged
    _odd_sizes_planted(tmp_path)
    assert _refused(tmp_path, "threshold", monkeypatch, capsys) == (
        "error: data/score/scores.parquet: scored other original sizes (orig_h, orig_w) than data/degrade's manifest "
        "gives now, which the blurry, odd_size and odd_aspect_ratio scores read: made before degrade changed them; "
        "rerun the score stage (dvc repro score)")


@pytest.mark.hostile("score")
def test_scores_made_again_after_degrade_changed_the_sizes_flag_them(tmp_path, monkeypatch, capsys):
    # the refusal's advice followed: the score stage rerun, threshold flags the 6 files now 60x60 among 16x16 ones
    manifest, planted = _odd_sizes_planted(tmp_path)
    assert _stage_in_process(tmp_path, "score", monkeypatch, capsys).returncode == 0
    done = _stage_in_process(tmp_path, "threshold", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    flags = pd.read_parquet(tmp_path / "data/threshold/flags.parquet")
    assert sorted(flags.loc[flags["odd_size"], "id"]) == planted
    assert len(planted) == 6 and (manifest.set_index("id").loc[planted, ["orig_h", "orig_w"]] == 60).all().all()


@pytest.mark.hostile("score")
def test_flags_of_original_sizes_degrade_has_since_changed_are_refused(tmp_path, monkeypatch, capsys):
    # before: threshold's flags of the sizes before degrade's odd_size (none flagged odd_size) read by dedup as current
    # once the scores were made again (dvc repro -s score, then -s dedup), exit 0: the flags that choose which copy
    # each group keeps, and that pruned drops, left the 6 odd-size files unflagged
    def thresholded():
        assert _stage_in_process(tmp_path, "threshold", monkeypatch, capsys).returncode == 0

    _odd_sizes_planted(tmp_path, before=thresholded)
    assert _stage_in_process(tmp_path, "score", monkeypatch, capsys).returncode == 0
    assert _refused(tmp_path, "dedup", monkeypatch, capsys) == (
        "error: data/threshold/flags.parquet: judged other original sizes (orig_h, orig_w) than data/degrade's manifest "
        "gives now: made before degrade changed them; rerun the threshold stage (dvc repro threshold)")
