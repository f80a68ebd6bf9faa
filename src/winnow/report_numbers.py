"""The numbers a stage's metrics JSON shows in the report, checked before they are shown: a hand-edited or
damaged file ("-2 groups", "val_accuracy": 7.5, a count written as "14") was shown as if measured, or stopped the
report with a traceback. One line naming the file and the key instead (:func:`winnow.stage.rerun_error`)."""

from __future__ import annotations

import json
import math
from numbers import Integral

import numpy as np

from winnow.contract_verdict import INPUT_SUITES
from winnow.leaks import leaks_by_kind
from winnow.metrics import is_rate
from winnow.param_rules import finite_number
from winnow.revisions import lookup
from winnow.stage import rerun_error

_ABSENT = object()
# keys that hold a count (or null: not measured) wherever they sit in a cleaner's metrics, and any key ending in
# _images; keys that hold a rate in [0, 1] (or null)
COUNT_KEYS = frozenset({
    "images", "groups", "tp", "fp", "fn", "flagged", "considered", "left_out", "planted_flips", "flips_planted",
    "planted_flips_flagged", "planted_flips_relabelled", "dropped", "relabelled", "leak_drops", "conflicts",
    "largest_group", "correct", "judged", "negative", "reliably_negative", "issues",
    "label_issue", "label_conflict", "inside_class", "isolated", "outlier", "neighbours_agree", "val_relabels",
    "relabels_blocked", "exact_duplicate", "near_duplicate", "flip_crop_duplicate", "embedding_duplicate", "leak",
    "none_correct", "winner_correct", "val_left_out"})
FLAG_KEYS = frozenset({"too_few_images"})  # true / false, whatever their names end in (the budget's judge)
# whole numbers of either sign, whatever their names end in: the budget's model check writes none's judge images
# right less the winner's, negative exactly when the winner holds (before: read as a count, so the report refused
# every budget whose check passed, and rerunning the budget wrote the same file again)
SIGNED_KEYS = frozenset({"gap_images"})
RATE_KEYS = frozenset({
    "precision", "recall", "f1", "accuracy", "val_accuracy", "judge_val_accuracy", "accuracy_vs_given",
    "noise_rate", "true_noise_rate", "relabel_accuracy", "relabel_precision", "relabel_precision_planted",
    "relabel_min_precision", "val_largest_class_share"})
CONTRACT_RATES = ("duplicate_rate", "label_issue_rate", "flagged_rate", "class_balance", "completeness",
                  "measured_share")


