"""Hostile inputs found reviewing stop 79's commits (revrep79):

- two versions that beat baseline with macro F1s 0.8124 and 0.8116: both read 0.812, so the verdict called them
  "the same macro F1" and said the test split "does not choose between them", though the table beside it showed
  their gains over baseline as +0.101 and +0.100 and the split had chosen (by one image's worth).
"""

import numpy as np
import pandas as pd
import pytest

from winnow.report_versions import verdict


def versions_table(macro_f1: dict[str, float]) -> pd.DataFrame:
    """compare_versions's table for these macro F1s: every version but baseline beats it (p 0.001), all learnt."""
    base = macro_f1["baseline"]
    change = {v: np.nan if v == "baseline" else f1 - base for v, f1 in macro_f1.items()}
    return pd.DataFrame({"macro_f1": macro_f1, "f1_change": change,
                         "f1_p": {v: np.nan if v == "baseline" else 0.001 for v in macro_f1},
                         "f1_low": {v: np.nan if v == "baseline" else 0.05 for v in macro_f1},
                         "f1_high": {v: np.nan if v == "baseline" else 0.15 for v in macro_f1},
                         "learnt": {v: True for v in macro_f1}})


@pytest.mark.hostile("report")
def test_versions_whose_macro_f1_only_rounds_alike_are_not_called_the_same():
    winner, sentence = verdict(versions_table({"baseline": 0.7115, "pruned": 0.8124, "balanced": 0.8116}), alpha=0.05)
    assert winner == "pruned"
    assert sentence == ("Ship `pruned`: macro F1 0.812, +0.101 over baseline (p 0.001, 95% CI +0.050 to +0.150; paired "
                        "on the test images). `balanced` also beats baseline, at macro F1 0.8116 to `pruned`'s 0.8124.")


@pytest.mark.hostile("report")
def test_versions_of_equal_macro_f1_summed_in_another_order_are_still_the_same():
    # the same counts summed in another order differ by float noise (1e-16): a tie, as the page shows it
    winner, sentence = verdict(versions_table({"baseline": 0.7, "pruned": 0.8, "balanced": 0.8 - 1e-16}), alpha=0.05)
    assert winner == "pruned"
    assert sentence.endswith(" `balanced` beats baseline with the same macro F1: the test split does not choose "
                             "between them, so either ships as well.")
