"""More hostile cases of duplicates, embeddings and outliers: what dedup says about train copies of
evaluation images, exact copies in an embedding's outlier scores, and embeddings whose rows are too long or
too short for a float32 norm. Stage cases run the real dedup script in a throwaway project of a few 8x8
images; the others call the library the stages call."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import default_params, make_project, record_represent, run_stage
from winnow.cosine_index import cosine_pairs
from winnow.degrade import perturbation_table
from winnow.imageset import write_imageset
from winnow.neighbours import Space, nearest
from winnow.outliers import find_outliers, outlier_scores
from winnow.quality import score_table
from winnow.stage import write_json, write_table


def dedup_project(root: Path, *, splits: list[str], copies: dict[int, int], dedup: dict | None = None) -> Path:
    """data/degrade of random 8x8 images (row ``i`` a pixel copy of row ``j`` for each ``i: j`` of ``copies``),
    labels alternating 0/1, degrade off, and their scores: what the dedup stage reads."""
    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline", "pruned"]  # oracle needs degrade on
    params["dedup"] |= dedup or {}
    make_project(root, params)
    images = np.random.default_rng(0).integers(0, 256, (len(splits), 8, 8, 1), dtype=np.uint8)
    for i, j in copies.items():
        images[i] = images[j]
    manifest = pd.DataFrame({"id": [f"{split}-{k}" for k, split in enumerate(splits)], "split": splits,
                             "label": np.arange(len(splits)) % 2}).assign(source="t", orig_h=8, orig_w=8,
                                                                          orig_mode="L")
    write_imageset(root / "data/degrade", images, manifest, ["a", "b"])
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet")
    write_table(root / "data/score/scores.parquet", score_table(images, manifest, **params["score"]))
    return root


@pytest.mark.hostile("intermediates")
def test_pixel_identical_train_copies_of_a_test_image_are_not_blamed_on_the_radius(tmp_path):
    # 12 train images are the same pixels as a test image, of 16 train images: dedup drops them all as leaks.
    # before: "near-duplicate links chain ...; lower dedup.radius or dedup.embedding_radius", advice that changes
    # nothing, since the removed counts filed the pixel-identical copies under "leak", not "exact_duplicate"
    splits = ["train"] * 16 + ["val"] * 2 + ["test"] * 2
    project = dedup_project(tmp_path, splits=splits, copies={i: 18 for i in range(12)})
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: ")] == [
        "warning: dedup: removes 12 of 16 train images (75%) in 1 group(s), the largest of 13: 12 of them are "
        "pixel-identical to an image kept and 12 are train copies of val or test images, which pruned drops "
        "whatever pruned.cleaners says; check how the data and its splits were made",
        # labels alternate 0/1 (classes a, b): test-18 is a, six of its train copies b
        "warning: dedup: 1 val/test image(s) carry another label than their train or trusted copies (e.g. test-18 "
        "as 'a', a copy as 'b'): one of the labels is wrong, and a wrong val or test label counts a right prediction "
        "as wrong; dedup never changes val or test: check their labels where the data comes from "
        "(data/dedup/groups.parquet: label_conflict)"]
    groups = pd.read_parquet(project / "data/dedup/groups.parquet").set_index("id")
    assert groups.loc[[f"train-{i}" for i in range(12)], "reason"].eq("leak").all()
    assert json.loads((project / "metrics/dedup.json").read_text())["removed"]["leak"] == 12


@pytest.mark.hostile("intermediates")
def test_train_copies_of_a_test_image_kept_by_drop_leaks_false_are_counted_as_dedup_keeps_them(tmp_path):
    # three train copies of one test image, drop_leaks false: dedup keeps one and removes the other two as its
    # exact duplicates. before: "3 train image(s) ... kept in train", where 1 was
    splits = ["train"] * 6 + ["val"] * 3 + ["test"] * 3
    project = dedup_project(tmp_path, splits=splits, copies={0: 9, 1: 9, 2: 9}, dedup={"drop_leaks": False})
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: ")] == [
        "warning: dedup: train copies of test images: 3 train image(s) in 1 group(s) with 1 test image(s); 1 of them "
        "kept in train because dedup.drop_leaks is false (the other 2 removed as duplicates of those): the test "
        "score is flattered by images the model trained on",
        # labels alternate 0/1 (classes a, b): the copies carry a, b, a and the test image b, which is said too
        "warning: dedup: 1 group(s) of copies carry more than one label; one train copy of each stays, under its "
        "label: the label most of the group's train copies carry in 1, on a tie the copy dedup.keep prefers in 0 "
        "(e.g. train-0 as 'a', not 'b'); check their labels (data/dedup/groups.parquet: label_conflict)"]
    groups = pd.read_parquet(project / "data/dedup/groups.parquet").set_index("id")
    assert groups.loc[["train-0", "train-1", "train-2"], "kept"].tolist() == [True, False, False]
    assert groups.loc[["train-1", "train-2"], "reason"].eq("exact_duplicate").all()


def _self_space(features: np.ndarray) -> Space:
    n = len(features)
    return Space(np.arange(n), features, np.arange(n), features, np.zeros(n, np.int64))


@pytest.mark.hostile("intermediates")
def test_exact_copies_in_an_embedding_are_one_point_to_lof():
    # 30 of 200 embeddings are one image's (pixel copies embed alike). before: the copies' local density was
    # 1e10, so 9 ordinary images that had them among their 10 neighbours scored LOF ~1e10 (normality 0) and
    # were flagged as outliers, and scikit-learn printed "Duplicate values are leading to incorrect results"
    features = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    features[1:30] = features[0]
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        table, cuts = find_outliers([_self_space(features)], methods=("lof",), k=10, bins=32)
    assert [str(w.message) for w in said] == []
    assert not table["lof_outlier"].any() and cuts == {"lof": -np.inf}
    # the copies count once: every score is the one of the same embedding with a single copy of the 30
    alone = outlier_scores(_self_space(features[29:]), method="lof", k=10)
    scores = table["lof"].to_numpy()
    np.testing.assert_allclose(scores[29:], alone, rtol=1e-9)
    assert (scores[:29] == scores[29]).all()


@pytest.mark.hostile("intermediates")
def test_copies_whose_embeddings_differ_in_the_last_bits_are_one_point_to_lof():
    # 20 of 200 embeddings are one image's, each off by about 1e-6 (another batch, another order of summation): a
    # cosine distance of 0 in float32. before: only bit-equal rows were one point, so the 10 ordinary images beside
    # these scored LOF normality about 0 and were flagged as outliers
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 8)).astype(np.float32)
    exact = features.copy()
    exact[1:20] = features[0]
    features[1:20] = features[0] + (rng.normal(size=(19, 8)) * 1e-6).astype(np.float32)
    table, cuts = find_outliers([_self_space(features)], methods=("lof",), k=10, bins=32)
    assert not table["lof_outlier"].any() and cuts == {"lof": -np.inf}
    # scored as if they were bit-equal copies: one point
    scores = table["lof"].to_numpy()
    np.testing.assert_allclose(scores, outlier_scores(_self_space(exact), method="lof", k=10), rtol=1e-5)
    assert (scores[:20] == scores[0]).all()


@pytest.mark.hostile("intermediates")
def test_distinct_embeddings_a_little_apart_are_not_one_point_to_lof_beside_copies_that_are():
    # the 20 copies above (one point), and 30 distinct rows on an arc, each 0.004 from the next as unit rows (a cosine
    # distance of 8e-6, which cosine_pairs cannot tell from 0; jittered copies lie 0.0026 to 0.0045 apart on the
    # default MNIST-5k run), the ends 0.12 apart. before: the copies set off the merge, which chained the whole arc
    # into one point too: its rows all scored 0.64 instead of 0.80 to 0.93
    rng = np.random.default_rng(0)
    features = np.zeros((230, 9), np.float32)
    features[:200, :8] = rng.normal(size=(200, 8))
    exact = features.copy()
    exact[1:20] = features[0]
    features[1:20, :8] = features[0, :8] + (rng.normal(size=(19, 8)) * 1e-6).astype(np.float32)
    arc = np.arange(30) * 0.004
    features[200:, 8], features[200:, 0] = np.cos(arc), np.sin(arc)
    exact[200:] = features[200:]
    scores = outlier_scores(_self_space(features), method="lof", k=10)
    # the copies one point, as if bit-equal; each row of the arc scored as itself
    np.testing.assert_allclose(scores, outlier_scores(_self_space(exact), method="lof", k=10), rtol=1e-5)
    # its middle as dense as its neighbourhood (normality 1), its ends sparser
    assert scores[215] == 1 and scores[200] < scores[201] < scores[202] < scores[203]


def test_an_embedding_of_one_repeated_row_scores_every_image_normal_by_lof():
    # the copies of one row are one point (the case above), which has no neighbours to be sparser than: scikit-learn
    # cannot fit one point, so every image is normal
    features = np.tile(np.float32([[0.5, -1.0, 2.0]]), (40, 1))
    assert outlier_scores(_self_space(features), method="lof", k=10).tolist() == [1.0] * 40


@pytest.mark.parametrize("scale", [1e20, 1e-22])
def test_copies_are_found_in_embeddings_too_long_or_too_short_for_a_float32_norm(scale):
    # before: at 1e20 the float32 norm overflowed, the rows became zeros and no radius found the copy; at 1e-22
    # the rows stayed shorter than F.normalize's eps, and every cosine similarity read about 0
    features = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)
    features[5] = features[3] * np.float32(1.5)  # the same direction: cosine distance 0
    features = (features.astype(np.float64) * scale).astype(np.float32)
    for backend in ("numpy", "faiss"):
        assert cosine_pairs(features, radius=0.0, backend=backend).tolist() == [[3, 5]]
    similarity, index = nearest(_self_space(features), k=1)
    assert index[3, 0] == 5 and similarity[3, 0] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.hostile("intermediates")
def test_dedup_finds_a_copy_in_a_represent_embedding_of_huge_values(tmp_path):
    # data/represent rows of entries about 1e20 (finite in float32, so read as they are), a train image's
    # embedding the same as another's. before: exit 0 with no group: both rows had become zeros
    splits = ["train"] * 8 + ["val"] * 2 + ["test"] * 2
    project = dedup_project(tmp_path, splits=splits, copies={},
                            dedup={"embedding_radius": 0.01, "embedding_confirm": False})
    ids = pd.read_parquet(project / "data/degrade/manifest.parquet")["id"].tolist()
    embedding = np.eye(len(ids), 16, dtype=np.float32) * np.float32(3e20)
    embedding[1] = embedding[0]
    (project / "data/represent").mkdir(parents=True)
    np.save(project / "data/represent/embeddings.npy", embedding)
    write_json(project / "data/represent/ids.json", ids)
    record_represent(project)
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Warning" not in done.stderr
    groups = pd.read_parquet(project / "data/dedup/groups.parquet").set_index("id")
    assert groups.loc[["train-0", "train-1"], "group_size"].tolist() == [2, 2]
    assert sorted(groups.loc[["train-0", "train-1"], "reason"]) == ["embedding_duplicate", "kept"]
    assert json.loads((project / "metrics/dedup.json").read_text())["removed"]["embedding_duplicate"] == 1


@pytest.mark.hostile("intermediates")
def test_copies_of_more_than_one_label_keep_the_majority_label_and_are_named(tmp_path):
    # labels alternate 0/1 by row: train-0 (0), train-1 (1) and train-3 (1) are one picture, train-4 (0) and
    # train-5 (1) another, test-10 (0) and test-11 (1) a third, of classes a (0) and b (1). before: "3 label
    # conflicts" and nothing else; train-0 shipped as 0 (first of equal quality) against two copies labelled 1. And
    # then the labels were named by number: "train-1 as 1, not 0"
    splits = ["train"] * 8 + ["val"] * 2 + ["test"] * 2
    project = dedup_project(tmp_path, splits=splits, copies={1: 0, 3: 0, 5: 4, 11: 10})
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: ")] == [
        # test-11 is test-10 again: the test score counts that picture twice
        "warning: dedup: test holds copies of its own images: 2 test image(s) (100.0% of test) in 1 group(s): the "
        "test score counts 1 picture(s) as 2 images; dedup never changes val or test: remove the copies from your "
        "test split (data/dedup/groups.parquet lists them: same group, split test)",
        "warning: dedup: 2 group(s) of copies carry more than one label; one train copy of each stays, under its "
        "label: the label most of the group's train copies carry in 1, on a tie the copy dedup.keep prefers in 1 "
        "(e.g. train-1 as 'b', not 'a'; train-4 as 'a', not 'b'); check their labels (data/dedup/groups.parquet: "
        "label_conflict)",
        "warning: dedup: 1 group(s) of copies in val and test carry different labels (2 images, e.g. test-10, "
        "test-11): no model scores 100% on them; dedup never changes val or test: correct their labels where the "
        "data comes from"]
    groups = pd.read_parquet(project / "data/dedup/groups.parquet").set_index("id")
    assert groups.loc[["train-0", "train-1", "train-3", "train-4", "train-5"], "kept"].tolist() == [
        False, True, False, True, False]
