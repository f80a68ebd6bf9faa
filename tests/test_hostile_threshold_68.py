"""Hostile cases of the threshold stage's cuts (a probe's findings, stop 68): each asserts the flags a user gets."""

import numpy as np
import pandas as pd
import pytest

from hostile_harness import params_with
from winnow.params import validate
from winnow.quality import quality_flags


@pytest.mark.hostile("score")
def test_the_smallest_test_level_params_yaml_allows_flags_nothing_instead_of_a_traceback():
    # found by probing: threshold.issues.dark {method: auto, alpha: 5e-324} passed the params check and ended the
    # threshold stage in "ValueError: math domain error" (alpha / 10 tests underflowed to 0 in the isolated rule)
    setting = {"method": "auto", "alpha": 5e-324}
    validate(params_with("threshold.issues.dark", setting))
    scores = np.clip(np.random.default_rng(0).normal(0.8, 0.05, 300), 0, 1)  # one clean mode: the rules reach isolated
    table = pd.DataFrame({"id": [f"i{k:03d}" for k in range(300)], "dark": scores,
                          **{issue: 1.0 for issue in ("light", "blurry", "low_information", "grayscale", "odd_size",
                                                      "odd_aspect_ratio")}})
    flags, cuts, rules = quality_flags(table, {"dark": setting})
    assert (int(flags["dark"].sum()), cuts["dark"], rules["dark"]) == (0, -np.inf, "none")
