"""dedup: the Hamming search against brute force, grouping, the keep policy, conflicts, leakage."""

import numpy as np
import pandas as pd
import pytest

from winnow.dedup import dedup_images, dedup_table, duplicate_groups
from winnow.dedup_counts import dedup_metrics
from winnow.errors import WinnowError
from winnow.groundtruth import QUALITY_ISSUES
from winnow import hamming_index
from winnow.hamming_index import hamming_components, hamming_pairs, search_plan


def flip(value: int, *bits: int) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def as_hashes(values) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


def brute_force_pairs(hashes: np.ndarray, radius: int) -> np.ndarray:
    distance = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    i, j = np.triu_indices(len(hashes), 1)
    close = distance[i, j] <= radius
    return np.stack([i[close], j[close]], axis=1)


@pytest.mark.parametrize("radius", [0, 1, 3, 6, 8, 13])
def test_pairs_match_brute_force_on_clustered_hashes(radius):
    rng = np.random.default_rng(radius)
    centres = rng.integers(0, 2**63, size=150, dtype=np.uint64)
    hashes = np.repeat(centres, 6)
    for _ in range(5):  # up to 5 random bit flips per copy: distances spread across the radius
        hit = rng.random(len(hashes)) < 0.6
        hashes[hit] ^= np.uint64(1) << rng.integers(0, 64, size=hit.sum()).astype(np.uint64)
    assert np.array_equal(hamming_pairs(hashes, radius=radius), brute_force_pairs(hashes, radius))


@pytest.mark.parametrize("radius", [2, 6])
def test_tables_built_a_part_of_the_key_space_at_a_time_find_the_same_pairs(monkeypatch, radius):
    rng = np.random.default_rng(7)
    hashes = np.repeat(rng.integers(0, 2**63, size=300, dtype=np.uint64), 4)
    for _ in range(radius):  # copies differ in up to 2 * radius bits: many pairs meet only under a flipped key
        hit = rng.random(len(hashes)) < 0.8
        hashes[hit] ^= np.uint64(1) << rng.integers(0, 64, size=hit.sum()).astype(np.uint64)
    monkeypatch.setattr(hamming_index, "TABLE_ENTRIES", 50)  # 1,200 hashes: hundreds of parts a chunk
    planned = hamming_index.search_plan  # a million hashes' plan: wide chunks, each hash under its 1-bit flips too
    monkeypatch.setattr(hamming_index, "search_plan", lambda n, *, radius: planned(10**6, radius=radius))
    assert np.array_equal(hamming_pairs(hashes, radius=radius), brute_force_pairs(hashes, radius))


@pytest.mark.parametrize("parts", [False, True])
def test_cross_search_finds_exactly_the_close_left_right_pairs(monkeypatch, parts):
    rng = np.random.default_rng(11)
    centres = rng.integers(0, 2**63, size=120, dtype=np.uint64)
    left, right = np.repeat(centres, 3), np.repeat(centres[40:], 4)  # a third of the left has no partner
    for side in (left, right):
        for _ in range(4):
            hit = rng.random(len(side)) < 0.7
            side[hit] ^= np.uint64(1) << rng.integers(0, 64, size=hit.sum()).astype(np.uint64)
    if parts:  # tables built a part at a time, under a large set's plan, as in the test above
        monkeypatch.setattr(hamming_index, "TABLE_ENTRIES", 50)
        planned = hamming_index.search_plan
        monkeypatch.setattr(hamming_index, "search_plan", lambda n, *, radius: planned(10**6, radius=radius))
    distance = np.bitwise_count(left[:, None] ^ right[None, :])
    expected = {(int(i), int(j)) for i, j in zip(*np.nonzero(distance <= 6))}
    found = np.concatenate(list(hamming_index.hamming_cross_blocks(left, right, radius=6)))
    assert len(expected) > 500 and (distance > 6).any()
    assert {tuple(p) for p in found.tolist()} == expected  # left-left and right-right pairs never come


