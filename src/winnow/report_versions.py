"""The report's first answer: which data set version to ship, and by how much it beats baseline.

One table, one row per evaluated version: test accuracy, macro F1, the weakest class (of those the test split
holds) and its F1, and against baseline, paired on the same test images
(``metrics/evaluate/<version>/predictions.csv``):

- the change in macro F1, with a paired permutation test and the interval that inverts it, drawn image by
  image (:func:`winnow.paired.macro_f1_change`): is the gain more than the luck of which test images
  were drawn? This decides;
- the change in accuracy with McNemar's exact two-sided test (:mod:`winnow.paired`, what the merge gate
  uses), for the reader who counts images.

Then one sentence (:mod:`winnow.version_verdict`): the version to ship is the one with the highest macro F1
among those whose macro F1 beats baseline's with p < 0.05, or it says plainly that none does. (Whether a gain
holds across classes is the evaluation section's paired t-test over classes; it cannot see test noise, so it does
not decide.)
``oracle`` (the train split before degrade) is shown as a reference and never chosen: a user never has it.
"""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd

from winnow.compare import SIGNIFICANCE_LEVEL
from winnow.errors import named_in_brackets
from winnow.gate_table import CONFIDENCE
from winnow.markdown import isolate
from winnow.metrics import PER_CLASS_METRICS, is_rate, not_learnt, predictions_path, summarise, summary_path
from winnow.paired import PairedCounts, change_p_value, macro_f1_change, p_text
from winnow.paired_predictions import pair
from winnow.report import decimals, html_table
from winnow.report_significance import bound
from winnow.stage_reads import rerun_error
from winnow.version_verdict import BASELINE, REFERENCES, unevaluated_sentence, verdict

RESAMPLES = 2000  # permutations: p resolves to 1/2001, and 1,000 test images take 0.2 s
WEAKEST_NAMED = 3  # classes tied for the weakest named in its cell, the rest counted
FEW_TEST_IMAGES = 5  # below it one test image moves a class's recall by more than 0.2
REVIEW_KEYS = ("verdicts", "confirmed", "overruled", "relabelled_by_person")
COLUMNS = ["test accuracy", "macro F1", "weakest class", "its F1", "macro F1 vs baseline",
           "p (permutation, per image)", f"{CONFIDENCE:.0%} CI (permutation, per image)", "accuracy vs baseline",
           "p (McNemar, per image)"]
_ABSENT = object()  # a key the summary lacks (None is JSON null, a value someone wrote)


def check_summary(summary, *, variant: str) -> dict:
    """evaluate@<variant>'s ``summary.json`` as :func:`winnow.metrics.summarise` writes it, or one line naming
    the file and the key: every rate the report reads (``accuracy``, ``macro.<m>``, ``per_class_std.<m>``,
    ``per_class.<class>.<m>``) a number in [0, 1], every ``per_class.<class>.support`` a count of test images.

    A hand-edited accuracy of 7 would be shown, and could be shipped, as if measured.
    """
    def refuse(key: str, value, *, what: str) -> Exception:
        shown = "missing" if value is _ABSENT else json.dumps(value)[:40]  # as the file spells it: NaN, null, "x"
        return rerun_error(summary_path(variant), f"{key} is {shown}, not {what}", written_by=f"evaluate@{variant}")

    sections = {name: summary.get(name, _ABSENT) if isinstance(summary, dict) else _ABSENT
                for name in ("macro", "per_class_std", "per_class")}
    for name, value in sections.items():
        if not (isinstance(value, dict) and value):
            raise refuse(name, value, what="an object of classes" if name == "per_class" else "an object of rates")
    rates = {"accuracy": summary.get("accuracy", _ABSENT)}
    rates |= {f"{name}.{m}": sections[name].get(m, _ABSENT) for name in ("macro", "per_class_std")
              for m in PER_CLASS_METRICS}
    for name, values in sections["per_class"].items():
        if not isinstance(values, dict):
            raise refuse(f"per_class.{name}", values, what="an object of rates")
        rates |= {f"per_class.{name}.{m}": values.get(m, _ABSENT) for m in PER_CLASS_METRICS}
        support = values.get("support", _ABSENT)
        if isinstance(support, bool) or not isinstance(support, int) or support < 0:
            raise refuse(f"per_class.{name}.support", support, what="a count of test images")
    bad = next((key for key, value in rates.items() if not is_rate(value)), None)
    if bad is not None:
        raise refuse(bad, rates[bad], what="a number in [0, 1]")
    return summary


