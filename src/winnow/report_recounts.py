"""The figures the report shows, recounted from the tables they summarise before they are shown: ingest's images,
degrade's train images and perturbations, the verdicts pruned applies, threshold's flags, dedup's groups and leaks,
confident-learn's issues, embedding-clean's and data valuation's decisions, evaluate's confusion matrices. A metrics
file of another run, or edited, beside its table ("dark: 60 flagged" above a grid of 6) stops the report in one line
naming both files (:func:`winnow.stage_reads.rerun_error`); the counts and rates themselves are checked first by
:func:`winnow.report_numbers.checked_numbers`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.contract_verdict import changed_data_file, rows_fingerprint
from winnow.errors import first_line
from winnow.groundtruth import DEGRADE_METRICS, TRUTH
from winnow.leaks import leaks_by_kind
from winnow.metrics import predictions_path, summary_path
from winnow.report import reason_tokens
from winnow.report_numbers import checked_numbers, checked_truth
from winnow.params_compared import lookup
from winnow.stage_reads import rerun_error


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
        if all(k in found for k in ("tp", "fp", "fn")):  # the stage counts its figures over the flags in train
            checked_truth(found, where=f"{issue}.", path=path, stage=stage)
            if "flagged_train" in found and found["flagged_train"] != found["tp"] + found["fp"]:
                raise rerun_error(path, f"{issue}.flagged_train is {found['flagged_train']:,}, but its tp "
                                        f"{found['tp']:,} and fp {found['fp']:,} add up to "
                                        f"{found['tp'] + found['fp']:,}", written_by=stage)
        held = int(flags[issue].astype(bool).sum()) if flags is not None and issue in flags.columns else None
        if held is not None and held != found["flagged"]:
            raise rerun_error(path, f"{issue}.flagged is {found['flagged']:,}, but data/threshold/flags.parquet flags "
                                    f"{held:,} image(s) {issue}: the two are from different runs, or edited",
                              written_by=stage)
    return summary


def checked_ingest(counts: dict | None, *, imageset, rejected) -> dict | None:
    """``counts``, metrics/ingest.json, with every count a count, its splits adding up to its images, and its
    images, images per split and classes those of ``imageset`` (data/ingest), its rejected files the rows of
    ``rejected`` (data/ingest/rejected.csv; None: not written); else one line naming the key. Before: a test split
    edited to 10 read "5,000 images read (test 10 · ...)", 4,010 in all; and a metrics file of another run (a
    ``git checkout`` of metrics/ beside data/ingest, then ``dvc repro -s report``) read "20 images read (train 20)
    in 5 classes" above the 16 images of 2 classes the page draws."""
    path, stage = "metrics/ingest.json", "ingest"
    keys = ["images", "rejected", "classes", "exif_oriented"]
    if isinstance(counts, dict) and isinstance(counts.get("split"), dict):
        keys += [f"split.{name}" for name in counts["split"]]
    checked_numbers(counts, path=path, stage=stage, counts=keys, required=["images", "rejected", "classes", "split"])
    if counts is None:
        return None
    if sum(counts["split"].values()) != counts["images"]:
        raise rerun_error(path, f"split adds up to {sum(counts['split'].values()):,} images, but images is "
                                f"{counts['images']:,}", written_by=stage)
    manifest = imageset.manifest
    splits = manifest.groupby("split").size()
    _agrees(counts, {"images": len(manifest), "classes": len(imageset.classes),
                     **{("split", name): int(splits.get(name, 0)) for name in counts["split"]}},
            path=path, stage=stage, table="data/ingest")
    if rejected is not None:
        _agrees(counts, {"rejected": len(rejected)}, path=path, stage=stage, table="data/ingest/rejected.csv")
    return counts


def checked_degrade(counts: dict | None, *, ingested, degraded, planted) -> dict | None:
    """``counts``, metrics/degrade.json, with the train counts, the perturbed images and each kind's images counts,
    and those the data holds: ``train.before`` the train images of ``ingested`` (data/ingest's manifest),
    ``train.after`` those of ``degraded`` (data/degrade's; None: not written), and with ``planted`` (its
    perturbations.parquet, ``id`` and ``kind`` per perturbation; None: not written) ``perturbed_images`` its images,
    ``carrying_images`` those still in degraded's train split, ``kind.<kind>`` its rows of that kind; else one line
    naming the key. Before: a count written as text stopped the report with a TypeError, a deleted key with a
    KeyError, "-5 images perturbed" was shown as measured, and a metrics file of another run "train split 3,500 →
    3,000 images" above a train split of 3,255."""
    path, stage = DEGRADE_METRICS, "degrade"
    kinds = list(counts["kind"]) if isinstance(counts, dict) and isinstance(counts.get("kind"), dict) else []
    checked_numbers(counts, path=path, stage=stage,
                    counts=["train.before", "train.after", "perturbed_images", "carrying_images",
                            *(f"kind.{k}" for k in kinds)],
                    required=["train.before", "train.after", "perturbed_images"] if kinds else [])
    if counts is None:
        return None
    _agrees(counts, {"train.before": int((ingested["split"] == "train").sum())}, path=path, stage=stage,
            table="data/ingest's train split")
    if degraded is None:
        return counts
    train = degraded.loc[degraded["split"] == "train", "id"]
    _agrees(counts, {"train.after": len(train)}, path=path, stage=stage, table="data/degrade's train split")
    if planted is not None:
        kind = planted["kind"].value_counts()
        _agrees(counts, {"perturbed_images": int(planted["id"].nunique()),
                         "carrying_images": int(planted["id"].drop_duplicates().isin(train).sum()),
                         **{("kind", k): int(kind.get(k, 0)) for k in kinds}},
                path=path, stage=stage, table=TRUTH)
    return counts