def _is_whole(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_count(value) -> bool:
    """A whole number >= 0 (a bool is none), as the metrics files write counts."""
    return _is_whole(value) and value >= 0


def _at(data: dict, key: str | tuple[str, ...]):
    """The value at ``key``, a dotted key or a tuple of keys (one may hold a dot: a class name), or ``_ABSENT``."""
    return lookup(data, key, missing=_ABSENT)


def checked_numbers(data: dict | None, *, path: str, stage: str, counts=(), rates=(), finite=(), texts=(), flags=(),
                    required=()) -> dict | None:
    """``data``, a stage's metrics JSON, when each key (dotted, or a tuple of keys where one is a class name, which
    may hold a dot) of ``counts`` holds a whole number >= 0, of ``rates`` a
    number in [0, 1] or null, of ``finite`` a finite number or null, of ``texts`` a string and of ``flags`` true or
    false (a key not there is not checked, unless ``required`` names it); else one line naming the file and the
    key. A hand-edited "-7 images read" or a cut of 1e308 was shown as if measured, and a key deleted by hand
    stopped the report with a KeyError."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise rerun_error(path, f"holds {json.dumps(data)[:40]}, not an object", written_by=stage)
    for key in required:
        if _at(data, key) is _ABSENT:
            raise rerun_error(path, f"{_dotted(key)} is missing", written_by=stage)
    for keys, fits, what in ((counts, is_count, "a count"),
                             (rates, lambda v: v is None or is_rate(v), "a number in [0, 1]"),
                             # finite_number: math.isfinite raised OverflowError on a cut of 400 digits (a traceback)
                             (finite, lambda v: v is None or finite_number(v), "a finite number"),
                             (texts, lambda v: isinstance(v, str), "a text"),
                             (flags, lambda v: isinstance(v, bool), "true or false")):
        for key in keys:
            found = _at(data, key)
            if found is not _ABSENT and not fits(found):
                raise rerun_error(path, f"{_dotted(key)} is {json.dumps(found)[:40]}, not {what}", written_by=stage)
    return data


def _dotted(key: str | tuple[str, ...]) -> str:
    return key if isinstance(key, str) else ".".join(key)


def checked_metrics(data: dict | None, *, path: str, stage: str) -> dict | None:
    """``data``, a cleaner's metrics JSON, when every key of :data:`COUNT_KEYS` (or ending in ``_images``) holds a
    whole number >= 0 or null, every key of :data:`SIGNED_KEYS` a whole number or null and every key of
    :data:`RATE_KEYS` a number in [0, 1] or null, wherever it sits; else one line naming the file and the key."""

    def walk(node, where: str) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            here = f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"
            if key == "classes" and isinstance(value, dict):
                continue  # keyed by class names: a class called "precision" holds a count of its images
            if isinstance(value, (dict, list)):
                walk(value, here.lstrip("."))
            elif not isinstance(key, str) or value is None or key in FLAG_KEYS:
                continue
            elif key in SIGNED_KEYS:
                if not _is_whole(value):
                    raise rerun_error(path, f"{here.lstrip('.')} is {json.dumps(value)[:40]}, not a whole number",
                                      written_by=stage)
            elif (key in COUNT_KEYS or key.endswith("_images")) and not is_count(value):
                raise rerun_error(path, f"{here.lstrip('.')} is {json.dumps(value)[:40]}, not a count",
                                  written_by=stage)
            elif key in RATE_KEYS and not is_rate(value):
                raise rerun_error(path, f"{here.lstrip('.')} is {json.dumps(value)[:40]}, not a number in [0, 1]",
                                  written_by=stage)

    if data is not None:
        walk(data, "")
    return data


def checked_contract(data: dict | None, *, path: str, stage: str, suites: bool = False) -> dict | None:
    """``data``, a data contract's metrics JSON (``metrics/contracts/<variant>.json``; with ``suites``,
    ``metrics/contracts.json``, whose ``suites.<name>`` each hold the counts), when ``passed`` and ``failed`` are
    counts, ``failed`` is the length of the ``failures`` list, each rate of :data:`CONTRACT_RATES` is in [0, 1]
    or null and, with ``suites``, each of the ingest and scores suites is there; else one line naming the file and
    the key. Before: a hand-edited "failed": 0 took "baseline failed 3
    check(s)" out of the verdict while the Failed rules listed three, and "failed": -2 read "failed -2 check(s)"."""
    data = checked_numbers(data, path=path, stage=stage, counts=() if suites else ("kept_images",),
                           rates=() if suites else CONTRACT_RATES)
    if data is None:
        return None
    blocks = data.get("suites") or {} if suites else {"": data}
    if not isinstance(blocks, dict):
        raise rerun_error(path, f"suites is {json.dumps(blocks)[:40]}, not an object of suites", written_by=stage)
    for name, block in blocks.items():
        where = f"suites.{name}." if suites else ""
        if not isinstance(block, dict):
            raise rerun_error(path, f"{where.rstrip('.')} is {json.dumps(block)[:40]}, not an object",
                              written_by=stage)
        for key in ("passed", "failed"):
            if not is_count(block.get(key)):
                shown = json.dumps(block[key])[:40] if key in block else "missing"
                raise rerun_error(path, f"{where}{key} is {shown}, not a count", written_by=stage)
        failures = block.get("failures", [])
        if not (isinstance(failures, list) and all(isinstance(line, str) for line in failures)):
            raise rerun_error(path, f"{where}failures is {json.dumps(failures)[:40]}, not a list of rules",
                              written_by=stage)
        if block["failed"] != len(failures):
            raise rerun_error(path, f"{where}failed is {block['failed']} but {where}failures lists {len(failures)} "
                                    "rule(s)", written_by=stage)
    # before: "suites": {} showed an empty table, and the verdict sentence kept quiet about inputs nobody checked
    missing = [name for name in INPUT_SUITES if name not in blocks] if suites else []
    if missing:
        raise rerun_error(path, f"suites holds no {' or '.join(missing)} counts", written_by=stage)
    return data


