"""Hostile dedup, probe 74:

- a degrade log whose duplicate rows name a copy or a source data/degrade does not hold (a log of another data set),
  a val image, or no source at all: dedup scored its groups against copies planted nowhere (precision, recall and F1
  0, its pixel-identical copies counted in ``detection.left_out``), exit 0, where the threshold stage refuses such a
  log of quality damage. Now one line naming the log, the row's image and degrade as the stage to rerun;
- score's percentiles edited and the score stage rerun, then a reader of dedup's groups run alone: under keep
  best_quality the groups kept the copy the old quality scores ranked first, and were read as dedup's choice now
  (dedup rerun keeps the other). The groups now record the score settings of the scores they kept copies by, and every
  reader refuses them after an edit, in one line naming each setting then and now; keep first, groups that chose
  no copy and groups of scores that record nothing are read as before;
- represent rerun on other features, then a reader of groups that dedup.embedding_radius's search made run alone: the
  copies the old embedding linked were read as dedup's now. The groups now record the sha256 of the represent files
  the search read, and every reader refuses them once those bytes differ (a file damaged since names represent);
  groups made without the embedding's search are read whatever represent writes;
- a groups table whose reason of a removed train copy of a test image reads "Leak" or null (another tool's, or an
  edit): read, and with dedup not among pruned.cleaners the copy was judged as any train image and kept by pruned,
  which drops only reason "leak" whatever its cleaners. Every reader now refuses a reason dedup never writes, in one
  line naming the image.

Stage cases run the real script in this process on a throwaway project of a few 8x8 images; the others call the
library the stage calls."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import (assert_nothing_left, files_under, make_project, planted_log,
                             record_represent, undamaged_params)
from test_hostile_dedup_more import dedup_project
from test_hostile_quality_70 import _refused
from test_hostile_threshold_64 import _stage_in_process
from winnow.degrade import perturbation_table
from winnow.errors import WinnowError
from winnow.imageset import write_imageset
from winnow.judged_rows import read_filters
from winnow.quality import score_table
from winnow.stage import write_json, write_table

SPLITS = ["train"] * 6 + ["val", "test"]
LOG = "data/degrade/perturbations.parquet"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """data/degrade of 8 random 8x8 images (train-1 a pixel copy of train-0) and their scores, degrade's log empty."""
    return dedup_project(tmp_path_factory.mktemp("dedup74") / "project", splits=SPLITS, copies={1: 0})


@pytest.fixture
def project(built, tmp_path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "project"))


def _log(project: Path, copy: str, source: str | None) -> None:
    """degrade's log of one exact copy ``copy`` of ``source``, as degrade writes it."""
    write_table(project / LOG, perturbation_table([{"id": copy, "kind": "exact_duplicate", "params": "{}",
                                                    "source_id": source, "original_label": 0}]))


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("copy", "source", "problem"), [
    # another data set's ids: before, detection precision, recall and F1 0 (tp 0, fp 0, fn 0) and the real copy
    # train-1 of train-0 counted in left_out, exit 0
    ("cifar-00017", "cifar-00003", "image 'cifar-00017': exact_duplicate names an image data/degrade does not hold (a "
                                   "log of another data set?); degrade copies its own train images"),
    # the copy is ours, its source another set's: before, train-1 scored as found (tp 1) and train-0 left out
    ("train-1", "cifar-00003", "image 'train-1': exact_duplicate source 'cifar-00003' names an image data/degrade does "
                               "not hold (a log of another data set?); degrade copies its own train images"),
    ("val-6", "train-0", "image 'val-6': exact_duplicate is a val image; degrade copies train images only"),
    ("train-1", "test-7", "image 'train-1': exact_duplicate source 'test-7' is a test image; degrade copies train "
                          "images only"),
    ("train-1", None, "image 'train-1': exact_duplicate names no source image; degrade records the train image each "
                      "copy is of"),
], ids=["other-set", "other-source", "val-copy", "test-source", "no-source"])
def test_a_degrade_log_of_copies_degrade_never_plants_is_refused(project, monkeypatch, capsys, copy, source,
                                                                  problem):
    _log(project, copy, source)
    assert _refused(project, "dedup", monkeypatch, capsys) == (
        f"error: {LOG}: {problem}; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
def test_a_degrade_log_of_its_own_train_copy_is_scored(project, monkeypatch, capsys):
    # the other side: train-1, the copy of train-0 that the log names, is found, and so is its source
    _log(project, "train-1", "train-0")
    before = files_under(project)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    assert files_under(project) - before == {"data/dedup/groups.parquet", "metrics/dedup.json"}
    detection = json.loads((project / "metrics/dedup.json").read_text())["detection"]
    assert (detection["tp"], detection["fp"], detection["fn"], detection["left_out"]) == (2, 0, 0, 0)


def _jittered_project(root: Path) -> Path:
    """data/degrade of six 16x16 train images and a val one, i1 a brightened, lower-contrast copy of i0 (x0.81 +39):
    under the default score settings i0 has the higher mean quality, under dark_percentile 50 and light_percentile 95
    i1 has; their scores at the defaults."""
    rng = np.random.default_rng(0)
    for _ in range(9):  # the ninth draw of the search that found such a pair
        source = rng.integers(0, 256, (1, 16, 16, 1)).astype(np.float64)
        factor, shift = rng.uniform(0.4, 1.6), rng.uniform(-60, 60)
    copy = np.clip(source * factor + shift, 0, 255)
    images = np.concatenate([source, copy, np.random.default_rng(5).integers(0, 256, (4, 16, 16, 1))]).astype(np.uint8)
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(6)], "split": ["train"] * 5 + ["val"], "label": 0,
                             "source": "t", "orig_h": 16, "orig_w": 16, "orig_mode": "L"})
    params = undamaged_params()
    make_project(root, params)
    write_imageset(root / "data/degrade", images, manifest, ["a"])
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    _scored(root, params["score"])
    return root


