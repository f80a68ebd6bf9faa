"""The report's paired t-test across classes (:func:`winnow.compare.pairwise`) in words, and how it writes an
interval's bound: split from :mod:`winnow.report` by topic, which lays the rows out as a table."""

from __future__ import annotations

import math

import pandas as pd

from winnow.compare import SIGNIFICANCE_LEVEL
from winnow.paired import decimals, p_text


def bound(x: float) -> str:
    """An interval's bound, signed, to 3 decimals ("–" for NaN), but to its first digit that is not 0 (at most 10
    decimals) where three decimals would show 0: before, a lower bound of +0.0001 read "+0.000", as if the interval
    touched 0, and then one of -0.00004 read "-4e-05"."""
    return decimals(x, digits=3, signed=True)


def significance_rows(tests: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`winnow.compare.pairwise`'s t-tests across classes as the rows of a table (one a pair of versions, four
    text columns; None without a test), saying in words what a test the classes
    cannot make leaves out, as the compare stage's tables do (:func:`winnow.compare.tests_markdown`). Before: one class
    tested, or the same change in every class (no spread: p and CI NaN), read "–" and "no clear difference" beside a
    change of +0.100 in every class; identical versions read "p 1.000, no clear difference"."""
    if tests.empty:
        return None
    cells = []  # (CI, p, reads as) of each pair
    for to, d, p, t, n, lo, hi in zip(*(tests[c] for c in ("to", "mean_diff", "p", "t", "n", "ci_low", "ci_high"))):
        if math.isinf(t) or math.isnan(p):  # a t-test needs two differences that vary: the change alone, read no way
            why = "n/a (the same change in every class)" if math.isinf(t) else f"n/a ({n} class{'es' * (n != 1)} tested)"
            cells.append((why, why, "not testable across classes"))
        else:
            shown, identical = p_text(p, alpha=SIGNIFICANCE_LEVEL), d == 0 and lo == 0 and hi == 0  # paired_test's tie
            cells.append((f"{bound(lo)} … {bound(hi)}", f"{shown} (identical)" if identical else shown,
                          "identical" if identical else f"{to} better" if p < SIGNIFICANCE_LEVEL and d > 0 else
                          f"{to} worse" if p < SIGNIFICANCE_LEVEL else "no clear difference"))
    ci_cells, p_cells, readings = zip(*cells)
    rows = pd.DataFrame({
        # as its interval's bounds: a change of -0.0004 across classes read "-0.000" beside "worse" (p < 0.05)
        "change (to − from)": [bound(d) for d in tests["mean_diff"]],
        # the t interval of the same test: it leaves out 0 exactly when p < 0.05 (before: a bootstrap, narrower)
        "95% CI (t)": list(ci_cells), "p (paired t-test)": list(p_cells), "reads as": list(readings),
    }, index=pd.Index(tests["from"] + " → " + tests["to"], name="versions (across classes)"))
    return rows
