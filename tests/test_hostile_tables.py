"""Hostile intermediates, continued: a table of one row per image (scores, flags, groups) with a repeated,
missing or unknown id or a score outside [0, 1], an images.npy whose header was rewritten without its
bytes, an embedding of no features and an imageset of no images.

Each case copies a tiny pipeline state (3 classes of random 8x8 images in data/degrade, its scores, flags,
groups and embedding), damages one file, runs the real stage and asserts the one line that names the file
and the stage to rerun, and that nothing was left behind. No case trains a model: each error comes first.
"""

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import (
    edit_table, make_project, refused_line, repeat_first, run_stage, tiny_degraded, undamaged_params,
)
from winnow.imageset import read_imageset, write_imageset

IMAGES = 30  # 3 classes of 10


def _params() -> dict:
    params = undamaged_params()
    params["embedding_clean"]["k"] = 5  # 6 train images a class: enough for 5 neighbours of its own
    return params


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """data/degrade, and the score, threshold, dedup and represent outputs for it: nothing flagged, no
    duplicate."""
    root = make_project(tmp_path_factory.mktemp("template"), _params())
    manifest, images, scores = tiny_degraded(root, score=_params()["score"], clean_tables=True)
    return root


@pytest.fixture
def project(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "project"))


# what each refusing stage writes, removed before it runs so that a write would show as a new file
OUTPUTS = {"score": "data/score", "threshold": "data/threshold", "dedup": "data/dedup"}


def _refused(project: Path, stage: str) -> str:
    """:func:`refused_line` after the stage's own outputs (those the template holds) are removed."""
    if stage in OUTPUTS:
        shutil.rmtree(project / OUTPUTS[stage])
    return refused_line(project, stage)


def _with_params(project: Path, **sections) -> None:
    params = _params()
    for name, values in sections.items():
        params[name] = {**params[name], **values}
    make_project(project, params)


# -- a repeated id in a table of one row per image ---------------------------------------------------------

@pytest.mark.hostile("intermediates")
def test_dedup_refuses_scores_with_repeated_ids(project):
    # before: pandas MergeError traceback ("Merge keys are not unique in right dataset") from dedup._validated
    edit_table(project / "data/score/scores.parquet", repeat_first(5))
    line = _refused(project, "dedup")
    assert line == ("error: data/score/scores.parquet: 5 repeated id(s), first 'train-0-0'; rerun the score stage "
                    "(dvc repro score)")


@pytest.mark.hostile("intermediates")
def test_threshold_refuses_scores_with_repeated_ids(project):
    # before: exit 0, flags written with the repeated images twice
    edit_table(project / "data/score/scores.parquet", repeat_first(2))
    line = _refused(project, "threshold")
    assert line == ("error: data/score/scores.parquet: 2 repeated id(s), first 'train-0-0'; rerun the score stage "
                    "(dvc repro score)")


@pytest.mark.hostile("intermediates")
def test_confident_learn_refuses_flags_with_repeated_ids(project):
    # before: "ValueError: cannot reindex on an axis with duplicate labels" traceback (judged_rows.considered_rows)
    edit_table(project / "data/threshold/flags.parquet", repeat_first(3))
    line = _refused(project, "confident-learn")
    assert line == ("error: data/threshold/flags.parquet: 3 repeated id(s), first 'train-0-0'; rerun the threshold "
                    "stage (dvc repro threshold)")


@pytest.mark.hostile("intermediates")
def test_embedding_clean_refuses_groups_with_repeated_ids(project):
    # before: "ValueError: cannot reindex on an axis with duplicate labels" traceback (judged_rows.considered_rows)
    edit_table(project / "data/dedup/groups.parquet", repeat_first(3))
    line = _refused(project, "embedding-clean")
    assert line == ("error: data/dedup/groups.parquet: 3 repeated id(s), first 'train-0-0'; rerun the dedup stage "
                    "(dvc repro dedup)")


@pytest.mark.hostile("intermediates")
def test_budget_refuses_groups_with_repeated_ids(project):
    # before: exit 0 on two rows for one image, each of which may name another group (the copies of val images
    # that no probe may learn from are found by group)
    _with_params(project, pruned={"cleaners": ["threshold", "dedup"]})
    edit_table(project / "data/dedup/groups.parquet", repeat_first(2))
    line = _refused(project, "budget")
    assert line == ("error: data/dedup/groups.parquet: 2 repeated id(s), first 'train-0-0'; rerun the dedup stage "
                    "(dvc repro dedup)")