def checked_gan(data: dict | None, *, path: str, stage: str, samples=None) -> dict | None:
    """``data``, gan-synthesize's metrics JSON, when what the report's generated-images table reads is there and of
    its kind (each weak class's ``acceptance`` counts and rates, its ``class_threshold``, ``weak_scores`` and
    ``frechet`` distances finite or null) and, with ``samples`` (``data/gan``: an ImageSet whose manifest holds
    ``label`` and ``accepted``), each class's generated and kept counts are the samples' own and its rate kept over
    generated; else one line naming the file and the key. Before: a key deleted by hand stopped the report with
    KeyError: 'frechet', a table row "disc | generated 8 | kept 80 | acceptance rate –" stood under the line "8 of 8
    generated images kept", and "generated 4 | kept 3 | acceptance rate 0.1"."""
    if data is None or not isinstance(data, dict) or "skipped" in data:
        return checked_numbers(data, path=path, stage=stage)
    acceptance = data.get("acceptance")
    if not (isinstance(acceptance, dict) and all(isinstance(rate, dict) for rate in acceptance.values())):
        raise rerun_error(path, f"acceptance is {json.dumps(acceptance)[:40]}, not an object of classes",
                          written_by=stage)
    # keys as tuples: a class name may hold a dot
    distances = [("frechet", c, which, key) for c in acceptance for which in ("generated", "accepted")
                 for key in ("generated", "real_reference")]
    checked_numbers(
        data, path=path, stage=stage, texts=["weak_by"],
        required=["weak_by", "threshold", "epochs", *distances,
                  *(("acceptance", c, k) for c in acceptance for k in ("generated", "accepted", "rate")),
                  *(("class_threshold", c) for c in acceptance), *(("weak_scores", c) for c in acceptance)],
        counts=["epochs", *(("acceptance", c, k) for c in acceptance for k in ("generated", "accepted"))],
        rates=[("acceptance", c, k) for c in acceptance for k in ("rate", "real_val_rate")],
        finite=[*distances, *(("class_threshold", c) for c in acceptance), *(("weak_scores", c) for c in acceptance)])
    if samples is not None:
        names = np.asarray(samples.classes, dtype=object)[samples.manifest["label"].to_numpy()]
        kept = samples.manifest["accepted"].astype(bool).to_numpy()
        held = {name: (int((names == name).sum()), int((kept & (names == name)).sum()))
                for name in dict.fromkeys(names)}
        for name in dict.fromkeys([*acceptance, *held]):
            said = tuple(acceptance.get(name, {}).get(k, 0) for k in ("generated", "accepted"))
            if said != held.get(name, (0, 0)):
                generated, accepted = held.get(name, (0, 0))
                raise rerun_error(path, f"acceptance of {name!r} counts {said[1]:,} of {said[0]:,} kept, but data/gan "
                                        f"holds {accepted:,} of {generated:,}: the two are from different runs, "
                                        "or edited", written_by=stage)
        for name, rate in acceptance.items():  # the table shows the rate beside the two counts
            if rate["generated"] and not math.isclose(rate["rate"], rate["accepted"] / rate["generated"], abs_tol=1e-9):
                raise rerun_error(path, f"acceptance of {name!r} gives rate {rate['rate']}, but counts "
                                        f"{rate['accepted']:,} of {rate['generated']:,} kept", written_by=stage)
    return data


