"""Hostile embedding near-duplicates, probe 81: rows near-equal but not equal reach the radius search told.

Stop 80 told of images of one embedding row before the search (:func:`winnow.crowd_warning.warn_of_equal_rows`),
grouping rows by their bytes. Rows near-equal but not equal (equal rows plus 1e-5 noise, a constant embedding with
jitter, one of rank 1, a file's rows differing past the 6th decimal) escaped it: 8,068 rows of 128 numbers sat
11-25 s in the search's widening rounds (2 shared cores) without a word, then 3-5 million pairs went on to be
compared. The search now says, after its first round and before it widens, how many rows crowd the radius and how
far it widens for them.
"""

from __future__ import annotations

import numpy as np
import pytest

from winnow import copies, cosine_index

N, D = 300, 32
WIDENING = (
    "warning: dedup.embedding_radius: 300 of 300 embeddings have all of their 10 nearest within cosine distance 0.01, "
    "so the search widens for them to as many as 299 nearest each (89,700 pairs at most, a number growing with the "
    "square of theirs): an embedding that puts so many images within the radius of one another tells them apart by "
    "little; use another represent.source or a smaller dedup.embedding_radius\n")


def _near_equal(kind: str) -> np.ndarray:
    """float32 ``(N, D)`` rows no two of which are equal, all within cosine distance 1e-6 of one another."""
    rng = np.random.default_rng(81)
    base = rng.standard_normal(D).astype(np.float32)
    if kind == "noise":
        rows = base + 1e-5 * rng.standard_normal((N, D))
    elif kind == "constant":
        rows = 1.0 + 1e-6 * rng.standard_normal((N, D))
    elif kind == "rank_one":
        rows = np.linspace(0.5, 2.0, N)[:, None] * base
    else:  # a file's rows, equal to the 6th decimal: row i adds its three digits, times 1e-7, to its first 3 numbers
        rows = np.tile(np.round(base, 6).astype(np.float64), (N, 1))
        rows[:, :3] += 1e-7 * (np.arange(N)[:, None] // 10 ** np.arange(3) % 10)
    return np.asarray(rows, np.float32)


def _said_before_widening(monkeypatch, capsys) -> list[str]:
    """The lines printed before each round of the numpy search, gathered as the rounds begin."""
    said: list[str] = []
    search = cosine_index._numpy_neighbours

    def searched(*args, **kwargs):
        said.append(capsys.readouterr().out)
        return search(*args, **kwargs)

    monkeypatch.setattr(cosine_index, "_numpy_neighbours", searched)
    return said


@pytest.mark.hostile("scale")
@pytest.mark.parametrize("kind", ["noise", "constant", "rank_one", "file_6th_decimal"])
def test_near_equal_rows_are_told_before_the_search_widens(monkeypatch, capsys, kind):
    # 300 rows stand for 8,068: the neighbours of a round past which the line comes, 100,000, stand at 300 x 20
    monkeypatch.setattr(cosine_index, "CROWDED_NEIGHBOURS", 6_000)
    said = _said_before_widening(monkeypatch, capsys)
    found, _ = copies.embedding_pairs(_near_equal(kind), radius=0.01)
    # nothing before the first round (no row equals another), the line before the second, nothing after
    assert said[0] == "" and len(said) >= 2, said
    assert said[1] == WIDENING
    assert "".join(said[2:]) + capsys.readouterr().out == ""
    assert len(found) == N * (N - 1) // 2  # all within 1e-6 of one another: every pair, as before


def test_a_crowd_below_the_line_and_ordinary_rows_go_without_it(capsys):
    # 300 near-equal rows gather at most 300 x 160 neighbours a round, below the real 100,000; ordinary rows none
    found, _ = copies.embedding_pairs(_near_equal("noise"), radius=0.01)
    ordinary, _ = copies.embedding_pairs(np.random.default_rng(0).standard_normal((N, D)).astype(np.float32),
                                         radius=0.01)
    assert len(found) == N * (N - 1) // 2 and len(ordinary) == 0
    assert capsys.readouterr().out == ""


def test_equal_rows_are_told_before_the_search_and_again_before_it_widens(monkeypatch, capsys):
    # equal rows keep stop 80's line before the search; the widening's line follows the first round
    monkeypatch.setattr(copies, "EMBEDDING_CROWD", 8)
    monkeypatch.setattr(cosine_index, "CROWDED_NEIGHBOURS", 6_000)
    said = _said_before_widening(monkeypatch, capsys)
    copies.embedding_pairs(np.ones((N, D), np.float32), radius=0.01)
    assert said[0].startswith("warning: dedup: 300 images share their embedding row with others (44,850 pairs")
    assert said[1] == WIDENING