def test_plan_is_exact_by_pigeonhole():
    for n in (10, 10_000, 1_000_000):
        for radius in range(0, 20):
            bounds, flips = search_plan(n, radius=radius)
            per_side = max(bin(int(m)).count("1") for m in flips)
            assert (len(bounds) - 1) * (2 * per_side + 1) > radius
    # an internal guard (dedup.radius is checked, as a WinnowError, before a plan is made): a plain ValueError
    with pytest.raises(ValueError, match=r"radius must be in \[0, 63\], got 64"):
        search_plan(10, radius=64)


def test_exactly_at_the_radius_joins_one_past_it_does_not():
    base = 0x0123_4567_89AB_CDEF
    hashes = as_hashes([base, flip(base, 0, 9, 20, 33), flip(base, 1, 10, 21, 34, 50)])
    groups = hamming_components(hashes, radius=4)
    assert groups[0] == groups[1]  # distance 4 = radius
    assert groups[2] != groups[0]  # distance 5 from the first, 9 from the second


def test_chains_join_through_their_links():
    a = 0
    b = flip(a, 0, 1, 2)  # 3 from a
    c = flip(b, 10, 11, 12)  # 3 from b, 6 from a
    d = flip(c, 20, 21, 22)  # 3 from c, 9 from a
    far = flip(d, *range(30, 40))
    groups = hamming_components(as_hashes([a, b, c, d, far]), radius=3)
    assert groups.tolist() == [0, 0, 0, 0, 1]


def test_equal_hashes_group_and_labels_follow_first_appearance():
    groups = hamming_components(as_hashes([7, 2**40, 7, 7, 2**40 + 1]), radius=0)
    assert groups.tolist() == [0, 1, 0, 0, 2]


def test_exact_duplicates_group_by_digest_even_when_hashes_differ():
    groups = duplicate_groups(digests=np.array(["x", "y", "x"]), phashes=as_hashes([0, 2**64 - 1, 2**32 - 1]), radius=2)
    assert groups.tolist() == [0, 1, 0]


def test_exact_only_when_radius_is_none():
    groups = duplicate_groups(digests=np.array(["x", "y", "z"]), phashes=as_hashes([5, 5, 4]), radius=None)
    assert groups.tolist() == [0, 1, 2]


def frames(hashes, *, labels=None, splits=None, quality=None, digests=None):
    n = len(hashes)
    manifest = pd.DataFrame({
        "id": [f"i{k}" for k in range(n)],
        "split": splits or ["train"] * n,
        "label": labels or [0] * n,
        "digest": digests or [f"d{k}" for k in range(n)],
    })
    scores = pd.DataFrame({"id": manifest["id"], "phash": as_hashes(hashes)})
    for issue in QUALITY_ISSUES:
        scores[issue] = np.float32(1.0) if quality is None else np.asarray(quality, dtype=np.float32)
    return manifest, scores


def test_best_quality_is_kept_and_the_others_say_why():
    base = 0xFFFF_0000_FFFF_0000
    manifest, scores = frames(
        [base, flip(base, 3), base, 2**60], quality=[0.2, 0.9, 0.5, 1.0], digests=["a", "b", "a", "c"]
    )
    table = dedup_table(manifest, scores, radius=2)
    assert table["kept"].tolist() == [False, True, False, True]
    assert table["reason"].tolist() == ["near_duplicate", "kept", "near_duplicate", "unique"]
    first = dedup_table(manifest, scores, radius=2, keep="first")
    assert first["kept"].tolist() == [True, False, False, True]
    assert first["reason"].tolist() == ["kept", "near_duplicate", "exact_duplicate", "unique"]


def test_label_conflicts_are_flagged_and_counted():
    manifest, scores = frames([1, 1, 1, 2**50, 2**50], labels=[0, 3, 0, 1, 1])
    table = dedup_table(manifest, scores, radius=0)
    assert table["label_conflict"].tolist() == [True, True, True, False, False]
    metrics = dedup_metrics(table)
    assert (metrics["groups"], metrics["conflicts"], metrics["conflict_images"]) == (2, 1, 3)
    assert metrics["images_removed"] == 3