def checked_balance(data: dict | None, *, path: str, stage: str, classes: list[str], rows=None) -> dict | None:
    """``data``, the balance stage's metrics JSON, when each class's counts (``counts.<class>.before, left_out,
    added, after``) are counts, ``counts`` holds ``classes`` (data/ingest's), each ``after`` is ``before - left_out +
    added`` and, with ``rows`` (data/variants/balanced/rows.parquet: ``label``, ``action``, ``reason``, ``stage``), the
    balanced images of that class, its ``added`` and ``left_out`` the rows the stage added and left out; the totals
    ``added`` and ``left_out`` the classes' sums and ``edge.copies`` the rows' copies of edge cases; else one line
    naming the file and the key. Before: "abc" stopped the report with a ValueError, a balance.json of another data
    set's classes ("airplane 5 → 8") was shown as this run's, "square: after 45" stood beside the 40 square images the
    balanced version holds, and "added 4,350" or "edge.copies 1,090" above classes adding 435."""
    if not isinstance(data, dict) or "skipped" in data:
        return checked_numbers(data, path=path, stage=stage)
    counts = data.get("counts")
    if not (isinstance(counts, dict) and all(isinstance(c, dict) for c in counts.values())):
        raise rerun_error(path, f"counts is {json.dumps(counts)[:40]}, not an object of classes", written_by=stage)
    if list(counts) != list(classes):
        raise rerun_error(path, f"counts holds the classes {', '.join(map(repr, counts))[:80]}, not data/ingest's "
                                f"{', '.join(map(repr, classes))[:80]}", written_by=stage)
    # keys as tuples: a class named "st.bernard" read as counts → st → bernard, missing, and the report refused each
    # balance.json of it, "counts.st.bernard.before is missing; rerun the balance stage", which wrote the same file
    checked_numbers(data, path=path, stage=stage,
                    counts=["added", "left_out", "edge.images", "edge.copies",
                            *(("counts", c, k) for c in counts for k in ("before", "left_out", "added", "after"))],
                    required=[("counts", c, k) for c in counts for k in ("before", "added", "after")])
    held = None if rows is None else np.bincount(rows.loc[rows["action"] != "drop", "label"], minlength=len(classes))
    for label, (name, count) in enumerate(counts.items()):
        made = count["before"] - count.get("left_out", 0) + count["added"]
        if count["after"] != made or held is not None and held[label] != made:
            where = (f"before - left_out + added is {made:,}" if count["after"] != made else
                     f"data/variants/balanced/rows.parquet holds {held[label]:,} images of it")
            raise rerun_error(path, f"counts.{name}.after is {count['after']:,}, but {where}", written_by=stage)
    # the totals and edge.copies the settings table shows above the classes, and each class's added and left out:
    # what the stage wrote (rows: action add, and drop at stage balance; a copy of an edge case: reason balance(edge))
    totals = {key: (sum(c.get(key, 0) for c in counts.values()), f"counts.<class>.{key} add up to")
              for key in ("added", "left_out")}
    if rows is not None:
        added, rows_file = rows["action"] == "add", "data/variants/balanced/rows.parquet"
        totals["edge.copies"] = (int((added & rows["reason"].str.startswith("balance(edge)")).sum()),
                                 f"{rows_file} adds copies of edge cases:")
        for key, mask in (("added", added), ("left_out", (rows["action"] == "drop") & (rows["stage"] == "balance"))):
            held = np.bincount(rows.loc[mask, "label"], minlength=len(classes))
            wrong = [(name, label) for label, name in enumerate(counts) if counts[name].get(key, 0) != held[label]]
            if wrong:
                name, label = wrong[0]
                raise rerun_error(path, f"counts.{name}.{key} is {counts[name].get(key, 0):,}, but {rows_file} "
                                        f"{'adds' if key == 'added' else 'leaves out'} {held[label]:,} of it",
                                  written_by=stage)
    for key, (held, what) in totals.items():
        if _at(data, key) not in (_ABSENT, held):
            raise rerun_error(path, f"{key} is {_at(data, key):,}, but {what} {held:,}", written_by=stage)
    return data


def checked_threshold(summary: dict | None, *, flags, path: str, stage: str) -> dict | None:
    """``summary``, metrics/threshold.json, with each issue's method, counts, rates and cut as the threshold stage
    writes them, no more flagged in train than in all, and each issue's flagged count the images ``flags``
    (data/threshold/flags.parquet: ``id`` and a bool column per issue; None: not written) flag; else one line naming
    the key. Before: a deleted method stopped the report with a KeyError, "5 flagged" stood beside "98 flagged in
    train", and the table's "dark: 60 flagged" above the grid's "dark: 6 flagged"."""
    issues = list(summary) if isinstance(summary, dict) else []
    checked_numbers(
        summary, path=path, stage=stage,
        required=[f"{i}.{k}" for i in issues for k in ("method", "flagged")], texts=[f"{i}.method" for i in issues],
        counts=[f"{i}.{k}" for i in issues for k in ("flagged", "flagged_train", "explained", "tp", "fp", "fn")],
        rates=[f"{i}.{k}" for i in issues for k in ("precision", "recall", "f1")],
        finite=[f"{i}.threshold" for i in issues])
    for issue, found in (summary or {}).items():
        if found.get("flagged_train", 0) > found["flagged"]:
            raise rerun_error(path, f"{issue}.flagged_train is {found['flagged_train']:,}, more than {issue}.flagged "
                                    f"({found['flagged']:,})", written_by=stage)
        held = int(flags[issue].astype(bool).sum()) if flags is not None and issue in flags.columns else None
        if held is not None and held != found["flagged"]:
            raise rerun_error(path, f"{issue}.flagged is {found['flagged']:,}, but data/threshold/flags.parquet flags "
                                    f"{held:,} image(s) {issue}: the two are from different runs, or edited",
                              written_by=stage)
    return summary


