"""Images of equal confidence on both sides of a budget's edge (:func:`winnow.budget.candidates`).

The label decisions are ranked by confidence, then tiebreak, then id (:func:`winnow.budget.rank_label_decisions`):
where a ``top`` cut's last image and the first it leaves out are of one confidence and tiebreak, id order alone
decides which of the tied images it takes. That is reproducible, and said: the budget's metrics and lines count them.
"""

from __future__ import annotations

import pandas as pd


def edge_ties(ranked: pd.DataFrame, n: int) -> tuple[int, int]:
    """``(taken, left_out)``: of the images of the ``ranked`` rows (``rank`` and ``level``, the rank of their
    confidence and tiebreak, equal for equal ones) of the confidence of the ``n``-th, those a cut of ``n`` images takes
    and those it leaves; ``(0, 0)`` where it leaves none of them (the edge falls between two confidences)."""
    images = ranked.drop_duplicates("id")
    if not 0 < n < len(images):
        return 0, 0
    tied = images["level"].to_numpy() == images.loc[images["rank"] == n - 1, "level"].iloc[0]
    taken = int((tied & (images["rank"].to_numpy() < n)).sum())
    return (taken, int(tied.sum()) - taken) if tied.sum() > taken else (0, 0)


def say_edge_ties(table: list[dict]) -> list[str]:
    """The budget's lines on its cuts whose edge falls among images of equal confidence (rows of
    :func:`winnow.budget.judge_candidates` with ``tied_at_edge``; a row without it says nothing)."""
    lines = []
    for row in table:
        tied = row.get("tied_at_edge") or {}
        if tied.get("left_out"):
            lines.append(f"budget: {row['candidate']} cuts among {tied['taken'] + tied['left_out']} label-decided "
                         f"images of equal confidence: it takes the {tied['taken']} first in id order")
    return lines
