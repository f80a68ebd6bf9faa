"""Variants side by side: the per-class tables of 000 (Tables 1-8), and their significance.

Within one run the tables have rows = classes, then the average and std across classes (ddof=0), and
columns = variants. Across runs (seeds, via ``dvc exp``) each cell is ``mean ± std`` over the runs,
and every pair of variants gets a paired t-test and the t confidence interval of the mean
difference, pairing the two variants' values within each run, as 000's before/after t-test does.

Runs count as seeds of one setting only when everything but ``seed`` in their params.yaml is the same
and they evaluated the same classes: a commit holding another data set's metrics, or experiments with
other settings, are left out (and named), never averaged in.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from winnow import markdown
from winnow.cli_args import a_name, output_file, project_folder, saved_exp_show
from winnow.compare_out import check_arguments, write_out
from winnow.errors import WinnowError, first_repeated
from winnow.experiments import current_runs, left_out_note, load_experiments
from winnow.metrics import (
    PER_CLASS_METRICS, check_support, check_support_over_runs, is_rate, metrics_path, no_better_than_one_class,
    tested_recalls,
)
from winnow.paired import decimals, p_text

SUMMARY_ROWS = ("average", "std")
# the two-sided level of paired_test's 95% interval: a p is shown on its side of it (winnow.paired.p_text)
SIGNIFICANCE_LEVEL = 0.05


def summary_labels(classes) -> tuple[str, str]:
    """Row names of the average and std across classes: ``average`` and ``std``, put in parentheses as
    often as needed to differ from every class name (a class may be called ``average``)."""
    taken, out = set(map(str, classes)), []
    for label in SUMMARY_ROWS:
        while label in taken:
            label = f"({label})"
        out.append(label)
    return out[0], out[1]


def class_table(metrics: dict[str, dict], *, metric: str, untested: list[str] | None = None) -> pd.DataFrame:
    """Rows = classes, then the average and std across the classes with test images (the last two rows, named by
    :func:`summary_labels`: as evaluate's macro figures, they leave out the :func:`untested_classes`, whose 0s are
    not measured); columns = variants.

    Args:
        metrics: variant → a summary (``per_class.<class>.<metric>``, see :func:`winnow.metrics.summarise`).
        untested: the classes those rows leave out (default: ``metrics``' :func:`untested_classes`); over several
            runs, those of any run (:func:`untested_in_runs`), so that every run averages the same classes.
    """
    check_support(metrics)
    columns, first = {}, None
    untested = untested_classes(metrics) if untested is None else untested
    for variant, m in metrics.items():
        values = {c: v.get(metric) for c, v in m["per_class"].items()}
        bad = next((c for c, x in values.items() if not is_rate(x)), None)
        if bad is not None:
            found = f"{values[bad]!r}, not a number in [0, 1]" if metric in m["per_class"][bad] else "missing"
            raise WinnowError(f"{variant}: per_class.{bad}.{metric} is {found}; rerun evaluate@{variant}")
        if first is None:
            first = (variant, list(values))
        elif set(values) != set(first[1]):  # pandas would align the union, sorted, and misplace the summary rows
            lacks, extra = sorted(set(first[1]) - set(values)), sorted(set(values) - set(first[1]))
            raise WinnowError(f"{variant}: its classes differ from {first[0]}'s ("
                              + "; ".join(part for part in (f"lacks {', '.join(lacks)}" if lacks else "",
                                                            f"has {', '.join(extra)} too" if extra else "") if part)
                              + f"); variants are compared on one test set: rerun evaluate@{variant}")
        per_class = pd.Series(values, dtype=float).reindex(first[1])
        average, spread = summary_labels(per_class.index)
        tested = per_class.drop(index=untested, errors="ignore")
        tested = tested if len(tested) else per_class  # none tested: all averaged, as evaluate's macro figures
        columns[variant] = pd.concat([per_class, pd.Series({average: tested.mean(), spread: tested.std(ddof=0)})])
    table = pd.DataFrame(columns)
    table.index.name = "class"
    return table


def class_rows(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`class_table` without its two summary rows."""
    return table.iloc[:-len(SUMMARY_ROWS)]


def untested_classes(metrics: dict[str, dict]) -> list[str]:
    """The classes of ``metrics`` (variant → a summary, as :func:`class_table` takes) of ``support`` 0 where a summary
    gives it (:func:`check_support` has them agree; before, a variant of a run whose summary was not read averaged its 0
    in): evaluate knew them but the test split holds no image of them (a small class the carve left out of test, a
    user's own test/ folder without it), so their metrics are 0 by definition, not measured."""
    first = next(iter(metrics.values()), {"per_class": {}})["per_class"]
    return [c for c in first if any(m["per_class"].get(c, {}).get("support") == 0 for m in metrics.values())]


def tested_class_rows(table: pd.DataFrame, metrics: dict[str, dict]) -> pd.DataFrame:
    """:func:`class_rows` less the :func:`untested_classes`: the classes a paired test across classes pairs. Before:
    a class without test images added a difference of exactly 0, and the same +0.010 in each of 10 classes, which
    :func:`paired_test` calls no evidence, tested at p < 0.0001 beside it."""
    return class_rows(table).drop(index=untested_classes(metrics))


def untested_note(metrics: dict[str, dict], *, name=lambda c: markdown.cell(str(c))) -> str:
    """A sentence naming the :func:`untested_classes` (each written by ``name``: a markdown cell, or HTML) left out of
    the paired test across classes and of the class table's average and std rows, as of evaluate's macro figures, or
    "". Before, a table's 0 row stood among the classes without a word of why."""
    untested = untested_classes(metrics)
    if not untested:
        return ""
    tested = "the test and of " if len(metrics) > 1 else ""  # one variant: no pair, so no test
    return (f"Left out of {tested}the average and std rows: {', '.join(name(c) for c in untested)} (no test "
            "image: its 0s are not measured), as evaluate's macro figures leave it out.")


def unlearnt_note(metrics: dict[str, dict]) -> str:
    """A sentence naming the variants of ``metrics`` (variant → evaluate's summary, each class's recall and support
    checked by :func:`class_table`) whose model did not learn (:func:`winnow.metrics.not_learnt`, what evaluate warns of
    and the report gives no verdict beside), or "". Before, the compare stage wrote "pruned better, p 0.0088" across
    classes against a baseline that named one class for every test image, without a word: the gap is the failed
    training's, not the data's."""
    # not_learnt's test from the recalls alone (the stage reads no accuracy): two or more adding up to 1 or less miss
    # some test image, so the accuracy is below 1 whatever it is
    failed = [v for v, m in metrics.items() if no_better_than_one_class(0.0, tested_recalls(m))]
    if not failed:
        return ""
    one = len(failed) == 1
    return (f"The model of {', '.join(f'`{v}`' for v in failed)} did not learn (its recalls of the test classes add up "
            "to no more than naming one class for every image scores), so no difference beside "
            f"{'it' if one else 'them'} says anything of the data, however small its p; check train.lr, "
            "train.weight_decay and train.epochs, then rerun `dvc repro "
            f"{' '.join(f'train@{v}' for v in failed)}` and compare.")


def untested_in_runs(runs: list[dict[str, dict]]) -> list[str]:
    """The :func:`untested_classes` of any of ``runs`` (each variant → a summary), in order of first appearance."""
    return list(dict.fromkeys(c for run in runs for c in untested_classes(run)))


def untested_rows_note(runs: list[dict[str, dict]]) -> str:
    """A sentence naming the :func:`untested_in_runs` that the average and std rows of :func:`seed_summary`'s table
    and its tests leave out, or "": ``winnow compare`` over runs, whose tests pair runs, not classes."""
    untested = untested_in_runs(runs)
    if not untested:
        return ""
    tests = " and of the tests" if len(runs[0]) > 1 else ""  # one variant: no pair, so no test (as untested_note)
    return (f"Left out of the average and std rows{tests}: "
            f"{', '.join(markdown.cell(str(c)) for c in untested)} (no test image: its 0s are not measured), as "
            "evaluate's macro figures leave it out.")


def uncorrected_note(tests: pd.DataFrame, *, runs: int) -> str:
    """A sentence saying that the class rows of :func:`seed_summary`'s ``tests`` over ``runs`` runs are each their own
    test, their p not corrected for how many classes were tested, or "" (one run tests nothing; one class is one
    test). Before, ten class rows stood beside the 0.05 rule without a word, and one of them reads p < 0.05 by chance
    alone in 4 of 10 comparisons of two equal variants; the gate corrects (``gate.correction``), compare does not."""
    classes = tests["row"].nunique() - 1  # every class tested, and the average
    if runs < 2 or classes < 2:
        return ""
    return (f"Each class row is its own test, its p not corrected for the {classes} classes tested (by chance alone, "
            "some class of many reads p < 0.05 far more often than 1 in 20); the average row is one test.")


def summary_rows(table: pd.DataFrame) -> tuple[str, ...]:
    """The names of a :func:`class_table`'s summary rows (average, std)."""
    return tuple(table.index[-len(SUMMARY_ROWS):])


def paired_test(a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95) -> dict[str, float]:
    """Paired t-test of ``b - a`` and the t interval of its mean, from the same t distribution (n - 1 degrees of
    freedom), so that the interval leaves out 0 exactly when p < 1 - ``confidence``. Before: the interval was a
    percentile bootstrap, which runs narrow over ten classes, and the report showed "+0.001 … +0.015" beside
    p 0.067, "no clear difference".

    Args:
        a, b: float ``(n,)`` paired observations (the same seeds, or the same classes).

    Returns:
        ``mean_diff``, ``t``, ``p`` (two-sided), ``ci_low``, ``ci_high``, ``n``. Two or more differences without
        spread: all 0 within float rounding (identical results) mean_diff and t 0, p 1 and CI [0, 0]; all the same
        other value t ±inf but p and the CI NaN (before: p 0, "better, p < 0.001" from two classes that each gained
        0.010: the same change twice is no evidence of how much it varies). t, p and the CI are NaN for a single
        pair, a tie too (nothing tells one difference from noise: before, one run whose two variants tied on a class
        of 15 test images, F1 0.6667 both, read p 1 "(identical)" with the 95% CI [0, 0] beside rows of one run read
        n/a); :func:`tests_markdown` writes those in words.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise WinnowError(f"paired test: {a.shape} and {b.shape} observations do not pair up")
    diff = b - a
    out = {"mean_diff": float(diff.mean()) if len(diff) else float("nan"), "n": int(len(diff)),
           "t": float("nan"), "p": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    if len(diff) < 2:  # one pair, a tie too: no spread to measure, so no test and no interval
        return out
    # equal within float rounding (0.6 - 0.5 and 0.8 - 0.7 differ in the 17th digit) counts as no spread
    if np.ptp(diff) <= 1e-12 * max(1.0, float(np.abs(diff).max())):
        # the t statistic divides by the spread, 0 here: scipy answers NaN (identical variants, common on a
        # small data set) or warns of precision loss, so write the limit it tends to instead
        # every difference within float rounding of 0 is a tie too: before, diff[0] alone was asked, and two variants
        # tied on a class in every run (in one, F1 2/3 from precision 0.6 and recall 0.75 at one variant and from 1
        # and 0.5 at the other, which differ in the 16th digit) read "n/a (the same change in every pair)", t "-inf (no
        # spread)" where that run came first, and p 1 beside a change of "-0.0000", not identical, where it came later
        if np.abs(diff).max() <= 1e-12:
            out.update(mean_diff=0.0, t=0.0, p=1.0, ci_low=0.0, ci_high=0.0)
        else:
            out.update(t=math.copysign(math.inf, diff[0]))
    else:
        result = stats.ttest_rel(b, a)
        out["t"], out["p"] = float(result.statistic), float(result.pvalue)
        half = stats.t.ppf(1 - (1 - confidence) / 2, len(diff) - 1) * diff.std(ddof=1) / math.sqrt(len(diff))
        out["ci_low"], out["ci_high"] = out["mean_diff"] - float(half), out["mean_diff"] + float(half)
    return out


def pairwise(values: dict[str, np.ndarray], **kw) -> pd.DataFrame:
    """:func:`paired_test` for every ordered pair (earlier variant → later) of ``values``."""
    rows = [{"from": a, "to": b, **paired_test(values[a], values[b], **kw)}
            for a, b in itertools.combinations(values, 2)]
    return pd.DataFrame(rows, columns=["from", "to", "mean_diff", "t", "p", "ci_low", "ci_high", "n"])


def seed_summary(runs: list[dict[str, dict]], *, metric: str,
                 names: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tables over several runs.

    Args:
        runs: one dict per run (seed): variant → summary. Every run must hold the same variants and classes.
        names: the runs' names, which a refused value's line starts with (before, a NaN's line named the
            variant, not which of the runs held it).

    Returns:
        ``(cells, tests)``: ``cells`` has rows = classes + average + std and columns = variants, each
        ``"mean ± std"`` over runs (the mean alone for one run, which measures no std); ``tests`` pairs the
        variants on macro ``metric`` (the per-run average over classes) and on each class's ``metric``, but for the
        :func:`untested_in_runs`.
    """
    if not runs:
        raise WinnowError("compare: no runs to summarise")
    variants, tables, untested = list(runs[0]), [], untested_in_runs(runs)
    for number, run in enumerate(runs):
        try:
            # every run's average and std rows over the same classes: before, a run whose summary DVC alone showed
            # (no support) averaged in the 0 of a class another run's summary says has no test image, and the average
            # row read 0.3750 ± 0.1768 over two runs that both scored 0.5 on the one class tested
            tables.append(class_table(run, metric=metric, untested=untested))
        except WinnowError as err:
            if names is None:
                raise
            raise WinnowError(f"experiment {names[number]}: {err}") from err
    index = tables[0].index
    for number, table in enumerate(tables[1:], start=1):  # rows by class name: a summary may list them in any order
        if set(table.index) != set(index):
            named = f"experiment {names[number]}" if names else f"run {number + 1}"
            first = f"experiment {names[0]}" if names else "run 1"
            odd = sorted(set(table.index) ^ set(index), key=str)[:3]
            raise WinnowError(f"compare --metrics {metric}: {named} scores other classes than {first} (first "
                              f"difference: {', '.join(map(str, odd))}); runs of one comparison share one class list")
    check_support_over_runs(runs, names=names)
    # before: stacked by position, so a summary listing its classes in another order averaged class 2 into class 7
    stacked = np.stack([table.loc[index, variants].to_numpy() for table in tables])  # (runs, rows, v)
    # one run has no spread over runs: before, each of its cells read "± 0.0000", a stability no seed measured
    mean, std = stacked.mean(axis=0), stacked.std(axis=0, ddof=1) if len(runs) > 1 else None
    # to a first digit that is not 0 (decimals): before, runs 0.00003 apart read "± 0.0000", as no spread
    cells = pd.DataFrame([[decimals(m, digits=4) if std is None else
                           f"{decimals(m, digits=4)} ± {decimals(std[r, j], digits=4)}" for j, m in enumerate(mr)]
                          for r, mr in enumerate(mean)], index=index, columns=variants)
    tests, untested = [], set(untested)
    for row, name in enumerate(index[:-1]):  # every class and the average; a std across classes is no effect
        if name in untested:  # before: its unmeasured 0s paired as a tie, "1.0000 (identical)" over seeds
            continue
        per_variant = {v: stacked[:, row, j] for j, v in enumerate(variants)}
        tests.append(pairwise(per_variant).assign(row=name))
    return cells, pd.concat(tests, ignore_index=True)


def to_markdown(table: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub markdown table (no tabulate dependency)."""
    frame = table.reset_index()
    cells = [[f"{v:.{digits}f}" if isinstance(v, float) else markdown.cell(str(v)) for v in row]
             for row in frame.to_numpy()]
    return markdown.table([markdown.cell(str(c)) for c in frame.columns], cells)


def tests_markdown(tests: pd.DataFrame, *, index: str, single: str, digits: int = 4) -> str:
    """A :func:`pairwise` table as markdown, rows named by its column ``index``, saying in words what its
    numbers cannot: the p of identical results over two or more pairs reads ``1.0000 (identical)``, the p and CI of one non-zero change
    in every pair ``n/a (the same change in every pair)`` beside t ``inf (no spread)``, and a t, p or CI that one
    pair leaves undefined reads ``n/a (<single>)`` (e.g. ``single="one run"``), never ``nan``; with one variant
    there is no pair, and it says so. p is written by :func:`winnow.paired.p_text`, with more digits where ``digits``
    would put it on the other side of :data:`SIGNIFICANCE_LEVEL` (before: p 0.049996 read 0.0500 beside a 95% CI
    that leaves out 0)."""
    if tests.empty:  # one variant (params and --variants allow it): its tables stand alone
        return "_One variant: no pair to test._"
    shown = tests.astype(object)
    constant = np.isinf(tests["t"].to_numpy(float))  # the same non-zero change in every pair: no spread to test
    # a change and its bounds to their first digit that is not 0 (decimals): before, a change of +0.00004 in every run
    # read "0.0000" with its CI "0.0000" to "0.0000" beside p 0.0048, a difference shown as none
    shown["mean_diff"] = [decimals(v, digits=digits) for v in tests["mean_diff"]]
    for column in ("t", "p", "ci_low", "ci_high"):
        shown[column] = [f"n/a ({single})" if math.isnan(v)
                         else p_text(v, digits=digits, alpha=SIGNIFICANCE_LEVEL) if column == "p"
                         else decimals(v, digits=digits) if column != "t" else f"{v:.{digits}f}" for v in tests[column]]
        shown.loc[constant, column] = "n/a (the same change in every pair)"
    identical = tests["mean_diff"].eq(0) & tests["ci_low"].eq(0) & tests["ci_high"].eq(0)
    shown.loc[identical, "p"] += " (identical)"
    shown.loc[constant, "t"] = [f"{v:.{digits}f} (no spread)" for v in tests.loc[constant, "t"]]
    return to_markdown(shown.set_index(index), digits=digits)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # a list option given twice takes both lists (action extend): before, the last one alone was compared
    parser.add_argument("--variants", nargs="+", action="extend", type=a_name("variant"),
                        help="variants to compare (default: params.yaml variants)")
    parser.add_argument("--metrics", nargs="+", action="extend", choices=PER_CLASS_METRICS, help="default: f1")
    parser.add_argument("--num", type=int, default=1, help="commits back from HEAD whose experiments count (default 1)")
    parser.add_argument("--from-json", type=saved_exp_show,
                        help="a saved `dvc exp show --json` instead of the repository (- reads "
                             "standard input)")
    parser.add_argument("--out", type=output_file("reports/compare-seeds.md"), help="also write the markdown here")
    parser.add_argument("--repo", default=".", type=project_folder, help="the DVC project (default: here)")


def run(args: argparse.Namespace) -> int:
    from winnow.compare_runs import (
        evaluated_variants, run_metrics, select_runs, unread_note, unsized_zeros_note, without_workspace,
    )
    from winnow.stage import load_params
    from winnow.study_runs import class_names, own_outputs, ran_as_listed

    check_arguments(num=args.num, out=args.out, from_json=args.from_json)
    args.metrics = args.metrics or ["f1"]
    repeated = first_repeated(args.variants or [])
    if repeated is not None:  # before: a pair of a variant with itself, and a traceback when it was the only one
        raise WinnowError(f"compare --variants: {repeated} given twice; name each variant once")
    repeated = first_repeated(args.metrics)
    if repeated is not None:  # before: the same two tables twice, in the screen's text and in --out
        raise WinnowError(f"compare --metrics: {repeated} given twice; name each metric once")
    variants = args.variants or load_params(Path(args.repo) / "params.yaml", repo=args.repo).get("variants") or []
    where = "compare --variants" if args.variants else "compare: params.yaml variants"
    unfinished: list[str] = []
    failed: list[str] = []
    unreadable: list[str] = []
    records, uncommitted = without_workspace(
        load_experiments(repo=args.repo, revs=None, num=args.num, from_json=args.from_json, where="compare",
                         include_workspace=True, unfinished=unfinished, failed=failed, unreadable=unreadable,
                         reads=[metrics_path(v) for v in variants]),
        variants=variants)
    running = left_out_note(unfinished, failed, unreadable)
    known = evaluated_variants(records)
    unknown = [v for v in variants if v not in known]
    if unknown:
        raise WinnowError(f"{where}: no run has metrics for {', '.join(unknown)} ({metrics_path(unknown[0])}); "
                          f"runs hold {', '.join(known) or 'no evaluate metrics'}"
                          + "".join(f" ({n})" for n in (running, uncommitted) if n))
    stale = ""
    if args.from_json is None:  # a saved exp show holds no commit to check
        records, stale = current_runs(records, repo=args.repo, targets=[f"evaluate@{v}" for v in variants])
    # a run saved over another's outputs (`dvc exp save`, `dvc commit`) holds that run's metrics under its own params:
    # before, noise 0.6 saved over a noise 0.3 run was compared as the 0.6 setting, the real 0.6 run left out as its seed
    records, unlike = ran_as_listed(class_names(records, [metrics_path(v) for v in variants]))
    records, shared = own_outputs(records)
    stale = "; ".join(n for n in (stale, unlike, shared) if n)
    runs, note = select_runs(records, variants=variants)
    if not runs:
        said = "; ".join(n for n in (running, uncommitted, stale) if n)
        raise WinnowError("compare: no experiment holds metrics for all of " + ", ".join(variants)
                          + (f" ({said})" if said else "")
                          + "; run e.g. dvc exp run --queue -S seed=1 ... && dvc exp run --run-all")
    unread: list[str] = []  # summaries there but broken: F1 read as DVC shows it (before: without a word)
    measured = {metric: [run_metrics(r, metric=metric, repo=args.repo, unread=unread) for r in runs]
                for metric in args.metrics}
    # the runs whose summaries are not there at all (those there but broken, unread_note names)
    named = [r["experiment"] for r in runs]
    unsized = unsized_zeros_note(measured["f1"], names=named, noted={
        name for name in named if any(u.startswith(f"{name}: ") for u in unread)}) if "f1" in measured else ""
    note = "; ".join(n for n in (running, uncommitted, stale, note, unread_note(unread), unsized) if n)
    seeds = ", ".join(json.dumps(r["params"].get("seed")) for r in runs)
    parts = [f"# Variants over {len(runs)} run(s) (seeds {seeds})\n"] + ([f"_{note}_\n"] if note else [])
    for metric in args.metrics:
        cells, tests = seed_summary(measured[metric], metric=metric, names=[r["experiment"] for r in runs])
        # one run's cells hold its values alone (seed_summary): before, this heading still promised a std over runs
        over = "mean ± std over runs" if len(runs) > 1 else "one run: its values, no std over runs"
        parts += [f"## {metric} ({over})\n", to_markdown(cells), "",
                  *(f"_{note}_\n" for note in [untested_rows_note(measured[metric])] if note),
                  f"## {metric}: paired t-test and its 95% t CI of the difference (to − from)\n",
                  *(f"_{note}_\n" for note in [uncorrected_note(tests, runs=len(runs))] if note),
                  tests_markdown(tests, index="row", single="one run"), ""]
    text = "\n".join(parts)
    print(text)
    if args.out:
        write_out(args.out, text, runs=[r["experiment"] for r in runs], variants=variants)
    return 0