def checked_valuation(data: dict | None, *, decisions, path: str, stage: str, manifest=None,
                      classes: list[str] = ()) -> dict | None:
    """``data``, data-valuation's metrics JSON (counts already checked), when its counts of images valued and decided
    (``considered``, ``flagged``, ``decisions.<keep|drop>``) are those of ``decisions`` (a DataFrame of
    data/data-valuation/decisions.parquet, ``decision`` and each estimator's value per image; None: not written),
    beside which the page shows them, and so are each estimator's figures ``values.<estimator>``: ``negative``,
    ``min``, ``max`` and ``mean`` of its column, ``reliably_negative`` at most ``negative`` and on the side of
    ``flagged`` that ``combine`` puts it (``both``: no fewer, every drop is reliably negative to every estimator;
    ``either``: no more, and all of them together no fewer); else one line naming both files. Before: "decided drop
    (reliably negative) 5" stood above a grid of the most harmful images with none framed red, decisions.parquet
    deciding no drop. With ``manifest`` (data/degrade's, its ``classes``) the train images left undecided
    (``undecided.images``) are its train images less those valued and those ``left_out``, and each undecided class's
    ``val_images`` its val images of that class (:func:`_set_aside`)."""
    if data is None or decisions is None:
        return data
    table = "data/data-valuation/decisions.parquet"
    if manifest is not None:
        thin = _set_aside(data, "undecided", judged=len(decisions), table=table, manifest=manifest, classes=classes,
                          path=path, stage=stage)
        val = manifest.loc[manifest["split"] == "val", "label"]
        _agrees(data, {("undecided", "classes", name, "val_images"): int((val == classes.index(name)).sum())
                       for name in thin}, path=path, stage=stage, table="data/degrade")
    drops = int((decisions["decision"] == "drop").sum())
    counts = {"considered": len(decisions), "flagged": drops, "decisions.drop": drops,
              "decisions.keep": len(decisions) - drops}
    # before: only the counts above were recounted, so "values.tracin.negative": 0 and a min above zero stood in the
    # page's table beside 437 drops that every estimator valued below zero (the grid's captions read from the table)
    estimators = [n for n in (data.get("values") or {}) if n in decisions.columns]
    for name in estimators:
        column = decisions[name].to_numpy(np.float64)
        counts[("values", name, "negative")] = int((column < 0).sum())
        if len(column):  # the stage's mean, min and max of the same float64 values, in the same order: equal
            counts |= {("values", name, "min"): float(column.min()), ("values", name, "max"): float(column.max()),
                       ("values", name, "mean"): float(column.mean())}
    _agrees(data, counts, path=path, stage=stage, table=table)
    for name in estimators:
        said = lookup(data, ("values", name, "reliably_negative"))
        negative, combine = counts[("values", name, "negative")], data.get("combine")
        if said is None:
            continue
        if said > negative:
            raise rerun_error(path, f"values.{name}.reliably_negative is {said:,}, more than the {negative:,} values "
                                    f"below zero {table} holds", written_by=stage)
        if (combine == "both" and said < drops) or (combine == "either" and said > drops):
            raise rerun_error(path, f"values.{name}.reliably_negative is {said:,}, but {table} drops {drops:,} "
                                    f"image(s) under combine {combine}, each reliably negative to "
                                    f"{'every' if combine == 'both' else 'some'} estimator", written_by=stage)
    # before: under combine either only the upper bound held, so 0 reliably negative to each estimator stood beside
    # 2 drops, each of which one of them must have valued reliably below zero
    said = [lookup(data, ("values", name, "reliably_negative")) for name in estimators]
    if data.get("combine") == "either" and estimators and None not in said and sum(said) < drops:
        raise rerun_error(path, " + ".join(f"values.{name}.reliably_negative" for name in estimators)
                          + f" is {sum(said):,}, but {table} drops {drops:,} image(s) under combine either, each "
                          "reliably negative to some estimator", written_by=stage)
    return data


