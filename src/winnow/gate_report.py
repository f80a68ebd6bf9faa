"""The merge gate's report (:mod:`winnow.gate`): the table of :func:`winnow.gate_table.paired_rows` as markdown, its
notes and the PASS or FAIL line, the same text on stdout and in ``--markdown``.

A class's false-positive row (``per_class.<class>.false_positives``) follows its recall row, its class cell marked
``<class> (false positives)``: base and head count the other classes' test images predicted as the class per test
image of the class, and a rise beyond its tolerance regresses (:func:`winnow.gate_table._false_positive_rows`). A
class the model predicts that the test split holds no image of has a false-positive row alone, after the others',
counting images, and a ``warning:`` note; so does a class new at the target, whose own test images are left out
(:mod:`winnow.gate_classes`), with a note that says so (the table's ``new_at``: the run it has test images at).
"""

from __future__ import annotations

import fnmatch
import math

import pandas as pd

from winnow import markdown
from winnow.gate_table import COLLAPSE_MIN_LOST, CONFIDENCE, DEFAULT_TOLERANCES, FALSE_POSITIVES, IMAGE_SLACK, \
    OVERALL, GateSettings, entry_matches, metric_keys, revision_list
from winnow.paired import decimals, p_text

POOLED_TEST = ("McNemar test on the pooled counts, phi at least what the runs of a side measure (a drop every head "
               "run shows alone: the largest p of their own tests; a class's phi from the other classes),")
# how the gate's markdown report begins: ``--markdown`` replaces only a file that does
REPORT_HEADING = "## Merge gate: "


def row_name(klass: str, metric: str) -> str:
    """A row's class cell (markdown-escaped): the class, ``all (accuracy)``, or ``<class> (false positives)``."""
    return markdown.cell(str(klass)) + (" (false positives)" if metric == FALSE_POSITIVES else "")


def tolerance_notes(table: pd.DataFrame, settings: GateSettings) -> list[str]:
    """Notes on what decides a tested key that the (base's) ``gate.tolerances`` may not have been written for:

    - a key that took its :data:`~winnow.gate_table.DEFAULT_TOLERANCES` entry, no entry matching it: a base from
      before the gate tested false positives. Before such a key existed, a tested metric no pattern matched was
      refused; a default keeps those projects' gates running;
    - a false-positive key decided by an entry that matches other tested keys too (``per_class.*``, ``*``). Before:
      a base's ``per_class.*: 0.1``, written for recall, set the false positives' tolerance to 0.1 too, with no
      word, where a base naming neither was told it got 0.02.
    """
    keys = metric_keys(table)
    used = [p for p in DEFAULT_TOLERANCES if any(settings.defaulted(k) and fnmatch.fnmatchcase(k, p) for k in keys)]
    where = f"{settings.source}'s" if settings.source else "the"
    notes = [f"gate settings: {where} gate.tolerances match no {pattern.replace('*', '<class>')}; "
             f"{DEFAULT_TOLERANCES[pattern]:g} used (add e.g. '{pattern}: {DEFAULT_TOLERANCES[pattern]:g}' there)"
             for pattern in used]
    taken = [k for k, m in zip(keys, table["metric"]) if m == FALSE_POSITIVES]
    others = [k for k, m in zip(keys, table["metric"]) if m != FALSE_POSITIVES]
    shared = dict.fromkeys(e for e in map(settings.deciding, taken)
                           if e is not None and any(entry_matches(k, e) for k in others))
    # the entry as typed, never markup: a class '<!-- x' (ingest takes it) in an entry such as 'per_class.<!-- x.*'
    # opened an HTML comment that hid the rest of the pull-request comment, the verdict included
    return notes + [f"gate settings: {where} gate.tolerances.{markdown.inline(e)} {settings.tolerances[e]:g} decides "
                    f"per_class.<class>.false_positives too, as it matches them; to set them apart, replace it "
                    f"there by entries naming the metrics (e.g. 'per_class.*.recall', 'per_class.*.false_positives')"
                    for e in shared]