@pytest.mark.hostile("intermediates")
def test_a_picture_of_two_labels_keeps_a_copy_of_the_label_most_copies_carry():
    # before: the best-quality copy stayed whatever its label: i0 (label 3, quality 0.9) over two copies labelled 0;
    # a tie (i3 and i4) still keeps the best-quality copy
    manifest, scores = frames([1, 1, 1, 2**50, 2**50], labels=[3, 0, 0, 1, 2], quality=[0.9, 0.2, 0.5, 0.1, 0.8])
    table = dedup_table(manifest, scores, radius=0)
    assert table["kept"].tolist() == [False, False, True, False, True]
    assert table["reason"].tolist() == ["near_duplicate", "near_duplicate", "kept", "near_duplicate", "kept"]


def test_train_copies_of_test_images_leave_and_eval_images_stay():
    manifest, scores = frames([9, 9, 9, 2**40], splits=["train", "test", "train", "val"])
    table = dedup_table(manifest, scores, radius=0)
    assert table["kept"].tolist() == [False, True, False, True]
    assert table["reason"].tolist() == ["leak", "eval_copy", "leak", "unique"]
    kept_one = dedup_table(manifest, scores, radius=0, drop_leaks=False)
    assert kept_one["kept"].tolist() == [True, True, False, True]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("order, reasons, kept, groups", [
    # before: one group, and b, c and d all dropped as leaks of a, which c and d do not resemble
    ("abcd", ["eval_copy", "leak", "kept", "near_duplicate"], [True, False, True, False], [0, 0, 1, 1]),
    # the test image last, as ingest writes the splits: pHash alone links each group's members in row order (b-c,
    # c-d, d-a). before the review: d (9 bits from a) took its link to a for a resemblance and went as a's leak
    ("bcda", ["leak", "kept", "near_duplicate", "eval_copy"], [False, True, False, True], [0, 1, 1, 0]),
])
def test_a_chain_of_near_copies_removes_only_images_that_resemble_one_kept(capsys, order, reasons, kept, groups):
    # a test image a; train b 3 bits from a, c 3 from b (6 from a), d 3 from c (9 from a); radius 3: whatever the
    # manifest order, b is a's leak, and c and d, which do not resemble a, a group of their own
    a = 0
    b = flip(a, 0, 1, 2)
    c = flip(b, 10, 11, 12)
    d = flip(c, 20, 21, 22)
    hashes = {"a": a, "b": b, "c": c, "d": d}
    manifest, scores = frames([hashes[n] for n in order], splits=["test" if n == "a" else "train" for n in order])
    table = dedup_table(manifest, scores, radius=3, keep="first")
    assert table["reason"].tolist() == reasons
    assert table["kept"].tolist() == kept
    assert table["group"].tolist() == groups
    assert capsys.readouterr().out.splitlines() == [
        "warning: dedup: 2 image(s) joined a group only through a chain of copies and resemble none of the images it "
        "keeps: not removed as their copies or leaks, but grouped among themselves (1 kept); if they are many, lower "
        "dedup.radius or dedup.embedding_radius, or raise dedup.min_correlation"]


def test_detection_scores_against_planted_duplicates():
    manifest, scores = frames([5, 5, 2**30, 2**45, 2**45])
    truth = pd.DataFrame({"id": ["i1", "i2"], "kind": ["exact_duplicate", "gaussian_noise"],
                          "params": ["{}", "{}"], "source_id": ["i0", None], "original_label": [-1, -1]})
    detection = dedup_metrics(dedup_table(manifest, scores, radius=0), perturbations=truth)["detection"]
    assert (detection["tp"], detection["fp"], detection["fn"]) == (2, 2, 0)


