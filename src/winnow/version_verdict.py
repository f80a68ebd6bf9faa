"""Which data set version the report says to ship (:mod:`winnow.report_versions` builds the table it reads).

The version to ship is the one with the highest macro F1 among those whose macro F1 beats baseline's with
p < alpha by the paired permutation test (per image), or none: the sentence then says plainly to keep baseline.
``oracle`` (the train split before degrade) is a reference, never chosen: a user never has it. No verdict is
given where baseline's or a candidate's model did not learn (:func:`winnow.metrics.not_learnt`), and versions
the test split cannot tell apart from the shipped one are named beside it.
"""

from __future__ import annotations

import pandas as pd

from winnow.gate_table import CONFIDENCE
from winnow.metrics import summary_path
from winnow.paired import decimals, p_text
from winnow.report_significance import bound

BASELINE = "baseline"
REFERENCES = ("oracle",)  # shown for scale, never shipped


def beats_baseline(table: pd.DataFrame, *, alpha: float) -> pd.Series:
    """bool per version: a higher macro F1 than baseline's with p < ``alpha`` (per image); never a reference."""
    return (table["f1_change"] > 0) & (table["f1_p"] < alpha) & ~table.index.isin(REFERENCES)


def verdict(table: pd.DataFrame, *, alpha: float) -> tuple[str | None, str]:
    """``(winner, sentence)``: the version to ship (None when none beats baseline) and the sentence saying so.

    Args:
        table: :func:`winnow.report_versions.compare_versions`'s.
    """
    if BASELINE not in table.index:
        return None, "baseline has not been evaluated, so no version can be judged against it."
    candidates = table.drop(index=[BASELINE, *REFERENCES], errors="ignore")
    if candidates.empty:
        return None, "Only baseline was evaluated: there is nothing to choose between."
    # before: "Ship `pruned`: macro F1 0.909, +0.891 over baseline" where baseline's model named one class for every
    # test image: a gain over (or beside) a model that never learnt is the training's failure, not the data's gain
    failed = [v for v in (BASELINE, *candidates.index) if not table.loc[v, "learnt"]]
    if failed:
        names = ", ".join(f"`{v}`" for v in failed)
        return None, (f"No verdict: the model of {names} did not learn (its recalls of the test classes add "
                      "up to no more than naming one class for every image scores), so a gap between versions says "
                      "nothing of their data; check train.lr, train.weight_decay and train.epochs, then rerun "
                      f"`dvc repro {' '.join(f'train@{v}' for v in failed)}` and evaluate.")
    winners = candidates[beats_baseline(candidates, alpha=alpha)]
    best = (winners if len(winners) else candidates)["macro_f1"].idxmax()
    row = candidates.loc[best]
    # bound: a change to its first digit that is not 0; before, 8 test images of 20,000 more right read "Ship
    # `pruned`: macro F1 0.998, +0.000 over baseline (p 0.009, ...)", a shipped gain shown as none
    evidence = (f"{bound(row['f1_change'])} over baseline (p {p_text(row['f1_p'], alpha=alpha)}, {CONFIDENCE:.0%} "
                f"CI {bound(row['f1_low'])} to {bound(row['f1_high'])}; paired on the test images)")
    if len(winners):
        shown = decimals(row["macro_f1"], digits=3)
        return best, f"Ship `{best}`: macro F1 {shown}, {evidence}.{_beside(winners['macro_f1'], best=best)}"
    # "the best" of versions that all score below baseline read as praise of a worse version
    # above by more than float noise (decimals reads that as 0): before, two versions of the same per-class F1 in
    # another class order, their means 6e-17 apart, read "The best, `pruned`, reaches macro F1 0.475, +0.000"
    gain = row["macro_f1"] - table.loc[BASELINE, "macro_f1"]
    which = (f"The best, `{best}`, reaches" if gain > 0 and decimals(gain, digits=3) != decimals(0.0, digits=3) else
             f"No other version scores above it; the closest, `{best}`, reaches")
    return None, (f"No version beats baseline significantly: keep `{BASELINE}` (macro F1 "
                  f"{decimals(table.loc[BASELINE, 'macro_f1'], digits=3)}). {which} macro F1 "
                  f"{decimals(row['macro_f1'], digits=3)}, {evidence}.")


def _beside(macro_f1: pd.Series, *, best: str) -> str:
    """The versions of ``macro_f1`` (version -> macro F1; those that beat baseline) but ``best`` whose macro F1 reads
    as ``best``'s, named: before, the first in params.yaml's order was shipped as if the split had chosen it. "The same"
    only where equal (float noise aside), else shown apart: 0.8124 and 0.8116 (gains +0.101, +0.100) were "the same"."""
    top, same, apart = macro_f1[best], [], []
    for v, f1 in macro_f1.drop(best).items():
        if decimals(f1, digits=3) != decimals(top, digits=3):
            continue
        if decimals(top - f1, digits=3) == decimals(0, digits=3):
            same.append(f"`{v}`")
        else:  # digits enough to differ, the top not read as 1
            d = next((d for d in range(4, 10) if f"{f1:.{d}f}" != f"{top:.{d}f}" != f"{1:.{d}f}" or top == 1), 10)
            apart.append(f" `{v}` also beats baseline, at macro F1 {f1:.{d}f} to `{best}`'s {top:.{d}f}.")
    tie = (f" {', '.join(same)} {'beats' if len(same) == 1 else 'beat'} baseline with the same macro F1: the test "
           "split does not choose between them, so either ships as well.") if same else ""
    return tie + "".join(apart)


def unevaluated_sentence(unevaluated: list[str]) -> str:
    """What the verdict leaves out: the requested versions evaluate has not scored (none: empty)."""
    if not unevaluated:
        return ""
    names = ", ".join(f"`{v}`" for v in unevaluated)
    return (f" Not evaluated, so left out of this choice: {names} (no {summary_path('<version>')}; run "
            f"`dvc repro {' '.join(f'evaluate@{v}' for v in unevaluated)}`).")