def change_text(change: float, *, tolerance: float, metric: str) -> str:
    """A row's change as the table and the FAIL line write it: signed, 4 decimals, and up to 3 more where rounding
    would put it on the other side of its ``tolerance`` than it is (beyond it: a drop larger than the tolerance, for a
    ``metric`` of false positives a rise, as :func:`winnow.gate_pvalues.verdict` reads it). Before: three head runs that
    lost 50, 51 and 52 of 10,000 test images showed "-0.0050" beside tolerance 0.005 and **REGRESSED** (-0.00503)."""
    def beyond(x: float) -> bool:
        return x > tolerance + 1e-12 if metric == FALSE_POSITIVES else x < -tolerance - 1e-12

    for digits in range(4, 8):
        text = f"{change:+.{digits}f}"
        if beyond(float(text)) == beyond(change):
            return text
    step = 1e-7  # still across (a change within 1e-7 of it): cut away from 0 when beyond, toward 0 when not
    cut = math.floor if (change < 0) == beyond(change) else math.ceil
    return f"{cut(change / step) * step:+.7f}"


def render(table: pd.DataFrame, *, everything: bool = False, alpha: float | None = None) -> str:
    """The table as GitHub markdown; without ``everything``, each variant's overall row and only the
    class rows where some image changed sides or the verdict is not ok. p adj is written on the side of ``alpha``
    it is on (:func:`winnow.paired.p_text`)."""
    # the overall row by its metric: a class named "all (accuracy)" is a class row like any other
    moved = (table["changed"] > 0) | (table["verdict"] != "ok") | (table["metric"] == "accuracy")
    shown = table if everything else table[moved]

    # rates and bounds as the report writes them (decimals): before, a model wrong on 1 of 25,000 test images read
    # "base 1.0000", as if it erred nowhere, and a bound of -0.00004 read "-0.0000"
    def rate(x: float) -> str:
        return decimals(x, digits=4)

    def signed(x: float) -> str:
        return decimals(x, digits=4, signed=True)

    rows = [[markdown.cell(r.variant), row_name(r.klass, r.metric), str(r.images), str(r.changed),
             rate(r.base), rate(r.head), change_text(r.change, tolerance=r.tolerance, metric=r.metric),
             f"{signed(r.ci_low)} … {signed(r.ci_high)}",
             p_text(r.p, digits=4), p_text(r.p_adj, digits=4, alpha=alpha), f"{r.tolerance:g}",
             f"**{r.verdict}**" if r.verdict == "REGRESSED" else r.verdict]
            for r in shown.rename(columns={"class": "klass"}).itertuples(index=False)]
    # before: "class (recall)" headed the false-positive rows too, "0 (false positives)" read as a recall row
    header = ["variant", "class (recall unless marked)", "images", "changed", "base", "head", "change",
              f"{CONFIDENCE:.0%} CI", "p", "p adj", "tolerance", "verdict"]
    return markdown.table(header, rows)


