"""dedup's mirrored, cropped and embedding duplicates (issue 18 item 2): what is grouped, with which
reason, what is not, and the cosine search against brute force."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from winnow import copies, cosine_index, perturb
from winnow.cosine_index import cosine_pairs
from winnow.dedup import dedup_images
from winnow.dedup_counts import dedup_metrics
from winnow.errors import WinnowError
from winnow.imageset import pixel_digest
from winnow.params import validate
from winnow.quality import score_table
from winnow.thumbnails import Looks, mirrored, thumbnail_features

from hostile_harness import default_params

DEFAULTS = default_params()["dedup"]


def smooth_images(n: int, seed: int = 0, cells: int = 5) -> np.ndarray:
    """uint8 ``(n, 32, 32, 3)``: random colour grids of ``cells`` x ``cells`` blown up (bicubic), the low
    frequencies of photographs."""
    grid = np.random.default_rng(seed).integers(0, 256, (n, cells, cells, 3), dtype=np.uint8)
    return perturb.resize(grid, (32, 32))


def frames(images: np.ndarray, *, labels=None, splits=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(images)
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(n)], "split": splits or ["train"] * n,
                             "label": labels or [0] * n, "source": "t", "orig_h": 32, "orig_w": 32,
                             "orig_mode": "RGB", "digest": pixel_digest(images)})
    return manifest, score_table(images, manifest)


def dedup(images: np.ndarray, *, labels=None, splits=None, **options) -> pd.DataFrame:
    manifest, scores = frames(images, labels=labels, splits=splits)
    settings = {k: DEFAULTS[k] for k in ("radius", "min_correlation", "flip", "crop")} | options
    return dedup_images(manifest, np.ascontiguousarray(images), scores, keep="first", **settings)


def cropped(image: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """``(1, H, W, C)``: cut that many pixels from each side, resized back (Pillow bicubic)."""
    height, width = image.shape[1:3]
    return perturb.resize(image[:, top:height - bottom, left:width - right], (height, width))


def test_a_mirrored_and_a_cropped_copy_join_their_sources_with_their_own_reason():
    sources = smooth_images(4)
    mirrored = perturb.jitter(sources[:1, :, ::-1], brightness=np.array([1.05]), contrast=np.array([1.0]),
                              saturation=np.array([1.0]))
    images = np.concatenate([sources, mirrored, cropped(sources[1:2], 2, 2, 2, 2)])
    table = dedup(images)
    assert table["group"].iloc[4] == table["group"].iloc[0] and table["group"].iloc[5] == table["group"].iloc[1]
    assert table["reason"].tolist() == ["kept", "kept", "unique", "unique", "flip_crop_duplicate",
                                        "flip_crop_duplicate"]
    assert dedup_metrics(table)["removed"]["flip_crop_duplicate"] == 2
    # the same images without the mirror and crop search: two pairs missed
    assert set(dedup(images, flip=False, crop=None)["reason"]) == {"unique"}


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("min_correlation", [0.98, None])
def test_a_mirror_of_an_image_of_another_class_is_not_a_copy(capsys, min_correlation):
    # classes that are mirror images of one another (left/right, b/d): i4 is i0 mirrored but labelled 1.
    # before: i4 was dropped as i0's flip_crop_duplicate without a word (30 such pairs cut a quarter of train).
    # A mirror of the same class (i5 of i1) and a crop of another class (i6 of i2: a mislabelled copy) still join
    sources = smooth_images(4)
    images = np.concatenate([sources, sources[:1, :, ::-1], sources[1:2, :, ::-1], cropped(sources[2:3], 2, 2, 2, 2)])
    table = dedup(images, labels=[0, 0, 0, 0, 1, 0, 1], min_correlation=min_correlation)
    assert table["reason"].tolist() == ["unique", "kept", "kept", "unique", "unique", "flip_crop_duplicate",
                                        "flip_crop_duplicate"]
    assert table["label_conflict"].tolist() == [False, False, True, False, False, False, True]
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")] == [
        "warning: dedup: 1 mirror link(s) join images of different classes: not taken as copies, since a mirror "
        "that changes the class (left/right, b/d) is no copy. If your classes are not mirror images of one another, "
        "these may be mislabelled copies, which the label cleaners judge; dedup.flip: false turns the mirror search "
        "off"]


@pytest.mark.hostile("intermediates")
def test_a_mirror_of_its_own_class_is_a_copy_when_an_exact_copy_of_another_label_comes_first(capsys):
    # i0 (train, label 0) and i1 (test, label 1) are the same pixels, i2 (train, label 1) their mirror; the pHash
    # search reads i0 for both. before: the mirror link i0-i2 was of two labels, so i2 was no copy and stayed in
    # train, a mirrored copy of a test image of its own class, and the warning counted it as another class
    source = smooth_images(2)
    images = np.concatenate([source[:1], source[:1], source[:1, :, ::-1], source[1:]])
    table = dedup(images, splits=["train", "test", "train", "train"], labels=[0, 1, 1, 1])
    assert table["reason"].tolist() == ["leak", "eval_copy", "leak", "unique"]
    assert table["group"].tolist() == [0, 0, 0, 1]
    assert "warning: dedup:" not in capsys.readouterr().out


def fade() -> np.ndarray:
    """uint8 ``(30, 32, 32, 1)``: frames fading from one noisy texture to another, neighbours near copies, the two
    ends not (0.44)."""
    def texture(seed):
        rng = np.random.default_rng(seed)
        low = perturb.resize((rng.random((1, 4, 4, 1)) * 255).astype(np.uint8), (32, 32)).astype(float)
        return np.clip(low + rng.normal(0, 20, (1, 32, 32, 1)), 0, 255)
    a, b = texture(11), texture(12)
    return np.concatenate([(1 - s) * a + s * b for s in np.linspace(0, 1, 30)]).astype(np.uint8)


@pytest.mark.hostile("intermediates")
def test_a_fade_between_two_pictures_leaks_only_the_frames_that_look_like_the_test_one():
    # 30 frames fading from picture a (the test image) to picture b.
    # before: one group of 30, and all 29 train frames, b itself, dropped as leaks of a below the chain warning
    images = fade()
    table = dedup(images, splits=["test"] + ["train"] * 29)
    thumbs = thumbnail_features(images)
    like_a = thumbs[1:] @ thumbs[0] >= DEFAULTS["min_correlation"]
    assert (table["reason"].to_numpy()[1:] == "leak").tolist() == like_a.tolist()
    assert 0 < like_a.sum() < 29 and table["kept"].iloc[1:].any()


@pytest.mark.hostile("intermediates")
def test_a_val_and_a_test_image_joined_only_through_frames_that_left_are_two_groups(monkeypatch):
    # a fade from a val image (i0, label 0) to a test image (i29, label 1) that correlate 0.44: the frames between
    # them resemble neither and leave. before: i0 and i29 stayed one group with the frames that look like each, so
    # dedup said "test holds copies of val images" and "copies in val and test carry different labels"
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("dedup", None)
    from dedup import conflict_lines

    images = fade()
    thumbs = thumbnail_features(images)
    like_val = thumbs @ thumbs[0] >= DEFAULTS["min_correlation"]
    like_test = thumbs @ thumbs[29] >= DEFAULTS["min_correlation"]
    assert like_val[:7].all() and not like_val[7:].any() and like_test[24:].all() and not like_test[:24].any()
    table = dedup(images, splits=["val"] + ["train"] * 28 + ["test"], labels=[0] * 29 + [1])
    groups = table["group"].to_numpy()
    assert table["id"][groups == groups[0]].tolist() == [f"i{k}" for k in range(7)]
    assert table["id"][groups == groups[29]].tolist() == [f"i{k}" for k in range(24, 30)]
    assert table["reason"][1:7].tolist() == ["leak"] * 6 and table["reason"][24:29].tolist() == ["leak"] * 5
    assert dedup_metrics(table)["leaks"] == {
        "train_copies_of_val": {"groups": 1, "images": 6, "val_images": 1},
        "train_copies_of_test": {"groups": 1, "images": 5, "test_images": 1},
        "val_copies_of_test": {"groups": 0, "images": 0, "test_images": 0}}
    # the train frames that look like the test image carry a, it b: one of the labels is wrong, which is said
    assert conflict_lines(table, classes=["a", "b"]) == [
        "warning: dedup: 1 val/test image(s) carry another label than their train or trusted copies (e.g. i29 as "
        "'b', a copy as 'a'): one of the labels is wrong, and a wrong val or test label counts a right prediction as "
        "wrong; dedup never changes val or test: check their labels where the data comes from "
        "(data/dedup/groups.parquet: label_conflict)"]


@pytest.mark.hostile("intermediates")
def test_with_drop_leaks_false_the_train_copies_of_a_test_image_leave_the_val_images_group_with_it(capsys):
    # the same fade under dedup.drop_leaks false: i1 (train) is kept beside the val image i0, and i24-i28 stay in the
    # group because they look like the test image i29. before: they stayed in i0's group, joined to it only through
    # the frames that left: "test holds copies of val images", and i24-i28 went as copies of i1, which they do not
    # resemble, so no train copy of the test picture was kept
    images = fade()
    thumbs = thumbnail_features(images)
    like_test = thumbs @ thumbs[29] >= DEFAULTS["min_correlation"]
    like_kept = (thumbs @ thumbs[:2].T >= DEFAULTS["min_correlation"]).any(axis=1)  # the val image or i1
    assert like_test[24:].all() and not like_test[:24].any() and like_kept[:8].all() and not like_kept[8:].any()
    table = dedup(images, splits=["val"] + ["train"] * 28 + ["test"], drop_leaks=False)
    groups = table["group"].to_numpy()
    assert table["id"][groups == groups[0]].tolist() == [f"i{k}" for k in range(8)]
    assert table["kept"][:8].tolist() == [True, True] + [False] * 6
    test_group = table[groups == groups[29]]
    assert set(test_group["id"]) >= {f"i{k}" for k in range(24, 30)}
    assert test_group["kept"].sum() == 2 and test_group["kept"].iloc[-1]  # the test image and one train copy
    assert dedup_metrics(table)["leaks"]["val_copies_of_test"] == {"groups": 0, "images": 0, "test_images": 0}
    # the chain warning counts the frames that resemble no image kept, not the test image and its copies
    chained = ~like_kept & ~like_test
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")] == [
        f"warning: dedup: {chained.sum()} image(s) joined a group only through a chain of copies and resemble none of "
        f"the images it keeps: not removed as their copies or leaks, but grouped among themselves "
        f"({table['kept'][chained].sum()} kept); if they are many, lower dedup.radius or dedup.embedding_radius, or "
        "raise dedup.min_correlation"]


@pytest.mark.hostile("intermediates")
def test_a_picture_keeps_the_label_its_copies_carry_when_chained_look_alikes_leave_its_group():
    # a fade: i0 labelled 1, the frames that look like it 0, the rest (further along, look-alikes of look-alikes) 1.
    # All 30 chain into one group of most label 1; the far frames resemble no image it keeps and leave it. before:
    # i0 stayed under label 1, voted for by frames no longer in its group, and its copies labelled 0 went
    images = fade()
    thumbs = thumbnail_features(images)
    like_i0 = thumbs @ thumbs[0] >= DEFAULTS["min_correlation"]
    labels = np.where(like_i0, 0, 1)
    labels[0] = 1
    assert 3 < like_i0.sum() < 15
    table = dedup(images, labels=labels.tolist())
    group = table[table["group"] == table["group"].iloc[0]]
    assert group.loc[group["kept"], "label"].tolist() == [0]
    assert table["reason"].iloc[0] == "near_duplicate"
    assert (group["label"] == 0).sum() > (group["label"] == 1).sum()


def test_equal_pixels_are_searched_once_and_keep_their_copies_links():
    # before: 1,500 copies of one image made every pair a pHash candidate (1.1 million, each correlated and kept;
    # 5,000 blank frames took 349 s and 6.7 GB); the exact links alone join them, the search needs one of them
    from winnow.dedup import duplicate_links
    from winnow.dedup_keep import linked_groups

    sources = smooth_images(3)
    images = np.concatenate([np.repeat(sources[:1], 1500, axis=0), sources[1:], sources[:1, :, ::-1]])
    manifest, scores = frames(images)
    looks = Looks.of(images, flip=True, crop=0.0625)
    links = duplicate_links(digests=manifest["digest"].to_numpy(), phashes=scores["phash"].to_numpy(), radius=6,
                            looks=looks, min_correlation=0.98,
                            variants=copies.variant_hashes(images, flip=True, crop=0.0625))
    assert len(links["exact_duplicate"]) == 1499 and len(links["near_duplicate"]) == 0
    assert links["flip_crop_duplicate"].tolist() == [[0, 1502]]  # the mirror, linked to the first copy
    groups = linked_groups(len(images), links)[0]
    assert np.bincount(groups).tolist() == [1501, 1, 1] and groups[1502] == groups[0]


def test_candidates_in_small_blocks_and_confirmed_pairs_cut_to_a_forest_make_the_same_groups(monkeypatch):
    # before: every candidate pair of crowded hashes was expanded at once and every confirmed one kept (10,000
    # near-identical images: 50 million pairs, 5.8 GB); a block of 7 pairs cuts both, and the groups stay
    rng = np.random.default_rng(5)
    noisy = np.clip(smooth_images(1).astype(np.int16) + rng.integers(-2, 3, (80, 32, 32, 3)), 0, 255).astype(np.uint8)
    images = np.concatenate([noisy, smooth_images(5, seed=9), noisy[:3, :, ::-1]])
    expected = dedup(images)
    assert (expected["group_size"] == 83).sum() == 83  # the 80 and their 3 mirrors: one group
    monkeypatch.setattr(copies, "PAIR_BLOCK", 7)
    pd.testing.assert_frame_equal(dedup(images), expected)
    manifest, scores = frames(images)
    near = copies.near_pairs(scores["phash"].to_numpy(), radius=6, features=Looks.of(images).whole,
                             min_correlation=0.98)
    assert len(near) <= 4 * len(images) + 7 < 80 * 79 // 2  # a forest and the blocks since, not all 3,160


@pytest.mark.hostile("intermediates")
def test_confirmed_pairs_cut_to_a_forest_make_no_frame_resemble_one_it_does_not(monkeypatch):
    # a fade whose every other frame is mirrored, in shuffled rows, its first frame a test image: each frame is a
    # mirrored copy of the next, the far ones of none. before: once the confirmed pairs passed 4 n + PAIR_BLOCK (4
    # million mirror and crop pairs; here a block of 1) they were cut to consecutive members of each group, pairs
    # never confirmed, which were then taken for two frames' own mirror links: frames that resemble no image kept
    # went as copies of one, and one kept before went
    fading = fade()
    images = np.stack([frame if k % 2 == 0 else frame[:, ::-1] for k, frame in enumerate(fading)])
    images = images[np.concatenate([[0], 1 + np.random.default_rng(0).permutation(len(images) - 1)])]
    splits = ["test"] + ["train"] * (len(images) - 1)
    expected = dedup(images, splits=splits)
    assert expected["group"].nunique() > 3 and (expected["reason"] == "flip_crop_duplicate").any()
    monkeypatch.setattr(copies, "PAIR_BLOCK", 1)
    pd.testing.assert_frame_equal(dedup(images, splits=splits), expected)


def test_a_look_alike_of_the_mirror_is_not_a_copy():
    """Two images of one class that share the layout of one's mirror: the pHash search pairs them, the
    thumbnails (correlation below the bar) keep them apart."""
    base = smooth_images(1).astype(int)
    detail = smooth_images(1, seed=1, cells=10).astype(int) - 128  # finer than the layout
    other = np.clip(base[:, :, ::-1] + detail * 40 // 128, 0, 255)
    images = np.concatenate([base, other]).astype(np.uint8)  # their pHashes: mirror 10 bits apart
    assert dedup(images, radius=12)["reason"].tolist() == ["unique", "unique"]
    assert dedup(images, radius=12, min_correlation=None)["reason"].tolist() == ["kept", "flip_crop_duplicate"]


def test_the_strongest_link_to_the_kept_image_names_the_reason():
    source = smooth_images(1)
    images = np.concatenate([source, source, source[:, :, ::-1]])
    assert dedup(images)["reason"].tolist() == ["kept", "exact_duplicate", "flip_crop_duplicate"]


def test_a_mirrored_train_copy_of_a_test_image_is_a_leak():
    source = smooth_images(2)
    images = np.concatenate([source, source[:1, :, ::-1]])
    # the mirror carries the test image's label: a mirror of another label is another class, no leak
    # (test_a_mirror_of_an_image_of_another_class_is_not_a_copy)
    table = dedup(images, splits=["test", "train", "train"], labels=[0, 1, 0])
    assert table["reason"].tolist() == ["eval_copy", "unique", "leak"]
    assert table["label_conflict"].tolist() == [False, False, False]
    assert dedup_metrics(table)["leaks"]["train_copies_of_test"] == {"groups": 1, "images": 1, "test_images": 1}


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("min_correlation", [0.98, None])
def test_a_mirror_of_a_test_image_stays_a_leak_when_a_train_copy_of_it_comes_first(capsys, min_correlation):
    # i0 (train) and i1 (test) are the same pixels, i2 (train) their mirror. The pHash search reads i0 for both,
    # so the mirror link is i0-i2. before: with min_correlation null i2 resembled no image its group kept (i1),
    # left the group as a chained image and stayed in train, a mirrored copy of a test image
    source = smooth_images(2)
    images = np.concatenate([source[:1], source[:1], source[:1, :, ::-1], source[1:]])
    table = dedup(images, splits=["train", "test", "train", "train"], min_correlation=min_correlation)
    assert table["reason"].tolist() == ["leak", "eval_copy", "leak", "unique"]
    assert table["kept"].tolist() == [False, True, False, True]
    assert table["group"].tolist() == [0, 0, 0, 1]
    assert "warning: dedup:" not in capsys.readouterr().out


def test_embedding_neighbours_within_the_radius_join_with_their_own_reason():
    images = smooth_images(4)
    embedding = np.eye(4, 8, dtype=np.float32)
    embedding[1] = embedding[0] + [0, 0.1, 0, 0, 0, 0, 0, 0]  # cosine distance 0.005 from image 0
    embedding[3] = embedding[2] + [0, 0, 0, 0.2, 0, 0, 0, 0]  # 0.019 from image 2
    table = dedup(images, embedding=embedding, embedding_radius=0.01, embedding_confirm=False)
    assert table["reason"].tolist() == ["kept", "embedding_duplicate", "unique", "unique"]
    # confirmed by the thumbnails, as pHash candidates are: these images differ, so no pair stands
    confirmed = dedup(images, embedding=embedding, embedding_radius=0.01)
    assert confirmed["reason"].tolist() == ["unique"] * 4
    brighter = perturb.jitter(images[:1], brightness=np.array([1.2]), contrast=np.array([1.0]),
                              saturation=np.array([1.0]))
    confirmed_copy = dedup(np.concatenate([images[:1], brighter, images[2:]]), embedding=embedding,
                           embedding_radius=0.01, radius=None)  # no pHash search: the embedding finds the copy
    assert confirmed_copy["reason"].tolist() == ["kept", "embedding_duplicate", "unique", "unique"]


@pytest.mark.hostile("intermediates")
def test_an_embedding_that_puts_a_mirror_of_another_class_beside_it_makes_no_copy():
    # an embedding trained on mirrored views (selfsup hflip) puts i4 (i0 mirrored, labelled 1) and i5 (i1 mirrored,
    # labelled 0) on their sources. before: the thumbnail check confirmed both through the mirrored view, so i4 was
    # dropped as i0's embedding_duplicate: a mirror of another class, which the pHash search never takes as a copy
    sources = smooth_images(4)
    images = np.concatenate([sources, sources[:1, :, ::-1], sources[1:2, :, ::-1]])
    embedding = np.eye(6, 8, dtype=np.float32)
    embedding[4], embedding[5] = embedding[0], embedding[1]
    table = dedup(images, labels=[0, 0, 0, 0, 1, 0], embedding=embedding, embedding_radius=0.01, radius=None)
    assert table["reason"].tolist() == ["unique", "kept", "unique", "unique", "unique", "embedding_duplicate"]
    assert table["kept"].tolist() == [True, True, True, True, True, False]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("radius", [None, DEFAULTS["radius"]])
def test_a_mirror_of_another_class_beside_an_image_in_the_embedding_is_said_once(capsys, radius):
    # i4 is i0 mirrored and labelled 1, on i0 in the embedding: no copy. before: with the pHash search off (radius
    # null) the embedding's pair was left out without the line the pHash search's mirror links get; with it on,
    # both searches find the pair, which is one link
    sources = smooth_images(4)
    images = np.concatenate([sources, sources[:1, :, ::-1]])
    embedding = np.eye(5, 8, dtype=np.float32)
    embedding[4] = embedding[0]
    table = dedup(images, labels=[0, 0, 0, 0, 1], embedding=embedding, embedding_radius=0.01, radius=radius)
    assert table["reason"].tolist() == ["unique"] * 5
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")] == [
        "warning: dedup: 1 mirror link(s) join images of different classes: not taken as copies, since a mirror "
        "that changes the class (left/right, b/d) is no copy. If your classes are not mirror images of one another, "
        "these may be mislabelled copies, which the label cleaners judge; dedup.flip: false turns the mirror search "
        "off"]


def test_an_embedding_that_does_not_match_the_images_is_refused():
    images = smooth_images(3)
    with pytest.raises(WinnowError, match="dedup.embedding_radius: 3 images but 2 embeddings"):
        dedup(images, embedding=np.ones((2, 4), np.float32), embedding_radius=0.1)


def test_thumbnails_of_a_mirror_are_the_mirrored_thumbnails():
    images = np.random.default_rng(1).integers(0, 256, (3, 30, 44, 3), dtype=np.uint8)  # no whole factor
    looks = Looks.of(images, flip=True, crop=0.1)
    thumbnails, grid = looks.views()[0]
    np.testing.assert_allclose(mirrored(thumbnails, grid),
                               thumbnail_features(np.ascontiguousarray(images[:, :, ::-1])), atol=1e-6)


def brute_force_cosine_pairs(features: np.ndarray, *, radius: float, k: int) -> set[tuple[int, int]]:
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    distance = 1 - unit @ unit.T
    np.fill_diagonal(distance, np.inf)
    nearest = np.argsort(distance, axis=1)[:, :k]
    return {(min(i, j), max(i, j)) for i in range(len(features)) for j in nearest[i] if distance[i, j] <= radius}


@pytest.mark.parametrize("k", [3, 59])
def test_block_search_equals_brute_force(monkeypatch, k):
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(12, 16))
    features = (centres[rng.integers(0, 12, 60)] + 0.3 * rng.normal(size=(60, 16))).astype(np.float32)
    monkeypatch.setattr(cosine_index, "_BLOCK_BYTES", 4 * 60 * 7)  # blocks of 7 rows: 9 blocks, the last short
    found = cosine_pairs(features, radius=0.1, k=k, backend="numpy")
    # a radius search whatever k: before, only each row's k nearest were read (k = 3 found 78 of the 95 pairs)
    expected = brute_force_cosine_pairs(features, radius=0.1, k=len(features))
    assert len(expected) > 20  # the radius joins many pairs, and leaves many out
    assert {tuple(p) for p in found.tolist()} == expected
    assert (found[:, 0] < found[:, 1]).all()


@pytest.mark.parametrize("key, value, expected", [
    ("flip", "yes", 'dedup.flip: "yes" is text to DVC (YAML 1.2), not a boolean; write true'),
    ("embedding_confirm", None, "dedup.embedding_confirm: null is not true or false"),
    ("crop", 0.5, "dedup.crop: 0.5 is not below 0.5"),
    ("crop", 0, "dedup.crop: 0 is not above 0"),
    ("embedding_radius", -0.01, "dedup.embedding_radius: -0.01 is below 0"),
    ("embedding_radius", 2.5, "dedup.embedding_radius: 2.5 is not below 1"),
    # an all-zero embedding lies at cosine distance 1 from every image: at 1 it was a copy of all of them
    ("embedding_radius", 1, "dedup.embedding_radius: 1 is not below 1"),
])
def test_bad_copy_settings_are_one_line(key, value, expected):
    params = default_params()
    params["dedup"][key] = value
    with pytest.raises(WinnowError) as raised:
        validate(params)
    assert str(raised.value) == f"params.yaml: {expected}"


def _scored(images: np.ndarray, manifest: pd.DataFrame) -> pd.DataFrame:
    return score_table(images, manifest.assign(source="t", orig_h=images.shape[1], orig_w=images.shape[2],
                                               orig_mode="RGB" if images.shape[3] == 3 else "L"),
                       light_percentile=75, dark_percentile=99, iqr_factor=3.0, min_relative_spread=0.1,
                       batch_size=1024)


@pytest.mark.hostile("intermediates")
def test_solid_images_of_different_colours_are_not_copies():
    # found by probing: float32 rounding left about 1e-5 of noise in a flat image's thumbnail, which unit length
    # turned into a pattern; solid 32x32 RGB images of grey 137 and white correlated 1.0 and the train one was dropped
    # as a copy of the test one (every flat image has the same pHash)
    images = np.stack([np.full((32, 32, 3), v, np.uint8) for v in (10, 137, 255, 180)])
    assert not thumbnail_features(images).any()  # flat: all zeros, as documented
    manifest = pd.DataFrame({"id": list("abcd"), "split": ["train", "train", "test", "train"], "label": [0, 1, 0, 1],
                             "digest": pixel_digest(images)})
    table = dedup_images(manifest, images, _scored(images, manifest), radius=6, min_correlation=0.98, flip=True,
                         crop=0.0625)
    assert table["kept"].all() and (table["reason"] == "unique").all()


@pytest.mark.hostile("intermediates")
def test_flat_images_of_different_colours_are_not_copies_by_phash_alone():
    # before: with min_correlation null (pHash alone) the black train image (pHash 0) and the white test image
    # (pHash 1 << 63, one bit away) were one group and the black one was dropped as a leak; two black images are
    # still one exact copy
    images = np.concatenate([np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8),
                             np.zeros((2, 32, 32, 1), np.uint8), np.full((1, 32, 32, 1), 128, np.uint8),
                             np.full((1, 32, 32, 1), 255, np.uint8)])
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(8)], "split": ["train"] * 7 + ["test"],
                             "label": [0, 1] * 4, "digest": pixel_digest(images)})
    table = dedup_images(manifest, images, _scored(images, manifest), radius=6, min_correlation=None, flip=True,
                         crop=0.0625)
    assert table["reason"].tolist() == ["unique"] * 4 + ["kept", "exact_duplicate", "unique", "unique"]
    assert table["kept"].tolist() == [True] * 5 + [False, True, True]


@pytest.mark.hostile("intermediates")
def test_the_mirror_and_crop_search_leaves_flat_images_out(monkeypatch):
    # 300 solid colours of one pHash: before, the mirror/crop search correlated 313,950 pairs of them (each 0 by
    # construction; 21 s at 1,000 images, not done in 300 s at 4,000); now no pair of them is examined
    examined = []
    correlation = Looks.correlation
    monkeypatch.setattr(Looks, "correlation",
                        lambda self, pairs, **kw: examined.append(len(pairs)) or correlation(self, pairs, **kw))
    colours = np.random.default_rng(1).permutation(256 ** 3)[:300]
    images = np.broadcast_to(np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1)
                             .astype(np.uint8)[:, None, None, :], (300, 32, 32, 3)).copy()
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(300)], "split": "train", "label": 0,
                             "digest": pixel_digest(images)})
    table = dedup_images(manifest, images, _scored(images, manifest), radius=6, min_correlation=0.98, flip=True,
                         crop=0.0625)
    assert sum(examined) == 0
    assert table["reason"].eq("unique").all()


@pytest.mark.hostile("intermediates")
def test_min_correlation_1_finds_a_pixel_exact_mirrored_copy():
    # found by probing: the mirror's correlation rounded to 0.99999994 in float32, below 1, so "only perfect copies"
    # left a train copy of a test image in train (at 28x28; at 32x32 it was found)
    image = np.random.default_rng(3).integers(0, 256, (28, 28, 1), dtype=np.uint8)
    images = np.stack([image, image[:, ::-1]])
    manifest = pd.DataFrame({"id": ["train_img", "test_mirror"], "split": ["train", "test"], "label": 0,
                             "digest": pixel_digest(images)})
    table = dedup_images(manifest, images, _scored(images, manifest), radius=0, min_correlation=1.0, flip=True,
                         crop=None).set_index("id")
    assert table.loc["train_img", "reason"] == "leak" and not table.loc["train_img", "kept"]