def compare_versions(metrics: dict[str, dict], predictions: dict[str, pd.DataFrame], *,
                     paths: dict[str, str]) -> pd.DataFrame:
    """Every evaluated version against baseline.

    Args:
        metrics: version → its evaluate summary (``accuracy``, ``macro.f1``, ``per_class.<class>.f1``,
            classes in model order).
        predictions: version → its ``predictions.csv`` (``id, label, predicted``: class names), for every
            version of ``metrics``; paths: version → that file's path, for errors.

    Returns:
        One row per version (index), float columns ``accuracy``, ``macro_f1``, ``weakest_f1``,
        ``f1_change``, ``f1_p``, ``f1_low``, ``f1_high``, ``acc_change``, ``acc_p`` (NaN where a comparison does
        not apply: baseline itself, or no baseline), the text column ``weakest`` and the bool column ``learnt``
        (the model does better on the test classes than naming one class for every image:
        :func:`winnow.metrics.not_learnt`).
    """
    rows = {}
    for version, summary in metrics.items():
        # the weakest class is one the test split measured, as evaluate says it: a class without test images
        # has F1 0 by convention, and was named the weakest as if the model failed it
        f1 = pd.Series({name: values["f1"] for name, values in summary["per_class"].items()}, dtype=float)
        tested = pd.Series({name: values["support"] > 0 for name, values in summary["per_class"].items()})
        f1 = f1[tested] if tested.any() else f1
        rows[version] = {"accuracy": float(summary["accuracy"]), "macro_f1": float(summary["macro"]["f1"]),
                         "weakest": _weakest(f1), "weakest_f1": float(f1.min()), "learnt": not not_learnt(summary)}
        if BASELINE not in metrics or version == BASELINE:
            continue
        pairs = pair(predictions[BASELINE], predictions[version], variant=f"{paths[version]} against baseline",
                     fix="rerun `dvc repro evaluate` so that every version is tested on the same test split")
        classes = list(summary["per_class"])
        index = {name: i for i, name in enumerate(classes)}
        coded = {}
        for column in ("label", "predicted_base", "predicted_head"):
            coded[column] = pairs[column].astype(str).map(index)
            if coded[column].isna().any():
                unknown = pairs[column].astype(str)[coded[column].isna()].iloc[0]
                where = paths[BASELINE if column == "predicted_base" else version]
                raise rerun_error(where, f"class {unknown!r} is not one of the {len(classes)} classes evaluated",
                                  written_by=f"evaluate@{BASELINE if column == 'predicted_base' else version}")
        test = macro_f1_change(*(coded[c].to_numpy() for c in coded), num_classes=len(classes),
                               resamples=RESAMPLES, confidence=CONFIDENCE)
        counts = PairedCounts.from_correct(coded["predicted_base"] == coded["label"],
                                           coded["predicted_head"] == coded["label"])
        rows[version] |= {"f1_change": test["change"], "f1_p": test["p"], "f1_low": test["ci_low"],
                          "f1_high": test["ci_high"], "acc_change": counts.change, "acc_p": change_p_value(counts)}
    columns = ["accuracy", "macro_f1", "weakest", "weakest_f1", "f1_change", "f1_p", "f1_low", "f1_high",
               "acc_change", "acc_p", "learnt"]
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)


def _weakest(f1: pd.Series) -> str:
    """The classes of ``f1`` (class -> F1) whose F1 reads as the lowest does (to 3 decimals, as the table shows it), by
    name, at most :data:`WEAKEST_NAMED` and how many more. Before: the first of them alone, so of two classes at F1 0.500
    the page called one "the weakest class" and left the other unsaid, as if the model failed it less."""
    shown = f1.map(lambda value: decimals(value, digits=3))
    weakest = [str(name) for name in f1.index[shown == decimals(f1.min(), digits=3)]]
    more = len(weakest) - WEAKEST_NAMED
    return ", ".join(weakest[:WEAKEST_NAMED]) + (f" and {more:,} more" if more > 0 else "")