def report(table: pd.DataFrame, notes: list[str], *, base: str | list[str], target: str | list[str],
           settings: GateSettings, everything: bool = False) -> tuple[str, bool]:
    """The markdown a person reads (stdout, a pull-request comment) and whether the gate passed."""
    regressed = table[table["verdict"] == "REGRESSED"]
    passed = regressed.empty
    base, target = revision_list(base), revision_list(target)
    pooled = (f" ({len(base)} run(s) at base, {len(target)} at head, pooled image by image: each image counts by "
              "its share of runs right)") if len(base) + len(target) > 2 else ""
    lines = [f"{REPORT_HEADING}{' + '.join(base)} → {' + '.join(target)}", "",
             f"Paired on the same test images{pooled}. p: one-sided "
             f"{POOLED_TEST if pooled else 'exact McNemar test'} of a drop; p adj: "
             f"{settings.correction} over each variant's classes; a metric regresses when p adj < "
             f"{settings.alpha:g} and the drop exceeds its tolerance.{_false_positive_line(table, settings)}", "",
             render(table, everything=everything, alpha=settings.alpha), ""]
    notes = notes + _blind_spots(table, alpha=settings.alpha) + _lookalikes(table)
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    if passed:
        lines.append(f"gate: PASS — {table['variant'].nunique()} variant(s), {len(table)} paired tests, "
                     "no significant drop beyond its tolerance")
    else:
        worst = "; ".join(f"{markdown.cell(r.variant)} {row_name(r.klass, r.metric)} "
                          f"{change_text(r.change, tolerance=r.tolerance, metric=r.metric)} "
                          f"(p adj {p_text(r.p_adj, digits=4, alpha=settings.alpha)})"
                          for r in regressed.rename(columns={"class": "klass"}).itertuples(index=False))
        lines.append(f"gate: FAIL — {len(regressed)} regression(s): {worst}")
    return "\n".join(lines) + "\n", passed


def _blind_spots(table: pd.DataFrame, *, alpha: float) -> list[str]:
    """Notes for the classes that collapsed (regressed whatever their p: recall or precision halved), for those a
    model predicts that hold no test image (their false-positive rows count images), and for those too small to test:
    even losing every image right at base would not be significant, so the gate cannot see them fall."""
    notes = []
    for r in table[table["collapsed"]].rename(columns={"class": "klass"}).itertuples(index=False):
        if r.metric == FALSE_POSITIVES:
            notes.append(f"{markdown.cell(r.variant)} {row_name(r.klass, r.metric)}: {decimals(r.base, digits=4)} → "
                         f"{decimals(r.head, digits=4)} per "
                         "test image of the class: a class whose precision halves as it takes other classes' images "
                         f"regresses whatever its p (p adj {p_text(r.p_adj, digits=4, alpha=alpha)})")
            continue
        notes.append(f"{markdown.cell(r.variant)} {markdown.cell(str(r.klass))}: recall {decimals(r.base, digits=4)} → "
                     f"{decimals(r.head, digits=4)} on "
                     f"its {r.images} test images: a class whose recall halves regresses whatever its p (p adj "
                     f"{p_text(r.p_adj, digits=4, alpha=alpha)})")
    # a false-positive row without a recall row in its variant: the class holds no test image (gate_table counts it in
    # images). Before: found by its images, the variant's all, looked up under the overall row's class cell, and a
    # class named 'all (accuracy)' put two rows there: a pandas traceback, no report
    tested = pd.MultiIndex.from_frame(table.loc[table["metric"] == "recall", ["variant", "class"]])
    untested = table[(table["metric"] == FALSE_POSITIVES)
                     & ~pd.MultiIndex.from_frame(table[["variant", "class"]]).isin(tested)]
    for r in untested.rename(columns={"class": "klass"}).itertuples(index=False):
        if r.new_at:  # before: "the test split holds no image of ...; give the test split images of every class"
            notes.append(f"{markdown.cell(r.variant)} {row_name(r.klass, r.metric)}: class {markdown.cell(str(r.klass))} "
                         f"has no test image at base, so its own at {r.new_at} are not gated (new there, or known without "
                         f"test images); the row counts the gated images the model predicts as it, {_images(r.base)} at "
                         f"base and {_images(r.head)} at head, each one wrong, "
                         "so any significant rise regresses")
            continue
        notes.append(f"warning: {markdown.cell(r.variant)} {row_name(r.klass, r.metric)}: the test split holds no "
                     f"image of {markdown.cell(str(r.klass))}, which the model predicts for {_images(r.base)} test "
                     f"image(s) at base and {_images(r.head)} at head, each one wrong: the row counts images, so any "
                     "significant rise regresses; give the test split images of every class")
    blind = table[(table["metric"] == "recall") & (table["floor_p"] >= alpha) & (table["base"] > 0)
                  & ~table["collapsed"]]
    # a class the base recognises under half of cannot collapse either (gate_table's rule starts at 0.5), and its test
    # images may be plenty: before, a class of 100 the base got 5 of right was said to "hold too few test images" and
    # told to get more, as if it could still collapse, when the gate could not see it fall at all. Nor can one with
    # fewer than COLLAPSE_MIN_LOST right at base (a class of 2, both right, lost both and was left "unless they
    # collapse")
    unseen = f"for any drop to be significant (losing every one tests at p adj ≥ {alpha:g})"
    rare = blind["base"] < 0.5
    few = ~rare & (blind["base"] * blind["images"] < COLLAPSE_MIN_LOST - IMAGE_SLACK)
    whys = {"small": f" hold too few test images {unseen}: the gate cannot see them fall unless they collapse; give "
                     "the test split more of their images",
            "few": f": too few right at base {unseen} or to collapse (a collapse loses at least {COLLAPSE_MIN_LOST}): "
                   "the gate cannot see them fall at all; give the test split more of their images",
            "rare": f": the base recognises too few of them {unseen} and under half, so they cannot collapse either: "
                    "the gate cannot see them fall at all; gate against a base that recognises more of them, or give "
                    "the test split more of their images"}
    for kind, group in (("small", ~rare & ~few), ("few", few), ("rare", rare)):
        for variant, rows in blind[group].groupby("variant", sort=False):
            names = ", ".join(f"{markdown.cell(str(c))} ({n})" if kind == "small" else
                              f"{markdown.cell(str(c))} ({_images(round(b * n, 9))} of {n} right at base)"
                              for c, b, n in zip(rows["class"], rows["base"], rows["images"]))
            notes.append(f"warning: {markdown.cell(variant)}: class(es) {names}{whys[kind]}")
    return notes