def _scored(root: Path, score: dict) -> None:
    """data/score/scores.parquet as the score stage writes it under the ``score`` section."""
    from winnow.imageset import read_imageset

    imageset = read_imageset(root / "data/degrade")
    write_table(root / "data/score/scores.parquet", score_table(np.asarray(imageset.images), imageset.manifest,
                                                                **score))


def _kept(root: Path) -> list[str]:
    groups = pd.read_parquet(root / "data/dedup/groups.parquet")
    return groups.loc[groups["group_size"].gt(1) & groups["kept"], "id"].tolist()


@pytest.mark.hostile("intermediates")
def test_groups_kept_by_scores_of_other_score_settings_are_refused_by_their_readers(tmp_path, monkeypatch, capsys):
    # score.dark_percentile and light_percentile edited, the score stage rerun (dvc repro -s score), then a reader of
    # the groups run alone: before, read_filters (the label cleaners', the budget's) took the group keeping i0 as
    # dedup's choice now, exit 0, where dedup rerun keeps i1 (the copy the new scores rank higher)
    project = _jittered_project(tmp_path / "project")
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    assert _kept(project) == ["i0"]
    stale = project / "stale-groups.parquet"
    shutil.copy(project / "data/dedup/groups.parquet", stale)
    params = undamaged_params()
    params["score"] |= {"dark_percentile": 50.0, "light_percentile": 95.0}
    make_project(project, params)
    _scored(project, params["score"])
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    shutil.copy(stale, project / "data/dedup/groups.parquet")
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=params)
    assert str(refused.value) == (
        "data/dedup/groups.parquet: kept each group's copy by quality scores made at other settings than params.yaml's "
        "score section (light_percentile 75 then, 95 now; dark_percentile 99 then, 50 now); rerun the dedup stage "
        "(dvc repro dedup)")
    assert_nothing_left(project, before)
    # the reason, measured: dedup now keeps the other copy
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    assert _kept(project) == ["i1"]
    assert read_filters(manifest, params=params)[1]["kept"].tolist() == [False, True, True, True, True, True]


@pytest.mark.hostile("intermediates")
def test_groups_kept_first_or_recording_no_scores_are_read_after_a_score_edit(tmp_path, monkeypatch, capsys):
    # keep first never reads the scores: its groups are read under other score settings; and groups of scores that
    # record no settings (an earlier winnow's) are read as before
    project = _jittered_project(tmp_path / "project")
    params = undamaged_params()
    params["dedup"]["keep"] = "first"
    make_project(project, params)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    params["score"]["dark_percentile"] = 50.0
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    assert read_filters(manifest, params=params)[1]["kept"].tolist() == [True, False, True, True, True, True]
    scores = pd.read_parquet(project / "data/score/scores.parquet")
    scores.attrs = {}
    write_table(project / "data/score/scores.parquet", scores)
    params = undamaged_params()  # keep best_quality
    make_project(project, params)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    params["score"]["dark_percentile"] = 50.0
    assert read_filters(manifest, params=params)[1]["kept"].tolist() == [True, False, True, True, True, True]



