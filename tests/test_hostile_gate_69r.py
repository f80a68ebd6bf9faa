"""Hostile inputs to the merge gate, review of probe 69's mends: a class that pooled head runs make take exactly the
images the precision collapse names. The gate runs in-process (:func:`winnow.gate_table.paired_rows`,
:func:`winnow.cli.main`) and its lines are asserted whole."""

import pandas as pd
import pytest
from hostile_harness import default_params
from winnow.gate_table import GateSettings, paired_rows


@pytest.mark.hostile("gate")
def test_a_class_whose_precision_three_pooled_head_runs_halve_taking_exactly_3_more_images_regresses():
    # class a, 6 test images: the base run predicts a once, right (precision 1.0); the three head runs predict a for
    # 0, 1 and 6 of a's images and for 2, 2 and 5 of b's (pooled precision 7/16 = 0.44, 3 of b's images newly taken,
    # half a's 6 test images): the README's rule says it regresses whatever its p, though no head run alone does (the
    # first two take 2, the third keeps precision 6/11). Before: 16/3 - 7/3 came out 2.9999999999999996, short of 3,
    # and the row passed as "rise not significant" (p adj 0.36)
    def run(a_right, b_taken):  # the first a_right of a's images, the first b_taken of b's 100, predicted a
        return pd.DataFrame({"id": [f"test-{i:03d}" for i in range(106)], "label": ["a"] * 6 + ["b"] * 100,
                             "predicted": ["a" if i < a_right else "b" for i in range(6)]
                             + ["a" if i < b_taken else "b" for i in range(100)]})

    table = paired_rows([run(1, 0)], [run(0, 2), run(1, 2), run(6, 5)], variant="baseline",
                        settings=GateSettings.from_params(default_params()["gate"]))
    row = table[(table["class"] == "a") & (table["metric"] == "false_positives")].iloc[0]
    assert (row["base"], row["head"], row["verdict"], row["collapsed"]) == (0.0, pytest.approx(0.5), "REGRESSED", True)
