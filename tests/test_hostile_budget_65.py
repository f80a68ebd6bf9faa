"""Hostile inputs around the cleaning budget, fifth pass: how the label decisions of two cleaners rank together."""

from __future__ import annotations

import pandas as pd
import pytest

from winnow.budget import candidates, rank_label_decisions


def _decisions(ids, **columns) -> pd.DataFrame:
    """A label cleaner's decision table relabelling ``ids`` to class 1, with its confidence ``columns``."""
    return pd.DataFrame({"id": ids, "decision": "relabel", "suggested_label": 1, "reason": "r", **columns})


@pytest.mark.hostile("intermediates")
def test_an_image_two_cleaners_decided_ranks_by_its_surest_decisions_own_tiebreak():
    # embedding-clean's agreement moves in steps of 1/k, so ties are common and its centroid margin breaks them:
    # image c (margin -0.5) before image a (margin -1.0). confident-learn also relabels a, far less surely (0.1)
    tables = {"embedding_clean": _decisions(["a", "c"], agreement=[0.9, 0.9], centroid_margin=[-1.0, -0.5]),
              "confident_learn": _decisions(["a"], label_quality=[0.9])}
    ranked = rank_label_decisions(tables)
    assert ranked.groupby("id")["rank"].first().to_dict() == {"c": 0, "a": 1}
    # a cut of one image takes c: before, a ranked (0.9, 0), its agreement beside confident-learn's tiebreak, and
    # the cut took a
    cut = candidates(None, ranked, train_images=100, fractions=[0.01])
    assert [c.name for c in cut] == ["none", "top1%", "all"]
    assert cut[1].decisions["id"].tolist() == ["c"]