def checked_review(summary: dict, *, rows, path: str) -> dict:
    """``summary``, metrics/variants.json, when its ``review`` counts of verdicts and of classes a person chose
    (``verdicts``, ``relabelled_by_person``; counts checked by :func:`winnow.report_versions.review_line`) are those
    of pruned's ``rows`` (data/variants/pruned/rows.parquet; None: not written), whose reason holds a token
    ``review:<verdict>`` for each image a verdict named (:func:`winnow.verdicts.apply_verdicts`); else one line.
    Before: a metrics file of another run ("People reviewed 12 decisions") stood above a pruned no verdict had
    touched. Confirmed and overruled are not recounted: a kept image's ``review:reject`` reads the same either way."""
    review = summary.get("review")
    if not isinstance(review, dict) or rows is None:
        return summary
    # split only the reasons that name a review: every row's split took 1.2 s of 50,000 rows, few of them reviewed
    reasons = rows["reason"].fillna("")
    tokens = reasons[reasons.str.contains("review:", regex=False)].map(reason_tokens)
    # counted in Python: the sum of an empty object Series is '' (no reason named a review: the default run)
    held = {"verdicts": sum(any(t.startswith("review:") for t in said) for said in tokens),
            "relabelled_by_person": sum("review:relabel" in said for said in tokens)}
    # a count that is no count is review_line's to name
    held = {("review", key): n for key, n in held.items() if type(review.get(key)) is int}
    return _agrees(summary, held, path=path, stage="variants", table="data/variants/pruned/rows.parquet")


def checked_contract_rows(data: dict | None, *, rows, variant: str, path: str, stage: str) -> dict | None:
    """``data``, variant ``variant``'s contract verdict (``metrics/contracts/<variant>.json``, its counts checked), when
    the rows it was checked on (its ``rows`` fingerprint, :func:`winnow.contract_verdict.rows_fingerprint`) are those of
    ``rows`` (the variant's rows.parquet as read; None: not written); else one line naming both files. Before: after
    the variants stage wrote other rows (``dvc repro -s variants``), the page showed the earlier rows' rates, kept
    images and failed rules as this version's, and its verdict sentence weighed them."""
    said = data.get("rows") if isinstance(data, dict) else None
    if rows is not None and isinstance(said, str) and said != rows_fingerprint(rows):
        raise rerun_error(path, f"a verdict of other rows than data/variants/{variant}/rows.parquet holds now (written "
                                "after the check)", written_by=stage)
    return data


def checked_contract_data(data: dict | None, *, path: str, stage: str) -> dict | None:
    """``data``, a contract's verdict (``metrics/contracts.json``, ``metrics/contracts/<variant>.json``), when each data
    file it was computed from (its ``data_files``, :func:`winnow.contract_verdict.changed_data_file`) is the one there
    now; else one line naming both files (one that records none, of an earlier winnow, is left as it is). Before: after the score stage wrote other scores (``dvc repro -s score``, NaN among them), the page showed
    the earlier scores' "scores 14 passed, 0 failed", and its verdict sentence said nothing of a broken input; and
    after threshold flagged anew, pruned's earlier flagged-image rate, its rows unchanged."""
    recorded = data.get("data_files") if isinstance(data, dict) else None
    changed = changed_data_file(recorded) if isinstance(recorded, dict) else None
    if changed is not None:
        raise rerun_error(path, f"a verdict computed from another {changed} than the one there now (written after the "
                                "check)", written_by=stage)
    return data


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
        # counts before they are added (checked_metrics leaves the classes' entries alone, keyed by class names):
        # before, val_images "1" stopped the report in a TypeError, and copied_val_images -5 beside val_images 25 of a
        # class of 20 passed, the page reading "-5 more left out as copies"
        checked_numbers(data, path=path, stage=stage, counts=[
            key for name in thin for key in (("undecided", "classes", name, "val_images"),
                                             ("undecided", "classes", name, "copied_val_images"),
                                             ("undecided", "classes", name, "silent_val_images"))
            if lookup(data, key) is not None])
        for name, entry in thin.items():
            # val_images counts each picture once, copied_val_images its other copies (dedup's groups): before, the
            # pictures alone were set against every val image, and a fresh run whose val split repeats a picture of a
            # thin class was refused as "from different runs, or edited", which rerunning wrote again
            said = entry.get("val_images") if isinstance(entry, dict) else None
            copied = (entry.get("copied_val_images") if isinstance(entry, dict) else None) or 0
            # and those with an all-zero representation, which count for no class (stages/data_valuation.py)
            silent = (entry.get("silent_val_images") if isinstance(entry, dict) else None) or 0
            held = int((val == classes.index(name)).sum())
            if said is not None and said + copied + silent != held:
                raise rerun_error(path, f"undecided.classes.{name}.val_images is {json.dumps(said)[:40]}"
                                        + (f" and copied_val_images {copied:,}" if copied else "")
                                        + (f" and silent_val_images {silent:,}" if silent else "")
                                        + f", but data/degrade holds {held:,}: the two are from different runs, or "
                                          "edited", written_by=stage)
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
    ``group_size``, ``kept``, ``label_conflict``, ``split``; None: not written), as :func:`winnow.dedup_counts.dedup_metrics`
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