def _set_aside(data: dict, key: str, *, judged: int, table: str, manifest, classes: list[str], path: str,
               stage: str) -> dict:
    """The classes of a cleaner's entry ``key`` (``images`` train images of ``classes`` it set aside unjudged, kept)
    against data/degrade's ``manifest``: no recount (which train images threshold and dedup left is the stage's to
    say), but the train images it holds are the ``judged`` rows of ``table``, those ``left_out`` and those set aside,
    and each class named is one of ``classes``; else one line. Before: an edited "images": 300 read "left undecided
    and kept ... | 300: b (1 val image(s))"."""
    entry, left_out = data.get(key), data.get("left_out")
    if not isinstance(entry, dict):
        return {}
    train = int((manifest["split"] == "train").sum())
    said = entry.get("images")
    if said is not None and left_out is not None and judged + said + left_out != train:
        raise rerun_error(path, f"{key}.images is {json.dumps(said)[:40]}, but data/degrade holds {train:,} train "
                                f"images, {judged:,} judged in {table} and {left_out:,} left out (left_out): the two "
                                "are from different runs, or edited", written_by=stage)
    named = entry.get("classes") if isinstance(entry.get("classes"), dict) else {}
    for name in named:
        if name not in classes:
            raise rerun_error(path, f"{key}.classes names {json.dumps(name)[:40]}, not a class of data/degrade",
                              written_by=stage)
    return named


def checked_dedup(data: dict | None, *, groups, path: str, stage: str) -> dict | None:
    """``data``, dedup's metrics JSON (counts already checked), when its counts of images, groups, removals and label
    conflicts are those of ``groups`` (a DataFrame of data/dedup/groups.parquet, one row per image: ``group``,
    ``group_size``, ``kept``, ``label_conflict``, ``split``; None: not written), as :func:`winnow.dedup.dedup_metrics`
    counts them, its leaks table's too (:func:`winnow.leaks.leaks_by_kind`); else one line naming both files. Before:
    "groups 40, images_removed 90" stood above duplicate groups and a pruned note counted from groups.parquet's 11
    groups and 9 removals, and "train copies of test images: 30 groups, dropped from train" where it holds none."""
    if data is None or groups is None:
        return data
    grouped = groups[groups["group_size"] > 1]
    conflict = groups[groups["label_conflict"].astype(bool)]
    leaks = {f"leaks.{kind}.{key}": n for kind, found in leaks_by_kind(groups).items() for key, n in found.items()}
    return _agrees(data, {"images": len(groups), "groups": grouped["group"].nunique(), "images_in_groups": len(grouped),
                          "largest_group": int(groups["group_size"].max()) if len(groups) else 0,
                          "images_removed": int((~groups["kept"].astype(bool)).sum()),
                          "conflicts": conflict["group"].nunique(), "conflict_images": len(conflict), **leaks},
                   path=path, stage=stage, table="data/dedup/groups.parquet")


def checked_issues(data: dict | None, *, issues, path: str, stage: str, table: str, manifest=None,
                   classes: list[str] = ()) -> dict | None:
    """``data``, confident-learn's metrics JSON (counts already checked), when its ``considered``, ``issues``,
    ``decisions.<decision>`` and ``reasons.<reason>`` are the counts of ``issues`` (a DataFrame of ``table``, its
    label_issues.parquet: ``is_issue``, ``decision``, ``reason`` per image judged; None: not written); else one line
    naming both files. Before: "decisions.drop 70" stood above the 7 label issues the grid shows dropped, and
    "considered 9,999" or "reasons.label_issue 40" above a table of 2,763 judged and 441 label issues. With
    ``manifest`` (data/degrade's, its ``classes``), so are the train images of the classes too small for its folds
    (``unjudged``), as far as they can be (:func:`_set_aside`)."""
    if data is None or issues is None:
        return data
    if manifest is not None:
        _set_aside(data, "unjudged", judged=len(issues), table=table, manifest=manifest, classes=classes, path=path,
                   stage=stage)
    decisions = issues["decision"].value_counts()
    # a blocked relabel's reason is its own, then "; untrusted_relabel (...)": the stage counts it under its own
    reasons = issues["reason"].astype(str).str.split("; ").str[0].value_counts()
    return _agrees(data, {"considered": len(issues), "issues": int(issues["is_issue"].astype(bool).sum()),
                          **{f"decisions.{d}": int(decisions.get(d, 0)) for d in ("keep", "drop", "relabel")},
                          **{f"reasons.{r}": int(reasons.get(r, 0)) for r in (data.get("reasons") or {})}},
                   path=path, stage=stage, table=table)