# -- scores that are not data/degrade's images, or not scores ---------------------------------------------

@pytest.mark.hostile("intermediates")
def test_threshold_refuses_scores_missing_images(project):
    # before: exit 0; the 4 images without a score had no flags row, and the label cleaners took them for unflagged
    edit_table(project / "data/score/scores.parquet", lambda table: table.iloc[4:])
    line = _refused(project, "threshold")
    assert line == ("error: data/score/scores.parquet: no row for 4 image(s) of data/degrade, first 'train-0-0'; "
                    "rerun the score stage (dvc repro score)")


@pytest.mark.hostile("intermediates")
def test_threshold_refuses_scores_of_other_images(project):
    # before: exit 0, flags written for 30 ids no image has
    edit_table(project / "data/score/scores.parquet", lambda table: table.assign(id="old-" + table["id"]))
    line = _refused(project, "threshold")
    assert line == ("error: data/score/scores.parquet: 30 id(s) not in data/degrade, first 'old-train-0-0', and no "
                    "row for 30 image(s) of data/degrade, first 'train-0-0'; rerun the score stage "
                    "(dvc repro score)")


@pytest.mark.hostile("intermediates")
def test_threshold_refuses_old_scores_of_an_imageset_now_empty(project):
    # before: exit 0, flags written for 30 images that no longer exist
    data = read_imageset(project / "data/degrade")
    write_imageset(project / "data/degrade", np.asarray(data.images[:0]), data.manifest.iloc[:0], data.classes)
    line = _refused(project, "threshold")
    assert line == ("error: data/score/scores.parquet: 30 id(s) not in data/degrade, first 'train-0-0'; rerun the "
                    "score stage (dvc repro score)")


@pytest.mark.hostile("intermediates")
def test_threshold_refuses_scores_outside_zero_to_one(project):
    # before: exit 0; the -inf and -3 images were flagged dark, the others passed, by cuts on a foreign scale
    def damage(table):
        table["dark"] = table["dark"].astype(np.float64)
        table.loc[[1, 2, 3, 4], "dark"] = [np.inf, -np.inf, 7.0, -3.0]
        table.loc[6, "blurry"] = 1.5
        return table

    edit_table(project / "data/score/scores.parquet", damage)
    line = _refused(project, "threshold")
    assert line == ("error: data/score/scores.parquet: scores outside [0, 1] for 4 images in dark (first "
                    "'train-0-1': inf), 1 images in blurry (first 'train-1-0': 1.5); rerun the score stage "
                    "(dvc repro score)")


@pytest.mark.hostile("intermediates")
def test_dedup_refuses_scores_missing_images(project):
    # before: "scores table has no row for 1 image(s) ... (re-run the score stage on this imageset)", not the
    # rerun line every other damaged intermediate gives
    edit_table(project / "data/score/scores.parquet", lambda table: table[table["id"] != "val-2-1"])
    line = _refused(project, "dedup")
    assert line == ("error: data/score/scores.parquet: no row for 1 image(s) of data/degrade, first 'val-2-1'; "
                    "rerun the score stage (dvc repro score)")


@pytest.mark.hostile("intermediates")
def test_confident_learn_refuses_flags_missing_images(project):
    # before: exit 0; an image without a flags row counted as examined and unflagged, and was judged
    edit_table(project / "data/threshold/flags.parquet", lambda table: table[table["id"] != "train-2-5"])
    line = _refused(project, "confident-learn")
    assert line == ("error: data/threshold/flags.parquet: no row for 1 image(s) of data/degrade, first 'train-2-5'; "
                    "rerun the threshold stage (dvc repro threshold)")


# -- an embedding of no features ---------------------------------------------------------------------------

def _zero_width_embedding(project: Path) -> None:
    path = project / "data/represent/embeddings.npy"
    np.save(path, np.load(path)[:, :0])


