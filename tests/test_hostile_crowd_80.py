"""Crowded inputs of dedup told honestly and in time: the count a crowd warning gives is the thumbnail comparisons
made, the multi-index search's repeats included (one per chunk two hashes meet in), and images of one embedding row
are told of before the radius search, not after it."""

import re

import numpy as np
import pytest

from winnow import copies, crowd_warning
from winnow.copies import flip_crop_pairs, near_pairs
from winnow.cosine_index import unit_rows
from winnow.hamming_index import components, meetings
from winnow.thumbnails import Looks

HASH = 0x0123456789ABCDEF
TOLD = re.compile(r"warning: dedup: .* take ([\d,]+) thumbnail comparisons, a number growing with the square of "
                  r"theirs: about \d+ s more for those found so far, at the pace of the last \d+")


def _thumbnails(n: int) -> np.ndarray:
    """float32 ``(n, 16)`` unit rows, near-identical: every pair correlates above 0.99."""
    rng = np.random.default_rng(0)
    return unit_rows(np.asarray(rng.standard_normal(16) + 0.001 * rng.standard_normal((n, 16)), np.float32))


def _counting(monkeypatch) -> list[int]:
    """The pairs each block of every CrowdWarning compared, gathered as they are reported."""
    compared: list[int] = []
    original = crowd_warning.CrowdWarning.compared

    def compared_and_counted(self, pairs: int) -> None:
        compared.append(pairs)
        original(self, pairs)

    monkeypatch.setattr(crowd_warning.CrowdWarning, "compared", compared_and_counted)
    return compared


def _crowded(monkeypatch) -> None:
    # blocks of 4 pairs stand for blocks of 4 million, a crowded pair of hashes of 4 image pairs for one of 4,096
    monkeypatch.setattr(copies, "PAIR_BLOCK", 4)
    monkeypatch.setattr(copies, "CROWDED_VIEW_PAIRS", 8)
    monkeypatch.setattr(copies, "CROWDED_HASH_PAIR", 4)


def test_equal_hashes_meet_once_per_chunk_and_distant_ones_in_no_chunk():
    # radius 6 on two hashes: 7 chunks of about 9 bits, no flips (7 > 6, the pigeonhole). Equal hashes share every
    # chunk; hashes differing in bits 0 and 1 differ in 2 chunks (interleaved, bit b lies in chunk b % 7) and share
    # the other 5; 64 bits apart, none
    far, two_bits = np.uint64(~np.uint64(HASH)), np.uint64(HASH ^ 0b11)
    found = meetings(np.full(3, HASH, np.uint64), np.array([HASH, two_bits, far], np.uint64), n=2, radius=6)
    assert found.tolist() == [7, 5, 0]


@pytest.mark.hostile("scale")
def test_mirror_and_crop_warning_counts_every_comparison_of_every_chunk(monkeypatch, capsys):
    # before: 2,000 images of one pHash (mirrors and crops too, radius 6) were told "12,000,000 thumbnail
    # comparisons ... about 3 s more", and took 70 s: each of the 7 chunks compared the 12 million pairs again.
    # The count told is now the count compared
    _crowded(monkeypatch)
    compared = _counting(monkeypatch)
    whole = _thumbnails(12)
    looks = Looks(whole=whole, crop=whole.copy(), grid=(4, 4), flip=False)
    found, across = flip_crop_pairs(np.full(12, HASH, np.uint64), np.full((3, 12), HASH, np.uint64), radius=6,
                                    looks=looks, min_correlation=0.9)
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and TOLD.fullmatch(said[0]), said
    # 12 images x 36 views, in each of 7 chunks
    assert int(TOLD.fullmatch(said[0])[1].replace(",", "")) == sum(compared) == 7 * 12 * 36
    assert len(set(components(12, found))) == 1 and len(across) == 0


@pytest.mark.hostile("scale")
def test_near_duplicate_warning_counts_the_repeats_of_close_hashes(monkeypatch, capsys):
    # 6 images of one pHash and 6 of a pHash 2 bits away: the 15 + 15 pairs within each hash once, the 36 across
    # once per chunk the two hashes meet in (5 or 6 of 7), all told before they are compared
    _crowded(monkeypatch)
    compared = _counting(monkeypatch)
    hashes = np.array([HASH] * 6 + [HASH ^ 0b11] * 6, np.uint64)
    found = near_pairs(hashes, radius=6, features=_thumbnails(12), min_correlation=0.9)
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and TOLD.fullmatch(said[0]), said
    met = int(meetings(hashes[:1], hashes[-1:], n=2, radius=6)[0])
    assert int(TOLD.fullmatch(said[0])[1].replace(",", "")) == sum(compared) == 30 + 36 * met
    assert len(set(components(12, found))) == 1


@pytest.mark.hostile("scale")
def test_images_of_one_embedding_row_are_told_before_the_radius_search(monkeypatch, capsys):
    # before: 2,000 images of one embedding row sat 13 s in the radius search (2 shared cores) without a word, the
    # warning printed only after it. The line now comes before the search begins
    monkeypatch.setattr(copies, "EMBEDDING_CROWD", 8)
    before_search = []
    search = copies.cosine_pairs

    def searched(*args, **kwargs):
        before_search.append(capsys.readouterr().out)
        return search(*args, **kwargs)

    monkeypatch.setattr(copies, "cosine_pairs", searched)
    embedding = np.ones((12, 4), np.float32)
    embedding[10:] = 0.0  # all-zero rows are at distance 1 from every row: not a crowd
    digests = np.array([f"pixels{i}" for i in range(12)], object)
    found, _ = copies.embedding_pairs(embedding, radius=0.01, digests=digests)
    assert before_search == [
        "warning: dedup: 10 images share their embedding row with others (45 pairs of equal rows, within any "
        "dedup.embedding_radius): the embedding search and its thumbnail comparisons grow with the square of their "
        "number and may take minutes; an embedding that gives many images one row (a constant or collapsed model) "
        "tells them apart by nothing\n"]
    assert len(found) == 45


def test_a_few_images_of_one_embedding_row_go_without_a_warning(capsys):
    # 12 equal rows: 66 pairs, far below the real threshold (262,144 pairs)
    found, _ = copies.embedding_pairs(np.ones((12, 4), np.float32), radius=0.01)
    assert len(found) == 66 and capsys.readouterr().out == ""