def confusion_path(variant: str) -> str:
    return f"plots/evaluate/{variant}/confusion.csv"


def confusion_counts(variant: str, *, summary: dict, predictions: pd.DataFrame) -> pd.DataFrame:
    """Counts ``(actual, predicted)`` from evaluate@<variant>'s confusion.csv, every class of its ``summary``
    (checked) on both axes in that order; one line naming the file when it is not one row per test image the
    summary counts, each of a class evaluated, with as many rows in each cell as its ``predictions`` (predictions.csv,
    the report stage's ``predictions_of``) hold (a lost row would draw fewer images than the tables beside it, an
    unknown class would vanish from the matrix, another model's predictions would be drawn beside this one's tables)."""
    path, stage = confusion_path(variant), f"evaluate@{variant}"
    if not Path(path).is_file():  # evaluate writes it beside the summary: without it the matrices would
        # silently leave one version out
        raise rerun_error(path, "not found (evaluate writes it beside the summary the report read)",
                          written_by=stage)
    try:  # names as written: read as numbers or NA, a class called "7" or "NA" would not match its name
        pairs = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:  # pandas' parser and empty-file errors are ValueErrors
        raise rerun_error(path, f"not a readable CSV file ({first_line(err)})", written_by=stage) from err
    if not isinstance(pairs.index, pd.RangeIndex):  # pandas took the first fields for an index: more than the header
        # (before: every column read one place off, and a line number added to the index's class name, a TypeError)
        raise rerun_error(path, f"its lines hold more fields than the header ({', '.join(map(str, pairs.columns))})",
                          written_by=stage)
    missing = [c for c in ("actual", "predicted") if c not in pairs.columns]
    if missing:
        raise rerun_error(path, f"lacks column(s) {', '.join(missing)}", written_by=stage)
    classes = list(summary["per_class"])
    for column in ("actual", "predicted"):
        unknown = ~pairs[column].isin(classes)
        if unknown.any():
            raise rerun_error(path, f"{column} {pairs[column][unknown].iloc[0]!r} on line {unknown.idxmax() + 2} "
                              f"is not one of the {len(classes)} classes evaluated", written_by=stage)
    support = pd.Series({name: values["support"] for name, values in summary["per_class"].items()})
    counted = pairs["actual"].value_counts().reindex(classes, fill_value=0)
    if len(pairs) != support.sum():
        raise rerun_error(path, f"{len(pairs):,} rows, but {summary_path(variant)} counts {support.sum():,} test "
                          "images (per_class.<class>.support)", written_by=stage)
    differ = counted.index[counted != support]
    if len(differ):
        name = differ[0]
        raise rerun_error(path, f"{counted[name]:,} rows of actual class {name!r}, but {summary_path(variant)} "
                          f"counts {support[name]:,} (per_class.{name}.support)", written_by=stage)
    # the same images with another model's predictions (a file left from an earlier run, or another version's): before,
    # the matrix drew the other model beside tables of this one; a check of each class's recall alone passed one whose
    # errors name other classes (10 cats called bird where predictions.csv calls them dog)
    drawn, held = (pd.crosstab(pd.Categorical(actual, categories=classes), pd.Categorical(predicted, categories=classes),
                               dropna=False)
                   for actual, predicted in ((pairs["actual"], pairs["predicted"]),
                                             (predictions["label"], predictions["predicted"])))
    differ = np.argwhere(drawn.to_numpy() != held.to_numpy())
    if len(differ):
        row, column = differ[0]
        raise rerun_error(path, f"{drawn.iat[row, column]:,} rows of actual class {classes[row]!r} predict "
                                f"{classes[column]!r}, but {predictions_path(variant)} holds {held.iat[row, column]:,}: "
                                "the predictions of another model", written_by=stage)
    return drawn
