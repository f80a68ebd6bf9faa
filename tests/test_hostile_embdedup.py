"""Hostile intermediates of dedup's embedding search (issue 18 item 2): with ``dedup.embedding_radius`` set,
dedup reads data/represent; an embedding file that lacks an image, or no represent output at all, ends
the real stage in one line naming the file and the stage to rerun, with nothing left behind."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project, record_represent, run_stage
from winnow.degrade import perturbation_table
from winnow.imageset import write_imageset
from winnow.quality import score_table
from winnow.stage import write_json, write_table

SPLITS = {"train": 4, "val": 1, "test": 1}


@pytest.fixture
def project(tmp_path) -> Path:
    """data/degrade (two classes of random 8x8 images), its scores and a complete data/represent."""
    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline", "pruned"]  # oracle needs degrade on
    params["dedup"]["embedding_radius"] = 0.05
    root = make_project(tmp_path / "project", params)
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in SPLITS.items() for c in range(2) for i in range(n)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L")
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    write_imageset(root / "data/degrade", images, manifest, ["a", "b"])
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet")
    write_table(root / "data/score/scores.parquet", score_table(images, manifest, **params["score"]))
    write_representation(root, manifest["id"].tolist())
    return root


def write_representation(root: Path, ids: list[str]) -> None:
    """data/represent as the represent stage writes it: one embedding per id."""
    (root / "data/represent").mkdir(parents=True, exist_ok=True)
    np.save(root / "data/represent/embeddings.npy", np.eye(len(ids), 16, dtype=np.float32))
    write_json(root / "data/represent/ids.json", ids)
    record_represent(root)


@pytest.mark.hostile("intermediates")
def test_dedup_embedding_file_missing_a_train_image(project):
    ids = pd.read_parquet(project / "data/degrade/manifest.parquet")["id"].tolist()
    write_representation(project, [image_id for image_id in ids if image_id != "train-1-2"])
    before = files_under(project)
    line = assert_error_line(run_stage(project, "dedup"))
    assert line == ("error: data/represent/ids.json: 1 image(s) have no embedding, first 'train-1-2'; rerun the "
                    "represent stage (dvc repro represent)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_dedup_embedding_asked_for_without_the_represent_stage(project):
    for name in ("embeddings.npy", "ids.json"):
        (project / "data/represent" / name).unlink()
    before = files_under(project)
    line = assert_error_line(run_stage(project, "dedup"))
    assert line == "error: data/represent/embeddings.npy: missing; rerun the represent stage (dvc repro represent)"
    assert_nothing_left(project, before)


def test_dedup_runs_with_the_embedding_on(project):
    """The same project, intact: the stage finishes and reports its settings (the cases above fail for
    the file alone)."""
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = pd.read_json(project / "metrics/dedup.json", typ="series")
    assert metrics["embedding_radius"] == 0.05 and metrics["images"] == 12
    assert "warning: dedup" not in done.stdout


@pytest.mark.hostile("intermediates")
def test_a_radius_that_chains_most_of_train_into_one_group_is_warned_of(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["dedup"]["embedding_confirm"] = False  # the embedding alone links images
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ids = pd.read_parquet(project / "data/degrade/manifest.parquet")["id"].tolist()
    # every image a small step from the previous one: each pair of neighbours within the radius, the ends not
    angles = np.arange(len(ids)) * 0.2
    np.save(project / "data/represent/embeddings.npy",
            np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32))
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr[-2000:]
    # before: exit 0 without a word while most of train went (2,981 of 3,500 MNIST images at radius 0.05)
    # later, before removed images had to resemble one kept: "warning: dedup: removes 8 of 8 train images (100%) in 1
    # group(s), the largest of 12: near-duplicate links chain ...", all 8 gone. Now an image goes only as the copy of
    # a neighbour kept: the chain is cut into groups, and a line says how many images were joined only by the chain
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: dedup: ")][0] == (
        "warning: dedup: 7 image(s) joined a group only through a chain of copies and resemble none of the images it "
        "keeps: not removed as their copies or leaks, but grouped among themselves (3 kept); if they are many, lower "
        "dedup.radius or dedup.embedding_radius, or raise dedup.min_correlation")
    assert pd.read_json(project / "metrics/dedup.json", typ="series")["images_removed"] == 5


@pytest.mark.hostile("intermediates")
def test_a_removal_that_is_mostly_exact_copies_does_not_blame_the_radius(monkeypatch):
    # before: 63 pixel-identical images (a constant class) got the advice to lower the radius, which changes nothing
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("dedup", None)
    from dedup import chain_warning

    metrics = {"images_removed": 63, "groups": 3, "largest_group": 30,
               "removed": {"exact_duplicate": 60, "near_duplicate": 3, "flip_crop_duplicate": 0,
                           "embedding_duplicate": 0, "leak": 0}}
    assert chain_warning(metrics, train_images=90) == (
        "warning: dedup: removes 63 of 90 train images (70%) in 3 group(s), the largest of 30: 60 of them are "
        "pixel-identical to an image kept; check how the data was made, or leave dedup out of pruned.cleaners if "
        "such copies are what the data holds")


@pytest.mark.hostile("intermediates")
def test_a_kept_copy_of_a_label_fewer_of_its_copies_carry_is_said_so(monkeypatch):
    # f-0..f-4 are one group left by chained look-alikes (a fade), labels 0, 0, 1, 1, 1, and dedup kept f-0: no choice
    # there is the label most of the images that resemble it carry. p-0, p-1, p-2 (labels 1, 0, 1) keep the majority.
    # before: "the label most of the group's train copies carry in 2", f-0's 0 among them
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("dedup", None)
    from dedup import conflict_lines

    table = pd.DataFrame({"id": [f"f-{i}" for i in range(5)] + ["p-0", "p-1", "p-2"], "split": "train",
                          "label": [0, 0, 1, 1, 1, 1, 0, 1], "group": [0] * 5 + [1] * 3,
                          "group_size": [5] * 5 + [3] * 3,
                          "kept": [True] + [False] * 4 + [True, False, False], "label_conflict": True})
    assert conflict_lines(table, classes=["0", "1"]) == [
        "warning: dedup: 2 group(s) of copies carry more than one label; one train copy of each stays, under its "
        "label: the label most of the group's train copies carry in 1, on a tie the copy dedup.keep prefers in 0, a "
        "label fewer of them carry in 1, chosen after look-alikes that had chained into the group left it (e.g. f-0 "
        "as '0', not '1'; p-0 as '1', not '0'); check their labels (data/dedup/groups.parquet: label_conflict)"]


def test_embedding_pairs_to_confirm_without_a_thumbnail_check_are_refused():
    # before: embedding_confirm true with min_correlation null removed unrelated images on their embedding
    # alone, and metrics/dedup.json still said "embedding_confirm": true
    from hostile_harness import default_params
    from winnow.errors import WinnowError
    from winnow.params import validate

    params = default_params()
    params["dedup"] |= {"embedding_radius": 0.05, "embedding_confirm": True, "min_correlation": None}
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == (
        "params.yaml: dedup.embedding_confirm: true, but min_correlation is null: there is no thumbnail check to "
        "confirm embedding pairs with; set min_correlation or embedding_confirm: false")
