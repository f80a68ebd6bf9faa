"""Review of the hang mends of stop 79: inputs next to those the mends took, which still ran minutes without a word."""

import re

import numpy as np
import pytest

from test_hostile_hang_79 import _equal_hash_images
from winnow import cli, copies
from winnow.copies import near_pairs
from winnow.hamming_index import components

BASE = 0x0123456789ABCDEF


@pytest.mark.hostile("scale")
@pytest.mark.parametrize("copies_of_one", [True, False])
def test_images_of_close_but_unequal_phashes_are_told_as_those_of_one(monkeypatch, capsys, copies_of_one):
    # before: only equal pHashes were counted, yet every pair of rows of two hashes within the radius is a candidate
    # too: 9,000 near-identical frames over 7 pHashes a bit or two apart sat 5 minutes (2 shared cores) without a
    # word. Here 16 images, 2 on each of 8 pHashes 2 bits apart (radius 4): 8 pairs of equal pHashes (under the 16
    # blocks of 4 ordered pairs the old count took); all 120 pairs of the 16 are candidates, some in several blocks
    monkeypatch.setattr(copies, "PAIR_BLOCK", 4)
    _, looks = _equal_hash_images(16, copies_of_one=copies_of_one)
    hashes = np.array([BASE ^ (1 << (i // 2)) for i in range(16)], np.uint64)
    found = near_pairs(hashes, radius=4, features=looks, min_correlation=0.9)
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and re.fullmatch(
        r"warning: dedup: images of equal or close pHashes \(within dedup.radius\) take [\d,]+ thumbnail comparisons, "
        r"a number growing with the square of theirs: about \d+ s more for those found so far, at the pace "
        r"of the last \d+", said[0]), said
    # the answer is the comparisons' own: the 16 copies one group, the 16 looks 16 groups
    assert len(set(components(16, found))) == (1 if copies_of_one else 16)


@pytest.mark.hostile("study")
def test_the_help_of_classes_says_the_default_is_refused_past_a_hundred_classes_not_cut_to_them(capsys):
    # before: "(default: every class of data/ingest/classes.json, which `dvc repro ingest` writes, up to 100 classes)"
    # read as the first 100 classes deleted, where 101 classes are refused whole
    with pytest.raises(SystemExit):
        cli.main(["study", "queue", "--help"])
    assert ("which `dvc repro ingest` writes; refused past 100 classes, each a full dvc repro: name them here)"
            in " ".join(capsys.readouterr().out.split()))