@pytest.mark.hostile("intermediates")
def test_groups_that_chose_no_copy_are_read_after_a_score_edit(project, monkeypatch, capsys):
    # keep best_quality, but no group holds two train images (train-1 deleted from the data: no copy left), so the
    # scores chose nothing: the groups are read under other score settings
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    params = yaml.safe_load((project / "params.yaml").read_text())
    images = np.random.default_rng(1).integers(0, 256, (len(SPLITS), 8, 8, 1), dtype=np.uint8)
    write_imageset(project / "data/degrade", images, manifest.drop(columns="digest"), ["a", "b"],
                   tables=planted_log(project / "data/degrade"))
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    _scored(project, params["score"])
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    params["score"]["dark_percentile"] = 50.0
    assert read_filters(manifest, params=params)[1]["reason"].eq("unique").all()


def _embedded(root: Path, features: np.ndarray) -> None:
    """data/represent as the represent stage writes it: ``features``, a row an image of data/degrade in its order."""
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet")
    (root / "data/represent").mkdir(parents=True, exist_ok=True)
    np.save(root / "data/represent/embeddings.npy", features.astype(np.float32))
    write_json(root / "data/represent/ids.json", manifest["id"].tolist())
    record_represent(root)


@pytest.mark.hostile("intermediates")
def test_groups_linked_by_an_embedding_represent_wrote_anew_are_refused_by_their_readers(tmp_path, monkeypatch,
                                                                                          capsys):
    # dedup.embedding_radius 0.01 unconfirmed, keep first: train-2 and train-3 (pixels unrelated) share an embedding,
    # so dedup removes train-3 as train-2's embedding_duplicate. Then represent writes other features (its params
    # edited, dvc repro -s represent), in which no two images lie near, and a reader of the groups runs alone: before,
    # read_filters (the label cleaners', the budget's) took train-3's removal as dedup's choice now, exit 0, where
    # dedup rerun keeps it
    project = dedup_project(tmp_path / "project", splits=SPLITS, copies={},
                            dedup={"embedding_radius": 0.01, "embedding_confirm": False, "keep": "first"})
    params = yaml.safe_load((project / "params.yaml").read_text())
    features = np.eye(len(SPLITS), 16)
    features[3] = features[2]
    _embedded(project, features)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    assert read_filters(manifest, params=params)[1]["reason"].tolist()[2:4] == ["kept", "embedding_duplicate"]
    _embedded(project, np.eye(len(SPLITS), 16))
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=params)
    assert str(refused.value) == (
        "data/dedup/groups.parquet: grouped by the embedding's search on data/represent/embeddings.npy as it was "
        "before the represent stage wrote it anew (its bytes differ now); rerun the dedup stage (dvc repro dedup)")
    assert_nothing_left(project, before)
    # the reason, measured: dedup now keeps train-3
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    assert read_filters(manifest, params=params)[1]["reason"].tolist()[2:4] == ["unique", "unique"]
    # an embedding file damaged since names represent, which writes it again
    (project / "data/represent/ids.json").write_text("{}")
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=params)
    assert str(refused.value) == ("data/represent/ids.json: not a list of image ids; rerun the represent stage (dvc "
                                  "repro represent)")


@pytest.mark.hostile("intermediates")
def test_groups_without_the_embedding_search_are_read_whatever_represent_writes(project, monkeypatch, capsys):
    # the default run (embedding_radius null) reads no embedding: represent rewritten since moves none of its links
    _embedded(project, np.eye(len(SPLITS), 16))
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    _embedded(project, np.eye(len(SPLITS), 16)[::-1])
    params = yaml.safe_load((project / "params.yaml").read_text())
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    assert read_filters(manifest, params=params)[1]["reason"].tolist()[:2] == ["kept", "exact_duplicate"]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("reason", "problem"), [
    ("Leak", "reason 'Leak' of id 'train-1' is none of those dedup writes (unique, kept, eval_copy, exact_duplicate, "
             "near_duplicate, flip_crop_duplicate, turned_duplicate, embedding_duplicate, leak)"),
    (None, "no reason for id 'train-1'"),
])
def test_groups_whose_reason_is_none_dedup_gives_are_refused_by_their_readers(tmp_path, monkeypatch, capsys, reason,
                                                                              problem):
    # train-1 copies test-7, so dedup removes it as a leak; its reason then rewritten (another tool's groups, an edit).
    # before: with dedup not among pruned.cleaners, read_filters read the groups and considered_rows judged train-1 as
    # any train image (only reason "leak" marks the copies pruned drops whatever its cleaners), exit 0
    project = dedup_project(tmp_path / "project", splits=SPLITS, copies={1: 7})
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    assert groups.loc[1, ["kept", "reason"]].tolist() == [False, "leak"]
    groups.loc[1, "reason"] = reason
    groups.to_parquet(project / "data/dedup/groups.parquet")
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    params = yaml.safe_load((project / "params.yaml").read_text())
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=params, cleaners=["threshold"])
    assert str(refused.value) == f"data/dedup/groups.parquet: {problem}; rerun the dedup stage (dvc repro dedup)"