ZERO_WIDTH = ("error: data/represent/embeddings.npy: holds float32 of shape (30, 0): no feature values (D = 0); "
              "rerun the represent stage (dvc repro represent)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["confident-learn", "embedding-clean", "dedup"])
def test_an_embedding_of_no_features_is_refused(project, stage):
    # before: confident-learn exit 0 and dropped most train images (every probe a constant); embedding-clean a
    # ValueError traceback from IsolationForest; dedup (embedding_radius set) found no pair, exit 0
    _with_params(project, dedup={"embedding_radius": 0.05})
    _zero_width_embedding(project)
    assert _refused(project, stage) == ZERO_WIDTH


# -- images.npy that numpy would read as other pixels -------------------------------------------------------

def _rewrite_header(path: Path, **fields) -> None:
    """The .npy header of ``path`` rewritten with ``fields`` changed, at its old length; the pixel bytes stay."""
    offset = np.load(path, mmap_mode="r").offset
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (IMAGES, 8, 8, 1),
                                                  **fields})
    assert len(header.getvalue()) == offset
    path.write_bytes(header.getvalue() + path.read_bytes()[offset:])


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("shape", [(4, 16, 1), (64, 1, 1)])
def test_score_refuses_images_whose_header_gives_another_shape(project, shape):
    # before: exit 0, every image scored as a 4x16 (or 64x1) picture of the same bytes
    _rewrite_header(project / "data/degrade/images.npy", shape=(IMAGES, *shape))
    line = _refused(project, "score")
    assert line == (f"error: data/degrade/images.npy: image 0 ('train-0-0', shape {shape}) is not the image its "
                    "manifest digest describes; images.npy changed after it was written; rerun the degrade "
                    "stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
def test_score_refuses_images_in_fortran_order(project):
    # before: exit 0, every image read transposed
    _rewrite_header(project / "data/degrade/images.npy", fortran_order=True)
    line = _refused(project, "score")
    assert line == ("error: data/degrade/images.npy: its header says Fortran order, so each image would be read "
                    "transposed; an imageset's images are stored in C order; rerun the degrade stage "
                    "(dvc repro degrade)")


@pytest.mark.hostile("intermediates")
def test_score_refuses_bytes_after_the_images(project):
    # before: exit 0, the 640 bytes appended never looked at
    with open(project / "data/degrade/images.npy", "ab") as handle:
        handle.write(bytes(640))
    line = _refused(project, "score")
    assert line == ("error: data/degrade/images.npy: holds 2,560 bytes of pixels but its header's shape "
                    "(30, 8, 8, 1) needs 1,920; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
def test_score_refuses_a_header_whose_bytes_pass_two_to_the_64(project):
    # before: the bytes the header needs were an int64 product, which wrapped: 2**58 + 30 images of 8x8 need
    # 2**64 + 1,920 bytes, counted as the 1,920 stored, so the size check passed and np.load's "array is too big"
    # came with numpy's overflow RuntimeWarning on stderr
    _rewrite_header(project / "data/degrade/images.npy", shape=(2**58 + IMAGES, 8, 8, 1))
    line = _refused(project, "score")
    assert line == ("error: data/degrade/images.npy: holds 1,920 bytes of pixels but its header's shape "
                    "(288230376151711774, 8, 8, 1) needs 18,446,744,073,709,553,536; rerun the degrade "
                    "stage (dvc repro degrade)")


# -- an imageset of no images ------------------------------------------------------------------------------

@pytest.mark.hostile("intermediates")
def test_score_refuses_an_imageset_of_no_images(project):
    # before: IndexError traceback from np.quantile (the odd-size fences of no image)
    data = read_imageset(project / "data/degrade")
    write_imageset(project / "data/degrade", np.asarray(data.images[:0]), data.manifest.iloc[:0], data.classes)
    line = _refused(project, "score")
    assert line == ("error: data/degrade: holds no images, so there is nothing to score; rerun the degrade stage "
                    "(dvc repro degrade)")


def test_the_template_passes_the_stages_the_cases_refuse(project):
    """The same project, intact: threshold and dedup finish (each case above fails for its damage alone)."""
    for stage in ("threshold", "dedup"):
        done = run_stage(project, stage)
        assert done.returncode == 0, done.stderr[-2000:]
    assert len(pd.read_parquet(project / "data/threshold/flags.parquet")) == IMAGES


@pytest.mark.hostile("intermediates")
def test_threshold_warns_when_one_issue_flags_a_large_share_of_the_images(project):
    # before: a clean set with a normal spread of exposure had a quarter of its images flagged dark and half
    # blurry without a word; the cut here flags 12 of the 30 images dark
    dark = np.sort(pd.read_parquet(project / "data/score/scores.parquet")["dark"].to_numpy())
    issues = {**_params()["threshold"]["issues"], "dark": {"method": "fixed", "value": float(dark[11])}}
    _with_params(project, threshold={"issues": issues})
    done = run_stage(project, "threshold")
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: threshold: dark")] == [
        f"warning: threshold: dark flags 12 of {IMAGES} images (40%): damage is a few percent of a real data "
        "set, so check that these are not a kind of image it holds on purpose (then leave dark out of "
        "threshold.issues); the budget keeps the filters' drops unless its judge measures that they hurt"]