def test_empty_and_single_image():
    for n in (0, 1):
        manifest, scores = frames([123] * n)
        table = dedup_table(manifest, scores, radius=6)
        assert len(table) == n and table["kept"].all()
        metrics = dedup_metrics(table)
        assert (metrics["groups"], metrics["images_removed"], metrics["conflicts"]) == (0, 0, 0)


@pytest.mark.parametrize("params, message", [
    ({"radius": 64}, "dedup.radius"),
    ({"radius": 2, "keep": "newest"}, "dedup.keep"),
])
def test_bad_params_fail_with_one_line(params, message):
    manifest, scores = frames([1, 2])
    with pytest.raises(WinnowError, match=message):
        dedup_table(manifest, scores, **params)


def test_missing_scores_fail_with_one_line():
    manifest, scores = frames([1, 2])
    with pytest.raises(WinnowError, match="no row for 1 image"):
        dedup_table(manifest, scores.iloc[:1], radius=2)
    with pytest.raises(WinnowError, match="lacks column"):
        dedup_table(manifest, scores.drop(columns="phash"), radius=2)


def test_correlation_check_separates_jittered_copies_from_look_alikes():
    from winnow.thumbnails import thumbnail_features
    from winnow.perturb import jitter

    rng = np.random.default_rng(0)
    base = rng.integers(0, 200, (3, 16, 16, 3), dtype=np.uint8)
    images = np.concatenate([base, jitter(base[:1], brightness=np.array([1.15]), contrast=np.array([0.9]),
                                          saturation=np.array([1.1]))])
    features = thumbnail_features(images)
    same_hash = np.zeros(4, dtype=np.uint64)  # every pair is a pHash candidate: only correlation decides
    digests = np.arange(4)
    groups = duplicate_groups(digests=digests, phashes=same_hash, radius=0, features=features, min_correlation=0.98)
    assert groups[3] == groups[0] and len({groups[0], groups[1], groups[2]}) == 3
    alone = duplicate_groups(digests=digests, phashes=same_hash, radius=0)
    assert len(set(alone)) == 1  # pHash alone chains all four


def test_flat_images_have_zero_features():
    from winnow.thumbnails import thumbnail_features

    flat = np.full((2, 8, 8, 1), 7, dtype=np.uint8)
    assert not thumbnail_features(flat).any()


def test_dedup_images_checks_pixels_only_when_a_correlation_is_asked_for():
    manifest, scores = frames([0xABCD, 0xABCD, 2**60], digests=["a", "b", "c"])
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 32, 32, 1), dtype=np.uint8)  # same pHash, unrelated pixels
    assert dedup_images(manifest, images, scores, radius=0)["reason"].tolist()[:2] == ["kept", "near_duplicate"]
    checked = dedup_images(manifest, images, scores, radius=0, min_correlation=0.98)
    assert checked["reason"].tolist() == ["unique"] * 3


def test_leaks_are_counted_by_kind():
    # group 9: train, train, val (two train copies of a val image); group 4: val, test, test; group 7: all three
    manifest, scores = frames([9, 9, 9, 4, 4, 4, 7, 7, 7, 2**40],
                              splits=["train", "train", "val", "val", "test", "test", "train", "val", "test", "test"])
    leaks = dedup_metrics(dedup_table(manifest, scores, radius=0))["leaks"]
    assert leaks == {"train_copies_of_val": {"groups": 2, "images": 3, "val_images": 2},
                     "train_copies_of_test": {"groups": 1, "images": 1, "test_images": 1},
                     "val_copies_of_test": {"groups": 2, "images": 2, "test_images": 3}}


def test_detection_is_scored_only_against_planted_duplicates():
    manifest, scores = frames([5, 5, 2**30])
    noise_only = pd.DataFrame({"id": ["i1"], "kind": ["symmetric_noise"], "params": ["{}"], "source_id": [None],
                               "original_label": [0]})
    table = dedup_table(manifest, scores, radius=0)
    assert "detection" not in dedup_metrics(table, perturbations=noise_only)
    assert "detection" not in dedup_metrics(table, perturbations=noise_only.iloc[:0])  # degrade off: empty log
