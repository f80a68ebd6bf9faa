"""Crowded inputs of dedup's mirror and crop search: images whose pHashes (and so their views' pHashes) are equal
make every pair of an image and another's view a candidate, compared thumbnail by thumbnail for minutes; the user
is told once, with the count and the time left, and the answer is the one it was before."""

import re

import numpy as np
import pytest

from winnow import copies
from winnow.copies import flip_crop_pairs
from winnow.cosine_index import unit_rows
from winnow.hamming_index import components
from winnow.thumbnails import Looks

HASH = 0x0123456789ABCDEF


def _crowd(n: int, *, copies_of_one: bool) -> tuple[np.ndarray, np.ndarray, Looks]:
    """``n`` images of one pHash whose mirror and crop carry it too: uint64 ``(n,)`` hashes, uint64 ``(3, n)``
    view hashes, and looks near-identical (``copies_of_one``: every pair correlates above 0.99, mirror and crop
    alike) or each its own (orthogonal rows: no pair, view or not, correlates above 0.5)."""
    rng = np.random.default_rng(0)
    if copies_of_one:
        rows = rng.standard_normal(16) + 0.001 * rng.standard_normal((n, 16))
    else:
        rows = np.linalg.qr(rng.standard_normal((16, 16)))[0][:n]
    whole = unit_rows(np.asarray(rows, np.float32))
    # the crop view is the whole thumbnail, so a view correlates with another image exactly as the whole does
    looks = Looks(whole=whole, crop=whole.copy(), grid=(4, 4), flip=False)
    return np.full(n, HASH, np.uint64), np.full((3, n), HASH, np.uint64), looks


@pytest.mark.hostile("scale")
@pytest.mark.parametrize("copies_of_one", [True, False])
def test_mirrors_and_crops_of_one_phash_are_told_before_minutes_of_comparisons(monkeypatch, capsys, copies_of_one):
    # before: 1,000 images of one pHash (mirrors and crops of it too) took 35 s of flip_crop_pairs without a word on
    # 2 shared cores, 2,000 past 2 minutes: each image's three views against every other image, once per chunk of
    # the multi-index search. Blocks of 4 pairs stand for blocks of 4 million
    monkeypatch.setattr(copies, "PAIR_BLOCK", 4)
    monkeypatch.setattr(copies, "CROWDED_VIEW_PAIRS", 8)
    hashes, views, looks = _crowd(12, copies_of_one=copies_of_one)
    found, across = flip_crop_pairs(hashes, views, radius=4, looks=looks, min_correlation=0.9)
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and re.fullmatch(
        r"warning: dedup: mirrors, crops or turns of images of equal or close pHashes \(within dedup.radius\) take "
        r"[\d,]+ thumbnail comparisons, a number growing with the square of theirs: about \d+ s more for those "
        r"found so far, at the pace of the last 4", said[0]), said
    # the answer is the comparisons' own: the 12 copies one group, the 12 looks 12 groups
    assert len(set(components(12, found))) == (1 if copies_of_one else 12)
    assert len(across) == 0


@pytest.mark.hostile("scale")
def test_mirrors_and_crops_of_a_few_images_of_one_phash_go_without_a_warning(capsys):
    # 16 images: 16 x 48 view pairs in each chunk, far below the real threshold (8 million pairs, some 20 s)
    hashes, views, looks = _crowd(16, copies_of_one=True)
    found, _ = flip_crop_pairs(hashes, views, radius=4, looks=looks, min_correlation=0.9)
    assert len(set(components(16, found))) == 1
    assert capsys.readouterr().out == ""


@pytest.mark.hostile("scale")
@pytest.mark.parametrize("copies_of_one", [True, False])
def test_images_of_one_embedding_are_told_before_minutes_of_comparisons(monkeypatch, capsys, copies_of_one):
    # before: 2,000 images of one embedding (each its own pixels) took 19 s of dedup's embedding search and its
    # thumbnail check without a word, 10,000 58 s. Blocks of 1 pair stand for blocks of 262,144
    monkeypatch.setattr(copies, "EMBEDDING_CROWD", 8)
    _, _, looks = _crowd(12, copies_of_one=copies_of_one)
    digests = np.array([f"pixels{i}" for i in range(12)], object)
    found, across = copies.embedding_pairs(np.ones((12, 4), np.float32), radius=0.01, looks=looks,
                                           min_correlation=0.9, digests=digests, labels=np.zeros(12, int))
    said = capsys.readouterr().out.splitlines()
    # the first line, before the search, counts the equal rows (tests/test_hostile_crowd_80.py); this one the time
    assert len(said) == 2 and said[0].startswith("warning: dedup: 12 images share their embedding row")
    assert re.fullmatch(
        r"warning: dedup: images of equal or close embeddings \(within dedup.embedding_radius\) take 66 thumbnail "
        r"comparisons, a number growing with the square of theirs: about \d+ s more for those found so far, at the "
        r"pace of the last 1", said[1]), said
    assert len(set(components(12, found))) == (1 if copies_of_one else 12)
    assert len(across) == 0


@pytest.mark.hostile("scale")
def test_a_few_images_of_one_embedding_go_without_a_warning(capsys):
    _, _, looks = _crowd(16, copies_of_one=True)
    digests = np.array([f"pixels{i}" for i in range(16)], object)
    found, _ = copies.embedding_pairs(np.ones((16, 4), np.float32), radius=0.01, looks=looks, min_correlation=0.9,
                                      digests=digests)
    assert len(set(components(16, found))) == 1
    assert capsys.readouterr().out == ""