def unmeasured_note(metrics: dict[str, dict]) -> str:
    """A paragraph naming the classes evaluate found no test image of (``per_class.<class>.support`` 0 in any
    version's summary), whose 0 no macro figure on the page counts, and one naming the classes of fewer
    than :data:`FEW_TEST_IMAGES` (a class of one test image was shown going 0.000 -> 1.000 in bold, a quarter of
    the macro F1 that shipped a version, without a word); empty when every class has enough."""
    support = {}
    for summary in metrics.values():
        for name, values in summary["per_class"].items():
            support[name] = min(support.get(name, values["support"]), values["support"])
    unmeasured = [name for name, n in support.items() if n == 0]
    few = {name: n for name, n in support.items() if 0 < n < FEW_TEST_IMAGES}
    note = ""
    if unmeasured:
        names = ", ".join(f"<b>{html.escape(name)}</b>" for name in unmeasured)
        note += (f'<p class="fail">No test image of {names}: {"its" if len(unmeasured) == 1 else "their"} precision, '
                 "recall and F1 are written as 0, which says nothing of the model, and left out of every macro "
                 "figure and paired test on this page. Give the test split images of every class."
                 "</p>")
    if few:  # each name isolated (markdown.isolate): before, a right-to-left name read its count first, "(3) חתול"
        names = ", ".join(f"<b>{html.escape(isolate(name))}</b> ({n})" for name, n in few.items())
        note += (f'<p class="fail">Few test images of {names}: one image moves a recall by 1/{max(few.values())} or '
                 "more, so their F1 and their share of every macro figure on this page rest on a handful of images. "
                 "Give the test split more of them.</p>")
    return note


def check_against_predictions(summary: dict, predictions: pd.DataFrame, *, variant: str) -> None:
    """One line naming the summary when a figure of it (accuracy, ``macro.<m>``, ``per_class_std.<m>``,
    ``per_class.<class>.<m>`` and ``support``) is not what its predictions.csv gives: the report ranks and ships the
    versions by the summary and shows every one of them, and a summary edited, or left from another run, was shown
    beside predictions that contradict it (accuracy 0.500 with a change of +0.008 against baseline's 0.959)."""
    classes = list(summary["per_class"])
    index = {name: i for i, name in enumerate(classes)}
    # before: a label the summary has no class of (predictions.csv edited, then `dvc repro -s report`) was counted as
    # NaN, a TypeError; read_predictions has held each prediction to the labels and these classes
    unknown = ~predictions["label"].isin(index)
    if unknown.any():
        raise rerun_error(predictions_path(variant), f"label {predictions['label'][unknown].iloc[0]!r} (id "
                                                     f"{predictions['id'][unknown].iloc[0]!r}, {int(unknown.sum())} "
                                                     f"row(s)) is no class of its {summary_path(variant)}",
                          written_by=f"evaluate@{variant}")
    recount = summarise(predictions["label"].map(index).to_numpy(), predictions["predicted"].map(index).to_numpy(),
                        classes=classes)
    # every figure the page shows of the summary, the two it ranks by first: before, a per-class F1, a macro precision
    # or a std edited (accuracy and macro F1 left alone) was shown, "weakest class cat, its F1 0.500" beside a macro
    # F1 of 0.750 whose every class scored 0.750, and "macro precision 0.100" beside predictions giving 0.750
    keys = [("accuracy",), ("macro", "f1"), *(("macro", m) for m in PER_CLASS_METRICS if m != "f1"),
            *(("per_class_std", m) for m in PER_CLASS_METRICS),
            *(("per_class", c, m) for c in classes for m in (*PER_CLASS_METRICS, "support"))]
    for key in keys:
        said, counted = _at(summary, key), _at(recount, key)
        if not math.isclose(said, counted, abs_tol=1e-9):
            said, counted = (f"{said:,}", f"{counted:,}") if key[-1] == "support" else _told_apart(said, counted)
            raise rerun_error(summary_path(variant), f"{'.'.join(key)} is {said} but its {predictions_path(variant)} "
                                                     f"gives {counted}: the two are from different runs, or edited",
                              written_by=f"evaluate@{variant}")


