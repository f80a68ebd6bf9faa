"""Hostile inputs that made a stage or command run without a word for minutes or without end on a small data set:
each case builds a tiny input and asserts the line the user sees, and that the answer is the one it was before."""

import json
import re

import numpy as np
import pytest

from test_study import ingested_project  # noqa: F401 (a fixture)
from winnow import cli, copies
from winnow.copies import near_pairs
from winnow.cosine_index import unit_rows
from winnow.hamming_index import components


def _equal_hash_images(n: int, *, copies_of_one: bool) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of one pHash: uint64 ``(n,)`` hashes and float32 ``(n, 16)`` unit thumbnails, near-identical
    (``copies_of_one``: every pair correlates above 0.99) or each its own look (no pair reaches 0.5)."""
    rng = np.random.default_rng(0)
    if copies_of_one:
        looks = rng.standard_normal(16) + 0.001 * rng.standard_normal((n, 16))
    else:  # orthogonal rows: correlation 0 between any two
        looks = np.linalg.qr(rng.standard_normal((16, 16)))[0][:n]
    return np.full(n, 0x0123456789ABCDEF, np.uint64), unit_rows(np.asarray(looks, np.float32))


@pytest.mark.hostile("scale")
@pytest.mark.parametrize("copies_of_one", [True, False])
def test_images_of_one_phash_are_told_with_their_pair_count_before_minutes_of_comparisons(monkeypatch, capsys,
                                                                                        copies_of_one):
    # before: every pair of images sharing a pHash (20,000 near-identical frames of one scene, each with its own
    # pixels: 200 million pairs) was compared thumbnail by thumbnail before the progress bar of the pHash search
    # showed, minutes without a word (50,000: twenty minutes). Blocks of 4 pairs stand for blocks of 4 million
    monkeypatch.setattr(copies, "PAIR_BLOCK", 4)
    hashes, looks = _equal_hash_images(16, copies_of_one=copies_of_one)
    found = near_pairs(hashes, radius=4, features=looks, min_correlation=0.9)
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and re.fullmatch(
        r"warning: dedup: images of equal or close pHashes \(within dedup.radius\) take 120 thumbnail comparisons, a "
        r"number growing with the square of theirs: about \d+ s more for those found so far, at the pace "
        r"of the last 4", said[0]), said  # the second block: row 0 with rows 4-7
    # the answer is the comparisons' own: the 16 copies one group, the 16 looks 16 groups
    assert len(set(components(16, found))) == (1 if copies_of_one else 16)


@pytest.mark.hostile("scale")
def test_a_few_images_of_one_phash_go_without_a_warning(monkeypatch, capsys):
    monkeypatch.setattr(copies, "PAIR_BLOCK", 4)
    hashes, looks = _equal_hash_images(6, copies_of_one=True)  # 15 pairs: under 16 half blocks of 4
    assert len(near_pairs(hashes, radius=4, features=looks, min_correlation=0.9)) > 0
    assert capsys.readouterr().out == ""


@pytest.mark.hostile("study")
def test_class_deletion_of_every_class_of_a_data_set_of_many_classes_is_refused(ingested_project, capsys):  # noqa: F811
    # before: 1,000 classes (ten images each) had 1,000 experiments queued by default, each a full dvc repro
    (ingested_project / "data/ingest/classes.json").write_text(json.dumps([f"c{i}" for i in range(101)]))
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--dry-run"]) == 1
    assert capsys.readouterr() == ("", (
        "error: study queue: class_deletion deletes each class of data/ingest/classes.json in an experiment of its own "
        "by default, and it lists 101 classes (more than 100): 101 full dvc repro runs; name the classes to delete "
        "with --classes, or leave class_deletion out of --sweeps\n"))
    # the fix the line gives: the classes named are queued
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--classes", "c7", "c90", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[{{kind: class_removal, classes: "
        f"[{name}]}}]'" for name in ("c7", "c90")]


@pytest.mark.hostile("study")
def test_class_deletion_of_each_of_a_hundred_classes_is_still_queued_by_default(ingested_project, capsys):  # noqa: F811
    (ingested_project / "data/ingest/classes.json").write_text(json.dumps([f"c{i}" for i in range(100)]))
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--dry-run"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 100