def checked_neighbours(data: dict | None, *, decisions, path: str, stage: str, manifest=None,
                       classes: list[str] = ()) -> dict | None:
    """``data``, embedding-clean's metrics JSON (counts already checked), when its ``considered``,
    ``decisions.<decision>`` and ``reasons.<rule>`` (a reason's part before ':', as the stage counts them) are the
    counts of ``decisions`` (a DataFrame of data/embedding-clean/decisions.parquet, ``decision`` and ``reason`` per
    image judged; None: not written); else one line naming both files. Before: a metrics file of another run or
    edited, "decisions.drop": 70 and "reasons.outlier": 9, stood in the page's figures above round 1's "isolated 1"
    from rounds.parquet. With ``manifest`` (data/degrade's, its ``classes``), so are the train images of the classes
    too small for the vote (``unjudged``), as far as they can be (:func:`_set_aside`)."""
    if data is None or decisions is None:
        return data
    if manifest is not None:
        _set_aside(data, "unjudged", judged=len(decisions), table="data/embedding-clean/decisions.parquet",
                   manifest=manifest, classes=classes, path=path, stage=stage)
    decided = decisions["decision"].value_counts()
    rules = decisions["reason"].astype(str).str.split(":").str[0].value_counts()
    reasons = data.get("reasons") if isinstance(data.get("reasons"), dict) else {}
    return _agrees(data, {"considered": len(decisions),
                          **{f"decisions.{d}": int(decided.get(d, 0)) for d in ("keep", "drop", "relabel")},
                          **{("reasons", r): int(rules.get(r, 0)) for r in reasons}},
                   path=path, stage=stage, table="data/embedding-clean/decisions.parquet")


def checked_verdicts(data: dict, *, blocks: tuple[str, ...], path: str, stage: str) -> dict:
    """``data``, the budget's metrics JSON (counts and flags already checked), when each model check of ``blocks``
    says what its counts say (:class:`winnow.budget_check.ModelCheck`): ``holds`` exactly when the winner's model got
    more judge images right than none's, ``ships`` when no fewer, ``gap_images`` none's right less the winner's, each
    of at most ``judged``; else one line naming the key. Before: a "holds": true beside 470 right for none and 460 for
    the winner read "all stands", and "(gap -50)" or "520 of 500 judge images right" stood in that sentence."""
    for block in (b for b in blocks if isinstance(data.get(b), dict)):
        check = data[block]
        none, winner = check.get("none_correct"), check.get("winner_correct")
        if none is None or winner is None:
            continue
        for key, says in (("holds", winner > none), ("ships", winner >= none), ("gap_images", none - winner)):
            if check.get(key) is not None and check[key] != says:
                raise rerun_error(path, f"{block}.{key} is {json.dumps(check[key])}, but its winner_correct {winner:,} "
                                        f"and none_correct {none:,} say {json.dumps(says)}", written_by=stage)
        for key in (k for k in ("none_correct", "winner_correct") if check.get("judged") is not None):
            if check[key] > check["judged"]:
                raise rerun_error(path, f"{block}.{key} is {check[key]:,}, more than its judged {check['judged']:,}",
                                  written_by=stage)
    return data


def _agrees(data: dict, counts: dict, *, path: str, stage: str, table: str) -> dict:
    """``data`` when each key of ``counts`` (dotted, or a tuple of keys) is absent, null or the number ``table``
    holds; else one line."""
    for key, held in counts.items():
        said = lookup(data, key)
        if said is not None and said != held:
            name = key if isinstance(key, str) else ".".join(key)
            raise rerun_error(path, f"{name} is {json.dumps(said)[:40]}, but {table} holds {held:,}: the two are from "
                                    "different runs, or edited", written_by=stage)
    return data