def check_tested_on(summary: dict, predictions: pd.DataFrame, *, test: pd.DataFrame, classes: list[str],
                    variant: str) -> None:
    """One line naming the file when evaluate@<variant>'s ``summary`` scores other ``classes`` (data/ingest's, in
    order) or its ``predictions`` (:func:`winnow.evaluated.read_predictions`) are not of data/ingest's test split now
    (``test``: its manifest rows, ``id, label`` and ``digest``): other ids, another label, other pixels (where the file
    names them). evaluate scores that split, and the page shows its figures as this data's. Before: a project without
    dvc.lock (stages run by hand) re-ingested, then the report alone, shipped a version on predictions of 120 test
    images data/ingest no longer held, of a class order it no longer had, exit 0."""
    if list(summary["per_class"]) != list(classes):
        scored, held = named_in_brackets(summary["per_class"], most=4), named_in_brackets(classes, most=4)
        raise rerun_error(summary_path(variant), f"scores classes {scored}, data/ingest holds {held}: evaluated on "
                                                 "another data set", written_by=f"evaluate@{variant}")
    path, stage = predictions_path(variant), f"evaluate@{variant}"
    here, there = set(predictions["id"]), set(test["id"].astype(str))
    if here != there:
        first = min(here - there) if here - there else min(there - here)
        raise rerun_error(path, f"its {len(here):,} test images are not data/ingest's test split of {len(there):,} "
                                f"({len(here - there):,} ids here only, {len(there - here):,} there only, e.g. "
                                f"{first!r}): evaluated before data/ingest was written anew", written_by=stage)
    now = test.assign(id=test["id"].astype(str), label=np.asarray(classes, dtype=object)[test["label"].to_numpy()])
    pairs = predictions.merge(now, on="id", suffixes=("", "_now"))
    for column, what in (("label", "another label"), ("digest", "other pixels")):
        if column not in predictions.columns or f"{column}_now" not in pairs.columns:
            continue  # a predictions file of no digests (an earlier evaluate's) pairs by id and label alone
        changed = pairs[column] != pairs[f"{column}_now"].astype(str)
        if changed.any():
            row = pairs[changed].iloc[0]
            raise rerun_error(path, f"{int(changed.sum()):,} test image(s) have {what} in data/ingest now, e.g. "
                                    f"{row['id']!r}: {row[column]!r} here, {row[f'{column}_now']!r} there: evaluated "
                                    "before data/ingest was written anew", written_by=stage)


def _told_apart(said: float, counted: float) -> tuple[str, str]:
    """The two figures to 4 decimals, or to as many more as tell them apart. Before: a summary whose F1 was written
    0.8333 (rounded by hand, or by a tool) against its predictions' 0.833333... was refused "is 0.8333 but its
    predictions.csv gives 0.8333", the two figures it named alike."""
    for digits in range(4, 17):
        texts = f"{said:.{digits}f}", f"{counted:.{digits}f}"
        if texts[0] != texts[1]:
            return texts
    return repr(said), repr(counted)


def _at(summary: dict, key: tuple[str, ...]):
    """The value at ``key`` (a path of keys) of a nested summary."""
    for part in key:
        summary = summary[part]
    return summary


def review_line(review: dict | None, *, path: str) -> str:
    """What people decided (``metrics/variants.json``'s ``review``), one line; nothing when nobody reviewed."""
    if review is None:
        return ""
    bad = [key for key in REVIEW_KEYS
           if isinstance(review.get(key), bool) or not isinstance(review.get(key), int) or review.get(key) < 0]
    if bad:
        raise rerun_error(path, f"review.{bad[0]} is {review.get(bad[0])!r}, not a count", written_by="variants")
    if review["confirmed"] + review["overruled"] != review["verdicts"] or review["relabelled_by_person"] > review[
            "verdicts"]:
        raise rerun_error(path, f"review counts {review['verdicts']} verdicts but {review['confirmed']} confirmed, "
                                f"{review['overruled']} overruled and {review['relabelled_by_person']} relabelled: "
                                "they do not add up", written_by="variants")
    if review["verdicts"] == 0:  # variants always counts them: 0 is nobody reviewing, not a review that found nothing
        return ""
    # relabelled_by_person counts the classes a person chose over the suggestion: before, "given another label by a
    # person" read as every relabel a verdict made, and 8 verdicts relabelling 3 images (2 accepted) read "1"
    return (f"<p>People reviewed <b>{review['verdicts']:,}</b> decisions: {review['confirmed']:,} confirmed, "
            f"{review['overruled']:,} overruled; {review['relabelled_by_person']:,} relabelled to a class the person "
            "chose instead of the suggestion.</p>")