def _images(count: float) -> str:
    """A count of images as a note writes it: whole, with thousands separators, or to 4 decimals where runs pooled
    image by image weigh each image by its share of runs (2.5). Before: ``.4g``, so 12,345 images read "1.234e+04"
    (12,340) and 1,234.5 read "1234"."""
    return f"{count:,.4f}".rstrip("0").rstrip(".")


def _lookalikes(table: pd.DataFrame) -> list[str]:
    """A warning for each class whose row reads as another class's false-positive row (a class named
    ``x (false positives)`` beside a class ``x``), or as the variant's overall row (a class named ``all (accuracy)``).
    Before: the two rows, recall of the one and false positives of the other, showed the same class cell, and a FAIL
    line naming it did not say which had regressed."""
    notes = []
    for variant, rows in table[table["metric"] == "recall"].groupby("variant", sort=False):
        taken = {row_name(c, FALSE_POSITIVES): c for c in rows["class"]}
        for c in rows["class"]:
            if row_name(c, "recall") == row_name(OVERALL, "accuracy"):  # before: its row, and a FAIL line naming it,
                # read as the variant's accuracy ("baseline all (accuracy) -1.0000" for the class alone)
                notes.append(f"warning: {markdown.cell(variant)}: the recall row of class {row_name(c, 'recall')} "
                             "reads as the variant's overall accuracy row (that one comes first, the class's after it); "
                             "rename the class to tell them apart")
            if row_name(c, "recall") in taken:
                other = markdown.cell(str(taken[row_name(c, "recall")]))
                notes.append(f"warning: {markdown.cell(variant)}: the recall row of class {row_name(c, 'recall')} "
                             f"reads as class {other}'s false-positive row (that one comes first, after {other}'s "
                             "own row); rename the class to tell them apart")
    return notes


def _false_positive_line(table: pd.DataFrame, settings: GateSettings) -> str:
    """The sentence on the false-positive rows, where the table holds some."""
    if not (table["metric"] == FALSE_POSITIVES).any():
        return ""
    return (f" A class's false positives: the other classes' test images (images) predicted as it, per test image of "
            f"the class; their p adj: {settings.correction} over the classes apart from recall's; a rise regresses.")