def versions_section(*, metrics: dict[str, dict], predictions: dict[str, pd.DataFrame], paths: dict[str, str],
                     unevaluated: list[str], review: dict | None, review_path: str,
                     contract_failures: dict[str, int] | None = None, input_failures: dict[str, int] | None = None,
                     alpha: float = SIGNIFICANCE_LEVEL, test: pd.DataFrame | None = None,
                     classes: list[str] | None = None) -> str:
    """The verdict sentence (naming the requested versions left out because evaluate has not scored them),
    the versions table (the winner in bold), how it was decided, and the line saying what people decided in
    review (when they did). Arguments as :func:`compare_versions`; ``unevaluated``: the versions params.yaml
    requests that have no summary; ``review``: ``metrics/variants.json``'s ``review`` (at ``review_path``) or
    None; ``contract_failures``: per version, the checks its data contract failed (``metrics/contracts/<v>.json``),
    said beside the version the sentence recommends; ``input_failures``: per input suite (ingest, scores), the
    checks it failed (``metrics/contracts.json``), said whatever the sentence recommends; ``test``: data/ingest's test
    split's manifest rows, and ``classes`` its classes, that every version must have been evaluated on
    (:func:`check_tested_on`; None: not checked)."""
    if not metrics:
        return '<p class="note">No version has been evaluated yet (the evaluate stage writes metrics/evaluate/).</p>'
    for variant, summary in metrics.items():
        check_against_predictions(summary, predictions[variant], variant=variant)
    table = compare_versions(metrics, predictions, paths=paths)
    for variant, summary in metrics.items():  # each tested on data/ingest's test split now (once paired with baseline)
        if test is not None:
            check_tested_on(summary, predictions[variant], test=test, classes=classes, variant=variant)
    winner, sentence = verdict(table, alpha=alpha)
    # evaluate writes no stand-in for a version: outside `dvc repro` a requested one may simply not have run yet,
    # and a verdict silently made without it would read as made among all
    sentence += unevaluated_sentence(unevaluated)
    # a contract in warn mode does not stop a version, but the page must not recommend one without saying it broke
    recommended = winner or BASELINE
    failed = (contract_failures or {}).get(recommended, 0)
    if failed:
        sentence += (f" `{recommended}` failed {failed} check(s) of its data contract (see Data contracts): "
                     "weigh that before shipping it.")
    # before: a failed ingest or scores contract (warn mode) went unsaid here, though every version was made from it
    broken = ", ".join(f"`{name}` failed {n} check(s)" for name, n in (input_failures or {}).items() if n)
    if broken:
        sentence += (f" The input data broke its contract ({broken}; see Data contracts): every version was made "
                     "from it, so weigh that before shipping any.")
    shown = pd.DataFrame({
        COLUMNS[0]: table["accuracy"], COLUMNS[1]: table["macro_f1"], COLUMNS[2]: table["weakest"],
        COLUMNS[3]: table["weakest_f1"], COLUMNS[4]: table["f1_change"].map(bound),  # +0.0004, not +0.000
        COLUMNS[5]: [p_text(p, alpha=alpha) for p in table["f1_p"]],
        COLUMNS[6]: [f"{bound(lo)} to {bound(hi)}" for lo, hi in zip(table["f1_low"], table["f1_high"])],
        COLUMNS[7]: table["acc_change"].map(bound), COLUMNS[8]: [p_text(p, alpha=alpha) for p in table["acc_p"]]})
    shown[COLUMNS[6]] = shown[COLUMNS[6]].replace("– to –", "–")
    shown.index = pd.Index([f"{v} (reference)" if v in REFERENCES else v for v in table.index], name="version")
    bold = pd.DataFrame(np.repeat((table.index == winner)[:, None], len(COLUMNS), axis=1),
                        index=shown.index, columns=shown.columns)
    how = (f'<p class="note">Each version is paired with baseline on the same test images. A version beats baseline '
           f"when its macro F1 is higher with p &lt; {alpha:g} by a paired permutation test (each image's two "
           f"predictions swapped at random, {RESAMPLES:,} times); the interval holds the changes that test does not "
           f"reject, so it leaves out 0 exactly when p &lt; {1 - CONFIDENCE:g}. Accuracy: McNemar's exact test on "
           "the images that changed sides. Of the versions that beat baseline, the one with the highest macro F1 is "
           "shipped. " + ("oracle is the train split before degrade: a ceiling for scale, never a version you have. "
                          if "oracle" in table.index else "")
           + 'Whether a gain holds across classes: the t-tests under <a href="#evaluation">evaluation</a>.</p>')
    return (f'<p class="verdict">{_code(sentence)}</p>' + unmeasured_note(metrics) + html_table(shown, bold=bold)
            + how + review_line(review, path=review_path))


def _code(sentence: str) -> str:
    """The sentence escaped, with `name` set as code."""
    parts = html.escape(sentence).split("`")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
